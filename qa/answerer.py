"""The public entry point of qa/: ``Answerer(settings).ask(question) -> Answer``.

One pipeline, built from parts (no inheritance between answerers):

1. check and analyse the question once (:meth:`Answerer.parse`: :meth:`Answerer.validate`,
   then the question object of ``qa.question``);
2. encode it (the embedder's query prompt; questions asked at once are encoded together,
   ``qa.query_batcher``);
3. retrieve: a :class:`~qa.retrieval.HybridRetriever` through llama-index's ``retrieve()``;
4. compose the extractive answer (:class:`~qa.extractive.ExtractiveComposer`): the quotes,
   the citations, or "not in the documents". It is the answer by default, and the
   abstention gate and the fallback when a writer is configured;
5. optionally, a writer (:class:`~qa.generative.LLMWriter`, ``SANAD_ANSWERER=llm``) writes
   the answer from the evidence, with every ``[n]`` checked.

:meth:`Answerer.ask_stream` yields the answer as events (``qa.stream``); :meth:`Answerer.ask`
is the same stream's final answer, so both faces of an answer always agree.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from llama_index.core.schema import NodeWithScore
from llama_index.core.vector_stores.types import MetadataFilters

from index.catalog import Catalog
from index.embedding import SanadEmbedding, build_embedder
from index.lexical import LexicalIndex
from index.live_lexical import LexicalFollower, current_lexical
from index.sync import CatalogSync, catalog_sync
from index.vectors import ChunkVectors
from qa.answer_cache import AnswerCache
from qa.extractive import ExtractiveComposer
from qa.generative import LLMWriter, WriterFactory
from qa.models import Answer, Language
from qa.query_batcher import QueryBatcher, default_lanes
from qa.quotes import SentenceQuoter
from qa.question import Question, QuestionBundle, parse_question
from qa.ranker_model import RankerStatus, load_ranker
from qa.retrieval import HybridRetriever, RetrievalMode, RetrievalStores
from qa.stages import check_postprocessors
from qa.sources import SourceMatcher
from qa.stream import AnswerEvent, final_answer, replay
from settings import Settings
from settings.errors import SanadError

log = logging.getLogger("sanad.qa")


class QuestionError(SanadError, ValueError):
    """The question itself is unusable (empty); the message says why."""

    code = "invalid_question"


class QuestionTooLong(QuestionError):
    """The question is longer than ``max_question_chars``."""

    code = "question_too_long"


class Answerer:
    """Loads the model and stores once; answers questions with cited quotes. Thread-safe.

    Parameters
    ----------
    settings: data dir, model, retrieval, answer and (for ``answerer="llm"``) LLM options.
    embedder: an already-loaded embedder to share (e.g. with an Indexer); else loaded here.
    writer: builds the LLM writer from the answerer's quoter and lock (e.g.
        ``functools.partial(LLMWriter, settings, llm=...)``); default: ``LLMWriter`` when
        ``settings.answerer`` is ``llm``, none otherwise (extractive answers).
    """

    def __init__(self, settings: Settings, *, embedder: SanadEmbedding | None = None,
                 writer: WriterFactory | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or build_embedder(settings)
        self.catalog = Catalog(settings.catalog_path)
        self.vectors = ChunkVectors(settings)
        self._lock = threading.RLock()
        # server mode: the catalog is a local cache of the Chroma server's (index.sync)
        self.sync: CatalogSync | None = catalog_sync(settings)
        if self.sync is not None:
            self.sync.refresh(force=True)
        self._data_version = self.catalog.data_version()
        check_postprocessors(settings.postprocessors)
        #: the learned ranker (qa.ranker_model): used when its model loads and matches these settings
        self.ranker_status: RankerStatus = (
            load_ranker(settings.ranker_path, settings) if "learned_ranker" in settings.postprocessors
            else RankerStatus(False, "the learned ranker is off (SANAD_POSTPROCESSORS)"))
        if "learned_ranker" in settings.postprocessors and not self.ranker_status.active:
            log.warning("learned ranker not used: %s", self.ranker_status.reason)
        # derived data: a stale or missing saved index is rebuilt in memory, never written here
        self.stores = RetrievalStores(
            ranker=self.ranker_status.model,
            embedder=self.embedder, vectors=self.vectors, catalog=self.catalog,
            lexical=current_lexical(self.catalog, settings.lexical_path, save=False),
            sources=SourceMatcher(self.catalog) if settings.source_weight > 0 else None)
        # later versions: rebuilt in the background and swapped in (index.live_lexical)
        self.lexical_follower = LexicalFollower(settings.catalog_path, on_built=self._use_lexical,
                                                initial=self.stores.lexical, directory=settings.lexical_path)
        self.quoter = SentenceQuoter(catalog=self.catalog, embedder=self.embedder,
                                     sentence_gap=settings.sentence_gap, vectors=self.vectors)
        self.composer = ExtractiveComposer(catalog=self.catalog, embedder=self.embedder, options=settings,
                                           quoter=self.quoter, coverage=self.lexical_coverage,
                                           ranker=self.ranker_status.model)
        if writer is None and settings.answerer == "llm":
            writer = functools.partial(LLMWriter, settings)
        self.writer: LLMWriter | None = writer(quoter=self.quoter, lock=self._lock) if writer else None
        #: extractive answers to repeated questions, cleared when the index changes
        self.cache = AnswerCache(max_entries=settings.answer_cache_size)
        #: questions asked at once are encoded together, outside the lock (qa.query_batcher)
        self.query_batcher = QueryBatcher(self.embedder.embed_queries, max_batch=settings.query_batch_max,
                                          window_ms=settings.query_batch_window_ms,
                                          lanes=settings.query_lanes or default_lanes())

    # ---------------------------------------------------------------- state
    @property
    def lock(self) -> threading.RLock:
        """Held while the model or a catalog snapshot is in use (the answerer takes it itself).
        Hold it to use the shared embedder from elsewhere, e.g. to index with it."""
        return self._lock

    @property
    def streams_live(self) -> bool:
        """True when answers are written as they stream (an LLM writer), so an HTTP face should
        stream them as they come rather than wait for the whole answer."""
        return self.writer is not None

    def reload(self) -> None:
        """Pick up what an indexer committed since start-up (lexical index); waits for it."""
        self._data_version = self.catalog.data_version()
        self.cache.clear()
        self.lexical_follower.rebuild_now(timeout=300)

    def lexical_coverage(self, query: str, text: str) -> float:
        """The current BM25 index's :meth:`~index.lexical.LexicalIndex.coverage` (it is swapped
        when rebuilt, so it is looked up on each call)."""
        return self.stores.lexical.coverage(query, text)

    def _use_lexical(self, lexical: LexicalIndex) -> None:
        self.stores.lexical = lexical
        self.cache.clear()  # BM25 takes part in the ranking: answers may change

    @contextmanager
    def consistent(self) -> Iterator[None]:
        """Refresh, then hold one catalog snapshot: every catalog read inside (chunk records,
        paragraphs) sees the same index version even while an indexer or a sync commits."""
        with self._lock:
            self.refresh()
            with self.catalog.snapshot():
                yield

    def refresh(self) -> bool:
        """Before answering: pick up a new index version; True when the catalog had changed.

        Server mode: sync the catalog cache from the Chroma server (one small request when
        nothing changed). Both modes: when another connection (a sync, an indexer) committed
        to the catalog, have the lexical index rebuilt in the background (the catalog itself
        is read live, in a snapshot per question).
        """
        if self.sync is not None:
            try:
                self.sync.refresh()
            except Exception:  # noqa: BLE001 - keep answering from the last synced version
                log.warning("could not sync the catalog from the Chroma server", exc_info=True)
        version = self.catalog.data_version()
        if version == self._data_version:
            return False
        self._data_version = version
        self.cache.clear()
        self.lexical_follower.request()
        return True

    # ---------------------------------------------------------------- asking
    def validate(self, question: str) -> str:
        """The question stripped; :class:`QuestionError` when it cannot be asked."""
        question = question.strip()
        if not question:
            raise QuestionError("the question is empty")
        if len(question) > self.settings.max_question_chars:
            raise QuestionTooLong(
                f"the question is {len(question)} characters; the limit is {self.settings.max_question_chars}")
        return question

    def retriever(self, *, top_k: int | None = None, mode: RetrievalMode = RetrievalMode.HYBRID,
                  filters: MetadataFilters | None = None) -> HybridRetriever:
        """A retriever over this answerer's stores (call its ``retrieve()`` inside
        :meth:`consistent`); ``mode`` other than hybrid gives the evals' baselines."""
        return HybridRetriever(self.stores, options=self.settings, top_k=top_k, mode=mode, filters=filters)

    def retrieve(self, question: str, *, top_k: int | None = None, mode: RetrievalMode = RetrievalMode.HYBRID,
                 filters: MetadataFilters | None = None) -> list[NodeWithScore]:
        """The chunks retrieved for ``question`` (what the answer is composed from)."""
        with self.consistent():
            parsed = parse_question(question, cleanup=self.settings.question_cleanup)
            return self.retriever(top_k=top_k, mode=mode, filters=filters).retrieve(
                QuestionBundle(query_str=parsed.text, question=parsed))

    def ask(self, question: str | Question, *, top_k: int | None = None, language: Language | None = None,
            filters: MetadataFilters | None = None, use_writer: bool = True) -> Answer:
        """Answer ``question``: the final answer of :meth:`ask_stream` (same options)."""
        return final_answer(self.ask_stream(question, top_k=top_k, language=language, filters=filters,
                                            use_writer=use_writer))

    def ask_stream(self, question: str | Question, *, top_k: int | None = None, language: Language | None = None,
                   filters: MetadataFilters | None = None, use_writer: bool = True) -> Iterator[AnswerEvent]:
        """Yields ``("delta", text)`` as the answer becomes available, then ``("answer", Answer)``.

        ``question``: the text, or the question :meth:`parse` made of it (not checked again).
        ``language``: the language to answer in (default: the question's; a follow-up made
        standalone is answered in the language it was asked in). ``filters``: retrieval
        filters (``qa.retrieval.exclude_files``). ``use_writer=False`` answers extractively
        even when a writer is configured. The question is checked before the first event
        (:class:`QuestionError`).
        """
        parsed = question if isinstance(question, Question) else self.parse(question)
        return self._stream(parsed, top_k=top_k, language=language or parsed.language,
                            filters=filters, writer=self.writer if use_writer else None)

    def parse(self, question: str) -> Question:
        """The question checked (:meth:`validate`) and analysed once (``qa.question``)."""
        return parse_question(self.validate(question), cleanup=self.settings.question_cleanup)

    def _stream(self, parsed: Question, *, top_k: int | None, language: Language, filters: MetadataFilters | None,
                writer: LLMWriter | None) -> Iterator[AnswerEvent]:
        started = time.perf_counter()
        question = parsed.text
        key = (question, language, top_k or self.settings.top_k, repr(filters)) if writer is None else None
        with self.consistent():  # server mode: sync first (a new version clears the cache)
            cached = self.cache.get(key) if key is not None else None
        if cached is not None:  # a repeat: nothing is encoded
            lookup = {"cache": round((time.perf_counter() - started) * 1000, 3)}
            yield from replay(cached.model_copy(update={"timings_ms": lookup}), {}, started)
            return
        # encoded outside the lock (it reads no catalog), together with questions asked at once
        t0 = time.perf_counter()
        vector = self.query_batcher.encode(parsed.search)
        encode_ms = (time.perf_counter() - t0) * 1000
        with self._lock, self.catalog.snapshot():  # one snapshot for retrieval and the answer (synced above)
            extractive, evidence, timings = self._compose(parsed, vector, top_k=top_k, language=language,
                                                          filters=filters, writer=writer)
            if key is not None:
                self.cache.put(key, extractive)
        timings = {"encode": round(encode_ms, 1), **timings}
        if writer is None:
            yield from replay(extractive, timings, started)
            return
        if not evidence:
            # nothing relevant enough to give the LLM: "not in the documents" without asking it
            yield from replay(extractive.model_copy(update={"answerer": "llm"}), timings, started)
            return
        yield from writer.generate_stream(question, language, evidence, fallback=extractive, timings=timings,
                                          started=started)

    def _compose(self, parsed: Question, vector: np.ndarray, *, top_k: int | None, language: Language,
                 filters: MetadataFilters | None, writer: LLMWriter | None) -> tuple[Answer, list, dict[str, float]]:
        """Retrieve and compose for the encoded question (inside :meth:`consistent`): the
        extractive answer, the writer's evidence (none without a writer) and the timings of each step."""
        t0 = time.perf_counter()
        nodes = self.retriever(top_k=top_k, filters=filters).retrieve(
            QuestionBundle(query_str=parsed.text, embedding=vector.tolist(), question=parsed))
        retrieve_ms = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        extractive = self.composer.compose(parsed.text, language, nodes, query_vector=vector,
                                           question_language=parsed.language)
        evidence = writer.select_evidence(nodes, vector) if writer is not None and extractive.answerable else []
        answer_ms = (time.perf_counter() - t0) * 1000
        timings = {"retrieve": round(retrieve_ms, 1), "answer": round(answer_ms, 1)}
        return extractive, evidence, timings

    def close(self) -> None:
        self.lexical_follower.close()
        if self.sync is not None:
            self.sync.close()
        self.catalog.close()


def build_answerer(settings: Settings, *, embedder: SanadEmbedding | None = None) -> Answerer:
    """The answerer ``settings`` describes: extractive, or with the LLM writer for
    ``answerer="llm"`` (which answers extractively, with a warning, whenever its LLM is not
    configured, unreachable, too slow, or unsupported by the evidence)."""
    return Answerer(settings, embedder=embedder)


__all__ = ["Answerer", "QuestionError", "QuestionTooLong", "build_answerer"]
