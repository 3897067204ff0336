"""A postprocessor: a question that names its source ("بحسب تقرير إيلاف") adds
``SANAD_SOURCE_WEIGHT`` to the chunks of the reports whose header names it (``qa.sources``)."""

from __future__ import annotations

from typing import Optional

from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle

from qa.stages.fusion import ranked
from qa.stages.stores import RetrievalStores
from settings import RetrievalSettings


class SourceBonus(BaseNodePostprocessor):
    """Adds ``options.source_weight`` to the chunks of the documents the question names as its source."""

    weight: float = 0.0
    _stores: RetrievalStores = PrivateAttr()

    def __init__(self, stores: RetrievalStores, options: RetrievalSettings, *, depth: int) -> None:
        super().__init__(weight=options.source_weight)
        self._stores = stores

    @classmethod
    def class_name(cls) -> str:
        return "SourceBonus"

    def _postprocess_nodes(self, nodes: list[NodeWithScore],
                           query_bundle: Optional[QueryBundle] = None) -> list[NodeWithScore]:
        sources = self._stores.sources
        if sources is None or self.weight <= 0 or query_bundle is None:
            return nodes
        named = sources.files_naming(query_bundle.query_str)
        if not named:
            return nodes
        for n in nodes:
            if n.node.metadata["file"] in named:
                n.score = (n.score or 0.0) + self.weight
        return ranked(nodes)


__all__ = ["SourceBonus"]
