"""Sentence vectors stored with their chunk at index time, and the sentence-level rescoring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from settings import Settings
from index.embedding import HashEmbedding
from index.indexer import Indexer
from index.sentences import sentence_spans
from index.vectors import decode_vectors, encode_vectors
from qa.answerer import Answerer

LONG = ("The committee met in Geneva in March to review the annual budget. "
        "It approved a total budget of 42 million dollars. "
        "The next meeting is planned for the autumn in Vienna.")
SHORT = "Oslo hosted the signing ceremony."


def test_vectors_round_trip_through_metadata_text() -> None:
    matrix = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    assert np.allclose(decode_vectors(encode_vectors(matrix)), matrix, atol=1e-3)


def test_sentences_are_stored_with_their_chunk_and_go_with_it(tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text(f"{LONG}\n\n{SHORT}\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "d", embed_model="hash", lexical_weight_en=0.0,
                        lexical_weight_ar=0.0)  # the score is then the dense part alone
    embedder = HashEmbedding()
    indexer = Indexer(settings, embedder=embedder)
    indexer.index([corpus], progress=None)
    chunks = {c.text: c.id for c in indexer.catalog.iter_chunks()}
    stored = indexer.vectors.sentence_vectors(list(chunks.values()))
    assert set(stored) == {chunks[LONG]}  # a one-sentence chunk needs none: its own vector is it
    sentences = [LONG[a:b] for a, b in sentence_spans(LONG)]
    assert stored[chunks[LONG]].shape == (3, embedder.dimension)
    assert np.allclose(stored[chunks[LONG]], embedder.embed_documents(sentences), atol=1e-3)

    # the retriever scores the long chunk by its best sentence too
    answerer = Answerer(settings, embedder=embedder)
    question = "It approved a total budget of 42 million dollars."
    nodes = answerer.retrieve(question, top_k=2)
    by_id = {n.node.id_: n for n in nodes}
    q = embedder.embed_queries([question])[0]
    best = float(np.max(stored[chunks[LONG]] @ q))
    meta = by_id[chunks[LONG]].node.metadata
    assert meta["sentence"] == np.float32(best) or abs(meta["sentence"] - best) < 1e-6
    assert by_id[chunks[LONG]].score == np.float32(0.5 * meta["dense"] + 0.5 * best) or \
        abs(by_id[chunks[LONG]].score - (0.5 * meta["dense"] + 0.5 * best)) < 1e-6
    assert by_id[chunks[LONG]].score > meta["dense"]  # the answering sentence lifted it
    assert by_id[chunks[SHORT]].node.metadata["sentence"] is None
    answerer.close()

    # editing the paragraph replaces the chunk: its old sentence vectors go with it
    (corpus / "a.txt").write_text(f"{LONG} One more sentence.\n\n{SHORT}\n", encoding="utf-8")
    indexer.index([corpus], progress=None)
    assert indexer.vectors.sentence_vectors([chunks[LONG]]) == {}
    assert indexer.vectors.count() == 2
    indexer.close()


def test_sentence_weight_zero_is_the_chunk_score(tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text(f"{LONG}\n\n{SHORT}\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "d", embed_model="hash", sentence_weight=0.0,
                        lexical_weight_en=0.0)
    embedder = HashEmbedding()
    Indexer(settings, embedder=embedder).index([corpus], progress=None)
    answerer = Answerer(settings, embedder=embedder)
    nodes = answerer.retrieve("budget of 42 million", top_k=2)
    assert all(n.score == n.node.metadata["dense"] for n in nodes)
    answerer.close()


class CountingHash(HashEmbedding):
    """The hashing fake, counting passage encodings (sentences included)."""

    passages: int = 0

    def embed_documents(self, texts):  # noqa: ANN001, ANN201
        self.passages += len(texts)
        return super().embed_documents(texts)

    def embed_queries(self, texts):  # noqa: ANN001, ANN201
        return HashEmbedding.embed_documents(self, texts)


def test_quotes_use_the_stored_sentence_vectors(tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text(f"{LONG}\n\n{SHORT}\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "d", embed_model="hash", min_similarity=0.0)
    Indexer(settings, embedder=HashEmbedding()).index([corpus], progress=None)
    embedder = CountingHash()
    answerer = Answerer(settings, embedder=embedder)
    answer = answerer.ask("It approved a total budget of 42 million dollars.")
    assert answer.answerable
    assert answer.citations[0].quote == "It approved a total budget of 42 million dollars."
    assert embedder.passages == 0  # the long paragraph's sentences were not encoded again
    answerer.close()


# --- late chunking: sentence vectors pooled from the chunk's own forward pass --------------

ARABIC = ("افتتح المتحف الوطني في الدوحة عام 2019. "
          "صمم المبنى المعماري الفرنسي جان نوفيل على شكل وردة الصحراء. "
          "ويضم المتحف أحد عشر رواقا تروي تاريخ قطر.")


def test_the_hash_fake_encodes_spans_alone_even_when_late_is_asked() -> None:
    embedder = HashEmbedding()
    spans = [sentence_spans(LONG), []]
    for late in (False, True):
        vectors, rows = embedder.embed_documents_and_spans([LONG, SHORT], spans, late=late)
        assert np.allclose(vectors, embedder.embed_documents([LONG, SHORT]))
        assert rows[1].shape == (0, embedder.dimension)
        assert np.allclose(rows[0], embedder.embed_documents([LONG[a:b] for a, b in spans[0]]))


@pytest.mark.integration
@pytest.mark.parametrize("text", [LONG, ARABIC], ids=["en", "ar"])
def test_late_sentence_vectors_come_from_the_chunk_pass(real_embedder, text: str) -> None:  # noqa: ANN001
    spans = sentence_spans(text)
    assert len(spans) == 3
    for title in ("", "Annual report"):
        vectors, rows = real_embedder.embed_documents_and_spans([text, SHORT], [spans, []], titles=[title] * 2,
                                                                late=True)
        # the chunk's own vector is what embed_documents gives
        assert np.allclose(vectors, real_embedder.embed_documents([text, SHORT], title=title), atol=1e-4)
        assert rows[1].shape == (0, real_embedder.dimension)
        assert np.allclose(np.linalg.norm(rows[0], axis=1), 1.0, atol=1e-4)
        # each pooled vector is its own sentence's: nearest to that sentence encoded alone
        alone = real_embedder.embed_documents([text[a:b] for a, b in spans], title=title)
        similarity = rows[0] @ alone.T
        assert list(similarity.argmax(axis=1)) == [0, 1, 2]
        # and not a copy of the sentence encoded alone (read in its chunk's context)
        assert float(np.min(np.diag(similarity))) < 0.999


@pytest.mark.integration
def test_a_sentence_past_the_model_limit_is_encoded_alone() -> None:
    from index.embedding import SentenceTransformerEmbedding, resolve_model_path

    embedder = SentenceTransformerEmbedding(model_name_or_path=resolve_model_path(Settings()), max_seq_length=24)
    spans = sentence_spans(LONG)  # 24 tokens hold the prompt and the first sentence, not the third
    _, rows = embedder.embed_documents_and_spans([LONG], [spans], late=True)
    last = LONG[spans[2][0]:spans[2][1]]
    assert np.allclose(rows[0][2], embedder.embed_documents([last])[0], atol=1e-4)
    first = LONG[spans[0][0]:spans[0][1]]
    assert not np.allclose(rows[0][0], embedder.embed_documents([first])[0], atol=1e-3)


@pytest.mark.integration
def test_late_indexing_stores_pooled_sentence_vectors_and_answers(tmp_path: Path, real_embedder) -> None:  # noqa: ANN001
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text(f"{LONG}\n\n{ARABIC}\n\n{SHORT}\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "d", sentence_vectors="late")
    indexer = Indexer(settings, embedder=real_embedder)
    indexer.index([corpus], progress=None)
    chunks = {c.text: c.id for c in indexer.catalog.iter_chunks()}
    stored = indexer.vectors.sentence_vectors(list(chunks.values()))
    assert set(stored) == {chunks[LONG], chunks[ARABIC]}
    _, expected = real_embedder.embed_documents_and_spans(
        [LONG, ARABIC], [sentence_spans(LONG), sentence_spans(ARABIC)], late=True)
    assert np.allclose(stored[chunks[LONG]], expected[0], atol=1e-3)
    assert np.allclose(stored[chunks[ARABIC]], expected[1], atol=1e-3)
    indexer.close()
    answerer = Answerer(settings, embedder=real_embedder)
    answer = answerer.ask("كم رواقا يضم المتحف؟")
    assert answer.answerable
    assert answer.citations[0].quote == "ويضم المتحف أحد عشر رواقا تروي تاريخ قطر."
    answerer.close()


def test_sentence_vectors_read_again_follow_adds_and_deletes(tmp_path: Path) -> None:
    from index.chunks import Chunk
    from index.vectors import ChunkVectors

    settings = Settings(data_dir=tmp_path / "d", embed_model="hash")
    vectors = ChunkVectors(settings)
    embedder = HashEmbedding()
    chunk = Chunk(id="c1", file="a.txt", paragraphs=(1,), text=LONG)
    single = Chunk(id="c2", file="a.txt", paragraphs=(2,), text=SHORT)
    first = embedder.embed_documents(["one", "two"])
    vectors.add([chunk, single], embedder.embed_documents([LONG, SHORT]), [first, None])
    for _ in range(2):  # the second read is served from memory, the same
        got = vectors.sentence_vectors(["c1", "c2", "absent"])
        assert set(got) == {"c1"} and np.allclose(got["c1"], first, atol=1e-3)
    vectors.delete_ids(["c1"])
    assert vectors.sentence_vectors(["c1"]) == {}
    second = embedder.embed_documents(["three", "four", "five"])
    vectors.add([chunk], embedder.embed_documents([LONG]), [second])  # stored again: the new rows
    assert np.allclose(vectors.sentence_vectors(["c1"])["c1"], second, atol=1e-3)


def test_the_sentence_vector_cache_is_bounded_in_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import index.vectors as vectors_module
    from index.chunks import Chunk
    from index.vectors import ChunkVectors

    monkeypatch.setattr(vectors_module, "SENTENCE_CACHE_ROWS", 5)
    vectors = ChunkVectors(Settings(data_dir=tmp_path / "d", embed_model="hash"))
    embedder = HashEmbedding()
    chunks = [Chunk(id=f"c{i}", file="a.txt", paragraphs=(i,), text=f"{LONG} {i}") for i in range(4)]
    rows = [embedder.embed_documents([f"s{i}a", f"s{i}b"]) for i in range(4)]
    vectors.add(chunks, embedder.embed_documents([c.text for c in chunks]), rows)
    for i in range(4):  # 8 rows read, 5 kept: every read still answers with the stored rows
        assert np.allclose(vectors.sentence_vectors([f"c{i}"])[f"c{i}"], rows[i], atol=1e-3)
    got = vectors.sentence_vectors([f"c{i}" for i in range(4)])
    assert all(np.allclose(got[f"c{i}"], rows[i], atol=1e-3) for i in range(4))
    assert vectors.cached_sentence_rows() <= 5


@pytest.mark.integration
def test_passages_of_many_titles_in_one_call_match_one_title_per_call(real_embedder) -> None:  # noqa: ANN001
    """The indexer encodes chunks of many files together: each text then carries its own document
    prompt, and its vector is the one a call for its title alone gives."""
    texts, titles = [LONG, ARABIC, SHORT], ["Annual report", "", "المتحف"]
    got = real_embedder.embed_passages(texts, titles)
    for row, text, title in zip(got, texts, titles, strict=True):
        alone = real_embedder.embed_documents([text], title=title) if title else real_embedder.embed_documents([text])
        assert np.allclose(row, alone[0], atol=1e-4)
    assert not np.allclose(got[0], real_embedder.embed_documents([LONG])[0], atol=1e-3)  # the title counts
    vectors, rows = real_embedder.embed_documents_and_spans(
        texts, [sentence_spans(LONG), sentence_spans(ARABIC), []], titles=titles, late=True)
    assert np.allclose(vectors, got, atol=1e-4)
    assert rows[0].shape[0] == 3 and rows[1].shape[0] == 3 and rows[2].shape[0] == 0
