"""Hybrid retrieval: dense (Chroma) and lexical (BM25), fused around the dense score.

Equal-weight reciprocal-rank fusion was measured to hurt (MODELS.md), and rank fusion
throws away how far ahead the dense winner is. So the fused score is the chunk's cosine
similarity plus a small, per-language bonus for its BM25 score relative to the query's best
(``SANAD_LEXICAL_WEIGHT_AR`` / ``_EN``): BM25 breaks near-ties (names, numbers) but cannot
overturn a clear dense winner, and with a weight of 0 this is dense retrieval exactly.

Then the leading candidates are rescored at sentence level: the indexer stores the vectors
of each multi-sentence chunk's sentences with the chunk, and the dense part becomes
``(1 - a) * cos(chunk) + a * max cos(sentence)`` (``SANAD_SENTENCE_WEIGHT``, a = 0.5), so a
long paragraph whose one sentence answers is not diluted by the rest of it. On full XQuAD
this took recall@1 from 0.927 to 0.947 (Arabic questions) and from 0.916 to 0.943 (English).

A question that names its source ("بحسب تقرير إيلاف") adds ``SANAD_SOURCE_WEIGHT`` to the chunks
of the reports whose header names it (``qa.sources``).

Only chunks committed in the catalog are returned, so a reader never sees a half-indexed file.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Iterable

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from index.catalog import Catalog
from index.embedding import SanadEmbedding
from index.lexical import LexicalIndex
from index.vectors import ChunkVectors
from qa.language import detect_language
from qa.question_text import lexical_text, retrieval_text
from qa.sources import SourceMatcher
from settings import RetrievalSettings


class RetrievalMode(str, Enum):
    """Which retrievers run: both fused (Sanad), or one alone (the evals' baselines)."""

    HYBRID = "hybrid"
    DENSE = "dense"
    LEXICAL = "lexical"


#: metadata keys a retrieval filter may name, and the operators it may use
FILTER_KEYS = frozenset({"file"})
FILTER_OPERATORS = frozenset({FilterOperator.EQ, FilterOperator.NE, FilterOperator.IN, FilterOperator.NIN})


def search_text(question: str, options: RetrievalSettings) -> str:
    """The text a question is encoded as: tidied (``qa.question_text``) when
    ``options.question_cleanup`` is on, else as asked."""
    return retrieval_text(question) if options.question_cleanup else question


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


@dataclass
class RetrievalStores:
    """What retrieval reads, shared by every retriever of one answerer. ``lexical`` is
    replaced (one attribute swap) when the BM25 index is rebuilt in the background."""

    embedder: SanadEmbedding
    vectors: ChunkVectors
    lexical: LexicalIndex
    catalog: Catalog
    sources: SourceMatcher | None = None


#: hybrid mode rescores this many leading candidates (or top_k, if larger) at sentence level
RESCORE_DEPTH = 20

#: the dense margin compares the best cosine with the mean of the next this many
MARGIN_RUNNERS_UP = 5


def dense_margin(scores: list[float]) -> float | None:
    """How far the best cosine stands above the mean of the next :data:`MARGIN_RUNNERS_UP`.

    A question whose answer is in the corpus usually has one paragraph well ahead of the
    rest; a question about something absent gets a flat list of loosely related paragraphs.
    None when there are too few candidates to tell."""
    ranked = sorted(scores, reverse=True)
    if len(ranked) < 3:
        return None
    runners = ranked[1:1 + MARGIN_RUNNERS_UP]
    return float(ranked[0] - sum(runners) / len(runners))


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

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        stores, options, mode, top_k = self.stores, self.options, self.mode, self.top_k
        question = query_bundle.query_str
        dense: list[tuple[str, float]] = []
        vector: np.ndarray | None = None
        if mode != RetrievalMode.LEXICAL:
            if query_bundle.embedding is None:
                vector = stores.embedder.embed_queries([search_text(question, options)])[0]
            else:
                vector = np.asarray(query_bundle.embedding, dtype=np.float32)
            dense = stores.vectors.query(vector, options.candidates)
        lexical: list[tuple[str, float]] = []
        weights = {"ar": options.lexical_weight_ar, "en": options.lexical_weight_en}
        weight = weights[detect_language(question)] if mode == RetrievalMode.HYBRID else 1.0
        if mode != RetrievalMode.DENSE and weight > 0:
            lexical = stores.lexical.search(
                lexical_text(question) if options.question_cleanup else question, options.candidates)
        dense_score = dict(dense)
        lexical_score = dict(lexical)
        pool = list(dict.fromkeys([cid for cid, _ in dense] + [cid for cid, _ in lexical]))
        records = stores.catalog.chunks(pool)
        pool = [cid for cid in pool if cid in records and matches(self.filters, {"file": records[cid].file})]
        if vector is not None:
            missing = [cid for cid in pool if cid not in dense_score]
            if missing:  # found by BM25 alone: give it its cosine score too
                dense_score.update(stores.vectors.similarities(vector, missing))
        top_lexical = max((lexical_score.get(cid, 0.0) for cid in pool), default=0.0) or 1.0
        margin = dense_margin([dense_score[cid] for cid in pool if cid in dense_score])
        sentence_score: dict[str, float] = {}
        if mode == RetrievalMode.LEXICAL:
            fused = {cid: lexical_score.get(cid, 0.0) for cid in pool}
        else:
            fused = {cid: dense_score.get(cid, -1.0) + weight * lexical_score.get(cid, 0.0) / top_lexical
                     for cid in pool}
            if mode == RetrievalMode.HYBRID and stores.sources is not None and options.source_weight > 0:
                # "according to Elaph": the reports whose header names the source get a bonus
                named = stores.sources.files_naming(question)
                for cid in pool:
                    if records[cid].file in named:
                        fused[cid] += options.source_weight
            if mode == RetrievalMode.HYBRID and options.sentence_weight > 0 and vector is not None:
                # rescore the leaders: a chunk also counts by its best sentence (stored at index
                # time), so one answering sentence in a long paragraph is not diluted
                pool = sorted(pool, key=lambda c: (-fused[c], c))[:max(RESCORE_DEPTH, top_k)]
                for cid, matrix in stores.vectors.sentence_vectors(pool).items():
                    sentence_score[cid] = float(np.max(matrix @ vector))
                a = options.sentence_weight
                for cid in pool:
                    chunk_cos = dense_score.get(cid, -1.0)
                    fused[cid] += a * (sentence_score.get(cid, chunk_cos) - chunk_cos)
        ranked = sorted(pool, key=lambda c: (-fused[c], c))[:top_k]
        nodes = []
        for cid in ranked:
            rec = records[cid]
            node = TextNode(id_=cid, text=rec.text, metadata={
                "file": rec.file, "paragraphs": list(rec.paragraphs),
                "dense": dense_score.get(cid), "lexical": lexical_score.get(cid), "margin": margin,
                "sentence": sentence_score.get(cid),
            })
            nodes.append(NodeWithScore(node=node, score=fused[cid]))
        return nodes
