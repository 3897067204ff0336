"""Building blocks for composer tests: a one-file catalog and the retriever's nodes for it."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from llama_index.core.schema import NodeWithScore, TextNode

from index.catalog import Catalog
from index.chunks import Chunk, build_chunks
from index.embedding import SanadEmbedding
from index.paragraphs import load_document
from qa.extractive import ExtractiveComposer
from settings import AnswerSettings

#: the composer tests' baseline: each rule that is not under test is off (answer margin,
#: its floor); the rest at the settings' defaults
COMPOSER_BASE: dict[str, float] = {"answer_margin": 0.0, "margin_floor": 0.0}


def make_composer(catalog: Catalog, embedder: SanadEmbedding, **options: float | bool) -> ExtractiveComposer:
    """An ExtractiveComposer over ``catalog`` with :data:`COMPOSER_BASE` and ``options``."""
    return ExtractiveComposer(catalog=catalog, embedder=embedder,
                              options=AnswerSettings(**{**COMPOSER_BASE, **options}))


def one_file_catalog(tmp_path: Path, text: str) -> tuple[Catalog, list[Chunk]]:
    """``text`` written to ``a.txt``, parsed, chunked and committed to a fresh catalog."""
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text(text, encoding="utf-8")
    doc = load_document(corpus / "a.txt", root=corpus)
    chunks = build_chunks(doc)
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    catalog.replace_document(doc, chunks, size_bytes=len(text.encode()))
    return catalog, list(chunks)


def retrieved(chunks: Sequence[Chunk], scores: Sequence[float], margin: float | None) -> list[NodeWithScore]:
    """Nodes as the retriever returns them: ``scores`` as both the dense and the fused score."""
    return [NodeWithScore(node=TextNode(id_=c.id, text=c.text, metadata={
        "file": c.file, "paragraphs": list(c.paragraphs), "dense": s, "lexical": None, "margin": margin}),
        score=s) for c, s in zip(chunks, scores)]
