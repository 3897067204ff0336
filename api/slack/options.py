"""How the bot reaches Slack, and whether it is configured (no slack_bolt import here)."""

from __future__ import annotations

from dataclasses import dataclass

from settings import SlackSettings


@dataclass(frozen=True, kw_only=True)
class SlackOptions:
    """How the bot reaches Slack. The defaults are production's.

    api_base_url: the Web API base; None (the default) takes ``SANAD_SLACK_API_URL``
        (``https://slack.com/api/`` unless set); tests may point it at a local recording server.
    token_verification_enabled: check the bot token with ``auth.test`` as the server starts
        (in the background; ``/readyz`` shows the outcome). When off, the check runs on the
        first Slack request instead.
    ready_timeout_s: how long an answer waits for the model and index to finish loading.
    recheck_s: after a failed token check, how long requests wait before it is tried again.
    """

    api_base_url: str | None = None
    token_verification_enabled: bool = True
    ready_timeout_s: float = 300.0
    recheck_s: float = 30.0


def slack_configured(settings: SlackSettings) -> bool:
    """The HTTP routes are on only when both the bot token and the signing secret are set."""
    return bool(settings.slack_bot_token and settings.slack_signing_secret)


def api_url(settings: SlackSettings, options: SlackOptions) -> str:
    """The Web API base the bot calls (``options`` override the setting), ending in ``/``."""
    url = options.api_base_url or settings.slack_api_url
    return url if url.endswith("/") else url + "/"


__all__ = ["SlackOptions", "api_url", "slack_configured"]
