"""Collections in the service: one :class:`Service` (documents) and one :class:`AskService`
(answers, conversations, answer log) per collection, opened on first use, with one model in
memory for all of them (``index.collections`` says where each collection's data lives).

The default collection's service is the one the app always had (loaded at start-up); a named
collection's is loaded when first used, with the default's embedder (and, for uploads, the
default's upload model), so a collection costs its stores, never another model.

A question over several collections (:class:`CollectionsAnswerer`) is asked in each, and
the answers are ranked together: the best-scored answer leads, and the citations of the
others that score within ``SANAD_CITATION_MARGIN`` of it follow, up to
``SANAD_MAX_CITATIONS`` in all, renumbered. Every citation carries its ``collection``, and a
named collection's citation URLs are under ``/v1/collections/NAME/documents/``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Callable, Iterator, Sequence

from api.answer_log.shared import open_answer_log
from api.keys import Grant
from api.service.asking import AskService
from api.service.errors import AnswerLogOff, Forbidden, NotFound
from api.service.metrics import Metrics
from api.service.service import Service
from index.collections import DEFAULT_COLLECTION, CollectionNotFound, Collections, validate_collection_name
from qa.answerer import Answerer
from qa.conversation import ConversationStore
from qa.models import Answer, Language
from qa.question import Question
from qa.stream import AnswerEvent, replay
from settings import Settings

log = logging.getLogger("sanad.api")

_MARK_RE = re.compile(r"\[(\d+)\]")
#: the longest list of collections one question may name
MAX_COLLECTIONS_PER_QUESTION = 20


def citation_prefix(collection: str) -> str:
    return "/v1/documents/" if collection == DEFAULT_COLLECTION else f"/v1/collections/{collection}/documents/"


def tag_answer(answer: Answer, collection: str, answerer: Answerer | None = None) -> Answer:
    """``answer`` with each citation's ``collection`` (and its URL under the collection), and,
    given the ``answerer`` that answered it, each cited document's ``title``."""
    prefix = citation_prefix(collection)
    titles: dict[str, str] = {}
    if answerer is not None and answer.citations:
        with answerer.lock:
            for file in {c.file for c in answer.citations}:
                rec = answerer.catalog.document(file)
                titles[file] = rec.title if rec is not None else ""
    citations = [c.model_copy(update={"collection": collection, "title": titles.get(c.file, c.title),
                                      "url": prefix + c.url.removeprefix("/v1/documents/")})
                 for c in answer.citations]
    return answer.model_copy(update={"citations": citations})


def _best(answer: Answer) -> float:
    return max((c.score for c in answer.citations), default=float("-inf"))


def merge_answers(answers: Sequence[Answer], *, max_citations: int, margin: float) -> Answer:
    """One answer from the answers of several collections (each already tagged), ranked together."""
    answerable = sorted((a for a in answers if a.answerable and a.citations), key=_best, reverse=True)
    if not answerable:
        return answers[0]
    lead = answerable[0]
    texts, citations = [lead.answer], list(lead.citations)
    for other in answerable[1:]:
        room = max_citations - len(citations)
        if room <= 0 or _best(other) < _best(lead) - margin:
            break
        kept = other.citations[:room]
        renumber = {c.ref: len(citations) + i + 1 for i, c in enumerate(kept)}
        text = _MARK_RE.sub(lambda m: f"[{renumber[int(m.group(1))]}]" if int(m.group(1)) in renumber else "",
                            other.answer)
        citations += [c.model_copy(update={"ref": renumber[c.ref]}) for c in kept]
        texts.append(text.strip())
    timings: dict[str, float] = {}
    for a in answers:
        for k, v in a.timings_ms.items():
            timings[k] = round(timings.get(k, 0.0) + v, 3)
    warnings = [w for a in answers for w in a.warnings]
    return lead.model_copy(update={"answer": "\n\n".join(t for t in texts if t), "citations": citations,
                                   "timings_ms": timings, "warnings": list(dict.fromkeys(warnings))})


