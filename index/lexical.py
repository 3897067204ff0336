"""BM25 lexical index over ``Analyzer`` terms, kept in segments as search engines do.

The index is a list of immutable **segments** (each: its documents sorted by id, their
lengths, a term dictionary and term-major postings of term frequencies) plus, per segment,
a **tombstone** mask of its deleted documents. Nothing global is stored: BM25's collection
statistics (documents, average length, each query term's document frequency) are counted
over the live documents of every segment when a question is scored, as Lucene does. So

- adding documents builds one small segment from their texts alone, and deleting one marks
  it in its segment's mask: an update costs what it changes, not what the index holds;
- scores are those of one index built whole from the live documents: every document's score
  is the same arithmetic on the same numbers (its term frequencies and length, the global
  counts) in the same order of query terms, whichever segment holds it (tested bit for bit);
- small segments are merged by size tier (:meth:`LexicalIndex.merge_plan`: ``MERGE_FACTOR``
  segments of one tier into one of the next; a segment a quarter deleted is compacted), so a
  document is rewritten O(log N) times in all, and the index stays a few dozen segments.

Scoring is BM25 as bm25s's ``lucene`` method computes it (idf ``log(1 + (N - df + 0.5) /
(df + 0.5))``, term part ``tf / (k1 * (1 - b + b * dl / avgdl) + tf)``), in float64 (bm25s
keeps float32: scores agree to about 1e-6). Ties are broken by chunk id.

Saved as a directory: ``manifest.json`` (segments, their tombstone files, the catalog log
position the index reflects) and one file per segment, written once: saving an updated index
writes its new segments and tombstones and swaps the manifest atomically.
"""

from __future__ import annotations

import bisect
from array import array
import fcntl
import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.arabic import Analyzer

__all__ = ["LexicalIndex", "LogPosition", "Segment", "MERGE_FACTOR", "MIN_SEGMENT_DOCS"]

log = logging.getLogger(__name__)

_FORMAT = 2
_MANIFEST = "manifest.json"
_LOCK = ".lock"
#: segments of one size tier merged into one segment of the next
MERGE_FACTOR = 4
#: segments up to this many documents form the lowest tier
MIN_SEGMENT_DOCS = 512
#: a segment with this share of its documents deleted is rewritten without them
COMPACT_DELETED = 0.25
#: document frequencies remembered per index version (``coverage`` is called per candidate)
_DF_CACHE = 4096
_ID_MOD = 1 << 256


@dataclass(frozen=True)
class LogPosition:
    """Where in a catalog's change log (``Catalog.log_head``) an index was brought up to."""

    uid: str
    seq: int


