"""The extractive quote: the best sentence of a long paragraph, stretched to a close runner-up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from llama_index.core.schema import NodeWithScore

from index.catalog import Catalog
from index.embedding import HashEmbedding
from qa.extractive import ExtractiveComposer
from tests.composer_fixtures import make_composer, one_file_catalog, retrieved

SENTENCES = [
    "The delegates arrived in the city on Monday morning for the talks.",
    "The meeting lasted three hours and ended without an agreement.",
    "Officials said the next round would be arranged later in the year.",
    "The weather in the city was cold and wet throughout the visit.",
]


class ScriptedEmbedding(HashEmbedding):
    """Hash vectors, except that chosen sentences get a chosen cosine with every query."""

    def __init__(self, cosines: dict[str, float]) -> None:
        super().__init__()
        self._cosines = cosines

    def embed_queries(self, texts):  # noqa: ANN001, ANN201
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        out[:, 0] = 1.0
        return out

    def embed_documents(self, texts):  # noqa: ANN001, ANN201
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            c = self._cosines.get(text, 0.1)
            out[i, 0], out[i, 1] = c, float(np.sqrt(max(0.0, 1 - c * c)))
        return out


@pytest.fixture
def paragraph(tmp_path: Path):  # noqa: ANN201
    catalog, chunks = one_file_catalog(tmp_path, " ".join(SENTENCES) + "\n")
    yield catalog, retrieved(chunks[:1], [0.5], 0.05)[0]
    catalog.close()


def _quote(catalog: Catalog, node: NodeWithScore, cosines: dict[str, float], gap: float) -> str:
    composer = make_composer(catalog, ScriptedEmbedding(cosines), min_similarity=0.3,
                             sentence_gap=gap)
    answer = composer.compose("zzz", "en", [node])
    assert answer.answerable and len(answer.citations) == 1
    citation = answer.citations[0]
    assert citation.quote == (" ".join(SENTENCES))[citation.char_start:citation.char_end]  # verbatim
    return citation.quote


def test_a_clear_best_sentence_is_quoted_alone(paragraph) -> None:  # noqa: ANN001
    catalog, node = paragraph
    assert _quote(catalog, node, {SENTENCES[1]: 0.8, SENTENCES[2]: 0.6}, 0.05) == SENTENCES[1]


def test_a_close_adjacent_runner_up_stretches_the_quote(paragraph) -> None:  # noqa: ANN001
    catalog, node = paragraph
    cosines = {SENTENCES[1]: 0.80, SENTENCES[2]: 0.78}
    assert _quote(catalog, node, cosines, 0.05) == " ".join(SENTENCES[1:3])
    assert _quote(catalog, node, cosines, 0.0) == SENTENCES[1]  # gap 0: one sentence


def test_the_span_never_exceeds_three_sentences(paragraph) -> None:  # noqa: ANN001
    catalog, node = paragraph
    # runner-up two sentences away: the span covers the one between (three sentences)
    assert _quote(catalog, node, {SENTENCES[0]: 0.80, SENTENCES[2]: 0.79}, 0.05) == " ".join(SENTENCES[0:3])
    # three away: too far, the best sentence alone
    assert _quote(catalog, node, {SENTENCES[0]: 0.80, SENTENCES[3]: 0.79}, 0.05) == SENTENCES[0]
