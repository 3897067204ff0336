"""How the bot reaches Slack, and whether it is configured (no slack_bolt import here)."""

from __future__ import annotations

from dataclasses import dataclass

from settings import Settings


@dataclass(frozen=True, kw_only=True)
class SlackOptions:
    """How the bot reaches Slack. The defaults are production's.

    api_base_url: the Web API base (default ``https://slack.com/api/``); tests point it at
        a local recording server.
    token_verification_enabled: call ``auth.test`` when the App is built (bolt's default).
        Tests turn it off; bolt then calls ``auth.test`` on the first authorised request.
    ready_timeout_s: how long an answer waits for the model and index to finish loading.
    """

    api_base_url: str | None = None
    token_verification_enabled: bool = True
    ready_timeout_s: float = 300.0


def slack_configured(settings: Settings) -> bool:
    """The HTTP routes are on only when both the bot token and the signing secret are set."""
    return bool(settings.slack_bot_token and settings.slack_signing_secret)


__all__ = ["SlackOptions", "slack_configured"]
