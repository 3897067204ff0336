"""Slack votes kept with the answer: the buttons carry the answer id, and a click is a vote in
the answer log (one per Slack user per answer), counted in ``sanad_feedback_total``."""

from __future__ import annotations

from pathlib import Path

from api.answer_log.local import AnswerLog, new_answer_id
from api.service.asking import AskService, slack_owner
from api.service.metrics import Metrics
from api.service.service import Service
from api.slack.feedback import FeedbackRecorder
from api.slack.render import FEEDBACK_DOWN, FEEDBACK_UP, answer_message
from qa.conversation import ConversationStore
from qa.models import Answer
from tests.api_fixtures import make_settings


def test_buttons_carry_the_answer_id() -> None:
    answer = Answer(answer="x", language="ar", answerable=False, answer_id="ans_1")
    up, down = answer_message(answer, public_url="http://x")["blocks"][-1]["elements"]
    assert up["value"] == down["value"] == "ar:ans_1"
    plain = Answer(answer="x", language="en", answerable=False)
    assert answer_message(plain, public_url="http://x")["blocks"][-1]["elements"][0]["value"] == "en"


def _count(metrics: Metrics, value: str) -> float:
    return metrics.feedback.labels(value)._value.get()


def test_a_click_is_a_vote_kept_with_the_answer(tmp_path: Path) -> None:
    metrics = Metrics()
    log = AnswerLog(tmp_path / "answers.sqlite3", retention_days=30)
    asking = AskService(Service(make_settings(tmp_path / "data"), metrics=metrics),
                        conversations=ConversationStore(max_conversations=5, max_turns=5), metrics=metrics, log=log)
    answer = Answer(answer="x", language="en", answerable=False, answer_id=new_answer_id(), conversation_id="t1")
    log.record(answer, owner=slack_owner("T1"), question="q", standalone="q", index_version="v")
    recorder = FeedbackRecorder(metrics, asking=asking)

    def click(action: str, user: str, answer_id: str = answer.answer_id, team: str = "T1") -> tuple[str, str]:
        return tuple(recorder.record(action_id=action, user_id=user, channel="C", message_ts="1.1",
                                     answer_id=answer_id, team_id=team))

    assert click(FEEDBACK_DOWN, "U1") == ("not_helpful", "counted")
    assert click(FEEDBACK_UP, "U1") == ("helpful", "repeat")  # the first vote stands
    assert click(FEEDBACK_UP, "U2") == ("helpful", "counted")
    assert [(v.value, v.answer_id) for v in log.votes()] == [("not_helpful", answer.answer_id),
                                                             ("helpful", answer.answer_id)]
    assert _count(metrics, "not_helpful") == 1 and _count(metrics, "helpful") == 1
    # another workspace cannot vote on it, nor on an id the log never issued: neither is counted
    assert click(FEEDBACK_UP, "U3", team="T2") == ("helpful", "unknown_answer")
    assert click(FEEDBACK_UP, "U3", answer_id="ans_never_issued") == ("helpful", "unknown_answer")
    assert len(log.votes()) == 2 and _count(metrics, "helpful") == 1
    log.close()


def test_with_the_log_off_a_click_is_counted_once_per_person_and_message(tmp_path: Path) -> None:
    metrics = Metrics()
    asking = AskService(Service(make_settings(tmp_path / "data"), metrics=metrics),
                        conversations=ConversationStore(max_conversations=5, max_turns=5), metrics=metrics)
    recorder = FeedbackRecorder(metrics, asking=asking)
    vote = {"action_id": FEEDBACK_UP, "channel": "C", "message_ts": "1.1", "answer_id": "ans_1", "team_id": "T1"}
    assert tuple(recorder.record(user_id="U1", **vote)) == ("helpful", "counted")
    assert tuple(recorder.record(user_id="U1", **vote)) == ("helpful", "repeat")
    assert _count(metrics, "helpful") == 1
