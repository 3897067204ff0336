"""The bolt ``App``: listeners for mentions, DMs, the slash command and the feedback buttons.

Every listener acknowledges at once and answers in a *lazy listener* (bolt runs it on its
thread pool after the ack), so Slack gets its 200 well within 3 seconds while the model
works. The same App serves HTTP (``POST /slack/events``, see ``api.slack.routes``) and
Socket Mode (``sanad slack --socket``).

- ``app_mention`` (channels) and ``message`` with ``channel_type == "im"`` (DMs): the reply
  goes to the question's thread, and the thread (channel + thread_ts) is the conversation,
  so a follow-up in it ("and who represented Russia?") is read with the earlier question.
- Events are answered once: a middleware remembers ``event_id`` (bounded LRU) and acks a
  retry (``X-Slack-Retry-Num``) of an event already taken without doing anything.
- Messages from bots (``bot_id``), edits and other subtypes, and the bot's own posts are
  skipped (bolt's ``IgnoringSelfEvents`` drops the latter too).
- With ``SANAD_SLACK_THREAD_REPLIES=true``, a channel ``message`` that replies in a thread
  the bot has answered (since the server started) is a follow-up without a new mention;
  other channel messages are ignored (a reply that mentions the bot comes as app_mention).
- ``/ask`` answers privately by default (``SANAD_SLACK_ASK_VISIBILITY=ephemeral``) with a
  "Share with channel" button that posts the answer for everyone through the click's
  ``response_url`` and removes the private copy.
- Every Web API call goes to ``SANAD_SLACK_API_URL``; slack_sdk honours ``HTTPS_PROXY``.
  The token is checked with ``auth.test`` before the App is built (``api.slack.health``).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Sequence

from slack_bolt import Ack, App, BoltContext, BoltRequest, BoltResponse, Respond
from slack_sdk import WebClient

from api.service.asking import AskService, slack_owner
from api.service.errors import LoadFailed, NotReady, Overloaded
from api.slack import render
from api.slack.channels import ChannelMap
from api.slack.feedback import FeedbackRecorder
from api.slack.health import SlackUnavailable, TokenCheck
from api.slack.inbound import (SeenSet, clean_question, conversation_id, is_thread_reply, mentions, skip_reason,
                               thread_of)
from api.slack.options import SlackOptions, api_url
from api.slack.sharing import ShareStore
from qa.answerer import QuestionError
from qa.language import detect_language
from settings import Settings
from settings.errors import SanadError

log = logging.getLogger("sanad.slack")


class SlackBot:
    """Owns the bolt App (built on first use: in production that calls ``auth.test``)."""

    def __init__(self, asking: AskService, settings: Settings, *, options: SlackOptions | None = None,
                 route: Callable[[Sequence[str]], AskService] | None = None) -> None:
        """``route``: the ask service of some collections (``CollectionHub.asking``); with it each
        channel asks the collections ``api.slack.channels`` maps it to. Without: ``asking``."""
        self.asking = asking
        self.route = route
        self.channels = ChannelMap(settings)
        self.settings = settings
        self.options = options or SlackOptions()
        self.events = SeenSet(max_items=10_000)
        self.feedback = FeedbackRecorder(asking.metrics, asking=asking)
        self.api_url = api_url(settings, self.options)
        self.token_check = TokenCheck(api_url=self.api_url)
        #: (channel, thread_ts) of channel threads the bot has answered in
        self.threads = SeenSet(max_items=50_000)
        self.shares = ShareStore()
        self._app: App | None = None
        self._lock = threading.Lock()

    # --- the App --------------------------------------------------------------------
    def app(self) -> App:
        """The bolt App, built once (thread-safe) after ``auth.test`` accepted the token.

        Raises :class:`SlackUnavailable` when the check failed (it is tried again after
        ``options.recheck_s``)."""
        with self._lock:
            if self._app is None:
                error = self.token_check.failed_recently(self.options.recheck_s)
                if error:
                    raise SlackUnavailable(error)
                self._app = self._build()
            return self._app

    def start(self) -> None:
        """Check the token in the background as the server starts (``/readyz`` shows the outcome)."""
        if not self.options.token_verification_enabled:
            return

        def check() -> None:
            try:
                self.app()
            except SlackUnavailable:
                pass  # logged with the fix; /readyz reports it

        threading.Thread(target=check, name="slack-auth-test", daemon=True).start()

    def status(self) -> dict[str, Any]:
        """The Slack integration's state for ``/readyz``: checking, ok, or failed with Slack's error."""
        return self.token_check.status()

    def _build(self) -> App:
        if not self.settings.slack_bot_token:
            raise RuntimeError("SANAD_SLACK_BOT_TOKEN is not set")
        client = WebClient(token=self.settings.slack_bot_token, base_url=self.api_url)  # proxy: HTTPS_PROXY
        self.token_check.run(client)
        app = App(
            client=client,
            signing_secret=self.settings.slack_signing_secret or "",
            token_verification_enabled=False,  # checked just above
            process_before_response=False,
            logger=logging.getLogger("sanad.slack.bolt"),
            name="sanad",
        )
        app.use(self._answer_each_event_once)
        app.event("app_mention")(ack=_ack, lazy=[self._on_mention])
        app.event("message")(ack=_ack, lazy=[self._on_message])
        app.command(self.settings.slack_command)(ack=self._ack_command, lazy=[self._on_command])
        app.action(render.FEEDBACK_UP)(self._on_feedback)
        app.action(render.FEEDBACK_DOWN)(self._on_feedback)
        app.action(render.SHARE)(self._on_share)
        return app

    # --- middleware -------------------------------------------------------------------
    def _answer_each_event_once(self, req: BoltRequest, resp: BoltResponse,
                                next: Callable[[], BoltResponse]) -> BoltResponse:  # noqa: A002
        """Ack (and do nothing for) an event whose ``event_id`` was already taken."""
        body = req.body or {}
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not self.events.add(event_id):
            retry = (req.headers.get("x-slack-retry-num") or ["-"])[0]
            reason = (req.headers.get("x-slack-retry-reason") or ["-"])[0]
            log.info("event %s already taken; skipped (retry %s, %s)", event_id, retry, reason)
            return BoltResponse(status=200, body="", headers={"x-slack-no-retry": "1"})
        return next()

    # --- events -------------------------------------------------------------------------
    def _on_mention(self, event: dict, body: dict, context: BoltContext, client: WebClient) -> None:
        self._answer_event(event, team_id=body.get("team_id"), context=context, client=client)

    def _on_message(self, event: dict, body: dict, context: BoltContext, client: WebClient) -> None:
        if event.get("channel_type") != "im" and not self._is_follow_up(event, context):
            return  # other channel messages: a question to the bot reaches us as app_mention
        self._answer_event(event, team_id=body.get("team_id"), context=context, client=client)

    def _is_follow_up(self, event: dict, context: BoltContext) -> bool:
        """A channel message replying in a thread the bot answered, without mentioning it."""
        return (self.settings.slack_thread_replies
                and event.get("channel_type") in ("channel", "group")
                and is_thread_reply(event)
                and not mentions(str(event.get("text") or ""), context.bot_user_id)
                and (str(event.get("channel")), str(event.get("thread_ts"))) in self.threads)

    def _answer_event(self, event: dict, *, team_id: str | None, context: BoltContext,
                      client: WebClient) -> None:
        reason = skip_reason(event, bot_user_id=context.bot_user_id)
        if reason:
            log.debug("skipped %s event: %s", event.get("type"), reason)
            return
        channel = str(event["channel"])
        thread_ts = thread_of(event)
        question = clean_question(str(event.get("text") or ""), bot_user_id=context.bot_user_id)
        cid = conversation_id(team_id=team_id, channel=channel, thread_ts=thread_ts)
        message = self.answer(question, conversation=cid, owner=slack_owner(team_id), channel=channel,
                              direct=event.get("channel_type") == "im")
        client.chat_postMessage(channel=channel, thread_ts=thread_ts, unfurl_links=False,
                                unfurl_media=False, **message)
        if event.get("channel_type") != "im":
            self.threads.add((channel, thread_ts))

    # --- slash command -------------------------------------------------------------------
    def _ack_command(self, ack: Ack, command: dict) -> None:
        question = clean_question(str(command.get("text") or ""))
        language = detect_language(question) if question else "en"
        if not question:
            ack(response_type="ephemeral", text=render.text_for("usage", "en", cmd=self.settings.slack_command))
            return
        ack(response_type="ephemeral",
            text=render.format_text(render.text_for("working", language, q=question)))

    def _on_command(self, command: dict, respond: Respond) -> None:
        question = clean_question(str(command.get("text") or ""))
        if not question:
            return
        channel = str(command.get("channel_id") or "")
        message = self.answer(question, conversation=None, owner=slack_owner(command.get("team_id")),
                              asked_by=command.get("user_id"), channel=channel,
                              direct=command.get("channel_name") == "directmessage" or channel.startswith("D"))
        if self.settings.slack_ask_visibility == "in_channel":
            respond(response_type="in_channel", replace_original=False, **message)
            return
        blocks = message["blocks"]
        if any(b.get("block_id") == render.FEEDBACK_BLOCK for b in blocks):  # an answer, not a notice
            language = detect_language(question)
            blocks = [*blocks, render.share_block(f"{language}:{self.shares.put(message)}", language)]
        respond(response_type="ephemeral", replace_original=False, text=message["text"], blocks=blocks)

    def _on_share(self, ack: Ack, action: dict, respond: Respond) -> None:
        """"Share with channel": post the private answer for everyone, then remove the private copy."""
        ack()
        language, _, key = str(action.get("value") or "").partition(":")
        message = self.shares.get(key)
        if message is None:
            respond(response_type="ephemeral", replace_original=False,
                    text=render.format_text(render.text_for("share_expired", language)))
            return
        respond(response_type="in_channel", replace_original=False, unfurl_links=False, **message)
        respond(delete_original=True)

    # --- feedback -------------------------------------------------------------------------
    def _on_feedback(self, ack: Ack, body: dict, action: dict, respond: Respond) -> None:
        ack()
        container = body.get("container") or {}
        message_ts = str(container.get("message_ts") or (body.get("message") or {}).get("ts") or "")
        channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id") or "")
        user = str((body.get("user") or {}).get("id") or "")
        language, _, answer_id = str(action.get("value") or "").partition(":")  # "ar" or "ar:<answer_id>"
        team_id = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
        try:
            asking = self.asking_for(channel, direct=channel.startswith("D"))
        except SanadError:  # a mapped collection deleted since
            asking = None
        value, outcome = self.feedback.record(action_id=action["action_id"], user_id=user, channel=channel,
                                              message_ts=message_ts, answer_id=answer_id, team_id=team_id,
                                              asking=asking)
        language = language if language in ("ar", "en") else "en"
        text = render.text_for({"counted": f"thanks_{value}", "repeat": "already_voted",
                                "unknown_answer": "vote_not_kept"}[outcome], language)
        if body.get("response_url"):
            respond(response_type="ephemeral", replace_original=False, text=render.format_text(text))

    # --- answering ---------------------------------------------------------------------------
    def asking_for(self, channel: str, *, direct: bool) -> AskService | None:
        """The ask service of ``channel``'s collections; None for a channel the mapping leaves out."""
        if self.route is None:
            return self.asking
        names = self.channels.collections_for(channel, direct=direct)
        return None if names is None else self.route(names)

    def answer(self, question: str, *, conversation: str | None, owner: str,
               asked_by: str | None = None, channel: str = "", direct: bool = False) -> dict[str, Any]:
        """The Block Kit message answering ``question`` (a turn of the thread ``conversation``,
        a Slack-owned conversation no HTTP caller can reach; ``None``: a one-off question), from
        the collections ``channel`` (or a direct message) is mapped to."""
        language = detect_language(question) if question else "en"
        if not question:
            return render.notice_message(render.text_for("usage", language, cmd=self.settings.slack_command))
        if not self.asking.service.wait_ready(self.options.ready_timeout_s):
            return render.notice_message(render.text_for("not_ready", language))
        try:
            asking = self.asking_for(channel, direct=direct)
        except SanadError:  # a mapped collection that does not exist (deleted, or misspelt in the mapping)
            log.warning("Slack channel %s is mapped to a collection that does not exist", channel)
            asking = None
        if asking is None:
            return render.notice_message(render.text_for("unmapped", language))
        try:
            if conversation is None:
                stream = asking.start(question, owner=owner, earlier_questions=[])
            else:
                stream = asking.start(question, owner=owner, conversation_id=conversation, named=True)
            answer = stream.answer()
        except (QuestionError, NotReady, LoadFailed, Overloaded) as exc:  # what the ask flow refuses
            log.info("question refused: %s", exc.message)
            return render.notice_message(exc.message)
        except Exception:  # noqa: BLE001 - the user gets a message, the log the traceback
            log.exception("answering a Slack question failed")
            return render.notice_message(render.text_for("failed", language))
        return render.answer_message(answer, public_url=self.settings.public_url,
                                     question=question if asked_by else None, asked_by=asked_by,
                                     web_question=question)


def _ack(ack: Ack) -> None:
    """Events: acknowledge at once; the lazy listener does the work."""
    ack()
