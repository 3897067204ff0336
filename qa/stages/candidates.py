"""The first stage: candidate retrievers, each a ranked list of ``(chunk id, score)``."""

from __future__ import annotations

import numpy as np

from qa.question import Question
from qa.stages.stores import RetrievalStores


class DenseCandidates:
    """The chunks whose vectors are nearest the question's (cosine similarity), from Chroma."""

    def __init__(self, stores: RetrievalStores, *, depth: int) -> None:
        self.stores = stores
        self.depth = depth

    def run(self, question: Question, vector: np.ndarray | None) -> list[tuple[str, float]]:
        if vector is None:
            return []
        return self.stores.vectors.query(vector, self.depth)


class LexicalCandidates:
    """The chunks BM25 scores highest for the question's lexical text."""

    def __init__(self, stores: RetrievalStores, *, depth: int) -> None:
        self.stores = stores
        self.depth = depth

    def run(self, question: Question, vector: np.ndarray | None) -> list[tuple[str, float]]:
        return self.stores.lexical.search(question.lexical, self.depth)


__all__ = ["DenseCandidates", "LexicalCandidates"]
