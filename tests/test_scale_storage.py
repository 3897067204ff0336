"""What grows with the corpus is stored once: a chunk record in Chroma holds its sentence vectors
and text once (no llama-index ``_node_content`` copy), and llama-index still reads it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from llama_index.core.vector_stores.types import VectorStoreQuery
from llama_index.vector_stores.chroma import ChromaVectorStore

from index.embedding import HashEmbedding
from index.indexer import Indexer
from index.vectors import SENTENCES_KEY, ChunkVectors
from settings import Settings


def test_a_chunk_record_stores_its_sentence_vectors_once(hash_settings: Settings, seeds_copy: Path) -> None:
    indexer = Indexer(hash_settings)
    try:
        indexer.index([seeds_copy])
    finally:
        indexer.close()
    vectors = ChunkVectors(hash_settings)
    collection = vectors.client.get_collection(hash_settings.chroma_collection)
    got = collection.get(include=["metadatas", "documents"])
    assert got["ids"]
    with_sentences = 0
    for meta, text in zip(got["metadatas"], got["documents"]):
        assert "_node_content" not in meta
        assert text
        with_sentences += SENTENCES_KEY in meta
    assert with_sentences > 0
    some = got["ids"][:5]
    assert set(vectors.sentence_vectors(some)) <= set(some)
    # llama-index reads the records (its legacy path: text and flat metadata)
    store = ChromaVectorStore(chroma_collection=collection)
    query = HashEmbedding().embed_queries(["NATO Russia council"])[0]
    result = store.query(VectorStoreQuery(query_embedding=np.asarray(query).tolist(), similarity_top_k=3))
    assert len(result.nodes) == 3 and all(n.get_content() for n in result.nodes)
    assert all(n.metadata.get("file") for n in result.nodes)
