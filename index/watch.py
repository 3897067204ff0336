"""Folder sync: folders whose files are indexed or removed by themselves (``sanad index --watch``,
``SANAD_WATCH_DIRS`` in ``sanad serve``).

Events come from watchfiles (inotify and its kin, through Rust's ``notify``). They are not acted on
one by one: each path changed waits in :class:`FolderSync`'s pending map until it has been quiet
for ``watch_settle_s`` *and* its size and modification time did not move over that span (a file
still being copied or written waits), so a burst (500 files copied in, an editor's
write-temp-then-rename) comes out as few batches in which each file appears once. A batch goes to
the :class:`SyncTarget` as one :meth:`~index.indexer.Indexer.update`: the indexer's own
incremental writes (a file whose hash is the indexed one is not embedded again; a crash at any
point is put right by the next run), so nothing here writes to the stores itself.

Hidden files and folders (``.x``), temporary files (``~$x.docx``, ``x~``, ``x.tmp``, ``x.part``,
``x.swp``, ``#x#``, ...) and unsupported types are ignored. A folder that appears (moved in) is
walked; a path that disappears takes every document under it away.

A full reconciliation (the folders against the catalog's hashes: :meth:`Indexer.index` with
pruning) runs at start and every ``watch_reconcile_s``, so a missed event or a change made while
nothing watched is caught. Removal is guarded: when more than ``watch_max_removed_share`` of the
indexed documents (and more than one) would go at once, as when a folder is deleted or a mount is
lost, nothing is removed: sync pauses, logs a warning, keeps indexing new and changed files, and
its status (``/readyz``'s ``watch``) says ``paused`` until a reconciliation finds the files back
(or an explicit ``sanad index`` has removed them).

Only one process syncs a data dir at a time (a lock file beside the index lock; the others, e.g.
the other workers of ``sanad serve --workers N``, stand by and take over if it goes).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from watchfiles import Change, watch

from index.indexer import Indexer, IndexReport, SourceFile, discover, ignored_name
from index.readers import SUPPORTED_SUFFIXES
from settings import StoreSettings

log = logging.getLogger("sanad.watch")

#: a file's size and modification time: unchanged over the settle span means it is written
Signature = tuple[int, int] | None
#: how often the worker looks at the pending paths (seconds)
TICK_S = 0.2
#: paths handed to one Indexer.update at most (a commit and a reload between batches)
BATCH_FILES = 32
#: while paused, how often the folders are reconciled to see whether the files are back
PAUSED_RECONCILE_S = 10.0
#: the watcher is restarted after this long when it fails (a lost mount, a folder not there yet)
WATCH_RETRY_S = 5.0


def ignored_path(path: Path, root: Path) -> bool:
    """Hidden or temporary, anywhere on the way from ``root``."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return True
    return any(ignored_name(part) for part in parts)


def _signature(path: Path) -> Signature:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns) if not os.path.isdir(path) else (-1, st.st_mtime_ns)


class SyncTarget(Protocol):
    """Where a sync's work goes: an :class:`~index.indexer.Indexer` (``sanad index --watch``) or
    the server's service, which holds its locks around the same calls and reloads after."""

    def update(self, sources: Sequence[SourceFile], removed: Sequence[str]) -> IndexReport:
        """Index these files and remove these documents (``Indexer.update``)."""
        ...

    def reconcile(self, paths: Sequence[Path], *, prune: bool) -> IndexReport:
        """Bring the index in line with ``paths`` (``Indexer.index``)."""
        ...

    def manifest(self) -> dict[str, str]:
        """The indexed documents: file name -> sha256."""
        ...


class IndexerTarget:
    """A :class:`SyncTarget` on an Indexer of this process (``sanad index --watch``)."""

    def __init__(self, indexer: Indexer, *, on_report: Callable[[IndexReport], None] | None = None) -> None:
        self.indexer = indexer
        self.on_report = on_report

    def update(self, sources: Sequence[SourceFile], removed: Sequence[str]) -> IndexReport:
        return self._seen(self.indexer.update(sources, removed))

    def reconcile(self, paths: Sequence[Path], *, prune: bool) -> IndexReport:
        return self._seen(self.indexer.index(paths, prune=prune))

    def manifest(self) -> dict[str, str]:
        return self.indexer.catalog.manifest()

    def _seen(self, report: IndexReport) -> IndexReport:
        if self.on_report is not None:
            self.on_report(report)
        return report


@dataclass
class SyncStats:
    """What a sync has done since it started."""

    files_indexed: int = 0        # added or changed (each file version embedded once)
    files_removed: int = 0
    chunks_embedded: int = 0
    batches: int = 0
    reconciliations: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    last_sync: float | None = None


@dataclass(frozen=True)
class WatchOptions:
    settle_s: float = 1.0
    reconcile_s: float = 300.0
    max_removed_share: float = 0.5

    @classmethod
    def from_settings(cls, settings: StoreSettings) -> WatchOptions:
        return cls(settle_s=settings.watch_settle_s, reconcile_s=settings.watch_reconcile_s,
                   max_removed_share=settings.watch_max_removed_share)


