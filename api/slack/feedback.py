"""Feedback buttons: one vote per person and answer, counted in ``sanad_feedback_total``.

A button that carries the answer's id (``render.feedback_block``) is a vote kept with the
answer in the answer log (``AskService.feedback``: one per Slack user per answer, whichever
replica takes the click); a click on an answer the log does not hold (an id it never issued,
another workspace's answer, or one past the log's retention) is not counted. With the log
off, clicks are counted once per person and message in memory.
"""

from __future__ import annotations

import logging
from typing import Literal, NamedTuple

from api.service.asking import AskService, slack_owner
from api.service.errors import AlreadyVoted, AnswerLogOff, NotFound
from api.service.metrics import Metrics
from api.slack.inbound import SeenSet
from api.slack.render import FEEDBACK_DOWN, FEEDBACK_UP

log = logging.getLogger("sanad.slack")

#: action_id -> the ``value`` label of ``sanad_feedback_total``
VALUES: dict[str, str] = {FEEDBACK_UP: "helpful", FEEDBACK_DOWN: "not_helpful"}

#: what became of a click: counted, a repeat of the clicker's vote, or on an answer the log does not hold
Outcome = Literal["counted", "repeat", "unknown_answer"]


class Vote(NamedTuple):
    value: str
    outcome: Outcome


class FeedbackRecorder:
    """Counts the first vote of each user on each answer message (later clicks are not counted)."""

    def __init__(self, metrics: Metrics, *, max_votes: int = 50_000, asking: AskService | None = None) -> None:
        self.metrics = metrics
        self.asking = asking
        self._votes = SeenSet(max_items=max_votes)

    def record(self, *, action_id: str, user_id: str, channel: str, message_ts: str, answer_id: str = "",
               team_id: str | None = None, asking: AskService | None = None) -> Vote:
        """Record a click; returns its value and what became of it. ``asking``: the ask service of
        the channel's collections (default: the recorder's)."""
        value = VALUES[action_id]
        outcome = (self._keep(answer_id, value, user_id=user_id, team_id=team_id, asking=asking or self.asking)
                   if answer_id else None)
        if outcome is None:  # no answer id, or the log is off: once per person and message, in memory
            outcome = "counted" if self._votes.add((user_id, channel, message_ts)) else "repeat"
            if outcome == "counted":
                self.metrics.observe_feedback(value)
        log.info("feedback %s on message %s in %s%s", value, message_ts, channel,
                 {"counted": "", "repeat": " (repeat vote, not counted)",
                  "unknown_answer": " (an answer the log does not hold, not counted)"}[outcome])
        return Vote(value, outcome)

    def _keep(self, answer_id: str, value: str, *, user_id: str, team_id: str | None,
              asking: AskService | None) -> Outcome | None:
        """The vote kept with its answer (``AskService.feedback`` counts it); None when no log keeps answers."""
        if asking is None:
            return None
        owner = slack_owner(team_id)
        try:
            asking.feedback(answer_id, value, owner=owner, voter=f"{owner}:{user_id}")  # type: ignore[arg-type]
        except AnswerLogOff:
            return None
        except AlreadyVoted:
            return "repeat"
        except NotFound:
            return "unknown_answer"
        return "counted"
