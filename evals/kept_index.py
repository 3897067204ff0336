"""An eval set's corpus indexed into a folder that is kept between runs (``evals.sweep``,
``evals.train_ranker``): the indexer skips unchanged files, so a second run encodes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.sets import EvalSet
from settings import Settings
from settings.errors import SanadError


class KeptIndexError(SanadError, RuntimeError):
    """The corpus could not be indexed; the message lists the files and why."""

    code = "eval_index_failed"


def kept_index(eval_set: EvalSet, settings: Settings, embedder: Any, data_dir: Path, **update: Any) -> Settings:
    """Index ``eval_set``'s corpus into ``data_dir`` (embedded Chroma) and return the settings
    that read it (``settings`` with ``update`` applied)."""
    from index.indexer import Indexer

    run = settings.model_copy(update={"data_dir": data_dir, "chroma_url": None, "chroma_collection": "sanad_eval",
                                      **update})
    indexer = Indexer(run, embedder=embedder)
    try:
        report = indexer.index(eval_set.corpus_paths)
    finally:
        indexer.close()
    if report.errors:
        raise KeptIndexError(f"{eval_set.name}: indexing errors: {report.errors}")
    return run


__all__ = ["KeptIndexError", "kept_index"]
