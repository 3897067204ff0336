"""The abstention rule: a low cosine abstains unless the best paragraph clearly stands out."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core.schema import NodeWithScore, TextNode

from index.catalog import Catalog
from index.chunks import build_chunks
from index.embedding import HashEmbedding
from index.paragraphs import load_document
from qa.extractive import ExtractiveComposer
from qa.retrieval import dense_margin


def test_dense_margin_is_best_minus_mean_of_next_five() -> None:
    assert dense_margin([0.2, 0.7, 0.3, 0.3, 0.3, 0.3, 0.3, 0.1]) == pytest.approx(0.4)
    assert dense_margin([0.5, 0.5, 0.5]) == pytest.approx(0.0)
    assert dense_margin([0.9, 0.1]) is None  # too few candidates to tell


@pytest.fixture
def composer_and_chunks(tmp_path: Path):  # noqa: ANN201
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text("The council met in Brussels on Wednesday.\n\nIt lasted four hours.\n",
                                  encoding="utf-8")
    doc = load_document(corpus / "a.txt", root=corpus)
    chunks = build_chunks(doc)
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    catalog.replace_document(doc, chunks, size_bytes=100)

    def make(**options: float) -> ExtractiveComposer:
        return ExtractiveComposer(catalog=catalog, embedder=HashEmbedding(), min_similarity=0.46, **options)

    yield make, chunks
    catalog.close()


def _nodes(chunks, scores: list[float], margin: float | None) -> list[NodeWithScore]:  # noqa: ANN001
    return [NodeWithScore(node=TextNode(id_=c.id, text=c.text, metadata={
        "file": c.file, "paragraphs": list(c.paragraphs), "dense": s, "lexical": None, "margin": margin}),
        score=s) for c, s in zip(chunks, scores)]


def test_low_similarity_abstains_without_a_clear_winner(composer_and_chunks) -> None:  # noqa: ANN001
    make, chunks = composer_and_chunks
    answer = make(answer_margin=0.15, margin_floor=0.3).compose("q", "en", _nodes(chunks, [0.40, 0.38], 0.05))
    assert not answer.answerable and not answer.citations


def test_clear_winner_is_answered_below_the_threshold(composer_and_chunks) -> None:  # noqa: ANN001
    make, chunks = composer_and_chunks
    nodes = _nodes(chunks, [0.40, 0.20], 0.20)
    answer = make(answer_margin=0.15, margin_floor=0.3).compose("q", "en", nodes)
    assert answer.answerable and [c.paragraph for c in answer.citations] == [1]
    # the rule is off with answer_margin=0, and never goes below margin_floor
    assert not make(answer_margin=0.0).compose("q", "en", nodes).answerable
    assert not make(answer_margin=0.15, margin_floor=0.45).compose("q", "en", nodes).answerable
