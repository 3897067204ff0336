"""The answer log: every answer served, the conversation it belongs to, and its feedback.

One SQLite file, ``<data_dir>/answers.sqlite3`` (WAL, one connection behind a lock; writes
come from FastAPI's threadpool). Two tables:

``answers``
    one row per answer: ``id`` (the ``answer_id`` callers see), ``created_at`` (Unix time),
    ``owner`` (who asked: ``api.service.asking.caller_owner``, an API key's hash, never the key),
    ``conversation_id`` ("" when nothing was stored, e.g. ``/v1/chat/completions``),
    ``question`` as asked, ``standalone`` (what was retrieved with), ``language``,
    ``answerable``, ``answer``, ``citations`` (JSON list of ``qa.models.Citation``),
    ``answerer``, ``index_version`` (a digest of the catalog's file -> sha256 manifest),
    ``timings`` (JSON), ``warnings`` (JSON).
``feedback``
    one vote per voter per answer (primary key ``(answer_id, voter)``): ``value``
    (``helpful`` | ``not_helpful``), ``comment``, ``created_at``. A second vote by the same
    voter is refused (the first one stands), as the Slack buttons do.

Conversations are rebuilt from ``answers`` (:meth:`AnswerLog.turns`), for their owner
only. Rows older than the retention (``SANAD_LOG_RETENTION_DAYS``) are never read and are
deleted at start-up and at most hourly after. In server mode (``SANAD_CHROMA_URL``) the log
is on the Chroma server instead (``api.answer_log.shared``), so every replica sees it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal

from index.catalog import Catalog
from index.sqlite_db import connect, write_transaction
from qa.conversation import Turn
from qa.models import Answer
from settings import Settings
from settings.errors import SanadError

#: the retention is enforced (old rows deleted) at most this often
PURGE_EVERY_S = 3600.0
FeedbackValue = Literal["helpful", "not_helpful"]
VoteResult = Literal["recorded", "already_voted", "not_found"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    owner TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    question TEXT NOT NULL,
    standalone TEXT NOT NULL,
    language TEXT NOT NULL,
    answerable INTEGER NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,
    answerer TEXT NOT NULL,
    index_version TEXT NOT NULL,
    timings TEXT NOT NULL,
    warnings TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_conversation ON answers (owner, conversation_id, created_at);
CREATE INDEX IF NOT EXISTS answers_created ON answers (created_at);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id TEXT NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
    voter TEXT NOT NULL,
    value TEXT NOT NULL,
    comment TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (answer_id, voter)
);
"""


def new_answer_id() -> str:
    """A fresh, unguessable answer id (also given where nothing is logged: ``sanad ask``)."""
    return "ans_" + uuid.uuid4().hex


class AnswerLogError(SanadError, RuntimeError):
    """The answer log cannot be opened; the message says why and what to do."""

    code = "answer_log_unavailable"


@dataclass(frozen=True)
class LoggedVote:
    """One vote and the answer it is on (what ``sanad feedback export`` reads)."""

    answer_id: str
    value: str
    comment: str
    voted_at: float
    question: str
    standalone: str
    language: str
    answerable: bool
    answer: str
    citations: list[dict[str, Any]]
    answerer: str
    index_version: str
    created_at: float


class IndexVersion:
    """A short digest of a catalog's file -> sha256 manifest, recomputed only when the catalog
    changed (SQLite's ``data_version``): equal on every replica that serves the same documents."""

    def __init__(self) -> None:
        self._seen: tuple[int, str] | None = None

    def of(self, catalog: Catalog | None) -> str:
        if catalog is None:
            return ""
        version = catalog.data_version()
        if self._seen is None or self._seen[0] != version:
            items = sorted(catalog.manifest().items())
            digest = hashlib.sha256(json.dumps(items, ensure_ascii=False).encode()).hexdigest()[:16]
            self._seen = (version, digest)
        return self._seen[1]


