"""The one ask flow behind every face (``/v1/ask``, ``/v1/chat/completions``, Slack, ``sanad ask``).

:meth:`AskService.start` does the conversation steps once, for all of them: the ready check,
the question check and analysis (``Answerer.parse``: the question object, its language
included), the conversation (owned by the caller: ``qa.conversation``), the follow-up made
standalone, and the language to answer in (the question's as asked). It returns an :class:`AskStream`:
the answer as events (``qa.stream``), which records the turn and the metrics when its final
answer comes: the turn, the metrics, and the answer log (``api.answer_log.local``: the answer's
``answer_id``; conversations are rebuilt from it after a restart). The faces only translate
it into their wire formats. Feedback on an answer (:meth:`AskService.feedback`) and the
deletion of a conversation go through here too. Failures are domain errors
(``api.service.errors``, ``qa.answerer.QuestionError``); each face shows them its own way.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol, Sequence

from api.answer_log.local import FeedbackValue, IndexVersion, new_answer_id
from api.answer_log.shared import AnyAnswerLog, open_answer_log
from api.service.errors import AlreadyVoted, AnswerLogOff, NotFound, Overloaded
from api.service.metrics import Metrics
from api.service.service import Service
from qa.answerer import Answerer
from qa.conversation import Conversation, ConversationStore, Turn, resolve_questions, standalone_question
from qa.models import Answer
from qa.stream import AnswerEvent, final_answer
from settings import Settings

log = logging.getLogger("sanad.api")


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
        """Take a place, or raise :class:`Overloaded` at once."""
        with self._lock:
            if self.limit and self.in_flight >= self.limit:
                raise Overloaded(f"{self.in_flight} questions are already being answered; retry shortly")
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


class AnswerSource(Protocol):
    """What the ask flow needs of whatever loads the answerer: the
    :class:`~api.service.service.Service`, or a :class:`LoadedAnswerer`."""

    settings: Settings

    def require_answerer(self) -> Answerer:
        """The loaded answerer, or ``NotReady`` / ``LoadFailed``."""
        ...

    def wait_ready(self, timeout: float | None = None) -> bool:
        ...

    def index_version(self) -> str:
        """A digest of the documents being served (``api.answer_log.local.IndexVersion``)."""
        ...


class LoadedAnswerer:
    """An :class:`AnswerSource` over an answerer its caller loaded (``sanad ask``): ready at once."""

    def __init__(self, answerer: Answerer) -> None:
        self.answerer = answerer
        self.settings = answerer.settings
        self._index_version = IndexVersion()

    def require_answerer(self) -> Answerer:
        return self.answerer

    def wait_ready(self, timeout: float | None = None) -> bool:
        return True

    def index_version(self) -> str:
        with self.answerer.lock:
            return self._index_version.of(self.answerer.catalog)


class AskService:
    """Owns the conversations and the ask steps; typed, and the same for every face."""

    def __init__(self, service: AnswerSource, *, conversations: ConversationStore, metrics: Metrics,
                 log: AnyAnswerLog | None = None) -> None:
        """``log``: where answers, conversations and feedback are kept (None: nowhere; answers
        still get an ``answer_id``, conversations live in memory only)."""
        self.service = service
        self.conversations = conversations
        self.metrics = metrics
        self.admission = Admission(service.settings.max_pending_questions)
        self.log = log

    def start(self, question: str, *, owner: str, conversation_id: str | None = None, named: bool = False,
              earlier_questions: Sequence[str] | None = None, top_k: int | None = None) -> AskStream:
        """Begin answering ``question`` for ``owner``; every refusal is raised here, before any
        event (``NotReady``/``LoadFailed``, ``QuestionError``, ``Overloaded``).

        Either ``conversation_id`` (a stored conversation; ``named`` for ids derived from a
        Slack thread) or ``earlier_questions`` (history the client sends, as in the OpenAI
        API: nothing is stored) gives the context a follow-up is read in."""
        answerer = self.service.require_answerer()
        asked = answerer.parse(question)  # checked and analysed once: QuestionError before anything else
        question = asked.text
        if earlier_questions is not None:
            conversation: Conversation | None = None
            history = resolve_questions(earlier_questions, max_chars=self.service.settings.max_question_chars)
            cid = ""
        else:
            conversation = self.conversations.open(conversation_id, owner=owner, named=named)
            history = [t.standalone for t in conversation.history]
            cid = conversation.id
        standalone = standalone_question(question, history, max_chars=self.service.settings.max_question_chars)
        retrieved = asked if standalone == question else answerer.parse(standalone)  # a follow-up: with its context
        self.admission.enter()  # Overloaded past the bound, before any work
        try:  # answered in the language it was asked in
            events = answerer.ask_stream(retrieved, top_k=top_k, language=asked.language)
        except BaseException:
            self.admission.leave()
            raise

        def finish(answer: Answer) -> Answer:
            if conversation is not None:
                self.conversations.append(cid, Turn(question, standalone, answer.answer), owner=owner)
            self.metrics.observe_answer(answer)
            answer = answer.model_copy(update={"conversation_id": cid, "answer_id": new_answer_id()})
            if self.log is not None:
                try:
                    self.log.record(answer, owner=owner, question=question, standalone=standalone,
                                    index_version=self.service.index_version())
                except Exception:  # noqa: BLE001 - the caller still gets its answer; the log says why
                    log.exception("the answer log could not keep answer %s", answer.answer_id)
            return answer

        return AskStream(standalone=standalone, conversation_id=cid, live=answerer.streams_live,
                         _events=events, _finish=finish, _release=self.admission.leave)

    def _require_log(self) -> AnyAnswerLog:
        if self.log is None:
            raise AnswerLogOff("answers are not kept on this server (SANAD_ANSWER_LOG=off or "
                               "SANAD_LOG_RETENTION_DAYS=0)")
        return self.log

    def feedback(self, answer_id: str, value: FeedbackValue, *, owner: str, voter: str | None = None,
                 comment: str = "") -> None:
        """``voter``'s (default: the owner's) one vote on ``owner``'s answer ``answer_id``,
        stored with the answer and counted in ``sanad_feedback_total``. :class:`NotFound` for an
        answer this owner did not get (or an expired one), :class:`AlreadyVoted` for a second vote
        (the first stands), :class:`AnswerLogOff` when no answers are kept."""
        result = self._require_log().vote(answer_id, owner=owner, voter=voter or owner, value=value,
                                          comment=comment)
        if result == "not_found":
            raise NotFound(f"no answer {answer_id!r} of this caller in the answer log")
        if result == "already_voted":
            raise AlreadyVoted("this answer already has your vote (the first vote stands)")
        self.metrics.observe_feedback(value)

    def delete_conversation(self, conversation_id: str, *, owner: str) -> int:
        """Forget ``owner``'s conversation, in memory and in the log (its answers and their
        feedback); :class:`NotFound` when this owner has no such conversation. Answers deleted."""
        in_memory = self.conversations.forget(conversation_id, owner=owner)
        deleted = self.log.delete_conversation(conversation_id, owner=owner) if self.log is not None else 0
        if not in_memory and not deleted:
            raise NotFound(f"no conversation {conversation_id!r} of this caller")
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


__all__ = ["AnswerSource", "AskService", "AskStream", "LoadedAnswerer", "ask_service_for", "caller_owner",
           "slack_owner"]
