"""The public entry point of qa/: ``Answerer(settings).ask(question) -> Answer``."""

from __future__ import annotations

import functools
import logging
import time
from contextlib import contextmanager
from typing import Iterator

from llama_index.core.schema import NodeWithScore, QueryBundle

from index.catalog import Catalog
from index.config import Settings
from index.embedding import SanadEmbedding, build_embedder
from index.indexer import current_lexical
from index.lexical import LexicalIndex
from index.live_lexical import LexicalFollower
from index.sync import catalog_sync
from index.vectors import ChunkVectors
from qa.extractive import ExtractiveComposer
from qa.language import detect_language
from qa.models import Answer
from qa.retrieval import HybridRetriever


log = logging.getLogger("sanad.qa")


def _consistent(method):  # noqa: ANN001, ANN202
    """Refresh first, then run ``method`` on one catalog snapshot (old or new index, never a mix)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        with self.consistent():
            return method(self, *args, **kwargs)
    return wrapper


class QuestionError(ValueError):
    """The question itself is unusable (empty, too long); the message says why."""


class Answerer:
    """Loads the model and stores once; answers questions with cited quotes.

    Parameters
    ----------
    settings: data dir, model and retrieval options.
    embedder: an already-loaded embedder to share (e.g. with an Indexer); else loaded here.
    """

    def __init__(self, settings: Settings, *, embedder: SanadEmbedding | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or build_embedder(settings)
        self.catalog = Catalog(settings.catalog_path)
        self.vectors = ChunkVectors(settings)
        # server mode: the catalog is a local cache of the Chroma server's (index.sync)
        self.sync = catalog_sync(settings)
        if self.sync is not None:
            self.sync.refresh(force=True)
        self._data_version = self.catalog.data_version()
        self.lexical = self._load_lexical()
        # later versions: rebuilt in the background and swapped in (index.live_lexical)
        self.lexical_follower = LexicalFollower(settings.catalog_path, on_built=self._use_lexical)
        self.retriever = self._retriever("hybrid")
        self.composer = ExtractiveComposer(
            catalog=self.catalog, embedder=self.embedder, min_similarity=settings.min_similarity,
            max_citations=settings.max_citations, answer_margin=settings.answer_margin,
            margin_floor=settings.margin_floor, vectors=self.vectors,
            citation_margin=settings.citation_margin, sentence_gap=settings.sentence_gap,
            check_answer_type=settings.answer_type_check,
        )

    def _retriever(self, mode: str) -> HybridRetriever:
        s = self.settings
        return HybridRetriever(
            embedder=self.embedder, vectors=self.vectors, lexical=self.lexical, catalog=self.catalog,
            top_k=s.top_k, candidates=s.candidates, lexical_weight_ar=s.lexical_weight_ar,
            lexical_weight_en=s.lexical_weight_en, sentence_weight=s.sentence_weight,
            source_weight=s.source_weight, mode=mode,
        )

    def _load_lexical(self) -> LexicalIndex:
        # derived data: a stale or missing saved index is rebuilt in memory, never written here
        return current_lexical(self.catalog, self.settings.lexical_path, save=False)

    def reload(self) -> None:
        """Pick up what an indexer committed since start-up (lexical index); waits for it."""
        self._data_version = self.catalog.data_version()
        self.lexical_follower.rebuild_now(timeout=300)

    def _use_lexical(self, lexical: LexicalIndex) -> None:
        self.lexical = lexical
        self.retriever.lexical = lexical

    @contextmanager
    def consistent(self) -> Iterator[None]:
        """Refresh, then hold one catalog snapshot: every catalog read inside (chunk records,
        paragraphs) sees the same index version even while an indexer or a sync commits.
        ``ask`` and ``retrieve`` run inside one; a subclass that reads the catalog in its own
        answering path wraps that path in ``with self.consistent():``."""
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
        self.lexical_follower.request()
        return True

    def validate(self, question: str) -> str:
        question = question.strip()
        if not question:
            raise QuestionError("the question is empty")
        if len(question) > self.settings.max_question_chars:
            raise QuestionError(
                f"the question is {len(question)} characters; the limit is {self.settings.max_question_chars}")
        return question

    @_consistent
    def retrieve(self, question: str, *, top_k: int | None = None, mode: str = "hybrid",
                 exclude_files: frozenset[str] = frozenset()) -> list[NodeWithScore]:
        retriever = self.retriever if mode == "hybrid" else self._retriever(mode)
        return retriever.search(QueryBundle(query_str=question), top_k=top_k or self.settings.top_k,
                                exclude_files=exclude_files)

    @_consistent
    def ask(self, question: str, *, top_k: int | None = None,
            exclude_files: frozenset[str] = frozenset()) -> Answer:
        """Answer ``question``; ``exclude_files`` leaves those documents out (evals)."""
        started = time.perf_counter()
        question = self.validate(question)
        language = detect_language(question)
        t0 = time.perf_counter()
        vector = self.embedder.embed_queries([question])[0]
        encode_ms = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        nodes = self.retriever.search(QueryBundle(query_str=question, embedding=vector.tolist()),
                                      top_k=top_k or self.settings.top_k, exclude_files=exclude_files)
        retrieve_ms = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        answer = self.composer.compose(question, language, nodes, query_vector=vector)
        answer.timings_ms = {
            "encode": round(encode_ms, 1), "retrieve": round(retrieve_ms, 1),
            "answer": round((time.perf_counter() - t0) * 1000, 1),
            "total": round((time.perf_counter() - started) * 1000, 1),
        }
        return answer

    def close(self) -> None:
        self.lexical_follower.close()
        if self.sync is not None:
            self.sync.close()
        self.catalog.close()


def build_answerer(settings: Settings, *, embedder: SanadEmbedding | None = None) -> Answerer:
    """The answerer ``settings.answerer`` names: ``Answerer`` (extractive) or, for ``llm``,
    ``qa.generative.GenerativeAnswerer``, which answers extractively (with a warning) whenever
    its LLM is not configured, unreachable, too slow, or unsupported by the evidence."""
    if settings.answerer == "llm":
        from qa.generative import GenerativeAnswerer

        return GenerativeAnswerer(settings, embedder=embedder)
    return Answerer(settings, embedder=embedder)
