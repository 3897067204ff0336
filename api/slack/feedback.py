"""Feedback buttons: one vote per person and message, counted in ``sanad_feedback_total``."""

from __future__ import annotations

import logging

from api.metrics import Metrics
from api.slack.inbound import SeenSet
from api.slack.render import FEEDBACK_DOWN, FEEDBACK_UP

log = logging.getLogger("sanad.slack")

#: action_id -> the ``value`` label of ``sanad_feedback_total``
VALUES: dict[str, str] = {FEEDBACK_UP: "helpful", FEEDBACK_DOWN: "not_helpful"}


class FeedbackRecorder:
    """Counts the first vote of each user on each answer message (later clicks are not counted)."""

    def __init__(self, metrics: Metrics, *, max_votes: int = 50_000) -> None:
        self.metrics = metrics
        self._votes = SeenSet(max_items=max_votes)

    def record(self, *, action_id: str, user_id: str, channel: str, message_ts: str) -> tuple[str, bool]:
        """Record a click; returns (value, counted)."""
        value = VALUES[action_id]
        counted = self._votes.add((user_id, channel, message_ts))
        if counted:
            self.metrics.observe_feedback(value)
        log.info("feedback %s on message %s in %s%s", value, message_ts, channel,
                 "" if counted else " (repeat vote, not counted)")
        return value, counted
