"""The Slack bot: ``POST /slack/events`` in the API (HTTP mode) or ``sanad slack --socket``.

``api.slack.options`` stays light (no slack_bolt import), so the API can check whether the
bot is configured without loading bolt; ``api.slack.mount`` imports the rest only when it is.
"""
