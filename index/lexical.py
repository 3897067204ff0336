"""BM25 lexical index (bm25s) over ``Analyzer`` terms.

bm25s is driven with our own tokens: documents are analysed here, mapped to
integer ids with a vocabulary we build (first-occurrence order, so the saved
index is deterministic), and handed to ``bm25s.BM25.index`` as a
``bm25s.tokenization.Tokenized(ids, vocab)``. Queries are analysed the same
way; ``BM25.get_tokens_ids`` drops terms that are not in the vocabulary and
``BM25.get_scores_from_ids`` returns one score per document, from which the top
``k`` positive scores are taken here (ties broken by document order).
``BM25.retrieve`` is not used: it rejects ``k`` larger than the corpus, returns
padded 2-D arrays and its top-k selection does not break ties deterministically.

A corpus with no terms at all (empty, or every document analyses to nothing)
has no bm25s part; it searches to ``[]``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
from bm25s.tokenization import Tokenized

from index.arabic import Analyzer

__all__ = ["LexicalIndex"]

log = logging.getLogger(__name__)

_FORMAT = 1
_META_NAME = "lexical.json"
_BM25_DIR = "bm25s"


class LexicalIndex:
    """BM25 (bm25s) over Analyzer tokens. Built whole from (ids, texts); saved/loaded as a directory."""

    def __init__(
        self,
        *,
        ids: list[str],
        stamp: str,
        analyzer: Analyzer,
        k1: float,
        b: float,
        bm25: bm25s.BM25 | None,
    ) -> None:
        self._ids = ids
        self._stamp = stamp
        self._analyzer = analyzer
        self._k1 = float(k1)
        self._b = float(b)
        self._bm25 = bm25

    # ------------------------------------------------------------------ build
    @classmethod
    def build(
        cls,
        ids: Sequence[str],
        texts: Sequence[str],
        *,
        stamp: str = "",
        analyzer: Analyzer | None = None,
        k1: float = 1.2,
        b: float = 0.75,
    ) -> LexicalIndex:
        ids_list = [str(i) for i in ids]
        if len(ids_list) != len(texts):
            raise ValueError(
                f"ids and texts differ in length ({len(ids_list)} != {len(texts)})"
            )
        if len(set(ids_list)) != len(ids_list):
            seen: set[str] = set()
            dupes = sorted({i for i in ids_list if i in seen or seen.add(i)})
            raise ValueError(f"duplicate ids: {dupes[:10]}")

        analyzer = analyzer if analyzer is not None else Analyzer()
        vocab: dict[str, int] = {}
        corpus_ids: list[list[int]] = []
        for text in texts:
            terms = analyzer.analyze(text)
            corpus_ids.append([vocab.setdefault(t, len(vocab)) for t in terms])

        bm25: bm25s.BM25 | None = None
        if vocab:
            bm25 = bm25s.BM25(k1=k1, b=b, method="lucene", backend="numpy")
            # create_empty_token=False: analyzer never yields "", and the extra
            # vocab entry would have no column in the score matrix.
            bm25.index(
                Tokenized(ids=corpus_ids, vocab=vocab),
                create_empty_token=False,
                show_progress=False,
            )
        return cls(ids=ids_list, stamp=stamp, analyzer=analyzer, k1=k1, b=b, bm25=bm25)

    # ----------------------------------------------------------------- search
    def search(self, query: str, k: int = 50) -> list[tuple[str, float]]:
        """Top ``k`` (id, BM25 score) pairs, best first; only scores > 0."""
        if self._bm25 is None or k <= 0:
            return []
        token_ids = self._bm25.get_tokens_ids(self._analyzer.analyze(query))
        if not token_ids:
            return []
        scores: np.ndarray = self._bm25.get_scores_from_ids(token_ids)
        hits = np.flatnonzero(scores > 0)
        if hits.size == 0:
            return []
        hit_scores = scores[hits]
        if hits.size > k:
            # Keep everything scoring at least the k-th best, then sort exactly.
            kth = np.partition(hit_scores, hits.size - k)[hits.size - k]
            keep = hit_scores >= kth
            hits, hit_scores = hits[keep], hit_scores[keep]
        order = np.lexsort((hits, -hit_scores))[:k]
        return [(self._ids[int(hits[i])], float(hit_scores[i])) for i in order]

    def coverage(self, query: str, text: str) -> float:
        """Share of ``query``'s terms, weighted by their IDF in this index, that ``text`` holds
        (0-1; 0 for a query with no terms). A term no indexed chunk holds weighs most: a
        question about a name the corpus never mentions is barely covered by any paragraph."""
        terms = set(self._analyzer.analyze(query))
        if not terms:
            return 0.0
        present = set(self._analyzer.analyze(text))
        vocab = self._bm25.vocab_dict if self._bm25 is not None else {}
        n_docs = len(self._ids)
        indptr = self._bm25.scores["indptr"] if self._bm25 is not None else None
        total = held = 0.0
        for term in terms:
            index = vocab.get(term)
            df = int(indptr[index + 1] - indptr[index]) if index is not None and indptr is not None else 0
            weight = math.log((n_docs + 1) / (df + 0.5))
            total += weight
            held += weight if term in present else 0.0
        return held / total if total > 0 else 0.0

    # ------------------------------------------------------------ persistence
    def save(self, directory: Path) -> None:
        """Write the index to ``directory`` atomically (temp sibling + rename)."""
        target = Path(directory)
        parent = target.parent
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=parent))
        try:
            if self._bm25 is not None:
                self._bm25.save(tmp / _BM25_DIR, show_progress=False)
            meta: dict[str, Any] = {
                "format": _FORMAT,
                "stamp": self._stamp,
                "ids": self._ids,
                "k1": self._k1,
                "b": self._b,
                "analyzer": self._analyzer.config(),
                "has_bm25": self._bm25 is not None,
                "bm25s_version": bm25s.__version__,
            }
            meta_path = tmp / _META_NAME
            with open(meta_path, "w", encoding="utf-8") as f:
                json.dump(meta, f, ensure_ascii=False)
                f.flush()
                os.fsync(f.fileno())
            _swap_in(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def load(cls, directory: Path, *, analyzer: Analyzer | None = None) -> LexicalIndex:
        """Load an index written by :meth:`save`; FileNotFoundError if missing.

        Without ``analyzer`` the analyzer settings stored with the index are used.
        """
        directory = Path(directory)
        meta_path = directory / _META_NAME
        if not meta_path.is_file():
            raise FileNotFoundError(f"no lexical index at {directory}")
        with open(meta_path, encoding="utf-8") as f:
            meta: dict[str, Any] = json.load(f)
        if meta.get("format") != _FORMAT:
            raise ValueError(f"unsupported lexical index format {meta.get('format')!r}")
        ids = [str(i) for i in meta["ids"]]
        if analyzer is None:
            analyzer = Analyzer(**meta.get("analyzer", {}))
        bm25: bm25s.BM25 | None = None
        if meta["has_bm25"]:
            bm25_dir = directory / _BM25_DIR
            if not bm25_dir.is_dir():
                raise FileNotFoundError(f"missing bm25s data in {directory}")
            bm25 = bm25s.BM25.load(bm25_dir, load_corpus=False, mmap=False)
            num_docs = bm25.scores["num_docs"]
            if num_docs != len(ids):
                raise ValueError(
                    f"corrupt lexical index at {directory}: {num_docs} docs, {len(ids)} ids"
                )
        return cls(
            ids=ids,
            stamp=str(meta.get("stamp", "")),
            analyzer=analyzer,
            k1=float(meta["k1"]),
            b=float(meta["b"]),
            bm25=bm25,
        )

    # ------------------------------------------------------------- accessors
    @property
    def stamp(self) -> str:
        return self._stamp

    @property
    def ids(self) -> list[str]:
        return list(self._ids)

    @property
    def analyzer(self) -> Analyzer:
        return self._analyzer

    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        return f"LexicalIndex(docs={len(self._ids)}, stamp={self._stamp!r})"


def _swap_in(tmp: Path, target: Path) -> None:
    """Move directory ``tmp`` to ``target``, replacing any existing ``target``.

    POSIX cannot rename a directory over a non-empty one, so the old directory
    is first renamed aside (same parent, same filesystem), then removed.
    """
    if not target.exists() and not target.is_symlink():
        os.replace(tmp, target)
        return
    old = target.parent / f".{target.name}.old-{uuid.uuid4().hex}"
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)
        raise
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink(missing_ok=True)
