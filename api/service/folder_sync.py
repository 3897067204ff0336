"""``SANAD_WATCH_DIRS``: the server keeps its index in sync with folders (``index.watch``).

The sync's writes go through the service exactly as an upload's do: the upload Indexer (its
own copy of the model by default, so questions keep being answered while a burst is embedded),
under the service's write lock, then ``Answerer.reload`` so the new version is read. The
uploads folder is part of the corpus the reconciliation checks (its documents are never pruned
by it). One process per data dir syncs (``sanad serve --workers N``: the others stand by).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Sequence

from index.indexer import IndexReport, SourceFile
from index.watch import FolderSync, WatchOptions

if TYPE_CHECKING:
    from index.catalog import Catalog
    from index.indexer import Indexer
    from qa.answerer import Answerer
    from settings import Settings


class SyncHost(Protocol):
    """What the sync needs of the service (``api.service.service.Service``)."""

    settings: Settings
    read_lock: threading.Lock
    catalog: Catalog | None

    @property
    def write_lock(self) -> threading.Lock | threading.RLock: ...

    def require_answerer(self) -> Answerer: ...

    def require_indexer(self) -> Indexer: ...

    def documents_changed(self) -> None: ...


class ServiceTarget:
    """:class:`index.watch.SyncTarget` on the service: its indexer, its locks, then a reload."""

    def __init__(self, host: SyncHost) -> None:
        self.host = host

    def update(self, sources: Sequence[SourceFile], removed: Sequence[str]) -> IndexReport:
        return self._write(lambda indexer: indexer.update(sources, removed))

    def reconcile(self, paths: Sequence[Path], *, prune: bool) -> IndexReport:
        return self._write(lambda indexer: indexer.index(paths, prune=prune))

    def manifest(self) -> dict[str, str]:
        assert self.host.catalog is not None
        with self.host.read_lock:
            return self.host.catalog.manifest()

    def _write(self, work) -> IndexReport:  # noqa: ANN001 - Callable[[Indexer], IndexReport]
        answerer = self.host.require_answerer()
        indexer = self.host.require_indexer()
        with self.host.write_lock:
            report = work(indexer)
        if report.added or report.changed or report.removed:
            answerer.reload()
            self.host.documents_changed()
        return report


def start_folder_sync(host: SyncHost) -> FolderSync:
    settings = host.settings
    return FolderSync(settings.watch_dirs, ServiceTarget(host), options=WatchOptions.from_settings(settings),
                      also=[settings.uploads_dir], lock_path=settings.data_dir / "watch.lock").start()


__all__ = ["ServiceTarget", "SyncHost", "start_folder_sync"]
