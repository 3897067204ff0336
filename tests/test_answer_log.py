"""The answer log (api/answer_log/local.py), conversations recalled from it, and the feedback export
as units: a real SQLite file in a temp dir, no server (tests/test_answer_log_live.py has one)."""

from __future__ import annotations

import io
import json
import sqlite3
import time
from pathlib import Path

import pytest

from api.answer_log.feedback_export import ExportError, export, gold_lines, parse_since
from api.answer_log.local import AnswerLog, new_answer_id
from evals.sets import item_from_json
from qa.conversation import ConversationStore, Turn
from qa.models import Answer, Citation
from settings import Settings


def _answer(text: str = "Stoltenberg chaired it [1].", *, answerable: bool = True, cid: str = "c1") -> Answer:
    cites = [Citation(ref=1, file="001.txt", paragraph=4, line_start=19, line_end=19, char_start=10, char_end=30,
                      quote="Stoltenberg chaired", score=0.7, url="/v1/documents/001.txt/paragraphs/4")]
    return Answer(answer=text, language="en", answerable=answerable, citations=cites if answerable else [],
                  conversation_id=cid, answer_id=new_answer_id(), timings_ms={"total": 12.5})


@pytest.fixture
def log(tmp_path: Path):  # noqa: ANN201
    opened = AnswerLog(tmp_path / "answers.sqlite3", retention_days=30)
    yield opened
    opened.close()


def _record(log: AnswerLog, answer: Answer, *, owner: str = "key:alice", question: str = "who chaired?") -> Answer:
    log.record(answer, owner=owner, question=question, standalone=question, index_version="v1")
    return answer


def test_settings_turn_the_log_on_and_off(tmp_path: Path) -> None:
    assert AnswerLog.for_settings(Settings(data_dir=tmp_path)) is not None  # on by default, 90 days
    assert Settings(data_dir=tmp_path).log_retention_days == 90
    assert AnswerLog.for_settings(Settings(data_dir=tmp_path, answer_log="off")) is None
    assert AnswerLog.for_settings(Settings(data_dir=tmp_path, log_retention_days=0)) is None
    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path, answer_log="maybe")


def test_turns_come_back_for_their_owner_only_and_in_order(log: AnswerLog) -> None:
    _record(log, _answer("first"), question="q1")
    _record(log, _answer("second"), question="q2")
    _record(log, _answer("elsewhere", cid="c2"), question="q3")
    assert log.turns("key:alice", "c1") == [Turn("q1", "q1", "first"), Turn("q2", "q2", "second")]
    assert log.turns("key:bob", "c1") is None
    assert log.turns("key:alice", "nope") is None


def test_the_log_keeps_every_field_but_no_key(log: AnswerLog) -> None:
    answer = _record(log, _answer())
    row = log.answer_row(answer.answer_id)
    assert row is not None
    assert row["owner"] == "key:alice" and row["conversation_id"] == "c1" and row["index_version"] == "v1"
    assert json.loads(row["citations"])[0]["quote"] == "Stoltenberg chaired"
    assert json.loads(row["timings"]) == {"total": 12.5} and row["language"] == "en" and row["answerable"] == 1


def test_one_vote_per_voter_and_only_on_the_owners_answers(log: AnswerLog) -> None:
    answer = _record(log, _answer())
    assert log.vote(answer.answer_id, owner="key:alice", voter="key:alice", value="not_helpful") == "recorded"
    assert log.vote(answer.answer_id, owner="key:alice", voter="key:alice", value="helpful") == "already_voted"
    assert log.vote(answer.answer_id, owner="key:bob", voter="key:bob", value="helpful") == "not_found"
    assert log.vote("ans_missing", owner="key:alice", voter="key:alice", value="helpful") == "not_found"
    # a second person on the same answer (Slack: the workspace owns it, each user votes)
    assert log.vote(answer.answer_id, owner="key:alice", voter="slack:T:U2", value="helpful") == "recorded"
    assert [v.value for v in log.votes()] == ["not_helpful", "helpful"]  # the first vote stood


def test_deleting_a_conversation_deletes_its_answers_and_feedback(log: AnswerLog) -> None:
    a = _record(log, _answer())
    _record(log, _answer(cid="c2"))
    log.vote(a.answer_id, owner="key:alice", voter="key:alice", value="helpful")
    assert log.delete_conversation("c1", owner="key:bob") == 0
    assert log.delete_conversation("c1", owner="key:alice") == 1
    assert log.turns("key:alice", "c1") is None and log.votes() == []
    assert log.turns("key:alice", "c2") is not None


