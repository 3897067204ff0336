"""Embedders as llama-index ``BaseEmbedding``s: sentence-transformers, and a hashing one.

Both return L2-normalised vectors, so cosine similarity is a dot product. Passages go
through the model's *document* prompt and questions through its *query* prompt
(EmbeddingGemma was trained that way; mixing them costs recall).
"""

from __future__ import annotations

import contextlib

import hashlib
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from settings import DEFAULT_EMBED_MODEL, StoreSettings, apply_runtime_defaults
from settings.errors import SanadError
from index.model_fetch import is_verified, model_path


class EmbedderError(SanadError, RuntimeError):
    """The embedding model could not be loaded; the message says what to do."""

    code = "embedder_unavailable"


class SanadEmbedding(BaseEmbedding):
    """Common numpy entry points used by the indexer and the retriever.

    ``embed_documents(texts, title=...)``: passages of one document whose title is known
    (``index.titles``); the model's document prompt then names it instead of ``none``."""

    def embed_documents(self, texts: Sequence[str], *, title: str = "") -> np.ndarray:
        raise NotImplementedError

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def embed_passages(self, texts: Sequence[str], titles: Sequence[str] | None = None) -> np.ndarray:
        """Document vectors of ``texts``, each with its own document title (``titles[i]``; ''
        or ``titles`` None = none): passages of several documents in as few model calls as
        the model allows (here one per distinct title)."""
        if titles is not None and len(titles) != len(texts):
            raise ValueError("one title per text")
        if not titles or not any(titles):
            return self.embed_documents(texts)
        vectors: np.ndarray | None = None
        for title, rows in rows_by_title(titles).items():
            part = self.embed_documents([texts[i] for i in rows], title=title) if title \
                else self.embed_documents([texts[i] for i in rows])
            if vectors is None:
                vectors = np.zeros((len(texts), part.shape[1]), dtype=np.float32)
            vectors[rows] = part
        assert vectors is not None
        return vectors

    def embed_documents_and_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], *,
                                  titles: Sequence[str] | None = None, late: bool = False
                                  ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Document vectors of ``texts`` and, per text, one row for each of its ``spans``
        (character ``(start, end)``; an empty list gives a ``(0, dim)`` matrix). ``titles``:
        per text, its document's title for the document prompt (see :meth:`embed_passages`).

        Each span is encoded as a passage of its own, in the same call as the texts (the model
        sorts a call's texts by length before batching them, so a sentence shares its batch
        with texts of its own length, not whole paragraphs); ``late=True`` asks for span
        vectors pooled from the text's own forward pass ("late chunking": no text encoded
        twice), which :class:`SentenceTransformerEmbedding` gives."""
        pieces = [text[a:b] for text, found in zip(texts, spans, strict=True) for a, b in found]
        piece_titles = [t for t, found in zip(titles, spans, strict=True) for _ in found] if titles else []
        everything = self.embed_passages([*texts, *pieces], [*titles, *piece_titles] if titles else None)
        vectors, rows = everything[:len(texts)], everything[len(texts):]
        return vectors, split_rows(rows, [len(found) for found in spans])

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
    #: one document-encoding call at a time
    _encode_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    #: the tokenizer is not safe to share between threads: every use of it holds this lock, so
    #: the model's forward passes (read-only) may run in several threads at once
    _tokenizer_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, *, model_name_or_path: str, batch_size: int = 16, threads: int = 1,
                 device: str = "cpu", max_seq_length: int | None = None) -> None:
        """``device``: ``cpu``, ``cuda`` or ``mps`` (:func:`check_device`); on a GPU the model
        runs in bfloat16 (EmbeddingGemma's activations overflow float16). ``max_seq_length``:
        tokens of a text the model reads (the rest is cut off); the model's own limit if None."""
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
            if max_seq_length is not None:
                self._model.max_seq_length = max_seq_length
            self._lock_tokenizer()
        except Exception as exc:  # noqa: BLE001 - any load failure becomes one clear message
            raise EmbedderError(
                f"could not load embedding model {model_name_or_path!r}: {exc.__class__.__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}"
            ) from exc

    @classmethod
    def class_name(cls) -> str:
        return "SentenceTransformerEmbedding"

    def _lock_tokenizer(self) -> None:
        """Make the model's tokenizing step (``preprocess``, which every ``encode`` calls) hold
        ``_tokenizer_lock``: questions may then be encoded in several threads at once
        (``qa.query_batcher`` lanes), each forward pass on its own core."""
        preprocess = self._model.preprocess
        lock = self._tokenizer_lock

        def locked(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return preprocess(*args, **kwargs)

        self._model.preprocess = locked

    def _encode(self, texts: Sequence[str], prompt_name: str, *, title: str = "", lock: bool = True) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        prompts = getattr(self._model, "prompts", {}) or {}
        kwargs: dict[str, Any] = {"prompt_name": prompt_name} if prompt_name in prompts else {}
        if title and prompt_name == "document":
            kwargs = {"prompt": self._document_prompt(title)}
        with self._encode_lock if lock else contextlib.nullcontext():
            vectors = self._model.encode(
                list(texts), batch_size=self.embed_batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False, **kwargs,
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_documents(self, texts: Sequence[str], *, title: str = "") -> np.ndarray:
        return self._encode(texts, "document", title=title)

    def embed_passages(self, texts: Sequence[str], titles: Sequence[str] | None = None) -> np.ndarray:
        """One model call whatever the titles, when the model's pooling reads the prompt's tokens
        (EmbeddingGemma's does): each text is prefixed with its own document prompt, exactly
        what ``encode(prompt=...)`` does for one title, so a batch sorted by length can hold
        passages of many documents."""
        if not titles or len(set(titles)) < 2 or len(titles) != len(texts) or not self._pools_prompt():
            return super().embed_passages(texts, titles)  # (which refuses titles of the wrong length)
        prefixed = [self._document_prompt(title) + text for title, text in zip(titles, texts)]
        with self._encode_lock:
            vectors = self._model.encode(
                prefixed, prompt="", batch_size=self.embed_batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_documents_and_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], *,
                                  titles: Sequence[str] | None = None, late: bool = False
                                  ) -> tuple[np.ndarray, list[np.ndarray]]:
        """With ``late``, one forward pass per text: its vector as :meth:`embed_documents` gives it, and each
        span's vector mean-pooled from the span's own token embeddings in that pass, then
        through the model's projection and normalisation ("late chunking": the span is read in
        the context of its text). A span the model did not see (the text was longer than its
        maximum length) is encoded on its own. Texts of different titles: one pass per title."""
        if not late or not texts or not self.pools_by_mean():
            return super().embed_documents_and_spans(texts, spans, titles=titles)
        if titles and len(set(titles)) > 1:
            vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
            rows_of: list[np.ndarray] = [np.zeros((0, self.dimension), dtype=np.float32)] * len(texts)
            for name, members in rows_by_title(titles).items():
                part, rows = self.embed_documents_and_spans(
                    [texts[i] for i in members], [spans[i] for i in members], titles=[name] * len(members), late=True)
                vectors[members] = part
                for i, row in zip(members, rows):
                    rows_of[i] = row
            return vectors, rows_of
        title = titles[0] if titles else ""
        import torch

        prompt = self._document_prompt(title)
        with self._encode_lock:
            outputs = self._model.encode(
                list(texts), prompt=prompt, batch_size=self.embed_batch_size, output_value=None,
                convert_to_numpy=False, show_progress_bar=False,
            )
            head = list(self._model)[2:]  # after the transformer and its pooling: projection, normalisation
            per_text: list[np.ndarray] = []
            unseen: list[tuple[int, int, str]] = []  # (text, span row, span text) to encode alone
            with torch.inference_mode():
                for i, (text, found, out) in enumerate(zip(texts, spans, outputs, strict=True)):
                    pooled = self._pool_spans(prompt, text, found, out)
                    rows = np.zeros((len(found), self.dimension), dtype=np.float32)
                    if pooled:
                        features = {"sentence_embedding": torch.stack([vec for _, vec in pooled])}
                        for module in head:
                            features = module(features)
                        projected = torch.nn.functional.normalize(features["sentence_embedding"].float(), dim=1)
                        rows[[k for k, _ in pooled]] = projected.cpu().numpy()
                    done = {k for k, _ in pooled}
                    unseen += [(i, k, text[a:b]) for k, (a, b) in enumerate(found) if k not in done]
                    per_text.append(rows)
            vectors = torch.stack([out["sentence_embedding"] for out in outputs]).float()
            vectors = torch.nn.functional.normalize(vectors, dim=1).cpu().numpy()
        if unseen:
            alone = self.embed_documents([piece for _, _, piece in unseen], title=title)
            for (i, k, _), vec in zip(unseen, alone):
                per_text[i][k] = vec
        return np.asarray(vectors, dtype=np.float32), per_text

    def _pools_prompt(self) -> bool:
        """Whether the pooling averages the prompt's tokens too (then a prompt in the text is the same input)."""
        modules = list(self._model)
        return len(modules) > 1 and bool(getattr(modules[1], "include_prompt", False))

    def pools_by_mean(self) -> bool:
        """Whether the model is a transformer, mean pooling, then per-vector modules (EmbeddingGemma
        is): the shape late chunking needs."""
        modules = list(self._model)
        if len(modules) < 2 or type(modules[0]).__name__ != "Transformer" or type(modules[1]).__name__ != "Pooling":
            return False
        return getattr(modules[1], "pooling_mode", None) == "mean" and getattr(self._model, "tokenizer", None) is not None \
            and getattr(self._model.tokenizer, "is_fast", False)

    def _document_prompt(self, title: str) -> str:
        prompts = getattr(self._model, "prompts", {}) or {}
        template = prompts.get("document", "")
        if title and template.startswith("title: none"):  # EmbeddingGemma's documented form
            return template.replace("title: none", f"title: {title}", 1)
        return template

    def _pool_spans(self, prompt: str, text: str, spans: Sequence[tuple[int, int]], out: dict[str, Any]
                    ) -> list[tuple[int, Any]]:
        """(span index, mean of its token embeddings) for each span with tokens in ``out``."""
        if not spans:
            return []
        tokenizer = self._model.tokenizer
        with self._tokenizer_lock:
            encoded = tokenizer(prompt + text, return_offsets_mapping=True, truncation=True,
                                max_length=self._model.max_seq_length)
        mask = out["attention_mask"].bool()
        if out["input_ids"][mask].tolist() != encoded["input_ids"]:
            return []  # not the tokens the model saw: encode the spans alone
        tokens = out["token_embeddings"][mask]
        offsets = np.asarray(encoded["offset_mapping"], dtype=np.int64).reshape(-1, 2)
        starts, ends = offsets[:, 0] - len(prompt), offsets[:, 1] - len(prompt)
        real = ends > starts  # special tokens have empty offsets
        pooled = []
        for k, (a, b) in enumerate(spans):
            inside = np.flatnonzero(real & (starts < b) & (ends > a))
            if len(inside):
                pooled.append((k, tokens[inside].float().mean(dim=0).to(tokens.dtype)))
        return pooled

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Safe to call from several threads at once (only the tokenizing step is serialised)."""
        return self._encode(texts, "query", lock=False)

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


def rows_by_title(titles: Sequence[str]) -> dict[str, list[int]]:
    """The positions of each distinct title in ``titles``, in order of first appearance."""
    rows: dict[str, list[int]] = {}
    for i, title in enumerate(titles):
        rows.setdefault(title, []).append(i)
    return rows


def split_rows(matrix: np.ndarray, counts: Sequence[int]) -> list[np.ndarray]:
    """``matrix`` cut into consecutive blocks of ``counts`` rows."""
    bounds = np.cumsum([0, *counts])
    return [matrix[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


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


def resolve_model_path(settings: StoreSettings) -> str:
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


def build_embedder(settings: StoreSettings) -> SanadEmbedding:
    """The embedder ``settings`` names (loaded once by the caller and reused)."""
    if settings.embed_model == "hash":
        return HashEmbedding()
    apply_runtime_defaults()  # never reach a model hub (docs/embedding-model.md): set before the model loads
    return SentenceTransformerEmbedding(
        model_name_or_path=resolve_model_path(settings),
        batch_size=settings.embed_batch_size,
        threads=settings.torch_threads,
        device=settings.device,
    )


def embedder_fingerprint(settings: StoreSettings) -> str:
    """Identifies the vector space: an index built with one model can't be queried with another."""
    if settings.embed_model == "hash":
        return "hash-256"
    if settings.embed_model in (DEFAULT_EMBED_MODEL, "google/embeddinggemma-300m"):
        return "embeddinggemma-300m"
    return settings.embed_model
