"""The one ask flow behind every face (``/v1/ask``, ``/v1/chat/completions``, Slack).

:meth:`AskService.start` does the conversation steps once, for all of them: the ready check,
the question check, the conversation (owned by the caller: ``qa.conversation``), the
follow-up made standalone, and the language to answer in. It returns an :class:`AskStream`:
the answer as events (``qa.stream``), which records the turn and the metrics when its final
answer comes: the turn, the metrics, and the answer log (``api.answer_log.local``: the answer's
``answer_id``; conversations are rebuilt from it after a restart). The faces only translate
it into their wire formats. Feedback on an answer (:meth:`AskService.feedback`) and the
deletion of a conversation go through here too.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

from api.answer_log.local import FeedbackValue, IndexVersion, new_answer_id
from api.answer_log.shared import AnyAnswerLog, open_answer_log
from api.http.errors import ApiError
from api.service.metrics import Metrics
from api.service.service import Service
from qa.answerer import QuestionError
from qa.conversation import Conversation, ConversationStore, Turn, resolve_questions, standalone_question
from qa.language import detect_language
from qa.models import Answer
from qa.stream import AnswerEvent, final_answer

log = logging.getLogger("sanad.api")


#: what an ``overloaded`` 503 tells the client to wait, seconds
OVERLOADED_RETRY_AFTER_S = 2


def caller_owner(token: str | None, *, keys_required: bool) -> str:
    """Who owns what an HTTP caller starts: its API key (by hash, never the key), or one
    shared owner when the API has no keys (conversation ids are unguessable either way)."""
    if keys_required and token:
        return "key:" + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return "http"


def slack_owner(team_id: str | None) -> str:
    """Slack threads belong to their workspace; no HTTP caller is ever this owner."""
    return f"slack:{team_id or '-'}"


class Admission:
    """Counts the questions in flight; refuses one more past ``limit`` (0 = no bound).
    Thread-safe: asks run in the threadpool."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self._lock = threading.Lock()

    def enter(self) -> None:
        """Take a place, or raise 503 ``overloaded`` with ``Retry-After`` at once."""
        with self._lock:
            if self.limit and self.in_flight >= self.limit:
                raise ApiError(503, f"{self.in_flight} questions are already being answered; retry shortly",
                               code="overloaded", headers={"Retry-After": str(OVERLOADED_RETRY_AFTER_S)})
            self.in_flight += 1

    def leave(self) -> None:
        with self._lock:
            self.in_flight = max(0, self.in_flight - 1)


@dataclass
class AskStream:
    """One question on its way to an answer.

    ``events`` yields ``("delta", text)`` and then ``("answer", Answer)``, the answer with its
    ``conversation_id``. ``live`` is true when the deltas are written as they stream (the
    LLM writer); otherwise the answer is complete before its first delta.
    """

    standalone: str
    conversation_id: str
    live: bool
    _events: Iterator[AnswerEvent]
    _finish: Callable[[Answer], Answer]
    _release: Callable[[], None] = lambda: None
    _released: bool = field(default=False, init=False)

    @property
    def events(self) -> Iterator[AnswerEvent]:
        try:
            for kind, value in self._events:
                if kind == "answer":
                    assert isinstance(value, Answer)
                    yield "answer", self._finish(value)
                else:
                    yield kind, value
        finally:
            self.release()

    def release(self) -> None:
        """Give back the question's place (once; the stream does it when it ends or is closed)."""
        if not self._released:
            self._released = True
            self._release()

    def __del__(self) -> None:  # a stream that was never read still gives its place back
        self.release()

    def answer(self) -> Answer:
        """Consume the stream; its final answer."""
        return final_answer(self.events)


