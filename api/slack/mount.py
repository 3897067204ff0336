"""Mounting the bot's ``POST /slack/events`` on the API when it is configured."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable, Sequence

from api.slack.options import SlackOptions, slack_configured
from settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from api.service.asking import AskService
    from api.slack.bolt_app import SlackBot

log = logging.getLogger("sanad.slack")


def install_slack(app: FastAPI, asking: AskService, settings: Settings, *,
                  options: SlackOptions | None = None,
                  route: Callable[[Sequence[str]], AskService] | None = None) -> SlackBot | None:
    """Mount ``POST /slack/events`` on ``app`` when the bot is configured; returns the bot.
    ``route``: the ask service of some collections (each channel asks those it is mapped to)."""
    if not slack_configured(settings):
        if settings.slack_bot_token or settings.slack_signing_secret:
            log.warning("Slack routes are off: set both SANAD_SLACK_BOT_TOKEN and SANAD_SLACK_SIGNING_SECRET")
        return None
    from api.slack.bolt_app import SlackBot
    from api.slack.routes import build_router

    bot = SlackBot(asking, settings, options=options, route=route)
    app.include_router(build_router(bot))
    app.state.slack_bot = bot
    return bot


__all__ = ["install_slack"]
