"""The Slack bot: ``POST /slack/events`` in the API (HTTP mode) or ``sanad slack --socket``.

This module stays light (no slack_bolt import) so the API can check whether the bot is
configured without loading bolt: ``install`` imports the rest only when it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from api.service import Service
    from api.slack.bolt_app import SlackBot
    from index.config import Settings

log = logging.getLogger("sanad.slack")


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


def install(app: FastAPI, service: Service, settings: Settings, *,
            options: SlackOptions | None = None) -> SlackBot | None:
    """Mount ``POST /slack/events`` on ``app`` when the bot is configured; returns the bot."""
    if not slack_configured(settings):
        if settings.slack_bot_token or settings.slack_signing_secret:
            log.warning("Slack routes are off: set both SANAD_SLACK_BOT_TOKEN and SANAD_SLACK_SIGNING_SECRET")
        return None
    from api.slack.bolt_app import SlackBot
    from api.slack.routes import build_router

    bot = SlackBot(service, settings, options=options)
    app.include_router(build_router(bot))
    app.state.slack_bot = bot
    return bot


__all__ = ["SlackOptions", "install", "slack_configured"]
