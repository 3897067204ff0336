"""Shared fixtures: all state in temp dirs, fakes in one place, the real model loaded once.

- every test starts with no ``SANAD_*`` variable of the developer's shell and its own
  ``SANAD_DATA_DIR`` (autouse), so nothing touches ./.sanad and no setting leaks in;
- ``hash_settings`` is the deterministic fake: the hashing embedder (no semantics, fast);
- ``seeds_settings`` / ``real_answerer`` index a copy of seeds/ once per session with the
  real default model (integration tests).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable, Mapping

import pytest

from index.paragraphs import decode_text
from settings import Settings, apply_runtime_defaults

os.environ["HF_HUB_OFFLINE"] = "1"
apply_runtime_defaults()

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"


#: kept from the environment: where the verified model lives, and where the eval data is
KEPT_VARIABLES = frozenset({"SANAD_MODELS_DIR", "SANAD_EVALDATA_DIR"})


@pytest.fixture(autouse=True)
def isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Clear every ``SANAD_*`` variable (but the model and eval-data locations) and point
    all Sanad state of this test at a temp dir."""
    for var in list(os.environ):
        if var.startswith("SANAD_") and var not in KEPT_VARIABLES:
            monkeypatch.delenv(var)
    data = tmp_path / "sanad-data"
    monkeypatch.setenv("SANAD_DATA_DIR", str(data))
    return data


@pytest.fixture
def hash_settings(tmp_path: Path) -> Settings:
    """Settings with the deterministic hashing embedder (the one registered fake)."""
    return Settings(data_dir=tmp_path / "hash-data", embed_model="hash")


@pytest.fixture
def index_texts(tmp_path: Path) -> Callable[..., Settings]:
    """``index_texts({file name: text}, **settings)``: those files indexed with the hashing
    embedder into a temp data dir; returns the settings (hash embedder plus the overrides)."""

    def build(docs: Mapping[str, str], **overrides: Any) -> Settings:
        from index.embedding import HashEmbedding
        from index.indexer import Indexer

        corpus = tmp_path / "corpus"
        corpus.mkdir()
        for name, text in docs.items():
            (corpus / name).write_text(text, encoding="utf-8")
        settings = Settings(data_dir=tmp_path / "data", embed_model="hash", **overrides)
        indexer = Indexer(settings, embedder=HashEmbedding())
        indexer.index([corpus], progress=None)
        indexer.close()
        return settings

    return build


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A writable copy of the seed corpus."""
    dest = tmp_path / "corpus"
    shutil.copytree(SEEDS, dest)
    return dest


@pytest.fixture(scope="session")
def real_embedder():  # noqa: ANN201
    from index.embedding import build_embedder

    return build_embedder(Settings(data_dir=Path("/nonexistent-unused")))


@pytest.fixture(scope="session")
def seeds_settings(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Settings:  # noqa: ANN001
    """The seeds indexed once with the real model into a session temp dir."""
    from index.indexer import Indexer

    root = tmp_path_factory.mktemp("seeds-index")
    corpus = root / "corpus"
    shutil.copytree(SEEDS, corpus)
    settings = Settings(data_dir=root / "data", corpus_paths=[corpus])
    indexer = Indexer(settings, embedder=real_embedder)
    report = indexer.index([corpus], progress=None)
    indexer.close()
    assert len(report.added) == 5 and not report.errors
    return settings


@pytest.fixture(scope="session")
def real_answerer(seeds_settings: Settings, real_embedder):  # noqa: ANN001, ANN201
    from qa.answerer import Answerer

    answerer = Answerer(seeds_settings, embedder=real_embedder)
    yield answerer
    answerer.close()


def assert_verbatim(citations, corpus: Path) -> None:  # noqa: ANN001
    """Every citation's quote is the file's text at its offsets, and its lines are right."""
    for c in citations:
        text = decode_text((corpus / c.file).read_bytes())
        assert text[c.char_start:c.char_end] == c.quote, c
        assert text.count("\n", 0, c.char_start) + 1 == c.line_start, c
        assert text.count("\n", 0, max(c.char_end - 1, c.char_start)) + 1 == c.line_end, c
