"""The fusion stage: one pool of nodes from the candidate lists, scored around the dense score.

Equal-weight reciprocal-rank fusion was measured to hurt (English questions over Arabic text
get noise from BM25), and rank fusion throws away how far ahead the dense winner is. So the
fused score is the chunk's cosine similarity plus a small, per-language bonus for its BM25
score relative to the question's best (``SANAD_LEXICAL_WEIGHT_AR`` / ``_EN``): BM25 breaks
near-ties (names, numbers) but cannot overturn a clear dense winner, and with a weight of 0
this is dense retrieval exactly. Lexical mode (the evals' BM25 baseline) scores by BM25 alone.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from llama_index.core.schema import NodeWithScore, TextNode

from index.catalog import ChunkRecord
from qa.stages.stores import RetrievalStores

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


def ranked(nodes: list[NodeWithScore]) -> list[NodeWithScore]:
    """``nodes`` best first, ties by chunk id (every stage orders the same way)."""
    return sorted(nodes, key=lambda n: (-(n.score or 0.0), n.node.node_id))


class DenseLedFusion:
    """Joins the candidate lists into scored nodes (all of them, best first).

    ``lexical_weight``: the BM25 bonus's weight (0: dense alone); ``lexical_only``: score by
    BM25 alone (the BM25 baseline). ``keep``: which chunk records may be returned (those
    committed in the catalog and passing the retrieval filters)."""

    def __init__(self, stores: RetrievalStores, *, lexical_weight: float, lexical_only: bool = False) -> None:
        self.stores = stores
        self.lexical_weight = lexical_weight
        self.lexical_only = lexical_only

    def run(self, dense: list[tuple[str, float]], lexical: list[tuple[str, float]], vector: np.ndarray | None,
            keep: Callable[[ChunkRecord], bool]) -> list[NodeWithScore]:
        dense_score = dict(dense)
        lexical_score = dict(lexical)
        dense_rank = {cid: k for k, (cid, _) in enumerate(dense, 1)}
        lexical_rank = {cid: k for k, (cid, _) in enumerate(lexical, 1)}
        pool = list(dict.fromkeys([cid for cid, _ in dense] + [cid for cid, _ in lexical]))
        records = self.stores.catalog.chunks(pool)
        pool = [cid for cid in pool if cid in records and keep(records[cid])]
        if vector is not None:
            missing = [cid for cid in pool if cid not in dense_score]
            if missing:  # found by BM25 alone: give it its cosine score too
                dense_score.update(self.stores.vectors.similarities(vector, missing))
        top_lexical = max((lexical_score.get(cid, 0.0) for cid in pool), default=0.0) or 1.0
        margin = dense_margin([dense_score[cid] for cid in pool if cid in dense_score])
        nodes = []
        for cid in pool:
            rec = records[cid]
            if self.lexical_only:
                fused = lexical_score.get(cid, 0.0)
            else:
                fused = dense_score.get(cid, -1.0) + self.lexical_weight * lexical_score.get(cid, 0.0) / top_lexical
            node = TextNode(id_=cid, text=rec.text, metadata={
                "file": rec.file, "paragraphs": list(rec.paragraphs),
                "dense": dense_score.get(cid), "lexical": lexical_score.get(cid), "margin": margin,
                "sentence": None, "dense_rank": dense_rank.get(cid), "lexical_rank": lexical_rank.get(cid),
                "lexical_top": top_lexical,
            })
            nodes.append(NodeWithScore(node=node, score=fused))
        return ranked(nodes)


__all__ = ["DenseLedFusion", "MARGIN_RUNNERS_UP", "dense_margin", "ranked"]
