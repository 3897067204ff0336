"""The bot token check (``auth.test``): its outcome for ``/readyz`` and a log line that says the fix.

The outcome is one of ``{"status": "checking"}``, ``{"status": "ok"}`` or
``{"status": "failed", "error": <Slack's error code, or "unreachable">, "fix": <what to do>}``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from settings.errors import SanadError

log = logging.getLogger("sanad.slack")

#: Slack's answers meaning the token itself is wrong, revoked or not a bot token
TOKEN_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked",
                          "token_expired", "no_permission", "missing_scope", "not_allowed_token_type"})


class SlackUnavailable(SanadError):
    """The bot cannot serve: Slack refused or could not confirm the token (``error``: Slack's)."""

    code = "slack_unavailable"

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def fix_for(error: str, *, api_url: str) -> str:
    """What the operator should do about ``error`` (one sentence)."""
    if error in TOKEN_ERRORS:
        return ("Slack refused SANAD_SLACK_BOT_TOKEN: set it to the app's Bot User OAuth Token (xoxb-...) from "
                "https://api.slack.com/apps > your app > OAuth & Permissions (reinstall the app if the token was "
                f"revoked); the bot calls {api_url} (GovSlack workspaces: SANAD_SLACK_API_URL=https://slack-gov.com/api/)")
    if error == "unreachable":
        return (f"Slack's Web API at {api_url} could not be reached: check the network, HTTPS_PROXY when traffic "
                "goes through an egress proxy, and SANAD_SLACK_API_URL")
    return f"Slack answered auth.test at {api_url} with {error!r}; see https://api.slack.com/methods/auth.test"


class TokenCheck:
    """Calls ``auth.test`` and remembers the outcome (thread-safe)."""

    def __init__(self, *, api_url: str) -> None:
        self.api_url = api_url
        self._lock = threading.Lock()
        self._status: dict[str, Any] = {"status": "checking"}
        self._failed_at: float | None = None

    def status(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._status)

    def failed_recently(self, within_s: float) -> str | None:
        """Slack's error when the last check failed less than ``within_s`` seconds ago."""
        with self._lock:
            if self._failed_at is not None and time.monotonic() - self._failed_at < within_s:
                return str(self._status.get("error"))
            return None

    def run(self, client: WebClient) -> dict[str, Any]:
        """Call ``auth.test``; returns its response data, or raises :class:`SlackUnavailable`."""
        try:
            data = dict(client.auth_test().data)  # type: ignore[arg-type]
        except SlackApiError as exc:
            self._fail(str(exc.response.get("error") or "unknown_error"))
        except Exception as exc:  # noqa: BLE001 - URLError, timeouts, refused connections
            self._fail("unreachable", detail=f"{type(exc).__name__}: {exc}")
        else:
            with self._lock:
                self._status = {"status": "ok"}
                self._failed_at = None
            log.info("Slack accepted the bot token (team %s, bot user %s)", data.get("team_id"), data.get("user_id"))
            return data
        raise AssertionError("unreachable")  # pragma: no cover - _fail raises

    def _fail(self, error: str, *, detail: str = "") -> None:
        fix = fix_for(error, api_url=self.api_url)
        with self._lock:
            repeated = self._status.get("error") == error
            self._status = {"status": "failed", "error": error, "fix": fix}
            self._failed_at = time.monotonic()
        log.log(logging.WARNING if repeated else logging.ERROR, "the Slack bot cannot work: auth.test failed "
                "with %s%s. %s", error, f" ({detail})" if detail else "", fix)
        raise SlackUnavailable(error)


__all__ = ["SlackUnavailable", "TokenCheck", "fix_for"]