class AnswerLog:
    """The log at ``path``; rows older than ``retention_days`` are gone or ignored."""

    def __init__(self, path: Path, *, retention_days: int) -> None:
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1 (0 means: no log; do not open one)")
        self.path = Path(path)
        self.retention_s = retention_days * 86400.0
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = connect(self.path, "foreign_keys=ON")
            self._conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise AnswerLogError(f"cannot open the answer log {self.path}: {exc} (SANAD_ANSWER_LOG=off runs "
                                 "without one)") from exc
        self._purged_at = float("-inf")
        self.purge()

    @classmethod
    def for_settings(cls, settings: Settings) -> "AnswerLog | None":
        """The log under ``settings.data_dir``, or None when the settings turn it off."""
        if not settings.answer_log_enabled:
            return None
        return cls(settings.answer_log_path, retention_days=settings.log_retention_days)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _cutoff(self) -> float:
        return time.time() - self.retention_s

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction (call with ``self._lock`` held)."""
        return write_transaction(self._conn)

    # --- writes ---------------------------------------------------------------------------
    def purge(self) -> int:
        """Delete the answers (and their feedback) older than the retention; how many."""
        with self._lock:
            with self._tx() as tx:
                cur = tx.execute("DELETE FROM answers WHERE created_at < ?", (self._cutoff(),))
            self._purged_at = time.monotonic()
            return cur.rowcount

    def record(self, answer: Answer, *, owner: str, question: str, standalone: str, index_version: str) -> None:
        """Keep ``answer`` (its ``answer_id`` and ``conversation_id`` already set)."""
        if not answer.answer_id:
            raise ValueError("an answer is logged under its answer_id")
        if time.monotonic() - self._purged_at > PURGE_EVERY_S:
            self.purge()
        row = (answer.answer_id, time.time(), owner, answer.conversation_id, question, standalone,
               answer.language, int(answer.answerable), answer.answer,
               json.dumps([c.model_dump(mode="json") for c in answer.citations], ensure_ascii=False),
               answer.answerer, index_version, json.dumps(answer.timings_ms), json.dumps(answer.warnings,
                                                                                          ensure_ascii=False))
        with self._lock:
            with self._tx() as tx:
                tx.execute("INSERT INTO answers VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", row)

    def vote(self, answer_id: str, *, owner: str, voter: str, value: FeedbackValue,
             comment: str = "") -> VoteResult:
        """``voter``'s vote on ``owner``'s answer ``answer_id``: ``recorded``, ``already_voted``
        (the first vote stands) or ``not_found`` (no such answer of this owner, or expired)."""
        with self._lock:
            with self._tx() as tx:
                found = tx.execute("SELECT 1 FROM answers WHERE id = ? AND owner = ? AND created_at >= ?",
                                   (answer_id, owner, self._cutoff())).fetchone()
                if not found:
                    return "not_found"
                try:
                    tx.execute("INSERT INTO feedback VALUES (?,?,?,?,?)",
                               (answer_id, voter, value, comment, time.time()))
                except sqlite3.IntegrityError:
                    return "already_voted"
        return "recorded"

    def delete_conversation(self, conversation_id: str, *, owner: str) -> int:
        """Delete ``owner``'s conversation (its answers and their feedback); answers deleted."""
        if not conversation_id:
            return 0
        with self._lock:
            with self._tx() as tx:
                cur = tx.execute("DELETE FROM answers WHERE owner = ? AND conversation_id = ?",
                                 (owner, conversation_id))
            return cur.rowcount

    # --- reads ----------------------------------------------------------------------------
    def turns(self, owner: str, conversation_id: str) -> list[Turn] | None:
        """The turns of ``owner``'s conversation, oldest first; None when it has none
        (``qa.conversation.Recall``)."""
        if not conversation_id:
            return None
        with self._lock:
            rows = self._conn.execute(
                "SELECT question, standalone, answer FROM answers WHERE owner = ? AND conversation_id = ? "
                "AND created_at >= ? ORDER BY created_at, rowid",
                (owner, conversation_id, self._cutoff())).fetchall()
        return [Turn(q, s, a) for q, s, a in rows] or None

    def answer_row(self, answer_id: str) -> dict[str, Any] | None:
        """One logged answer as a dict (column -> value), or None."""
        with self._lock:
            cur = self._conn.execute("SELECT * FROM answers WHERE id = ? AND created_at >= ?",
                                     (answer_id, self._cutoff()))
            row = cur.fetchone()
            names = [d[0] for d in cur.description]
        return dict(zip(names, row)) if row else None

    def votes(self, *, value: FeedbackValue | None = None, since: float | None = None) -> list[LoggedVote]:
        """Every vote (of ``value``, cast at or after ``since``), oldest first, with its answer."""
        sql = ("SELECT f.answer_id, f.value, f.comment, f.created_at, a.question, a.standalone, a.language, "
               "a.answerable, a.answer, a.citations, a.answerer, a.index_version, a.created_at "
               "FROM feedback f JOIN answers a ON a.id = f.answer_id WHERE a.created_at >= ?")
        params: list[Any] = [self._cutoff()]
        if value is not None:
            sql += " AND f.value = ?"
            params.append(value)
        if since is not None:
            sql += " AND f.created_at >= ?"
            params.append(since)
        sql += " ORDER BY f.created_at, f.rowid"
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [LoggedVote(aid, val, comment, voted, q, s, lang, bool(ok), text, json.loads(cits), who, iv, made)
                for aid, val, comment, voted, q, s, lang, ok, text, cits, who, iv, made in rows]


__all__ = ["AnswerLog", "AnswerLogError", "FeedbackValue", "IndexVersion", "LoggedVote", "VoteResult", "new_answer_id"]