class AskService:
    """Owns the conversations and the ask steps; typed, and the same for every face."""

    def __init__(self, service: Service, *, conversations: ConversationStore, metrics: Metrics,
                 log: AnyAnswerLog | None = None) -> None:
        """``log``: where answers, conversations and feedback are kept (None: nowhere; answers
        still get an ``answer_id``, conversations live in memory only)."""
        self.service = service
        self.conversations = conversations
        self.metrics = metrics
        self.admission = Admission(service.settings.max_pending_questions)
        self.log = log
        self._index_version = IndexVersion()

    def check_question(self, question: str) -> str:
        """422 for questions the answerer would refuse (before waiting for the model)."""
        limit = self.service.settings.max_question_chars
        stripped = question.strip()
        if not stripped:
            raise ApiError(422, "the question is empty", code="invalid_question")
        if len(stripped) > limit:
            raise ApiError(422, f"the question is {len(stripped)} characters; the limit is {limit}",
                           code="question_too_long")
        return stripped

    def start(self, question: str, *, owner: str, conversation_id: str | None = None, named: bool = False,
              earlier_questions: Sequence[str] | None = None, top_k: int | None = None) -> AskStream:
        """Begin answering ``question`` for ``owner``; 4xx/503 are raised here, before any event.

        Either ``conversation_id`` (a stored conversation; ``named`` for ids derived from a
        Slack thread) or ``earlier_questions`` (history the client sends, as in the OpenAI
        API: nothing is stored) gives the context a follow-up is read in."""
        answerer = self.service.require_answerer()
        question = self.check_question(question)
        if earlier_questions is not None:
            conversation: Conversation | None = None
            history = resolve_questions(earlier_questions, max_chars=self.service.settings.max_question_chars)
            cid = ""
        else:
            conversation = self.conversations.open(conversation_id, owner=owner, named=named)
            history = [t.standalone for t in conversation.history]
            cid = conversation.id
        standalone = standalone_question(question, history, max_chars=self.service.settings.max_question_chars)
        self.admission.enter()  # 503 overloaded past the bound, before any work
        try:
            events = answerer.ask_stream(standalone, top_k=top_k, language=detect_language(question))
        except QuestionError as exc:
            self.admission.leave()
            raise ApiError(422, str(exc), code="invalid_question") from None

        def finish(answer: Answer) -> Answer:
            if conversation is not None:
                self.conversations.append(cid, Turn(question, standalone, answer.answer), owner=owner)
            self.metrics.observe_answer(answer)
            answer = answer.model_copy(update={"conversation_id": cid, "answer_id": new_answer_id()})
            if self.log is not None:
                try:
                    self.log.record(answer, owner=owner, question=question, standalone=standalone,
                                    index_version=self.index_version())
                except Exception:  # noqa: BLE001 - the caller still gets its answer; the log says why
                    log.exception("the answer log could not keep answer %s", answer.answer_id)
            return answer

        return AskStream(standalone=standalone, conversation_id=cid, live=answerer.streams_live,
                         _events=events, _finish=finish, _release=self.admission.leave)

    def index_version(self) -> str:
        """A digest of the documents being served (``api.answer_log.local.IndexVersion``)."""
        with self.service.read_lock:
            return self._index_version.of(self.service.catalog)

    def _require_log(self) -> AnyAnswerLog:
        if self.log is None:
            raise ApiError(404, "answers are not kept on this server (SANAD_ANSWER_LOG=off or "
                           "SANAD_LOG_RETENTION_DAYS=0)", code="answer_log_off")
        return self.log

    def feedback(self, answer_id: str, value: FeedbackValue, *, owner: str, voter: str | None = None,
                 comment: str = "") -> None:
        """``voter``'s (default: the owner's) one vote on ``owner``'s answer ``answer_id``,
        stored with the answer and counted in ``sanad_feedback_total``. 404 for an answer
        this owner did not get (or an expired one), 409 for a second vote (the first stands)."""
        result = self._require_log().vote(answer_id, owner=owner, voter=voter or owner, value=value,
                                          comment=comment)
        if result == "not_found":
            raise ApiError(404, f"no answer {answer_id!r} of this caller in the answer log", code="not_found")
        if result == "already_voted":
            raise ApiError(409, "this answer already has your vote (the first vote stands)", code="already_voted")
        self.metrics.observe_feedback(value)

    def delete_conversation(self, conversation_id: str, *, owner: str) -> int:
        """Forget ``owner``'s conversation, in memory and in the log (its answers and their
        feedback); 404 when this owner has no such conversation. Answers deleted."""
        in_memory = self.conversations.forget(conversation_id, owner=owner)
        deleted = self.log.delete_conversation(conversation_id, owner=owner) if self.log is not None else 0
        if not in_memory and not deleted:
            raise ApiError(404, f"no conversation {conversation_id!r} of this caller", code="not_found")
        return deleted

    def close(self) -> None:
        if self.log is not None:
            self.log.close()


def ask_service_for(service: Service) -> AskService:
    """The AskService of ``service``: its metrics, its answer log (unless the settings turn it
    off; on the Chroma server in server mode), and conversations as its settings bound them,
    recalled from the log."""
    log = open_answer_log(service.settings)
    conversations = ConversationStore(max_conversations=service.settings.max_conversations,
                                      max_turns=service.settings.max_conversation_turns,
                                      recall=log.turns if log is not None else None)
    return AskService(service, conversations=conversations, metrics=service.metrics, log=log)


__all__ = ["AskService", "AskStream", "ask_service_for", "caller_owner", "slack_owner"]
