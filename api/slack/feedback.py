"""Feedback buttons: one vote per person and answer, counted in ``sanad_feedback_total``.

A button that carries the answer's id (``render.feedback_block``) is a vote kept with the
answer in the answer log (``AskService.feedback``: one per Slack user per answer, whichever
replica takes the click); other clicks (the log is off, or the answer expired) are counted
once per person and message in memory, as before.
"""

from __future__ import annotations

import logging

from api.asking import AskService, slack_owner
from api.errors import ApiError
from api.metrics import Metrics
from api.slack.inbound import SeenSet
from api.slack.render import FEEDBACK_DOWN, FEEDBACK_UP

log = logging.getLogger("sanad.slack")

#: action_id -> the ``value`` label of ``sanad_feedback_total``
VALUES: dict[str, str] = {FEEDBACK_UP: "helpful", FEEDBACK_DOWN: "not_helpful"}


class FeedbackRecorder:
    """Counts the first vote of each user on each answer message (later clicks are not counted)."""

    def __init__(self, metrics: Metrics, *, max_votes: int = 50_000, asking: AskService | None = None) -> None:
        self.metrics = metrics
        self.asking = asking
        self._votes = SeenSet(max_items=max_votes)

    def record(self, *, action_id: str, user_id: str, channel: str, message_ts: str, answer_id: str = "",
               team_id: str | None = None) -> tuple[str, bool]:
        """Record a click; returns (value, counted)."""
        value = VALUES[action_id]
        counted = self._keep(answer_id, value, user_id=user_id, team_id=team_id) if answer_id else None
        if counted is None:
            counted = self._votes.add((user_id, channel, message_ts))
            if counted:
                self.metrics.observe_feedback(value)
        log.info("feedback %s on message %s in %s%s", value, message_ts, channel,
                 "" if counted else " (repeat vote, not counted)")
        return value, counted

    def _keep(self, answer_id: str, value: str, *, user_id: str, team_id: str | None) -> bool | None:
        """The vote kept with its answer: True, False for a repeat, None when the log cannot take it."""
        if self.asking is None:
            return None
        owner = slack_owner(team_id)
        try:
            self.asking.feedback(answer_id, value, owner=owner, voter=f"{owner}:{user_id}")  # type: ignore[arg-type]
        except ApiError as exc:
            return False if exc.code == "already_voted" else None
        return True
