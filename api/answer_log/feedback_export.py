"""``sanad feedback export``: votes from the answer log as gold-set JSONL, for a person to review.

One line per voted answer, in the format ``evals.sets.item_from_json`` reads, so
``sanad eval --set FILE`` runs the file as it is, before anyone has reviewed it. Until a
person has, the file says what the votes say:

============  ===============  ================================  =======================
vote          Sanad            exported                          the eval then
============  ===============  ================================  =======================
helpful       answered         answerable, gold = its citations  a hit (a regression test)
helpful       abstained        not answerable                    a hit
not_helpful   answered         not answerable, no gold           a miss (answered, but unanswerable)
not_helpful   abstained        answerable, no gold               a miss (abstained, but answerable)
============  ===============  ================================  =======================

so each not-helpful vote reproduces as a miss. Every line has ``needs_review: true``,
``candidate_gold`` (the answer's citations as ``{"file", "line", "quote"}``, to move into
``gold`` when they are right) and ``feedback`` (the votes, comments, the answer as given,
its answerer and index version). An answer with both kinds of vote counts as not helpful.
The question is the standalone one (what was retrieved with), so a follow-up stands alone;
the words as asked are in ``feedback.asked``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, TextIO

from api.answer_log.local import AnswerLog, FeedbackValue, LoggedVote
from settings.errors import SanadError


class ExportError(SanadError, RuntimeError):
    """The export cannot run (no log, bad date); the message says why."""

    code = "export_failed"


def parse_since(text: str) -> float:
    """``YYYY-MM-DD`` (UTC midnight) as Unix time."""
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise ExportError(f"--since wants a date as YYYY-MM-DD, not {text!r}") from None
    return day.replace(tzinfo=timezone.utc).timestamp()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds")


@dataclass
class _Voted:
    first: LoggedVote
    counts: dict[str, int] = field(default_factory=lambda: {"helpful": 0, "not_helpful": 0})
    comments: list[str] = field(default_factory=list)


def gold_lines(votes: Iterable[LoggedVote], *, corpus: Path | None = None) -> list[dict[str, Any]]:
    """One gold-set item per voted answer (see the module docstring), oldest vote first."""
    grouped: dict[str, _Voted] = {}
    for vote in votes:
        entry = grouped.setdefault(vote.answer_id, _Voted(vote))
        entry.counts[vote.value] = entry.counts.get(vote.value, 0) + 1
        if vote.comment:
            entry.comments.append(vote.comment)
    out = []
    for answer_id, entry in grouped.items():
        v = entry.first
        helpful = entry.counts.get("not_helpful", 0) == 0
        candidates = [{"file": c["file"], "line": int(c["line_start"]), "quote": c["quote"]} for c in v.citations]
        answerable = v.answerable if helpful else not v.answerable
        row: dict[str, Any] = {
            "id": f"feedback-{answer_id}",
            "lang": v.language,
            "question": v.standalone,
            "gold": candidates if helpful and v.answerable else [],
            "answers": [],
            "answerable": answerable,
            "kind": "feedback",
            "needs_review": True,
            "candidate_gold": candidates,
            "feedback": {
                "value": "helpful" if helpful else "not_helpful",
                "votes": entry.counts,
                "comments": entry.comments,
                "answer_id": answer_id,
                "asked": v.question,
                "answer": v.answer,
                "sanad_answered": v.answerable,
                "answerer": v.answerer,
                "index_version": v.index_version,
                "answered_at": _iso(v.created_at),
                "voted_at": _iso(v.voted_at),
            },
        }
        if corpus is not None:
            row["corpus"] = str(corpus.resolve())
        out.append(row)
    return out


def export(log: AnswerLog, out: TextIO, *, value: FeedbackValue | None = None, since: float | None = None,
           corpus: Path | None = None) -> int:
    """Write the JSONL of ``log``'s votes (of ``value``, cast since ``since``) to ``out``;
    how many lines were written. ``corpus``: the folder the cited files are relative to
    (written as each line's ``corpus``, so ``sanad eval --set FILE`` finds it)."""
    lines = gold_lines(log.votes(value=value, since=since), corpus=corpus)
    for row in lines:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(lines)


def open_log(path: Path, *, retention_days: int) -> AnswerLog:
    """The existing log at ``path`` (an error rather than a new, empty one)."""
    if not path.is_file():
        raise ExportError(f"no answer log at {path} (answers are logged by `sanad serve` with "
                          "SANAD_ANSWER_LOG=on under SANAD_DATA_DIR)")
    if retention_days < 1:
        raise ExportError("the answer log is off (SANAD_LOG_RETENTION_DAYS=0)")
    return AnswerLog(path, retention_days=retention_days)


__all__ = ["ExportError", "export", "gold_lines", "open_log", "parse_since"]
