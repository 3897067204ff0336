"""Server mode: the answer log on the Chroma server, where every replica sees it.

With ``SANAD_CHROMA_URL`` set, answers and votes are records of a collection
``<collection>_answers`` on the server the index already uses (as the shared catalog is:
``index.shared_catalog``), so a conversation started on one replica continues on any other,
and a vote counts once whichever replica takes it. Nothing is embedded: every record
carries the same 1-d dummy vector. Two kinds of record:

``<answer_id>``
    an answer: the JSON of its log row as document; metadata ``type="answer"``, ``owner``,
    ``conversation_id``, ``created_at``.
``fb:<digest of answer id and voter>``
    a vote: ``{answer_id, voter, value, comment, created_at}`` as document; metadata
    ``type="feedback"``, ``answer_id``, ``value``, ``created_at``. Its id is derived from the
    answer and the voter, so one voter has at most one vote record per answer. Chroma has no
    compare-and-set: two replicas taking the same person's two votes within one round trip
    may both answer 201 (there is still one record: the later vote replaces the earlier).

It has the methods of :class:`api.answer_log.local.AnswerLog`; :func:`open_answer_log` picks one.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

from api.answer_log.local import PURGE_EVERY_S, AnswerLog, FeedbackValue, LoggedVote, VoteResult
from qa.conversation import Turn
from qa.models import Answer
from settings import Settings, StoreSettings
from settings.errors import SanadError

ANSWERS_SUFFIX = "_answers"
_DUMMY = [1.0]


class SharedAnswerLogError(SanadError, RuntimeError):
    """The server's answer collection cannot be opened; the message says why."""

    code = "answer_log_unavailable"


def _feedback_id(answer_id: str, voter: str) -> str:
    return "fb:" + hashlib.sha256(f"{answer_id}\0{voter}".encode()).hexdigest()[:40]