class FolderSync:
    """Keeps the index in line with ``roots`` (folders), in two background threads.

    ``also``: more corpus paths that are part of the corpus but not watched (the uploads folder:
    a reconciliation must not prune its documents). ``lock_path``: the file whose lock makes
    this process the one that syncs (None: no such check).
    """

    def __init__(self, roots: Sequence[Path], target: SyncTarget, *, options: WatchOptions = WatchOptions(),
                 also: Sequence[Path] = (), lock_path: Path | None = None) -> None:
        self.roots = [Path(r).absolute() for r in roots]
        self.target = target
        self.options = options
        self.also = [Path(p) for p in also]
        self.lock_path = lock_path
        self.stats = SyncStats()
        self._pending: dict[Path, tuple[Signature, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock_fd: int | None = None
        self._state = "starting"
        self._reason: str | None = None
        self._paused: str | None = None
        self._next_reconcile = 0.0  # at start
        self._busy = False

    # --- life ----------------------------------------------------------------------------
    def start(self) -> FolderSync:
        for name, target in (("sanad-watch-events", self._watch_loop), ("sanad-watch-sync", self._sync_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        self._state = "stopped"

    def run(self) -> None:
        """Sync until interrupted (Ctrl-C), in the foreground."""
        self.start()
        try:
            while not self._stop.wait(0.5):
                pass
        finally:
            self.stop()

    def reconcile_now(self) -> None:
        """Have a full reconciliation run next."""
        self._next_reconcile = 0.0
        self._wake.set()

    # --- status ------------------------------------------------------------------------------
    @property
    def paused(self) -> str | None:
        """Why removals are held back, or None."""
        return self._paused

    def idle(self) -> bool:
        """Nothing pending, nothing being written, and the first reconciliation done."""
        with self._lock:
            return not self._pending and not self._busy and self.stats.reconciliations > 0

    def wait_idle(self, timeout: float, *, quiet_s: float = 0.0) -> bool:
        """Wait until :meth:`idle` (and has stayed so ``quiet_s``); False on timeout."""
        deadline = time.monotonic() + timeout
        since: float | None = None
        while time.monotonic() < deadline:
            if self.idle():
                since = since or time.monotonic()
                if time.monotonic() - since >= quiet_s:
                    return True
            else:
                since = None
            time.sleep(0.05)
        return False

    def status(self) -> dict[str, Any]:
        """For ``/readyz``: ``status`` is ``starting``, ``watching``, ``paused``, ``standby`` (another
        process syncs this data dir) or ``failed``; ``reason`` says why when paused or failed."""
        with self._lock:
            pending = len(self._pending)
        state = "paused" if self._paused and self._state == "watching" else self._state
        out: dict[str, Any] = {"status": state, "folders": [str(r) for r in self.roots], "pending": pending,
                               "files_indexed": self.stats.files_indexed, "files_removed": self.stats.files_removed,
                               "chunks_embedded": self.stats.chunks_embedded, "last_sync": self.stats.last_sync}
        reason = self._paused if state == "paused" else self._reason
        if reason:
            out["reason"] = reason
        return out

    # --- events --------------------------------------------------------------------------------
    def _filter(self, change: Change, path: str) -> bool:
        return not ignored_name(os.path.basename(path))

    def _watch_loop(self) -> None:
        while not self._stop.is_set():
            roots = [r for r in self.roots if r.is_dir()]
            if not roots:
                self._stop.wait(WATCH_RETRY_S)
                continue
            try:
                for changes in watch(*roots, watch_filter=self._filter, debounce=800, step=50,
                                     stop_event=self._stop, rust_timeout=1000, yield_on_timeout=True,
                                     raise_interrupt=False, ignore_permission_denied=True):
                    for _, raw in changes:
                        self.note(Path(raw))
                    if set(roots) != {r for r in self.roots if r.is_dir()}:
                        break  # a folder came or went: watch again (and reconcile: events were missed)
            except Exception:  # noqa: BLE001 - a lost mount or a folder gone: retry, reconcile after
                log.warning("watching %s failed; retrying in %.0f s", ", ".join(map(str, roots)), WATCH_RETRY_S,
                            exc_info=True)
                self._stop.wait(WATCH_RETRY_S)
            self.reconcile_now()

    def note(self, path: Path) -> None:
        """A change at ``path`` (absolute): (re)start its settle span."""
        with self._lock:
            self._pending[path] = (_signature(path), time.monotonic())
        self._wake.set()

    def _settled(self) -> list[Path]:
        """The pending paths quiet for the settle span and unchanged over it (taken out)."""
        now = time.monotonic()
        with self._lock:
            due = [(p, sig) for p, (sig, t) in self._pending.items() if now - t >= self.options.settle_s]
        ready = []
        for path, sig in due:
            current = _signature(path)
            with self._lock:
                if self._pending.get(path, (None, -1.0))[0] != sig:
                    continue  # noted again meanwhile
                if current != sig:  # still being written: wait another span
                    self._pending[path] = (current, now)
                    continue
                del self._pending[path]
            ready.append(path)
        return ready

    # --- work ------------------------------------------------------------------------------------
    def _sync_loop(self) -> None:
        _lower_priority()
        while not self._stop.is_set():
            if not self._leader():
                self._state = "standby"
                self._stop.wait(WATCH_RETRY_S)
                continue
            with self._lock:
                self._busy = True
            try:
                if time.monotonic() >= self._next_reconcile:
                    self._reconcile()
                ready = self._settled()
                while ready and not self._stop.is_set():
                    batch, ready = ready[:BATCH_FILES], ready[BATCH_FILES:]
                    self._apply(batch)
                if self._state != "failed":
                    self._state = "watching"
            except Exception as exc:  # noqa: BLE001 - logged, shown in the status; tried again
                log.exception("folder sync failed")
                self._state, self._reason = "failed", f"{exc.__class__.__name__}: {exc}"
                self._next_reconcile = time.monotonic() + WATCH_RETRY_S
            else:
                if self._state == "failed":
                    self._state, self._reason = "watching", None
            finally:
                with self._lock:
                    self._busy = False
            self._wake.wait(TICK_S)
            self._wake.clear()

    def _leader(self) -> bool:
        if self.lock_path is None or self._lock_fd is not None:
            return True
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        self.reconcile_now()
        return True

    def _root_of(self, path: Path) -> Path | None:
        roots = [r for r in self.roots if r == path or r in path.parents]
        return max(roots, key=lambda r: len(r.parts)) if roots else None

    def _too_many(self, removed: int, indexed: int) -> bool:
        return removed > 1 and removed > self.options.max_removed_share * max(indexed, 1)

    def _pause(self, removed: int, indexed: int, why: str) -> None:
        reason = (f"{removed} of {indexed} indexed documents vanished at once ({why}); nothing was removed. "
                  "Sync resumes when the files are back; run `sanad index` to remove them on purpose")
        if self._paused != reason:
            log.warning("folder sync paused: %s", reason)
        self._paused = reason

    def _apply(self, paths: Sequence[Path]) -> None:
        """Index the settled files, remove the documents of the paths gone (unless too many)."""
        manifest = self.target.manifest()
        sources: dict[str, SourceFile] = {}
        removed: set[str] = set()
        for path in paths:
            root = self._root_of(path)
            if root is None or ignored_path(path, root) or path == root:
                continue
            rel = path.relative_to(root).as_posix()
            if path.is_dir():
                found, _ = discover([path])  # a folder moved in: its files, named from the root
                for source in found:
                    name = f"{rel}/{source.file}"
                    sources[name] = SourceFile(name, source.path)
            elif path.is_file():
                if path.suffix.lower() in SUPPORTED_SUFFIXES:
                    sources[rel] = SourceFile(rel, path)
            else:
                removed |= {f for f in manifest if f == rel or f.startswith(rel + "/")}
        removed -= set(sources)
        if removed and (self._paused or self._too_many(len(removed), len(manifest))):
            self._pause(len(removed), len(manifest), "events")
            removed = set()
        if not sources and not removed:
            return
        report = self.target.update([sources[k] for k in sorted(sources)], sorted(removed))
        self._count(report)
        self.stats.batches += 1

    def _reconcile(self) -> None:
        """The folders against the catalog's hashes (removals guarded)."""
        present = [r for r in self.roots if r.is_dir()]
        paths = present + [p for p in self.also if p.exists()]
        manifest = self.target.manifest()
        seen = {s.file for s in discover(paths)[0]} if paths else set()
        gone = set(manifest) - seen
        missing = [str(r) for r in self.roots if r not in present]
        if gone and (self._too_many(len(gone), len(manifest)) or missing):
            why = f"folder missing: {', '.join(missing)}" if missing else "reconciliation"
            self._pause(len(gone), len(manifest), why)
            report = self.target.reconcile(paths, prune=False) if paths else IndexReport()
        else:
            if self._paused:
                log.warning("folder sync resumed: the files are back")
            self._paused = None
            report = self.target.reconcile(paths, prune=True) if paths else IndexReport()
        self._count(report)
        self.stats.reconciliations += 1
        interval = PAUSED_RECONCILE_S if self._paused else self.options.reconcile_s
        self._next_reconcile = time.monotonic() + interval if interval > 0 else float("inf")

    def _count(self, report: IndexReport) -> None:
        self.stats.files_indexed += len(report.added) + len(report.changed)
        self.stats.files_removed += len(report.removed)
        self.stats.chunks_embedded += report.chunks_embedded
        self.stats.errors.update(report.errors)
        if report.added or report.changed or report.removed:
            self.stats.last_sync = time.time()
            log.info("folder sync: %s", report.summary())
        for file, message in report.errors.items():
            log.warning("folder sync skipped %s: %s", file, message)


def _lower_priority() -> None:
    """Run this thread at a lower CPU priority (Linux: niceness is per thread), so questions
    answered on the same cores go first while a burst is embedded."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (OSError, AttributeError):
        pass


__all__ = ["FolderSync", "IndexerTarget", "SyncStats", "SyncTarget", "WatchOptions", "ignored_path"]
