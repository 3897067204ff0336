"""The public entry point of qa/: ``Answerer(settings).ask(question) -> Answer``."""

from __future__ import annotations

import time

from llama_index.core.schema import NodeWithScore, QueryBundle

from index.catalog import Catalog
from index.config import Settings
from index.embedding import SanadEmbedding, build_embedder
from index.indexer import current_lexical
from index.lexical import LexicalIndex
from index.vectors import ChunkVectors
from qa.extractive import ExtractiveComposer
from qa.language import detect_language
from qa.models import Answer
from qa.retrieval import HybridRetriever


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
        self.lexical = self._load_lexical()
        self.retriever = self._retriever("hybrid")
        self.composer = ExtractiveComposer(
            catalog=self.catalog, embedder=self.embedder, min_similarity=settings.min_similarity,
            max_citations=settings.max_citations,
        )

    def _retriever(self, mode: str) -> HybridRetriever:
        s = self.settings
        return HybridRetriever(
            embedder=self.embedder, vectors=self.vectors, lexical=self.lexical, catalog=self.catalog,
            top_k=s.top_k, candidates=s.candidates, lexical_weight_ar=s.lexical_weight_ar,
            lexical_weight_en=s.lexical_weight_en, mode=mode,
        )

    def _load_lexical(self) -> LexicalIndex:
        # derived data: a stale or missing saved index is rebuilt in memory, never written here
        return current_lexical(self.catalog, self.settings.lexical_path, save=False)

    def reload(self) -> None:
        """Pick up what an indexer committed since start-up (lexical index)."""
        self.lexical = self._load_lexical()
        self.retriever.lexical = self.lexical

    def validate(self, question: str) -> str:
        question = question.strip()
        if not question:
            raise QuestionError("the question is empty")
        if len(question) > self.settings.max_question_chars:
            raise QuestionError(
                f"the question is {len(question)} characters; the limit is {self.settings.max_question_chars}")
        return question

    def retrieve(self, question: str, *, top_k: int | None = None, mode: str = "hybrid",
                 exclude_files: frozenset[str] = frozenset()) -> list[NodeWithScore]:
        retriever = self.retriever if mode == "hybrid" else self._retriever(mode)
        return retriever.search(QueryBundle(query_str=question), top_k=top_k or self.settings.top_k,
                                exclude_files=exclude_files)

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
        self.catalog.close()


def build_answerer(settings: Settings, *, embedder: SanadEmbedding | None = None) -> Answerer:
    """The answerer ``settings.answerer`` names: ``Answerer`` (extractive) or, for ``llm``,
    ``qa.generative.GenerativeAnswerer``, which answers extractively (with a warning) whenever
    its LLM is not configured, unreachable, too slow, or unsupported by the evidence."""
    if settings.answerer == "llm":
        from qa.generative import GenerativeAnswerer

        return GenerativeAnswerer(settings, embedder=embedder)
    return Answerer(settings, embedder=embedder)
