"""The abstention rule: a low cosine abstains unless the best paragraph clearly stands out."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.embedding import HashEmbedding
from qa.extractive import ExtractiveComposer
from qa.retrieval import dense_margin
from tests.composer_fixtures import make_composer, one_file_catalog, retrieved


def test_dense_margin_is_best_minus_mean_of_next_five() -> None:
    assert dense_margin([0.2, 0.7, 0.3, 0.3, 0.3, 0.3, 0.3, 0.1]) == pytest.approx(0.4)
    assert dense_margin([0.5, 0.5, 0.5]) == pytest.approx(0.0)
    assert dense_margin([0.9, 0.1]) is None  # too few candidates to tell


@pytest.fixture
def composer_and_chunks(tmp_path: Path):  # noqa: ANN201
    catalog, chunks = one_file_catalog(
        tmp_path, "The council met in Brussels on Wednesday.\n\nIt lasted four hours.\n")

    def make(**options: float) -> ExtractiveComposer:
        return make_composer(catalog, HashEmbedding(), min_similarity=0.46, **options)

    yield make, chunks
    catalog.close()


_nodes = retrieved


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


# --------------------------------------------------------------------------- which paragraphs are cited
@pytest.fixture
def composer_and_three_chunks(tmp_path: Path):  # noqa: ANN201
    paragraphs = [
        "The council met in Brussels on Wednesday for the first time in more than two years.",
        "The meeting lasted four hours, and the delegations agreed to keep talking in the new year.",
        "Officials from both sides described the talks as frank but said that no deal was reached.",
    ]
    catalog, chunks = one_file_catalog(tmp_path, "\n\n".join(paragraphs) + "\n")
    assert [c.paragraphs for c in chunks] == [(1,), (2,), (3,)]

    def make(**options: float) -> ExtractiveComposer:
        return make_composer(catalog, HashEmbedding(), min_similarity=0.46, **options)

    yield make, chunks
    catalog.close()


def test_close_contenders_are_cited_even_below_the_threshold(composer_and_three_chunks) -> None:  # noqa: ANN001
    """Without a clear winner, a paragraph within citation_margin of the leader is cited too,
    although its own cosine is below min_similarity (cross-lingual scores run low)."""
    make, chunks = composer_and_three_chunks
    nodes = _nodes(chunks, [0.50, 0.42, 0.30], 0.05)
    answer = make(answer_margin=0.15, citation_margin=0.10).compose("q", "en", nodes)
    assert answer.answerable and [c.paragraph for c in answer.citations] == [1, 2]
    # outside the margin, or with a margin of 0: the leader alone
    assert [c.paragraph for c in make(answer_margin=0.15, citation_margin=0.05).compose(
        "q", "en", nodes).citations] == [1]


def test_a_clear_winner_is_cited_alone(composer_and_three_chunks) -> None:  # noqa: ANN001
    make, chunks = composer_and_three_chunks
    nodes = _nodes(chunks, [0.60, 0.55, 0.30], 0.20)  # margin 0.20 >= answer_margin: a clear winner
    answer = make(answer_margin=0.15, citation_margin=0.10).compose("q", "en", nodes)
    assert [c.paragraph for c in answer.citations] == [1]
    # with the margin rule off, the contender within citation_margin is cited as well
    answer = make(answer_margin=0.0, citation_margin=0.10).compose("q", "en", nodes)
    assert [c.paragraph for c in answer.citations] == [1, 2]


def test_citations_follow_the_fused_ranking_not_the_raw_cosine(composer_and_three_chunks) -> None:  # noqa: ANN001
    """The cut is on the retriever's fused score: a chunk far behind on it is not cited even
    when its raw cosine is close to the leader's."""
    make, chunks = composer_and_three_chunks
    nodes = _nodes(chunks, [0.50, 0.49, 0.30], 0.05)
    nodes[1].score = 0.30  # fused score well behind (e.g. its sentences do not match)
    answer = make(answer_margin=0.15, citation_margin=0.10).compose("q", "en", nodes)
    assert [c.paragraph for c in answer.citations] == [1]
