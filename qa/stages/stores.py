"""What retrieval reads: the stores every stage of one answerer shares."""

from __future__ import annotations

from dataclasses import dataclass

from index.catalog import Catalog
from index.embedding import SanadEmbedding
from index.lexical import LexicalIndex
from index.vectors import ChunkVectors
from qa.ranker_model import RankerModel
from qa.sources import SourceMatcher


@dataclass
class RetrievalStores:
    """What retrieval reads, shared by every retriever of one answerer. ``lexical`` is
    replaced (one attribute swap) when the BM25 index is rebuilt in the background.
    ``ranker``: the learned ranker's model, when one is loaded and matches (``qa.ranker_model``)."""

    embedder: SanadEmbedding
    vectors: ChunkVectors
    lexical: LexicalIndex
    catalog: Catalog
    sources: SourceMatcher | None = None
    ranker: RankerModel | None = None


__all__ = ["RetrievalStores"]
