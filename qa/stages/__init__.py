"""Retrieval as stages, as llama-index's query engine composes them.

1. candidate retrievers (:mod:`qa.stages.candidates`): dense (Chroma) and lexical (BM25);
2. fusion (:mod:`qa.stages.fusion`): one pool of scored nodes;
3. node postprocessors, in the order ``SANAD_POSTPROCESSORS`` names them, each a llama-index
   ``BaseNodePostprocessor`` built as ``Stage(stores, options, depth=...)`` that reads the
   :class:`~qa.question.QuestionBundle` (the question, analysed once, and its embedding).

A new postprocessor is one new module here plus one entry in :data:`POSTPROCESSORS`; naming
it in the setting turns it on. The evals' baselines are a choice of stages: dense alone is the
dense candidates with no BM25 bonus and no postprocessor, BM25 alone the lexical candidates.
"""

from __future__ import annotations

from typing import Callable, Sequence

from llama_index.core.postprocessor.types import BaseNodePostprocessor

from qa.stages.learned_ranker import LearnedRanker
from qa.stages.sentence_rescore import SentenceRescore
from qa.stages.source_bonus import SourceBonus
from qa.stages.stores import RetrievalStores
from settings import RetrievalSettings

#: postprocessor name (as ``SANAD_POSTPROCESSORS`` lists it) -> how it is built
POSTPROCESSORS: dict[str, Callable[..., BaseNodePostprocessor]] = {
    "source_bonus": SourceBonus,
    "sentence_rescore": SentenceRescore,
    "learned_ranker": LearnedRanker,
}


def check_postprocessors(names: Sequence[str]) -> None:
    """ValueError naming the postprocessors of ``names`` that do not exist."""
    unknown = [name for name in names if name not in POSTPROCESSORS]
    if unknown:
        raise ValueError(f"unknown retrieval postprocessor(s) {', '.join(unknown)} in SANAD_POSTPROCESSORS; "
                         f"known: {', '.join(POSTPROCESSORS)}")


def build_postprocessors(names: Sequence[str], stores: RetrievalStores, options: RetrievalSettings, *,
                         depth: int) -> list[BaseNodePostprocessor]:
    """The named postprocessors, in order (:func:`check_postprocessors` first)."""
    check_postprocessors(names)
    return [POSTPROCESSORS[name](stores, options, depth=depth) for name in names]


__all__ = ["POSTPROCESSORS", "RetrievalStores", "build_postprocessors", "check_postprocessors"]
