"""A postprocessor: the learned second stage.

A LightGBM model (``qa/ranker/``, trained by ``python -m evals.train_ranker`` on the shared dev
data, split by article) scores the leading candidates from the features Sanad already
computes (``qa.ranking_features``) and orders them by the calibrated probability that each
answers the question. The probability is kept in each node's metadata (``probability``; the
fused score moves to ``fused``), where the composer reads it to abstain and to choose further
citations (thresholds set on the dev data, in the model's manifest). Without a model that
matches (``RetrievalStores.ranker`` is None) this stage changes nothing.
"""

from __future__ import annotations

from typing import Optional

from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle

from qa.question import Question, parse_question
from qa.ranking_features import candidate_features
from qa.stages.fusion import ranked
from qa.stages.stores import RetrievalStores
from settings import RetrievalSettings


class LearnedRanker(BaseNodePostprocessor):
    """Reorders the leaders by the learned probability (a no-op without a model)."""

    depth: int = 20
    cleanup: bool = False
    _stores: RetrievalStores = PrivateAttr()

    def __init__(self, stores: RetrievalStores, options: RetrievalSettings, *, depth: int) -> None:
        super().__init__(depth=depth, cleanup=options.question_cleanup)
        self._stores = stores

    @classmethod
    def class_name(cls) -> str:
        return "LearnedRanker"

    def _postprocess_nodes(self, nodes: list[NodeWithScore],
                           query_bundle: Optional[QueryBundle] = None) -> list[NodeWithScore]:
        model = self._stores.ranker
        if model is None or not nodes or query_bundle is None:
            return nodes
        question: Question | None = getattr(query_bundle, "question", None)
        if question is None:
            question = parse_question(query_bundle.query_str, cleanup=self.cleanup)
        nodes = nodes[:max(self.depth, model.depth)]
        catalog = self._stores.catalog
        lexical = self._stores.lexical

        def title(file: str) -> str:
            record = catalog.document(file)
            return record.title if record is not None else ""

        rows = candidate_features(question, nodes, coverage=lexical.coverage, title=title)
        for n, p in zip(nodes, model.probabilities(rows)):
            n.node.metadata["fused"] = n.score
            n.node.metadata["probability"] = float(p)
            n.score = float(p)
        return ranked(nodes)


__all__ = ["LearnedRanker"]
