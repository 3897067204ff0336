"""Embedders as llama-index ``BaseEmbedding``s: sentence-transformers, and a hashing one.

Both return L2-normalised vectors, so cosine similarity is a dot product. Passages go
through the model's *document* prompt and questions through its *query* prompt
(EmbeddingGemma was trained that way; mixing them costs recall).
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from settings import DEFAULT_EMBED_MODEL, Settings, apply_runtime_defaults
from index.model_fetch import is_verified, model_path


class EmbedderError(RuntimeError):
    """The embedding model could not be loaded; the message says what to do."""


class SanadEmbedding(BaseEmbedding):
    """Common numpy entry points used by the indexer and the retriever.

    ``embed_documents(texts, title=...)``: passages of one document whose title is known
    (``index.titles``); the model's document prompt then names it instead of ``none``."""

    def embed_documents(self, texts: Sequence[str], *, title: str = "") -> np.ndarray:
        raise NotImplementedError

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    @property
    def dimension(self) -> int:
        return int(self.embed_queries(["x"]).shape[1])

    # llama-index's abstract methods, in terms of the two above ------------------------
    def _get_query_embedding(self, query: str) -> list[float]:
        return self.embed_queries([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.embed_documents([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)


class SentenceTransformerEmbedding(SanadEmbedding):
    """A sentence-transformers model loaded from a local folder (or the local HF cache)."""

    _model: Any = PrivateAttr()
    #: one model call at a time (its tokenizer is not safe to share between threads)
    _encode_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, *, model_name_or_path: str, batch_size: int = 16, threads: int = 1,
                 device: str = "cpu") -> None:
        """``device``: ``cpu``, ``cuda`` or ``mps`` (:func:`check_device`); on a GPU the model
        runs in bfloat16 (EmbeddingGemma's activations overflow float16)."""
        super().__init__(model_name=model_name_or_path, embed_batch_size=batch_size)
        import torch
        from sentence_transformers import SentenceTransformer

        check_device(device)
        torch.set_num_threads(threads)
        try:  # transformers' "Loading weights" bar and info logs are noise in a CLI
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()
        except ImportError:  # pragma: no cover
            pass
        try:
            self._model = SentenceTransformer(model_name_or_path, device=device)
            if device != "cpu":
                self._model.to(torch.bfloat16)
        except Exception as exc:  # noqa: BLE001 - any load failure becomes one clear message
            raise EmbedderError(
                f"could not load embedding model {model_name_or_path!r}: {exc.__class__.__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}"
            ) from exc

    @classmethod
    def class_name(cls) -> str:
        return "SentenceTransformerEmbedding"

    def _encode(self, texts: Sequence[str], prompt_name: str, *, title: str = "") -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        prompts = getattr(self._model, "prompts", {}) or {}
        kwargs: dict[str, Any] = {"prompt_name": prompt_name} if prompt_name in prompts else {}
        template = prompts.get(prompt_name, "")
        if title and template.startswith("title: none"):  # EmbeddingGemma's documented form
            kwargs = {"prompt": template.replace("title: none", f"title: {title}", 1)}
        with self._encode_lock:
            vectors = self._model.encode(
                list(texts), batch_size=self.embed_batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False, **kwargs,
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_documents(self, texts: Sequence[str], *, title: str = "") -> np.ndarray:
        return self._encode(texts, "document", title=title)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "query")

    @property
    def dimension(self) -> int:
        getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        return int(getter())


class HashEmbedding(SanadEmbedding):
    """Deterministic character-trigram hashing embedder. No semantics: for smoke tests only."""

    dim: int = 256

    @classmethod
    def class_name(cls) -> str:
        return "HashEmbedding"

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        padded = f"  {text.casefold()}  "
        for i in range(len(padded) - 2):
            h = int.from_bytes(hashlib.blake2b(padded[i:i + 3].encode(), digest_size=4).digest(), "little")
            vec[h % self.dim] += 1.0 if (h >> 31) & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else vec

    def embed_documents(self, texts: Sequence[str], *, title: str = "") -> np.ndarray:
        if title:
            texts = [f"{title} | {t}" for t in texts]
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_documents(texts)

    @property
    def dimension(self) -> int:
        return self.dim


def check_device(device: str) -> None:
    """:class:`EmbedderError` when ``device`` (``SANAD_DEVICE``) is not one this machine has."""
    import torch

    if device == "cpu":
        return
    if device == "cuda":
        if not torch.cuda.is_available():
            raise EmbedderError("SANAD_DEVICE=cuda, but torch finds no CUDA GPU on this machine (or this torch "
                                "build has no CUDA support); use SANAD_DEVICE=cpu")
        return
    if device == "mps":
        if not torch.backends.mps.is_available():
            raise EmbedderError("SANAD_DEVICE=mps, but torch finds no Apple GPU (MPS) on this machine; "
                                "use SANAD_DEVICE=cpu")
        return
    raise EmbedderError(f"SANAD_DEVICE={device!r} is not a device Sanad knows; use cpu, cuda or mps")


def resolve_model_path(settings: Settings) -> str:
    """Turn ``settings.embed_model`` into what SentenceTransformer should load."""
    name = settings.embed_model
    if name in (DEFAULT_EMBED_MODEL, "google/embeddinggemma-300m"):
        if is_verified(settings.models_dir):
            return str(model_path(settings.models_dir))
        if name == DEFAULT_EMBED_MODEL:
            raise EmbedderError(
                f"the default embedding model is not in {model_path(settings.models_dir)}; "
                "run `make setup` (or `python -m index.model_fetch`) to download and verify it"
            )
        return name
    candidate = Path(name).expanduser()
    if candidate.exists():
        if not (candidate / "modules.json").is_file() and not (candidate / "config.json").is_file():
            raise EmbedderError(f"{candidate} is not a sentence-transformers model folder")
        return str(candidate)
    return name


def build_embedder(settings: Settings) -> SanadEmbedding:
    """The embedder ``settings`` names (loaded once by the caller and reused)."""
    if settings.embed_model == "hash":
        return HashEmbedding()
    apply_runtime_defaults()  # never reach a model hub (MODELS.md): set before the model loads
    return SentenceTransformerEmbedding(
        model_name_or_path=resolve_model_path(settings),
        batch_size=settings.embed_batch_size,
        threads=settings.torch_threads,
        device=settings.device,
    )


def embedder_fingerprint(settings: Settings) -> str:
    """Identifies the vector space: an index built with one model can't be queried with another."""
    if settings.embed_model == "hash":
        return "hash-256"
    if settings.embed_model in (DEFAULT_EMBED_MODEL, "google/embeddinggemma-300m"):
        return "embeddinggemma-300m"
    return settings.embed_model