class CollectionsAnswerer:
    """What the ask flow needs of an answerer (``parse``, ``ask_stream``, ``streams_live``),
    over the answerers of one or more collections."""

    def __init__(self, parts: Sequence[tuple[str, Answerer]], *, gone: Callable[[], str | None] = lambda: None) -> None:
        """``gone``: the name of a collection among these deleted since (then a question that
        fails on its closed stores is answered ``CollectionNotFound``, not an error of the server)."""
        self.parts = list(parts)
        self.settings = self.parts[0][1].settings
        self.gone = gone

    @property
    def streams_live(self) -> bool:
        return len(self.parts) == 1 and self.parts[0][1].streams_live

    @property
    def lock(self) -> threading.RLock:
        return self.parts[0][1].lock

    @property
    def cache(self):  # noqa: ANN201 - the first collection's answer cache (metrics)
        return self.parts[0][1].cache

    def parse(self, question: str) -> Question:
        return self.parts[0][1].parse(question)

    def ask_stream(self, question: Question, *, top_k: int | None = None, language: Language | None = None,
                   **_: object) -> Iterator[AnswerEvent]:
        if len(self.parts) == 1:
            name, answerer = self.parts[0]
            events = answerer.ask_stream(question, top_k=top_k, language=language)
            tagged = ((kind, tag_answer(value, name, answerer) if isinstance(value, Answer) else value)
                      for kind, value in events)
            return self._guarded(tagged)
        return self._guarded(self._merged(question, top_k=top_k, language=language))

    def _guarded(self, events: Iterator[AnswerEvent]) -> Iterator[AnswerEvent]:
        try:
            yield from events
        except Exception:
            name = self.gone()
            if name is not None:  # deleted while this question was answered
                raise CollectionNotFound(f"no such collection: {name}") from None
            raise

    def _merged(self, question: Question, *, top_k: int | None, language: Language | None) -> Iterator[AnswerEvent]:
        started = time.perf_counter()
        answers = [tag_answer(answerer.ask(question, top_k=top_k, language=language, use_writer=False), name,
                              answerer) for name, answerer in self.parts]
        merged = merge_answers(answers, max_citations=self.settings.max_citations,
                               margin=self.settings.citation_margin)
        yield from replay(merged, {}, started)


class CollectionSource:
    """An ``AnswerSource`` (``api.service.asking``) over the services of some collections."""

    def __init__(self, services: Sequence[Service]) -> None:
        self.services = list(services)
        self.settings = self.services[0].settings

    def require_answerer(self) -> CollectionsAnswerer:  # type: ignore[override]
        return CollectionsAnswerer([(s.collection, s.require_answerer()) for s in self.services], gone=self.gone)

    def gone(self) -> str | None:
        """The first of these collections that was deleted (its service closed), if any."""
        return next((s.collection for s in self.services if s.closed), None)

    def wait_ready(self, timeout: float | None = None) -> bool:
        return all(s.wait_ready(timeout) for s in self.services)

    def index_version(self) -> str:
        return "+".join(s.index_version() for s in self.services)