def _all(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {"$and": list(conditions)} if len(conditions) > 1 else conditions[0]


class SharedAnswerLog:
    """The ``<collection>_answers`` collection of a Chroma server (see the module doc)."""

    def __init__(self, settings: StoreSettings, *, retention_days: int, client: Any = None) -> None:
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1 (0 means: no log; do not open one)")
        self.settings = settings
        self.name = settings.chroma_collection + ANSWERS_SUFFIX
        self.retention_s = retention_days * 86400.0
        self._purged_at = float("-inf")
        self._client = client
        self._collection: Any = None
        self._open_lock = threading.Lock()

    @property
    def _col(self) -> Any:
        """The collection, opened on first use (a server that is down at start-up delays
        nothing: questions need it too, and say so)."""
        with self._open_lock:
            if self._collection is None:
                try:
                    if self._client is None:
                        from index.vectors import chroma_client

                        self._client = chroma_client(self.settings)
                    self._collection = self._client.get_or_create_collection(self.name, embedding_function=None)
                except Exception as exc:  # noqa: BLE001
                    raise SharedAnswerLogError(f"cannot open the answer log collection {self.name!r} on "
                                               f"{self.settings.chroma_url}: {exc}") from exc
        return self._collection

    def close(self) -> None:
        """Nothing to close (the HTTP client has no connection to release)."""

    def _cutoff(self) -> float:
        return time.time() - self.retention_s

    def _put(self, record_id: str, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        self._col.upsert(ids=[record_id], embeddings=[_DUMMY], metadatas=[meta],
                         documents=[json.dumps(payload, ensure_ascii=False)])

    def _answers(self, *conditions: dict[str, Any]) -> list[dict[str, Any]]:
        got = self._col.get(where=_all({"type": "answer"}, {"created_at": {"$gte": self._cutoff()}}, *conditions),
                            include=["documents"])
        rows = [json.loads(doc) for doc in got["documents"] or []]
        return sorted(rows, key=lambda r: r["created_at"])

    # --- writes ---------------------------------------------------------------------------
    def purge(self) -> int:
        """Delete the answers (and their votes) older than the retention; how many."""
        old = self._col.get(where=_all({"type": "answer"}, {"created_at": {"$lt": self._cutoff()}}))["ids"]
        self._delete_answers(list(old))
        self._purged_at = time.monotonic()
        return len(old)

    def _delete_answers(self, ids: list[str]) -> None:
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            self._col.delete(where=_all({"type": "feedback"}, {"answer_id": {"$in": part}}))
            self._col.delete(ids=part)

    def record(self, answer: Answer, *, owner: str, question: str, standalone: str, index_version: str) -> None:
        if not answer.answer_id:
            raise ValueError("an answer is logged under its answer_id")
        if time.monotonic() - self._purged_at > PURGE_EVERY_S:
            self.purge()
        now = time.time()
        row = {"id": answer.answer_id, "created_at": now, "owner": owner,
               "conversation_id": answer.conversation_id, "question": question, "standalone": standalone,
               "language": answer.language, "answerable": int(answer.answerable), "answer": answer.answer,
               "citations": json.dumps([c.model_dump(mode="json") for c in answer.citations], ensure_ascii=False),
               "answerer": answer.answerer, "index_version": index_version,
               "timings": json.dumps(answer.timings_ms), "warnings": json.dumps(answer.warnings, ensure_ascii=False)}
        self._put(answer.answer_id, row, {"type": "answer", "owner": owner,
                                          "conversation_id": answer.conversation_id, "created_at": now})

    def vote(self, answer_id: str, *, owner: str, voter: str, value: FeedbackValue,
             comment: str = "") -> VoteResult:
        row = self.answer_row(answer_id)
        if row is None or row["owner"] != owner:
            return "not_found"
        fid = _feedback_id(answer_id, voter)
        if self._col.get(ids=[fid])["ids"]:
            return "already_voted"
        now = time.time()
        self._put(fid, {"answer_id": answer_id, "voter": voter, "value": value, "comment": comment,
                        "created_at": now},
                  {"type": "feedback", "answer_id": answer_id, "value": value, "created_at": now})
        return "recorded"

    def delete_conversation(self, conversation_id: str, *, owner: str) -> int:
        if not conversation_id:
            return 0
        ids = list(self._col.get(where=_all({"type": "answer"}, {"owner": owner},
                                            {"conversation_id": conversation_id}))["ids"])
        self._delete_answers(ids)
        return len(ids)

    # --- reads ----------------------------------------------------------------------------
    def turns(self, owner: str, conversation_id: str) -> list[Turn] | None:
        if not conversation_id:
            return None
        rows = self._answers({"owner": owner}, {"conversation_id": conversation_id})
        return [Turn(r["question"], r["standalone"], r["answer"]) for r in rows] or None

    def answer_row(self, answer_id: str) -> dict[str, Any] | None:
        got = self._col.get(ids=[answer_id], include=["documents", "metadatas"])
        if not got["ids"] or (got["metadatas"][0] or {}).get("type") != "answer":
            return None
        row = json.loads(got["documents"][0])
        return row if row["created_at"] >= self._cutoff() else None

    def votes(self, *, value: FeedbackValue | None = None, since: float | None = None) -> list[LoggedVote]:
        conditions: list[dict[str, Any]] = [{"type": "feedback"}]
        if value is not None:
            conditions.append({"value": value})
        if since is not None:
            conditions.append({"created_at": {"$gte": since}})
        got = self._col.get(where=_all(*conditions), include=["documents"])
        votes = sorted((json.loads(d) for d in got["documents"] or []), key=lambda v: v["created_at"])
        out = []
        for v in votes:
            a = self.answer_row(v["answer_id"])
            if a is None:
                continue
            out.append(LoggedVote(v["answer_id"], v["value"], v["comment"], v["created_at"], a["question"],
                                  a["standalone"], a["language"], bool(a["answerable"]), a["answer"],
                                  json.loads(a["citations"]), a["answerer"], a["index_version"], a["created_at"]))
        return out


#: either kind of answer log (the same methods)
AnyAnswerLog = AnswerLog | SharedAnswerLog


def open_answer_log(settings: Settings) -> AnyAnswerLog | None:
    """The answer log the settings ask for: None when off; on the Chroma server in server
    mode (``SANAD_CHROMA_URL``); else SQLite under the data dir."""
    if not settings.answer_log_enabled:
        return None
    if settings.chroma_url:
        return SharedAnswerLog(settings, retention_days=settings.log_retention_days)
    return AnswerLog.for_settings(settings)


__all__ = ["AnyAnswerLog", "SharedAnswerLog", "SharedAnswerLogError", "open_answer_log"]
