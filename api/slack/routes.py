"""``POST /slack/events``: Events API, slash commands and interactivity through bolt.

The request goes through bolt's FastAPI (Starlette) adapter conversions
(``to_bolt_request`` / ``to_starlette_response``). The adapter's own ``handle`` calls the
synchronous ``App.dispatch`` on the event loop, where bolt then polls for the ack; here
``dispatch`` runs in the threadpool instead, so other requests are never stalled.

Before bolt sees a request, its signature is checked with slack_sdk's ``SignatureVerifier``
(the same HMAC-SHA256 of ``v0:{timestamp}:{body}`` and 5-minute window bolt applies) and
the exact signed request is refused if it was already accepted (a replay inside the window;
events are exempt, as the bot acks a repeated ``event_id`` without acting on it). So a
forged, stale or replayed request gets ``401`` and has no effect at all: bolt is not even
built for it. bolt verifies the signature again itself. A signed body that is not what Slack
sends (``api.slack.payloads``: parsed as bolt will parse it, then validated into typed
models) gets ``400`` before bolt sees it; its nesting was bounded before anything parsed it
(``api.http.json_limits``).
"""

from __future__ import annotations

import logging
import re
import time

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.signature import SignatureVerifier

from api.http.errors import CODES, ERROR_SCHEMA, error_response, status_of
from api.slack.bolt_app import SlackBot
from api.slack.health import SlackUnavailable
from api.slack.inbound import SeenSet
from api.slack.payloads import Scope, SlackPayloadError, read_payload
from qa.text_rules import is_utf8

log = logging.getLogger("sanad.slack")

#: Slack's (and bolt's) timestamp window, seconds
REPLAY_WINDOW_S = 300
#: Unix seconds in ASCII digits, and ``v0=`` + a hex HMAC-SHA256, as Slack sends them
_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
_SIGNATURE_RE = re.compile(r"v0=[0-9a-f]{64}")
_ERR = {"description": "error", "content": {"application/json": {"schema": ERROR_SCHEMA}}}


class SlackEventsHandler:
    """Verifies, de-replays and dispatches one Slack HTTP request to the bot's bolt App."""

    def __init__(self, bot: SlackBot) -> None:
        self.bot = bot
        self.verifier = SignatureVerifier(signing_secret=bot.settings.slack_signing_secret or "")
        self.accepted = SeenSet(max_items=100_000, ttl_s=REPLAY_WINDOW_S + 60)

    def check(self, request: Request, body: bytes) -> str | None:
        """Why the request's signature must be refused (401), or None."""
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        signature = request.headers.get("x-slack-signature", "")
        # ASCII digits only: str.isdigit() also accepts "²", which int() then refuses
        if not _TIMESTAMP_RE.fullmatch(timestamp) or not _SIGNATURE_RE.fullmatch(signature):
            return "missing or malformed Slack signature headers"
        if abs(time.time() - int(timestamp)) > REPLAY_WINDOW_S:
            return "stale Slack request timestamp"
        if not is_utf8(body):  # Slack signs UTF-8 text (slack_sdk's verifier decodes it first)
            return "invalid Slack request signature"
        if not self.verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
            return "invalid Slack request signature"
        return None

    def replayed(self, request: Request, payload: Scope) -> bool:
        """The exact signed request was accepted before (events are exempt: the bot acks a
        repeated ``event_id`` itself, and a Slack retry may carry the same signature)."""
        if payload.type == "event_callback":
            return False
        key = (request.headers.get("x-slack-request-timestamp", ""), request.headers.get("x-slack-signature", ""))
        return not self.accepted.add(key)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        reason = self.check(request, body)
        if reason is None:
            try:
                payload = read_payload(body, request.headers.get("content-type"))
            except SlackPayloadError as exc:
                log.warning("refused a signed Slack request: %s", exc)
                return error_response(status_of(exc) or 400, exc.code, exc.message)
            if self.replayed(request, payload):
                reason = "replayed Slack request"
        if reason:
            log.warning("refused a Slack request from %s: %s", request.client.host if request.client else "?", reason)
            return error_response(401, "unauthorized", reason)
        try:
            app = await run_in_threadpool(self.bot.app)
        except SlackUnavailable as exc:  # auth.test failed: logged with the fix, shown on /readyz
            return error_response(503, "not_ready", f"the Slack integration is not working (Slack: {exc.error}); "
                                  "see /readyz and the server log", {"Retry-After": "30"})
        except Exception as exc:  # noqa: BLE001
            log.error("the Slack app could not start: %s", exc)
            return error_response(503, "not_ready", "the Slack integration could not start; see the server log",
                                  {"Retry-After": "30"})
        try:
            bolt_response = await run_in_threadpool(app.dispatch, to_bolt_request(request, body))
        except Exception:  # noqa: BLE001 - bolt failed on a signed body of an unexpected shape
            log.warning("bolt could not handle a signed Slack request", exc_info=True)
            return error_response(422, "invalid_request", "the Slack request does not have the shape Slack sends")
        if bolt_response.status == 401:
            return error_response(401, "unauthorized", "invalid Slack request signature")
        if bolt_response.status == 404:  # bolt: no listener (e.g. an unknown action_id)
            return error_response(404, "not_found", "no handler for this Slack request")
        if bolt_response.status >= 500:  # bolt: a middleware failed (e.g. Slack's auth.test unreachable)
            log.error("bolt answered %d to a Slack request", bolt_response.status)
            return error_response(503, "not_ready", "the Slack integration could not handle the request; "
                                  "see the server log", {"Retry-After": "30"})
        if bolt_response.status >= 400:
            return error_response(bolt_response.status, CODES.get(bolt_response.status, "error"),
                                  "the Slack request was refused")
        return to_starlette_response(bolt_response)




def build_router(bot: SlackBot) -> APIRouter:
    """The ``/slack/events`` route for ``bot``."""
    handler = SlackEventsHandler(bot)
    router = APIRouter(tags=["slack"])

    @router.post("/slack/events", response_class=Response,
                 responses={400: _ERR, 401: _ERR, 404: _ERR, 422: _ERR, 503: _ERR})
    async def slack_events(request: Request) -> Response:
        """Slack Events API (`app_mention`, `message.im`), the slash command and interactivity
        (feedback buttons). Signed requests only (HMAC-SHA256, 5-minute window); answers are
        posted to Slack after the acknowledgement."""
        return await handler.handle(request)

    return router
