"""The lexical index kept in step with its catalog, at the cost of what changed.

The BM25 index (:mod:`index.lexical`) is derived data. The catalog logs the id of every
chunk it inserts or deletes (``Catalog.changed_since``), and an index records how far along
that log it is (its :class:`~index.lexical.LogPosition`). Bringing an index up to date
(:func:`catch_up`) reads the ids logged since, looks them up in the catalog (present: add
it unless it is there already, a chunk id naming its text; absent: delete it) and adds them
as one small segment: the cost of an upload or a delete does not grow with the corpus. Only
an index of another catalog, or one further behind than the log reaches
(``index.catalog.LOG_KEEP`` changes), is rebuilt whole (:func:`lexical_from_catalog`).

:class:`LexicalFollower` does this for a serving process in one background thread (from its
own catalog connection, inside one snapshot) and hands each new index over with a single
attribute swap; requests use the previous index until then, which is safe because retrieval
keeps only chunk ids its catalog snapshot knows. Segment merges (``LexicalIndex.merge_job``)
run in a second thread and are installed only if their segments did not change meanwhile,
so an update never waits for a merge. When an indexer of the same process asks
(:meth:`LexicalFollower.refresh`, the indexer's hook) the follower also saves the index:
only its new segments and tombstones are written.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable, Protocol

from index.arabic import Analyzer
from index.catalog import Catalog
from index.lexical import LexicalIndex, LogPosition, Segment

log = logging.getLogger("sanad.lexical")

#: documents analysed per segment while an index is rebuilt whole (bounds the memory of a rebuild)
REBUILD_BATCH = 100_000


class LexicalKeeper(Protocol):
    """What an :class:`~index.indexer.Indexer` calls after each commit: bring the saved
    lexical index up to the committed catalog."""

    def refresh(self) -> LexicalIndex: ...


def lexical_from_catalog(catalog: Catalog, *, analyzer: Analyzer | None = None) -> LexicalIndex:
    """The BM25 index of ``catalog``'s committed chunks, built whole (call inside a snapshot)."""
    analyzer = analyzer if analyzer is not None else Analyzer()
    uid, head = catalog.log_position()
    segments: list[Segment] = []
    batch: list[tuple[str, list[str]]] = []
    for record in catalog.iter_chunks():
        batch.append((record.id, analyzer.analyze(record.text)))
        if len(batch) >= REBUILD_BATCH:
            segments.append(Segment.from_terms(batch))
            batch = []
    if batch or not segments:
        segments.append(Segment.from_terms(batch))
    whole = segments[0] if len(segments) == 1 else Segment.merged([(s, None) for s in segments])
    index = LexicalIndex.build([], [], analyzer=analyzer, position=LogPosition(uid, head))
    return index.with_segment(whole)


def catch_up(index: LexicalIndex, catalog: Catalog) -> LexicalIndex | None:
    """``index`` brought to ``catalog``'s last change (call inside a snapshot), or None when
    it cannot be from the log (another catalog, or further behind than the log reaches)."""
    uid, head = catalog.log_position()
    position = index.position
    if position is None or position.uid != uid or position.seq > head:
        return None
    if position.seq == head:
        return index
    changed = catalog.changed_since(position.seq)
    if changed is None:
        return None
    present = catalog.chunks(changed)
    adds = [(cid, present[cid].text) for cid in changed if cid in present]
    removes = [cid for cid in changed if cid not in present]
    return index.updated(adds, removes, position=LogPosition(uid, head))


def current_lexical(catalog: Catalog, directory: Path, *, save: bool,
                    index: LexicalIndex | None = None) -> LexicalIndex:
    """``index`` (else the one saved in ``directory``) brought up to the catalog, else one
    rebuilt whole; saved there when ``save`` (the indexer does, a reader never writes), with
    its due merges done first."""
    with catalog.snapshot():
        if index is None:
            try:
                index = LexicalIndex.load(directory)
            except (FileNotFoundError, ValueError) as exc:
                log.info("rebuilding the lexical index: %s", exc)
        current = catch_up(index, catalog) if index is not None else None
        if current is None:
            current = lexical_from_catalog(catalog)
    if save:
        current = current.compacted()
        current.save(directory, only_if_newer=True)
    return current


class SavedLexical:
    """The keeper of a process with no follower (``sanad index``): keeps the index in memory
    between commits, brings it up to date and saves what changed."""

    def __init__(self, catalog: Catalog, directory: Path) -> None:
        self.catalog = catalog
        self.directory = directory
        self._index: LexicalIndex | None = None

    def refresh(self) -> LexicalIndex:
        self._index = current_lexical(self.catalog, self.directory, save=True, index=self._index)
        return self._index