@dataclass(frozen=True, eq=False)
class Segment:
    """Immutable: documents (sorted by id) with their lengths and term-major postings."""

    name: str
    ids: list[str]
    doc_len: np.ndarray        # (n,) int32: terms per document
    terms: dict[str, int]      # term -> local term number
    term_ptr: np.ndarray       # (T + 1,) int64: postings of term t are [term_ptr[t], term_ptr[t+1])
    post_doc: np.ndarray       # (P,) int32: document of each posting, ascending within a term
    post_tf: np.ndarray        # (P,) uint16/uint32: term frequency of each posting

    def __len__(self) -> int:
        return len(self.ids)

    def position(self, doc_id: str) -> int:
        """The local position of ``doc_id``, or -1."""
        i = bisect.bisect_left(self.ids, doc_id)
        return i if i < len(self.ids) and self.ids[i] == doc_id else -1

    # ------------------------------------------------------------------ build
    @classmethod
    def from_terms(cls, docs: Sequence[tuple[str, list[str]]]) -> Segment:
        """A segment of ``(id, terms)`` pairs (ids unique)."""
        docs = sorted(docs, key=lambda d: d[0])
        vocab: dict[str, int] = {}
        p_term, p_doc, p_tf = array("q"), array("i"), array("q")
        lengths = np.zeros(len(docs), dtype=np.int32)
        for n, (_, terms) in enumerate(docs):
            lengths[n] = len(terms)
            counts = Counter(terms)
            p_term.extend(vocab.setdefault(term, len(vocab)) for term in counts)
            p_doc.extend([n] * len(counts))
            p_tf.extend(counts.values())
        return cls._assemble([d[0] for d in docs], lengths, vocab, np.frombuffer(p_term, dtype=np.int64),
                             np.frombuffer(p_doc, dtype=np.int32), np.frombuffer(p_tf, dtype=np.int64))

    @classmethod
    def _assemble(cls, ids: list[str], lengths: np.ndarray, vocab: dict[str, int], p_term: np.ndarray,
                  p_doc: np.ndarray, p_tf: np.ndarray) -> Segment:
        """Sort postings term-major (documents ascending within a term)."""
        order = np.lexsort((p_doc, p_term))
        counts = np.bincount(p_term, minlength=len(vocab)) if len(vocab) else np.zeros(0, dtype=np.int64)
        term_ptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(counts, out=term_ptr[1:])
        tf_dtype = np.uint16 if (p_tf.size == 0 or int(p_tf.max()) <= np.iinfo(np.uint16).max) else np.uint32
        return cls(name=f"seg-{uuid.uuid4().hex}", ids=ids, doc_len=np.asarray(lengths, dtype=np.int32),
                   terms=vocab, term_ptr=term_ptr, post_doc=np.ascontiguousarray(p_doc[order], dtype=np.int32),
                   post_tf=np.ascontiguousarray(p_tf[order], dtype=tf_dtype))

    @classmethod
    def merged(cls, parts: Sequence[tuple[Segment, np.ndarray | None]]) -> Segment:
        """One segment of the live documents of ``parts`` ((segment, deleted mask or None))."""
        entries: list[tuple[str, int, int]] = []
        for k, (seg, deleted) in enumerate(parts):
            for i, doc_id in enumerate(seg.ids):
                if deleted is None or not deleted[i]:
                    entries.append((doc_id, k, i))
        entries.sort()
        remaps = [np.full(len(seg), -1, dtype=np.int64) for seg, _ in parts]
        lengths = np.zeros(len(entries), dtype=np.int32)
        for new, (_, k, i) in enumerate(entries):
            remaps[k][i] = new
            lengths[new] = parts[k][0].doc_len[i]
        vocab: dict[str, int] = {}
        terms_out, docs_out, tfs_out = [], [], []
        for (seg, _), remap in zip(parts, remaps):
            if not seg.terms:
                continue
            tmap = np.fromiter((vocab.setdefault(t, len(vocab)) for t in seg.terms), dtype=np.int64,
                               count=len(seg.terms))
            per_term = np.repeat(np.arange(len(seg.terms), dtype=np.int64), np.diff(seg.term_ptr))
            new_docs = remap[seg.post_doc]
            keep = new_docs >= 0
            terms_out.append(tmap[per_term[keep]])
            docs_out.append(new_docs[keep])
            tfs_out.append(seg.post_tf[keep].astype(np.int64))
        p_term = np.concatenate(terms_out) if terms_out else np.zeros(0, dtype=np.int64)
        del remaps
        p_doc = np.concatenate(docs_out) if docs_out else np.zeros(0, dtype=np.int64)
        p_tf = np.concatenate(tfs_out) if tfs_out else np.zeros(0, dtype=np.int64)
        # drop terms no live document holds any more, renumbering the rest
        used = np.bincount(p_term, minlength=len(vocab)) > 0 if len(vocab) else np.zeros(0, dtype=bool)
        if not used.all():
            renumber = np.cumsum(used) - 1
            vocab = {t: int(renumber[i]) for t, i in vocab.items() if used[i]}
            p_term = renumber[p_term]
        return cls._assemble([e[0] for e in entries], lengths, vocab, p_term, p_doc.astype(np.int32), p_tf)

    # ------------------------------------------------------------ persistence
    def save(self, path: Path) -> None:
        ids_blob = np.frombuffer("\n".join(self.ids).encode("utf-8"), dtype=np.uint8)
        terms_list = sorted(self.terms, key=self.terms.__getitem__)
        terms_blob = np.frombuffer("\n".join(terms_list).encode("utf-8"), dtype=np.uint8)
        tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
        with open(tmp, "wb") as f:
            np.savez(f, ids=ids_blob, n_ids=np.int64(len(self.ids)), terms=terms_blob,
                     n_terms=np.int64(len(terms_list)), doc_len=self.doc_len, term_ptr=self.term_ptr,
                     post_doc=self.post_doc, post_tf=self.post_tf)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, name: str) -> Segment:
        with np.load(path, allow_pickle=False) as z:
            ids = _split(z["ids"], int(z["n_ids"]))
            terms = _split(z["terms"], int(z["n_terms"]))
            return cls(name=name, ids=ids, doc_len=z["doc_len"], terms={t: i for i, t in enumerate(terms)},
                       term_ptr=z["term_ptr"], post_doc=z["post_doc"], post_tf=z["post_tf"])