class CollectionHub:
    """Every collection of one app: its services, opened on first use; creation and deletion."""

    def __init__(self, settings: Settings, *, default: Service, metrics: Metrics) -> None:
        self.settings = settings
        self.registry = Collections(settings)
        self.metrics = metrics
        self.default = default
        self._services: dict[str, Service] = {DEFAULT_COLLECTION: default}
        self._asking: dict[str, AskService] = {}
        self._merged: dict[tuple[str, ...], AskService] = {}
        self._lock = threading.RLock()
        self._closing = False

    # ------------------------------------------------------------------ opening
    def ask_service_for(self, service: Service) -> AskService:
        log_ = open_answer_log(service.settings)  # type: ignore[arg-type]
        conversations = ConversationStore(max_conversations=self.settings.max_conversations,
                                          max_turns=self.settings.max_conversation_turns,
                                          recall=log_.turns if log_ is not None else None)
        return AskService(CollectionSource([service]), conversations=conversations,  # type: ignore[arg-type]
                          metrics=self.metrics, log=log_)

    def default_asking(self) -> AskService:
        with self._lock:
            if DEFAULT_COLLECTION not in self._asking:
                self._asking[DEFAULT_COLLECTION] = self.ask_service_for(self.default)
            return self._asking[DEFAULT_COLLECTION]

    def names(self) -> list[str]:
        return self.registry.names()

    def service(self, name: str) -> Service:
        """The service of collection ``name``, loaded on first use; ``CollectionNotFound``."""
        validate_collection_name(name)
        with self._lock:
            found = self._services.get(name)
        if found is not None:
            return found
        self.registry.require(name)
        self.default.require_ready()
        with self._lock:
            found = self._services.get(name)
            if found is None:
                try:
                    found = self._open(name)
                except Exception:
                    if not self.registry.exists(name):  # deleted meanwhile
                        raise CollectionNotFound(f"no such collection: {name}") from None
                    raise
                self._services[name] = found
        return found

    def _open(self, name: str) -> Service:
        default = self.default
        settings = self.registry.settings_for(name)

        def loader(s: Settings) -> Answerer:
            return Answerer(s, embedder=default.require_answerer().embedder)

        def upload_model():  # noqa: ANN202 - the default collection's upload model
            return default.require_indexer().embedder

        service = Service(settings, loader=loader, metrics=self.metrics,  # type: ignore[arg-type]
                          indexer_embedder=upload_model, collection=name)
        service.load_now()
        log.info("opened collection %s", name)
        return service

    def asking(self, names: Sequence[str]) -> AskService:
        """The ask service over ``names`` (one, or several ranked together)."""
        names = tuple(dict.fromkeys(names))
        if len(names) == 1:
            name = names[0]
            service = self.service(name)
            with self._lock:
                if name not in self._asking:
                    try:
                        self._asking[name] = self.ask_service_for(service)
                    except Exception:
                        if not self.registry.exists(name):  # deleted meanwhile
                            raise CollectionNotFound(f"no such collection: {name}") from None
                        raise
                return self._asking[name]
        services = [self.service(n) for n in names]
        first = self.asking(names[:1])
        with self._lock:
            if names not in self._merged:
                if len(self._merged) > 256:
                    self._merged.clear()
                self._merged[names] = AskService(CollectionSource(services),  # type: ignore[arg-type]
                                                 conversations=first.conversations, metrics=self.metrics,
                                                 log=first.log)
            return self._merged[names]

    def open_asking(self, names: Sequence[str]) -> list[tuple[str, AskService]]:
        """The ask services already open among ``names`` (conversations, feedback: a collection
        never asked in this process has only its answer log, opened here)."""
        out = []
        for name in names:
            try:
                out.append((name, self.asking([name])))
            except (CollectionNotFound, NotFound):
                continue
        return out

    # ------------------------------------------------------------------ access
    def visible(self, grant: Grant) -> list[str]:
        """The collections ``grant`` may see."""
        return [n for n in self.names() if grant.sees(n)]

    def require_visible(self, grant: Grant, name: str) -> str:
        """``name`` when it exists and ``grant`` may see it; else the same 404 either way."""
        validate_collection_name(name)
        if not grant.sees(name) or not self.registry.exists(name):
            raise CollectionNotFound(f"no such collection: {name}")
        return name

    def require(self, grant: Grant, name: str, role: str) -> Service:
        """The service of ``name`` for an action needing ``role``: 404 when unseen, 403 when the
        key's role lacks it."""
        self.require_visible(grant, name)
        if not grant.can(role):  # type: ignore[arg-type]
            raise Forbidden(f"this key's role ({grant.role}) cannot do this; it needs {role}")
        return self.service(name)

    def question_collections(self, grant: Grant, collection: str | None,
                             collections: Sequence[str] | None) -> list[str]:
        """The collections a question names (none: the default), each visible to ``grant``."""
        names = list(collections or ([] if collection is None else [collection])) or [DEFAULT_COLLECTION]
        if len(names) > MAX_COLLECTIONS_PER_QUESTION:
            from index.collections import CollectionNameError

            raise CollectionNameError(f"a question names at most {MAX_COLLECTIONS_PER_QUESTION} collections")
        for name in names:
            self.require_visible(grant, name)
        if not grant.can("read"):
            raise Forbidden("this key cannot ask questions")
        return names

    # ------------------------------------------------------------------ answers
    def feedback(self, grant: Grant, answer_id: str, value: str, *, owner: str, comment: str = "") -> None:
        """A vote on ``owner``'s answer in whichever collection it visible to ``grant`` holds it;
        ``NotFound`` when none does."""
        if not grant.can("read"):
            raise Forbidden("this key cannot vote")
        for _, asking in self.open_asking(self.visible(grant)):
            try:
                asking.feedback(answer_id, value, owner=owner, comment=comment)  # type: ignore[arg-type]
                return
            except NotFound:
                continue
            except AnswerLogOff:
                raise
        raise NotFound(f"no answer {answer_id!r} of this caller in the answer log")

    def delete_conversation(self, grant: Grant, conversation_id: str, *, owner: str) -> int:
        """Forget ``owner``'s conversation in the collections ``grant`` sees; ``NotFound`` when none has it."""
        deleted, found = 0, False
        for _, asking in self.open_asking(self.visible(grant)):
            try:
                deleted += asking.delete_conversation(conversation_id, owner=owner)
                found = True
            except NotFound:
                continue
        if not found:
            raise NotFound(f"no conversation {conversation_id!r} of this caller")
        return deleted

    # ------------------------------------------------------------------ writing
    def create(self, name: str) -> str:
        return self.registry.create(name)

    def delete(self, name: str) -> None:
        """Delete ``name``: gone at once (``index.collections``: refused with ``index_busy``
        while an upload or a ``sanad index`` run writes to it), then its open stores closed
        (a question in flight on them is answered 404)."""
        self.registry.delete(name)
        with self._lock:
            service = self._services.pop(name, None)
            asking = self._asking.pop(name, None)
            for key in [k for k in self._merged if name in k]:
                del self._merged[key]
        if service is not None:
            service.close()
        if asking is not None:
            asking.close()
        log.info("deleted collection %s", name)

    def close(self) -> None:
        with self._lock:
            services = [s for n, s in self._services.items() if n != DEFAULT_COLLECTION]
            asking = list(self._asking.values())
            self._services = {DEFAULT_COLLECTION: self.default}
        for s in services:
            s.close()
        for a in asking:
            a.close()


__all__ = ["CollectionHub", "CollectionSource", "CollectionsAnswerer", "merge_answers", "tag_answer"]
