"""Hybrid retrieval: a llama-index retriever that runs the stages of ``qa.stages``.

1. candidates: dense (Chroma) and BM25, ``SANAD_CANDIDATES`` each (``qa.stages.candidates``);
2. fusion around the dense score, with a small per-language BM25 bonus (``qa.stages.fusion``);
3. the postprocessors ``SANAD_POSTPROCESSORS`` names, in order: the source bonus ("according
   to Elaph"), sentence-level rescoring of the leaders, and the learned ranker when its model
   is loaded (``qa.stages``).

The question is analysed once (``qa.question``) and travels in a
:class:`~qa.question.QuestionBundle`; a bundle that carries its embedding is not encoded
again. Only chunks committed in the catalog are returned, so a reader never sees a
half-indexed file.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Iterable

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from index.catalog import ChunkRecord
from qa.question import Question, QuestionBundle, parse_question
from qa.stages import build_postprocessors
from qa.stages.candidates import DenseCandidates, LexicalCandidates
from qa.stages.fusion import MARGIN_RUNNERS_UP, DenseLedFusion, dense_margin
from qa.stages.stores import RetrievalStores
from settings import RetrievalSettings


class RetrievalMode(str, Enum):
    """Which retrievers run: both fused (Sanad), or one alone (the evals' baselines)."""

    HYBRID = "hybrid"
    DENSE = "dense"
    LEXICAL = "lexical"


#: metadata keys a retrieval filter may name, and the operators it may use
FILTER_KEYS = frozenset({"file"})
FILTER_OPERATORS = frozenset({FilterOperator.EQ, FilterOperator.NE, FilterOperator.IN, FilterOperator.NIN})


def exclude_files(files: Iterable[str]) -> MetadataFilters:
    """A filter that leaves the chunks of ``files`` out (an eval asks a question against a
    corpus that lacks its document)."""
    return MetadataFilters(filters=[MetadataFilter(key="file", value=sorted(files), operator=FilterOperator.NIN)])


def check_filters(filters: MetadataFilters) -> None:
    """Raise ValueError for a filter :func:`matches` cannot apply."""
    for f in filters.filters:
        if isinstance(f, MetadataFilters):
            check_filters(f)
        elif f.key not in FILTER_KEYS or f.operator not in FILTER_OPERATORS:
            raise ValueError(f"unsupported retrieval filter {f.key} {f.operator.value}; "
                             f"keys: {sorted(FILTER_KEYS)}, operators: ==, !=, in, nin")


def matches(filters: MetadataFilters | None, metadata: dict[str, object]) -> bool:
    """Whether a chunk with ``metadata`` passes ``filters`` (llama-index's filter model)."""
    if filters is None or not filters.filters:
        return True
    results = []
    for f in filters.filters:
        if isinstance(f, MetadataFilters):
            results.append(matches(f, metadata))
            continue
        value = metadata.get(f.key)
        wanted = f.value
        if f.operator == FilterOperator.EQ:
            results.append(value == wanted)
        elif f.operator == FilterOperator.NE:
            results.append(value != wanted)
        elif f.operator == FilterOperator.IN:
            results.append(value in (wanted or []))
        else:  # NIN (check_filters refused the rest)
            results.append(value not in (wanted or []))
    if filters.condition == FilterCondition.OR:
        return any(results)
    if filters.condition == FilterCondition.NOT:
        return not any(results)
    return all(results)


#: hybrid mode rescores this many leading candidates (or top_k, if larger) at sentence level
RESCORE_DEPTH = 20


class HybridRetriever(BaseRetriever):
    """Dense + BM25 retrieval over one index, a llama-index retriever: call ``retrieve()``.

    Each returned node is a chunk: ``node.metadata`` has ``file``, ``paragraphs``,
    ``dense`` (cosine similarity, or None when the chunk came from BM25 alone),
    ``lexical`` (BM25 score or None), ``sentence`` (its best sentence's cosine, when
    rescored) and ``margin`` (:func:`dense_margin` of the query's candidates, the same on
    every node). A query bundle that carries its embedding is not encoded again.

    Parameters
    ----------
    stores: the embedder, vectors, lexical index and catalog to read.
    options: candidates, fusion and rescoring weights, and the default ``top_k``.
    top_k: chunks returned (default ``options.top_k``).
    mode: :class:`RetrievalMode`: hybrid (default), or dense or lexical alone.
    filters: llama-index ``MetadataFilters`` on ``file`` (``==``, ``!=``, ``in``, ``nin``).
    callback_manager: llama-index callbacks (instrumentation works through ``retrieve()``).

    Retrievers are cheap: make one per question when its options differ (thread-safe use).
    """

    def __init__(self, stores: RetrievalStores, *, options: RetrievalSettings, top_k: int | None = None,
                 mode: RetrievalMode = RetrievalMode.HYBRID, filters: MetadataFilters | None = None,
                 callback_manager: CallbackManager | None = None) -> None:
        super().__init__(callback_manager=callback_manager)
        if filters is not None:
            check_filters(filters)
        self.stores = stores
        self.options = options
        self.top_k = top_k or options.top_k
        self.mode = RetrievalMode(mode)
        self.filters = filters

    def question(self, query_bundle: QueryBundle) -> Question:
        """The bundle's analysed question, or the text analysed now (a plain bundle or string)."""
        question = getattr(query_bundle, "question", None)
        return question if question is not None else parse_question(
            query_bundle.query_str, cleanup=self.options.question_cleanup)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        stores, options, mode = self.stores, self.options, self.mode
        question = self.question(query_bundle)
        vector: np.ndarray | None = None
        if mode != RetrievalMode.LEXICAL:
            if query_bundle.embedding is None:
                vector = stores.embedder.embed_queries([question.search])[0]
            else:
                vector = np.asarray(query_bundle.embedding, dtype=np.float32)
        weights = {"ar": options.lexical_weight_ar, "en": options.lexical_weight_en}
        weight = weights[question.language] if mode == RetrievalMode.HYBRID else 1.0
        dense = DenseCandidates(stores, depth=options.candidates).run(question, vector)
        lexical = (LexicalCandidates(stores, depth=options.candidates).run(question, vector)
                   if mode != RetrievalMode.DENSE and weight > 0 else [])
        fusion = DenseLedFusion(stores, lexical_weight=weight, lexical_only=mode == RetrievalMode.LEXICAL)

        def keep(record: ChunkRecord) -> bool:
            return matches(self.filters, {"file": record.file})

        nodes = fusion.run(dense, lexical, vector, keep)
        if mode == RetrievalMode.HYBRID:
            bundle = QuestionBundle(query_str=question.text, embedding=None if vector is None else vector.tolist(),
                                    question=question)
            stages = build_postprocessors(options.postprocessors, stores, options,
                                          depth=max(RESCORE_DEPTH, self.top_k))
            for stage in stages:
                nodes = stage.postprocess_nodes(nodes, bundle)
        return nodes[:self.top_k]


__all__ = ["FILTER_KEYS", "FILTER_OPERATORS", "HybridRetriever", "MARGIN_RUNNERS_UP", "RESCORE_DEPTH",
           "RetrievalMode", "RetrievalStores", "check_filters", "dense_margin", "exclude_files", "matches"]