def _split(blob: np.ndarray, n: int) -> list[str]:
    if n == 0:
        return []
    parts = blob.tobytes().decode("utf-8").split("\n")
    if len(parts) != n:
        raise ValueError(f"corrupt lexical segment: {len(parts)} entries, {n} expected")
    return parts


@dataclass(frozen=True, eq=False)
class _Part:
    """A segment as one index version sees it: with that version's deletions."""

    segment: Segment
    deleted: np.ndarray | None  # (n,) bool, None when nothing is deleted
    live: int
    live_len: int

    @classmethod
    def whole(cls, segment: Segment) -> _Part:
        return cls(segment, None, len(segment), int(segment.doc_len.sum(dtype=np.int64)))

    def without(self, positions: Sequence[int]) -> _Part:
        mask = np.zeros(len(self.segment), dtype=bool) if self.deleted is None else self.deleted.copy()
        fresh = [p for p in positions if not mask[p]]
        mask[fresh] = True
        gone_len = int(self.segment.doc_len[fresh].sum(dtype=np.int64)) if fresh else 0
        return _Part(self.segment, mask, self.live - len(fresh), self.live_len - gone_len)

    def live_postings(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        seg = self.segment
        start, end = int(seg.term_ptr[t]), int(seg.term_ptr[t + 1])
        docs, tfs = seg.post_doc[start:end], seg.post_tf[start:end]
        if self.deleted is not None:
            keep = ~self.deleted[docs]
            docs, tfs = docs[keep], tfs[keep]
        return docs, tfs


def _id_hash(doc_id: str) -> int:
    return int.from_bytes(hashlib.sha256(doc_id.encode()).digest(), "big")


class LexicalIndex:
    """BM25 over Analyzer terms in segments with tombstones; immutable (updates return a new
    index sharing the unchanged segments). Thread-safe to search."""

    def __init__(self, *, parts: Sequence[_Part], analyzer: Analyzer, k1: float, b: float,
                 stamp: str | None = None, position: LogPosition | None = None, id_sum: int | None = None) -> None:
        self._parts = tuple(p for p in parts if p.live > 0)
        self._analyzer = analyzer
        self._k1 = float(k1)
        self._b = float(b)
        self._label = stamp
        self._position = position
        self._n = sum(p.live for p in self._parts)
        self._total_len = sum(p.live_len for p in self._parts)
        if id_sum is None:
            id_sum = sum(_id_hash(i) for i in self._iter_ids()) % _ID_MOD
        self._id_sum = id_sum
        self._df_cache: dict[str, int] = {}

    # ------------------------------------------------------------------ build
    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str], *, stamp: str | None = None,
              analyzer: Analyzer | None = None, k1: float = 1.2, b: float = 0.75,
              position: LogPosition | None = None) -> LexicalIndex:
        """One segment of ``ids`` and ``texts`` (a full rebuild)."""
        ids_list = [str(i) for i in ids]
        if len(ids_list) != len(texts):
            raise ValueError(f"ids and texts differ in length ({len(ids_list)} != {len(texts)})")
        if len(set(ids_list)) != len(ids_list):
            seen: set[str] = set()
            dupes = sorted({i for i in ids_list if i in seen or seen.add(i)})
            raise ValueError(f"duplicate ids: {dupes[:10]}")
        analyzer = analyzer if analyzer is not None else Analyzer()
        segment = Segment.from_terms([(i, analyzer.analyze(t)) for i, t in zip(ids_list, texts)])
        return cls(parts=[_Part.whole(segment)] if len(segment) else [], analyzer=analyzer, k1=k1, b=b,
                   stamp=stamp, position=position)

    def with_segment(self, segment: Segment) -> LexicalIndex:
        """This index with ``segment`` (documents not in it yet) added."""
        return LexicalIndex(parts=[*self._parts, _Part.whole(segment)], analyzer=self._analyzer, k1=self._k1,
                            b=self._b, stamp=self._label, position=self._position,
                            id_sum=(self._id_sum + sum(_id_hash(i) for i in segment.ids)) % _ID_MOD)

    def updated(self, adds: Sequence[tuple[str, str]] = (), removes: Sequence[str] = (), *,
                position: LogPosition | None = None) -> LexicalIndex:
        """A new index with ``adds`` ((id, text)) added as one segment and ``removes`` deleted.
        An id already live is not added again (a chunk id names its text); a removed id that
        is not live is ignored. Costs what changes, not what the index holds."""
        gone: dict[int, list[int]] = {}
        id_sum = self._id_sum
        for doc_id in dict.fromkeys(removes):
            found = self._locate(doc_id)
            if found is not None:
                gone.setdefault(found[0], []).append(found[1])
                id_sum -= _id_hash(doc_id)
        parts = [p.without(gone[k]) if k in gone else p for k, p in enumerate(self._parts)]
        removed = set(removes)
        fresh: dict[str, str] = {}
        for doc_id, text in adds:
            if doc_id in fresh or (doc_id not in removed and self._locate(doc_id) is not None):
                continue
            fresh[doc_id] = text
        if fresh:
            segment = Segment.from_terms([(i, self._analyzer.analyze(t)) for i, t in fresh.items()])
            parts.append(_Part.whole(segment))
            id_sum += sum(_id_hash(i) for i in fresh)
        return LexicalIndex(parts=parts, analyzer=self._analyzer, k1=self._k1, b=self._b,
                            position=position if position is not None else self._position,
                            id_sum=id_sum % _ID_MOD)

    def _locate(self, doc_id: str) -> tuple[int, int] | None:
        for k, part in enumerate(self._parts):
            pos = part.segment.position(doc_id)
            if pos >= 0 and (part.deleted is None or not part.deleted[pos]):
                return k, pos
        return None

    def __contains__(self, doc_id: str) -> bool:
        return self._locate(doc_id) is not None

    # ------------------------------------------------------------------ merges
    def merge_plan(self) -> list[list[int]]:
        """Groups of segment numbers to merge now: ``MERGE_FACTOR`` segments of one size tier
        (tier: ``floor(log_F(live / MIN_SEGMENT_DOCS)) + 1``, 0 up to ``MIN_SEGMENT_DOCS``), or
        one segment with ``COMPACT_DELETED`` of its documents deleted."""
        tiers: dict[int, list[int]] = {}
        plan: list[list[int]] = []
        for k, part in enumerate(self._parts):
            if part.deleted is not None and len(part.segment) - part.live >= COMPACT_DELETED * len(part.segment):
                plan.append([k])
                continue
            tier = 0 if part.live <= MIN_SEGMENT_DOCS else int(
                math.log(part.live / MIN_SEGMENT_DOCS, MERGE_FACTOR)) + 1
            tiers.setdefault(tier, []).append(k)
        for tier in sorted(tiers):
            members = tiers[tier]
            while len(members) >= MERGE_FACTOR:
                plan.append(members[:MERGE_FACTOR])
                members = members[MERGE_FACTOR:]
        return plan

    def merged(self, group: Sequence[int]) -> LexicalIndex:
        """This index with the segments ``group`` merged into one (same live documents, same
        scores)."""
        group = sorted(set(group))
        segment = Segment.merged([(self._parts[k].segment, self._parts[k].deleted) for k in group])
        parts = [p for k, p in enumerate(self._parts) if k not in group]
        parts.insert(group[0], _Part.whole(segment))
        return LexicalIndex(parts=parts, analyzer=self._analyzer, k1=self._k1, b=self._b, stamp=self._label,
                            position=self._position, id_sum=self._id_sum)

    def merge_job(self) -> tuple[tuple[_Part, ...], Segment] | None:
        """The first due merge (:meth:`merge_plan`), done: (its source segments as this version
        holds them, the merged segment), for :meth:`with_merge` on a later version; None when
        none is due. Runs outside any lock: it reads only immutable data."""
        plan = self.merge_plan()
        if not plan:
            return None
        sources = tuple(self._parts[k] for k in plan[0])
        return sources, Segment.merged([(p.segment, p.deleted) for p in sources])

    def with_merge(self, sources: Sequence[_Part], segment: Segment) -> LexicalIndex | None:
        """This index with ``sources`` replaced by their merge ``segment``; None when any of
        them changed since (a deletion in it, or it was merged already): the merge is stale."""
        where = [next((k for k, p in enumerate(self._parts) if p is source), -1) for source in sources]
        if min(where, default=-1) < 0:
            return None
        parts = [p for k, p in enumerate(self._parts) if k not in where]
        parts.insert(min(where), _Part.whole(segment))
        return LexicalIndex(parts=parts, analyzer=self._analyzer, k1=self._k1, b=self._b, stamp=self._label,
                            position=self._position, id_sum=self._id_sum)

    def compacted(self) -> LexicalIndex:
        """Every due merge done (:meth:`merge_plan`), until none is due."""
        index = self
        while plan := index.merge_plan():
            index = index.merged(plan[0])
        return index

    # ----------------------------------------------------------------- search
    def _df(self, term: str) -> int:
        cached = self._df_cache.get(term)
        if cached is not None:
            return cached
        df = 0
        for part in self._parts:
            t = part.segment.terms.get(term)
            if t is None:
                continue
            if part.deleted is None:
                df += int(part.segment.term_ptr[t + 1] - part.segment.term_ptr[t])
            else:
                df += len(part.live_postings(t)[0])
        if len(self._df_cache) >= _DF_CACHE:
            self._df_cache.clear()
        self._df_cache[term] = df
        return df

    def search(self, query: str, k: int = 50) -> list[tuple[str, float]]:
        """Top ``k`` (id, BM25 score) pairs, best first (ties by id); only scores > 0."""
        if k <= 0 or self._n == 0:
            return []
        terms = [t for t in self._analyzer.analyze(query) if self._df(t) > 0]
        if not terms:
            return []
        n, avgdl, k1, b = self._n, self._total_len / self._n, self._k1, self._b
        idf = {t: math.log(1 + (n - self._df(t) + 0.5) / (self._df(t) + 0.5)) for t in set(terms)}
        found_scores: list[np.ndarray] = []
        found_where: list[tuple[int, np.ndarray]] = []
        for k_part, part in enumerate(self._parts):
            seg = part.segment
            scores: np.ndarray | None = None
            for term in terms:  # the query's order, repeats included (as bm25s sums them)
                t = seg.terms.get(term)
                if t is None:
                    continue
                start, end = int(seg.term_ptr[t]), int(seg.term_ptr[t + 1])
                docs = seg.post_doc[start:end]
                tf = seg.post_tf[start:end].astype(np.float64)
                dl = seg.doc_len[docs].astype(np.float64)
                if scores is None:
                    scores = np.zeros(len(seg), dtype=np.float64)
                scores[docs] += idf[term] * (tf / (k1 * ((1 - b) + b * dl / avgdl) + tf))
            if scores is None:
                continue
            hit = scores > 0
            if part.deleted is not None:
                hit &= ~part.deleted
            where = np.flatnonzero(hit)
            if where.size:
                found_scores.append(scores[where])
                found_where.append((k_part, where))
        if not found_scores:
            return []
        all_scores = np.concatenate(found_scores)
        if all_scores.size > k:
            kth = np.partition(all_scores, all_scores.size - k)[all_scores.size - k]
        else:
            kth = -np.inf
        candidates: list[tuple[float, str]] = []
        for (k_part, where), scores in zip(found_where, found_scores):
            keep = scores >= kth
            ids = self._parts[k_part].segment.ids
            candidates.extend((-float(s), ids[int(i)]) for s, i in zip(scores[keep], where[keep]))
        candidates.sort()
        return [(doc_id, -neg) for neg, doc_id in candidates[:k]]

    def coverage(self, query: str, text: str) -> float:
        """Share of ``query``'s terms, weighted by their IDF in this index, that ``text`` holds
        (0-1; 0 for a query with no terms). A term no indexed chunk holds weighs most: a
        question about a name the corpus never mentions is barely covered by any paragraph."""
        terms = set(self._analyzer.analyze(query))
        if not terms:
            return 0.0
        present = set(self._analyzer.analyze(text))
        total = held = 0.0
        for term in terms:
            weight = math.log((self._n + 1) / (self._df(term) + 0.5))
            total += weight
            held += weight if term in present else 0.0
        return held / total if total > 0 else 0.0

    # ------------------------------------------------------------ persistence
    def save(self, directory: Path, *, only_if_newer: bool = False) -> bool:
        """Write the index to ``directory``: the segments and tombstones not there yet, then
        the manifest (atomically), then remove what no manifest names. With ``only_if_newer``
        nothing is written when the saved index is of the same catalog and further along its
        log (another process or thread saved a newer one). Returns whether it wrote."""
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        with _locked(target):
            if only_if_newer and self._position is not None:
                saved = _read_manifest(target)
                pos = (saved or {}).get("position")
                if pos and pos.get("uid") == self._position.uid and int(pos.get("seq", -1)) > self._position.seq:
                    return False
            segments = []
            for part in self._parts:
                seg_file = f"{part.segment.name}.npz"
                if not (target / seg_file).is_file():
                    part.segment.save(target / seg_file)
                deleted_file = None
                if part.deleted is not None:
                    positions = np.flatnonzero(part.deleted).astype(np.int32)
                    digest = hashlib.sha256(positions.tobytes()).hexdigest()[:16]
                    deleted_file = f"{part.segment.name}.del-{digest}.npy"
                    if not (target / deleted_file).is_file():
                        tmp = target / f".{deleted_file}.tmp-{uuid.uuid4().hex}"
                        with open(tmp, "wb") as f:
                            np.save(f, positions)
                            f.flush()
                            os.fsync(f.fileno())
                        os.replace(tmp, target / deleted_file)
                segments.append({"name": part.segment.name, "docs": len(part.segment), "deleted": deleted_file})
            meta: dict[str, Any] = {
                "format": _FORMAT,
                "stamp": self._label,
                "position": None if self._position is None else {"uid": self._position.uid,
                                                                 "seq": self._position.seq},
                "k1": self._k1,
                "b": self._b,
                "analyzer": self._analyzer.config(),
                "id_sum": format(self._id_sum, "x"),
                "segments": segments,
            }
            fd, tmp_name = tempfile.mkstemp(prefix=f".{_MANIFEST}.tmp-", dir=target)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(meta, f, ensure_ascii=False)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp_name, target / _MANIFEST)
            keep = {_MANIFEST, _LOCK} | {s["name"] + ".npz" for s in segments} | {
                s["deleted"] for s in segments if s["deleted"]}
            for entry in target.iterdir():
                if entry.name in keep:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
        return True

    @classmethod
    def load(cls, directory: Path, *, analyzer: Analyzer | None = None, attempts: int = 5) -> LexicalIndex:
        """Load an index written by :meth:`save`; FileNotFoundError if missing (or written by
        an older version). Without ``analyzer`` the analyzer settings stored with it are used."""
        directory = Path(directory)
        for attempt in range(attempts):
            meta = _read_manifest(directory)
            if meta is None:
                raise FileNotFoundError(f"no lexical index at {directory}")
            if meta.get("format") != _FORMAT:
                raise FileNotFoundError(f"the lexical index at {directory} has format {meta.get('format')!r}")
            try:
                parts = []
                for entry in meta["segments"]:
                    segment = Segment.load(directory / f"{entry['name']}.npz", entry["name"])
                    if len(segment) != int(entry["docs"]):
                        raise ValueError(f"corrupt lexical index at {directory}: segment {entry['name']}")
                    part = _Part.whole(segment)
                    if entry.get("deleted"):
                        positions = np.load(directory / entry["deleted"], allow_pickle=False)
                        part = part.without(positions.tolist())
                    parts.append(part)
            except FileNotFoundError:
                if attempt + 1 == attempts:
                    raise
                continue  # a save replaced the manifest and removed its files meanwhile: read again
            pos = meta.get("position")
            return cls(parts=parts, analyzer=analyzer or Analyzer(**meta.get("analyzer", {})),
                       k1=float(meta["k1"]), b=float(meta["b"]), stamp=meta.get("stamp"),
                       position=LogPosition(str(pos["uid"]), int(pos["seq"])) if pos else None,
                       id_sum=int(meta["id_sum"], 16) if meta.get("id_sum") else None)
        raise FileNotFoundError(f"no lexical index at {directory}")  # pragma: no cover

    # ------------------------------------------------------------- accessors
    @property
    def stamp(self) -> str:
        """The label it was built with, else a digest of its live ids (order-free: two indexes
        of the same chunks have the same stamp however they were built)."""
        return self._label if self._label is not None else format(self._id_sum, "064x")

    @property
    def position(self) -> LogPosition | None:
        return self._position

    @property
    def ids(self) -> list[str]:
        return list(self._iter_ids())

    def _iter_ids(self) -> Iterator[str]:
        for part in self._parts:
            if part.deleted is None:
                yield from part.segment.ids
            else:
                yield from (i for i, gone in zip(part.segment.ids, part.deleted) if not gone)

    @property
    def analyzer(self) -> Analyzer:
        return self._analyzer

    @property
    def segments(self) -> list[tuple[int, int]]:
        """(documents, live documents) of each segment, oldest first."""
        return [(len(p.segment), p.live) for p in self._parts]

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"LexicalIndex(docs={self._n}, segments={len(self._parts)}, stamp={self.stamp[:12]!r})"


def _read_manifest(directory: Path) -> dict[str, Any] | None:
    try:
        with open(directory / _MANIFEST, encoding="utf-8") as f:
            return json.load(f)
    except (FileNotFoundError, NotADirectoryError):
        return None


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One saver at a time per directory (processes and threads)."""
    fd = os.open(directory / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