class LexicalFollower:
    """Keeps a catalog's lexical index current in a background thread whenever :meth:`request`-ed.

    ``on_built`` receives each new index (updates and merges). Requests made while an update
    runs lead to one more afterwards, so the last index built always reflects the last
    request. ``initial``: the index to follow from (else loaded or rebuilt on first request);
    ``directory``: where :meth:`refresh` saves it.
    """

    def __init__(self, catalog_path: Path, *, on_built: Callable[[LexicalIndex], None],
                 initial: LexicalIndex | None = None, directory: Path | None = None) -> None:
        self.catalog_path = catalog_path
        self.on_built = on_built
        self.directory = directory
        self.current = initial
        self._persist = False  # set once an indexer of this process asks (refresh)
        self._install = threading.Lock()  # updates and merges swap the current index under it
        self._cond = threading.Condition()
        self._wanted = False
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._merge_wanted = threading.Event()
        self._merger: threading.Thread | None = None
        self._probe_lock = threading.Lock()
        self._probe: Catalog | None = None

    def request(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._wanted = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sanad-lexical", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every request so far is built; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not (self._wanted or self._busy) or self._closed, timeout)

    def rebuild_now(self, timeout: float | None = None) -> bool:
        """Bring the index up to the catalog now and wait for it (at once when it is)."""
        if self._is_current():
            return True
        self.request()
        return self.wait(timeout)

    def refresh(self) -> LexicalIndex:
        """The indexer's hook (:class:`LexicalKeeper`): up to date now, and saved from now on."""
        self._persist = self.directory is not None
        if not self.rebuild_now(timeout=600):
            raise TimeoutError("the lexical index was not brought up to date in 600 s")
        self._save()
        assert self.current is not None
        return self.current

    def _is_current(self) -> bool:
        current = self.current
        if current is None or current.position is None:
            return False
        with self._probe_lock:
            if self._closed:
                return True
            if self._probe is None:
                self._probe = Catalog(self.catalog_path)
            uid, head = self._probe.log_position()
        return current.position == LogPosition(uid, head)

    def _save(self) -> None:
        index = self.current
        if not self._persist or index is None or self.directory is None:
            return
        try:
            index.save(self.directory, only_if_newer=True)
        except Exception:  # noqa: BLE001 - derived data: rebuilt from the catalog when missing
            log.warning("could not save the lexical index in %s", self.directory, exc_info=True)

    def _publish(self, index: LexicalIndex) -> None:
        self.current = index
        self.on_built(index)
        if index.merge_plan():
            self._start_merges()

    def _run(self) -> None:
        catalog = Catalog(self.catalog_path)
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._wanted or self._closed)
                    if self._closed:
                        return
                    self._wanted, self._busy = False, True
                try:
                    with self._install:
                        with catalog.snapshot():
                            base = self.current
                            if base is None:
                                try:
                                    base = LexicalIndex.load(self.directory) if self.directory else None
                                except (FileNotFoundError, ValueError):
                                    base = None
                            lexical = catch_up(base, catalog) if base is not None else None
                            if lexical is None:
                                log.info("rebuilding the lexical index from the catalog")
                                lexical = lexical_from_catalog(catalog)
                        if lexical is not self.current:
                            self._publish(lexical)
                    self._save()
                except Exception:  # noqa: BLE001 - keep serving the previous index
                    log.exception("updating the lexical index failed")
                finally:
                    with self._cond:
                        self._busy = False
                        self._cond.notify_all()
        finally:
            catalog.close()

    # ------------------------------------------------------------------ merges
    def _start_merges(self) -> None:
        self._merge_wanted.set()
        if self._merger is None:
            self._merger = threading.Thread(target=self._merge_loop, name="sanad-lexical-merge", daemon=True)
            self._merger.start()

    def _merge_loop(self) -> None:
        while self._merge_wanted.wait():
            self._merge_wanted.clear()
            while not self._closed:
                base = self.current
                job = base.merge_job() if base is not None else None
                if job is None:
                    break
                try:
                    with self._install:
                        merged = self.current.with_merge(*job) if self.current is not None else None
                        if merged is not None:
                            self.current = merged
                            self.on_built(merged)
                    if merged is not None:
                        self._save()
                except Exception:  # noqa: BLE001 - the segments stay as they are
                    log.exception("merging lexical segments failed")
                    break
            if self._closed:
                return

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._merge_wanted.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._merger is not None:
            self._merger.join(timeout=10)
        with self._probe_lock:
            if self._probe is not None:
                self._probe.close()
                self._probe = None
