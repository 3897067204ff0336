"""The dense side: chunk vectors in Chroma (a collection llama-index's ``ChromaVectorStore`` reads).

We always hand Chroma our own embeddings (its default embedding function would try to
download a model). The collection uses cosine distance; llama-index reports
``exp(-distance)`` as similarity, which we turn back into cosine similarity.
"""

from __future__ import annotations

import base64
import threading
from collections import OrderedDict
from typing import Sequence
from urllib.parse import urlparse

import numpy as np

from index.chunks import Chunk
from settings import StoreSettings
from settings.errors import SanadError


class VectorStoreError(SanadError, RuntimeError):
    """Chroma could not be reached or opened; the message says which and why."""

    code = "vector_store_unavailable"


def chroma_client(settings: StoreSettings):  # noqa: ANN201 - chromadb's client classes
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            if url.scheme not in ("http", "https") or not url.hostname:
                raise ValueError("SANAD_CHROMA_URL must look like http://host:port")
            headers = ({"Authorization": f"Bearer {settings.chroma_auth_token}"}
                       if settings.chroma_auth_token else None)
            return chromadb.HttpClient(
                host=url.hostname, port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https", headers=headers, settings=chroma_settings,
            )
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
    except Exception as exc:  # noqa: BLE001
        where = settings.chroma_url or settings.chroma_path
        raise VectorStoreError(f"cannot open Chroma at {where}: {exc}") from exc


def collection_ids(collection, *, page: int = 5000) -> set[str]:  # noqa: ANN001 - a chromadb Collection
    """Every record id of a Chroma collection, read ``page`` ids at a time."""
    ids: set[str] = set()
    offset = 0
    while True:
        got = collection.get(include=[], limit=page, offset=offset)["ids"]
        ids.update(got)
        if len(got) < page:
            return ids
        offset += page


#: chunk-record metadata key holding the chunk's sentence vectors (see :func:`encode_vectors`)
SENTENCES_KEY = "sentence_vectors"


def encode_vectors(matrix: np.ndarray) -> str:
    """Rows of unit vectors as one metadata string: "<dim>:" + base64 of float16 bytes."""
    matrix = np.asarray(matrix, dtype=np.float16)
    return f"{matrix.shape[1]}:" + base64.b64encode(matrix.tobytes()).decode("ascii")


def decode_vectors(blob: str) -> np.ndarray:
    dim, _, data = blob.partition(":")
    return np.frombuffer(base64.b64decode(data), dtype=np.float16).reshape(-1, int(dim)).astype(np.float32)


#: decoded sentence vectors :class:`ChunkVectors` keeps in memory, in rows (8192 x 768 float32: 24 MiB)
SENTENCE_CACHE_ROWS = 8192