def test_retention_deletes_old_answers(log: AnswerLog, tmp_path: Path) -> None:
    old, new = _record(log, _answer()), _record(log, _answer(cid="c2"))
    with sqlite3.connect(tmp_path / "answers.sqlite3") as conn:
        conn.execute("UPDATE answers SET created_at = ? WHERE id = ?", (time.time() - 31 * 86400, old.answer_id))
    assert log.answer_row(old.answer_id) is None  # past the retention: never read again...
    assert log.purge() == 1  # ...and deleted
    assert log.answer_row(new.answer_id) is not None


def test_conversation_store_reads_conversations_from_the_log(log: AnswerLog) -> None:
    _record(log, _answer("first"), question="q1")
    store = ConversationStore(max_conversations=10, max_turns=5, recall=log.turns)
    conv = store.open("c1", owner="key:alice")
    assert conv.id == "c1" and [t.answer for t in conv.history] == ["first"]
    other = store.open("c1", owner="key:bob")  # a foreign id starts a new conversation
    assert other.id != "c1" and other.history == []
    assert store.open(None, owner="key:alice").history == []
    assert store.open("slack-thread", owner="slack:T", named=True).id == "slack-thread"
    # a turn written by anyone sharing the log (another replica) is seen at the next open...
    _record(log, _answer("second"), question="q2")
    assert [t.answer for t in store.open("c1", owner="key:alice").history] == ["first", "second"]
    # ...and a conversation deleted in the log is gone, even for the process that held it
    log.delete_conversation("c1", owner="key:alice")
    assert store.open("c1", owner="key:alice").id != "c1"


def test_conversation_store_without_a_log_keeps_conversations_in_memory() -> None:
    store = ConversationStore(max_conversations=1, max_turns=2)
    cid = store.open(None, owner="o").id
    for n in range(3):
        store.append(cid, Turn(f"q{n}", f"q{n}", f"a{n}"), owner="o")
    assert [t.answer for t in store.open(cid, owner="o").history] == ["a1", "a2"]
    assert store.forget(cid, owner="o") and not store.forget(cid, owner="o")
    assert store.open(cid, owner="o").id != cid


def test_export_lines_are_gold_items_that_reproduce_the_vote(log: AnswerLog) -> None:
    answered = _record(log, _answer(), question="who chaired?")
    abstained = _record(log, _answer("I could not find it.", answerable=False, cid="c2"), question="when?")
    liked = _record(log, _answer(cid="c3"), question="who else?")
    for a, value in ((answered, "not_helpful"), (abstained, "not_helpful"), (liked, "helpful")):
        assert log.vote(a.answer_id, owner="key:alice", voter="key:alice", value=value, comment="x") == "recorded"
    rows = {r["feedback"]["answer_id"]: r for r in gold_lines(log.votes())}
    for row in rows.values():
        assert row["needs_review"] is True and row["kind"] == "feedback" and row["feedback"]["comments"] == ["x"]
        item_from_json(row, "t")  # the eval runner reads it as it is
    # not helpful + answered: an unanswerable question with the citations as candidates only
    assert rows[answered.answer_id]["answerable"] is False and rows[answered.answer_id]["gold"] == []
    assert rows[answered.answer_id]["candidate_gold"] == [{"file": "001.txt", "line": 19,
                                                           "quote": "Stoltenberg chaired"}]
    # not helpful + abstained: answerable, no gold yet (the eval calls an abstention a miss)
    assert rows[abstained.answer_id]["answerable"] is True and rows[abstained.answer_id]["gold"] == []
    # helpful + answered: its citations are the gold (a regression test)
    assert rows[liked.answer_id]["answerable"] is True
    assert rows[liked.answer_id]["gold"] == rows[liked.answer_id]["candidate_gold"]
    out = io.StringIO()
    assert export(log, out, value="not_helpful") == 2
    assert export(log, io.StringIO(), since=time.time() + 86400) == 0


def test_since_must_be_a_date() -> None:
    assert parse_since("2026-01-02") == 1767312000.0
    with pytest.raises(ExportError, match="YYYY-MM-DD"):
        parse_since("yesterday")


def test_a_log_that_cannot_be_opened_is_a_clear_error(tmp_path: Path) -> None:
    from api.answer_log.local import AnswerLogError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(AnswerLogError, match="SANAD_ANSWER_LOG=off"):
        AnswerLog(blocker / "answers.sqlite3", retention_days=1)
