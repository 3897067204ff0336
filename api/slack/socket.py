"""``sanad slack --socket``: the bot over Socket Mode (no public URL needed).

bolt's ``SocketModeHandler`` with slack_sdk's built-in WebSocket client (no extra
dependency) opens an outbound connection with the app-level token (``xapp-...``); events,
the slash command and button clicks arrive over it and are handled by the same App as
``POST /slack/events``. The model loads in the background while the connection opens.
Each envelope's payload is validated as ``POST /slack/events`` validates a body
(``api.slack.payloads``) before bolt sees it; one of another shape is acknowledged (so Slack
does not send it again) and dropped, with a warning in the log.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable

from api.slack.payloads import SlackPayloadError, validate_payload
from settings.errors import SanadError

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from api.slack.bolt_app import SlackBot
    from api.slack.options import SlackOptions
    from settings import Settings, SlackSettings

log = logging.getLogger("sanad.slack")


class SlackConfigError(SanadError):
    """The settings lack what Socket Mode needs (reported as one line, exit status 1)."""

    code = "slack_not_configured"


def missing_socket_settings(settings: SlackSettings) -> list[str]:
    """The environment variables Socket Mode needs that are unset."""
    needed = (("SANAD_SLACK_BOT_TOKEN", settings.slack_bot_token),
              ("SANAD_SLACK_APP_TOKEN", settings.slack_app_token))
    return [name for name, value in needed if not value]


def run_socket_mode(settings: Settings, *, options: SlackOptions | None = None) -> int:
    """Connect and serve until interrupted; returns the exit status."""
    missing = missing_socket_settings(settings)
    if missing:
        raise SlackConfigError(f"Socket Mode needs {' and '.join(missing)} (the bot token xoxb-... and the "
                               "app-level token xapp-... with connections:write)")
    from api.service.collections import CollectionHub
    from api.service.metrics import Metrics
    from api.service.service import Service
    from api.slack.bolt_app import SlackBot

    from api.slack.health import SlackUnavailable

    metrics = Metrics()
    service = Service(settings, metrics=metrics)
    service.start_loading()
    hub = CollectionHub(settings, default=service, metrics=metrics)  # channels ask their collections
    try:
        bot = SlackBot(hub.default_asking(), settings, options=options, route=hub.asking)
        try:
            handler = socket_handler(bot)
        except SlackUnavailable as exc:
            raise SlackConfigError(f"auth.test failed with {exc.error}: {bot.status().get('fix')}") from None
        log.info("Sanad Slack bot connecting over Socket Mode (data dir %s)", settings.data_dir)
        handler.start()  # blocks until interrupted
    finally:
        hub.close()
        service.close()
    return 0


def socket_handler(bot: SlackBot) -> SocketModeHandler:
    """bolt's Socket Mode handler for ``bot``: ``apps.connections.open`` goes to the bot's Web
    API base (``SANAD_SLACK_API_URL``), which answers with the WebSocket URL to connect to."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(bot.app(), app_token=bot.settings.slack_app_token)
    listeners = handler.client.socket_mode_request_listeners
    listeners[:] = [checked_envelopes(listener) for listener in listeners]
    return handler


def checked_envelopes(listener: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    """``listener`` (bolt's) called only for envelopes whose payload has the shape Slack sends."""
    from slack_sdk.socket_mode.response import SocketModeResponse

    def listen(client: Any, req: Any) -> None:
        try:
            if not isinstance(req.payload, dict):
                raise SlackPayloadError("the payload is not a JSON object")
            validate_payload(req.payload)
        except SlackPayloadError as exc:
            log.warning("dropped a Socket Mode %s envelope: %s", req.type, exc)
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        listener(client, req)

    return listen