class ChunkVectors:
    """Add, delete and query chunk vectors of one Chroma collection.

    Decoded sentence vectors are kept per chunk id (least recently used out first, at most
    :data:`SENTENCE_CACHE_ROWS` vectors): every question reads those of its leading
    candidates, and a chunk's id is a hash of its file and text, so a changed chunk is a new
    id; a chunk added or deleted here is dropped from it.
    """

    def __init__(self, settings: StoreSettings) -> None:
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self._client = chroma_client(settings)
        self.client = self._client  # shared with the server-mode catalog (index.shared_catalog)
        try:
            self._collection = self._client.get_or_create_collection(
                settings.chroma_collection, metadata={"hnsw:space": "cosine"},
                embedding_function=None,
            )
        except Exception as exc:  # noqa: BLE001
            raise VectorStoreError(f"cannot open Chroma collection {settings.chroma_collection!r}: {exc}") from exc
        self.store = ChromaVectorStore(chroma_collection=self._collection)
        self._sentences: OrderedDict[str, np.ndarray | None] = OrderedDict()
        self._sentence_rows = 0
        self._sentences_lock = threading.Lock()

    def count(self) -> int:
        return int(self._collection.count())

    def all_ids(self) -> set[str]:
        return collection_ids(self._collection)

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        return set(self._collection.get(ids=list(ids), include=[])["ids"])

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray,
            sentence_vectors: Sequence[np.ndarray | None] | None = None) -> None:
        """Store chunk vectors; ``sentence_vectors[i]`` (one row per sentence of chunk i, or
        None for a one-sentence chunk) rides in the same record, so it is added, replaced and
        deleted with its chunk and needs no bookkeeping of its own."""
        if not chunks:
            return
        sentence_vectors = sentence_vectors or [None] * len(chunks)
        metadatas: list[dict[str, str | int]] = []
        for chunk, sentences in zip(chunks, sentence_vectors, strict=True):
            metadata: dict[str, str | int] = {"file": chunk.file, "p_start": chunk.paragraphs[0],
                                              "p_end": chunk.paragraphs[-1], "ref_doc_id": chunk.file}
            if sentences is not None and len(sentences):
                metadata[SENTENCES_KEY] = encode_vectors(sentences)
            metadatas.append(metadata)
        # written straight to the collection, not through ChromaVectorStore.add: that adds the
        # whole node again as JSON metadata (``_node_content``: the sentence vectors a second
        # time, and the text), which Chroma also indexes: twice the disk for nothing read back.
        # llama-index still reads these records (text, metadata, ``ref_doc_id``) by its legacy path.
        matrix = np.asarray(vectors, dtype=np.float32)
        step = max(1, min(5000, int(getattr(self._client, "get_max_batch_size", lambda: 5000)())))
        for start in range(0, len(chunks), step):
            part = slice(start, start + step)
            self._collection.add(ids=[c.id for c in chunks[part]], embeddings=matrix[part],
                                 metadatas=metadatas[part], documents=[c.text for c in chunks[part]])
        self._forget_sentences([chunk.id for chunk in chunks])

    def sentence_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored sentence vectors of the chunks ``ids`` that have them (multi-sentence chunks)."""
        if not ids:
            return {}
        with self._sentences_lock:
            known = {cid: self._sentences[cid] for cid in ids if cid in self._sentences}
            for cid in known:
                self._sentences.move_to_end(cid)
        missing = [cid for cid in dict.fromkeys(ids) if cid not in known]
        if missing:
            got = self._collection.get(ids=missing, include=["metadatas"])
            fresh: dict[str, np.ndarray | None] = {}
            for cid, meta in zip(got["ids"], got.get("metadatas") or []):
                blob = (meta or {}).get(SENTENCES_KEY)
                fresh[cid] = decode_vectors(blob) if isinstance(blob, str) and blob else None
            with self._sentences_lock:
                for cid, matrix in fresh.items():  # a chunk without sentence vectors is remembered too
                    self._drop_sentences(cid)
                    self._sentences[cid] = matrix
                    self._sentence_rows += 0 if matrix is None else len(matrix)
                while self._sentence_rows > SENTENCE_CACHE_ROWS or len(self._sentences) > SENTENCE_CACHE_ROWS:
                    self._drop_sentences(next(iter(self._sentences)))
            known.update(fresh)
        return {cid: matrix for cid, matrix in known.items() if matrix is not None}

    def cached_sentence_rows(self) -> int:
        """How many sentence vectors are held in memory now (at most :data:`SENTENCE_CACHE_ROWS`)."""
        with self._sentences_lock:
            return self._sentence_rows

    def _forget_sentences(self, ids: Sequence[str]) -> None:
        with self._sentences_lock:
            for cid in ids:
                self._drop_sentences(cid)

    def _drop_sentences(self, cid: str) -> None:
        """(with the lock held)"""
        matrix = self._sentences.pop(cid, None)
        self._sentence_rows -= 0 if matrix is None else len(matrix)

    def delete_ids(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        self._forget_sentences(ids)
        for start in range(0, len(ids), 5000):
            self.store.delete_nodes(node_ids=ids[start:start + 5000])

    def query(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first.

        Asks Chroma for ids and distances only: the retriever reads the chunks' text from the
        catalog, so the records' documents and metadata (sentence vectors included) are not
        fetched and decoded for each question."""
        if k <= 0:
            return []
        result = self._collection.query(query_embeddings=[np.asarray(vector, dtype=np.float32).tolist()],
                                        n_results=k, include=["distances"])
        ids = (result.get("ids") or [[]])[0]
        distances = (result.get("distances") or [[]])[0]
        return [(cid, 1.0 - float(distance)) for cid, distance in zip(ids, distances)]

    def similarities(self, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
        """Cosine similarity of ``vector`` with the stored vectors of ``ids`` (those present)."""
        if not ids:
            return {}
        got = self._collection.get(ids=list(ids), include=["embeddings"])
        embeddings = got.get("embeddings")
        if embeddings is None or len(got["ids"]) == 0:
            return {}
        matrix = np.asarray(embeddings, dtype=np.float32)
        return dict(zip(got["ids"], (matrix @ np.asarray(vector, dtype=np.float32)).tolist()))
