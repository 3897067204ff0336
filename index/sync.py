"""Server mode: a replica's local catalog is a cache of the catalog the Chroma server holds.

Every process (each ``sanad serve`` replica, ``sanad ask``, ``sanad index``) keeps the
catalog in ``<data dir>/catalog.sqlite3`` as before, but in server mode that file is only a
cache of the server's ``<collection>_catalog`` (:mod:`index.shared_catalog`):

- :meth:`CatalogSync.refresh` reads the server's manifest version (one small request,
  about 2 ms on a local server) and, when it moved, fetches the document records that
  changed and applies them, with the removals and the new version, in **one** SQLite
  transaction. A reader in a snapshot (``Catalog.snapshot``) sees the old or the new
  version, never a mix; the lexical index is rebuilt from the cache afterwards.
- a record that disappears while it is being fetched means a newer commit replaced it: the
  sync starts over from the newer manifest.

The cache remembers which server and collection it mirrors (meta ``source``); pointed at
another one it starts over. A data dir that holds an embedded index is never turned into a
cache (that would drop the embedded catalog): server mode refuses it.
"""

from __future__ import annotations

import logging
import threading
import time

from index.catalog import Catalog
from settings import StoreSettings
from index.shared_catalog import Manifest, MissingRecords, SharedCatalog, SharedCatalogError, source_id

log = logging.getLogger("sanad.sync")

#: local catalog meta keys
SOURCE_KEY = "source"
VERSION_KEY = "server_version"
EMBEDDED_SOURCE = "embedded"


class CacheSourceError(SharedCatalogError):
    """The data dir holds an index of another kind (embedded vs server); the message says what to do."""

    code = "cache_source_mismatch"


def check_cache_source(catalog: Catalog, settings: StoreSettings) -> None:
    """Make ``catalog`` fit this mode: refuse a mismatch, or reset a cache of another server."""
    wanted = source_id(settings) if settings.chroma_url else EMBEDDED_SOURCE
    have = catalog.get_meta(SOURCE_KEY)
    if have == wanted:
        return
    has_documents = catalog.counts()["documents"] > 0
    if have is None and not has_documents:
        catalog.set_meta(SOURCE_KEY, wanted)
        return
    have = have or EMBEDDED_SOURCE  # catalogs written before server mode existed
    if have == wanted:  # an embedded index from before server mode existed: adopt it
        catalog.set_meta(SOURCE_KEY, wanted)
        return
    if wanted == EMBEDDED_SOURCE:
        raise CacheSourceError(
            f"{settings.data_dir} holds a cache of the Chroma server catalog {have.removeprefix('chroma:')}, "
            "not an embedded index; set SANAD_CHROMA_URL again or use another SANAD_DATA_DIR")
    if have == EMBEDDED_SOURCE:
        raise CacheSourceError(
            f"{settings.data_dir} holds an embedded index; with SANAD_CHROMA_URL set it would only be a "
            "cache of the server's catalog: use another SANAD_DATA_DIR for server mode")
    log.info("the catalog cache in %s mirrored %s; starting over for %s", settings.data_dir, have, wanted)
    catalog.clear()
    catalog.set_meta(SOURCE_KEY, wanted)


def sync_catalog(shared: SharedCatalog, catalog: Catalog, *, attempts: int = 5) -> Manifest:
    """Bring ``catalog`` to the server's committed manifest (one transaction); returns it."""
    for attempt in range(attempts):
        manifest = shared.read_manifest()
        with catalog.snapshot():  # the diff's base: the local version and its files, together
            base = catalog.get_meta(VERSION_KEY)
            local = catalog.manifest()
        if base == manifest.version and manifest.version:
            return manifest
        changed = [e for f, e in manifest.files.items() if local.get(f) != e.sha256]
        removes = sorted(set(local) - set(manifest.files))
        try:
            fetched = shared.fetch_documents(changed)
        except MissingRecords:
            log.info("the server committed again during a catalog sync; starting over (%d)", attempt + 1)
            time.sleep(0.05 * (attempt + 1))
            continue
        meta = {VERSION_KEY: manifest.version}
        if manifest.embedder:
            meta["embedder"] = manifest.embedder
        if catalog.apply([fetched[e.key] for e in changed], removes, meta, expect=(VERSION_KEY, base)):
            return manifest
        log.info("another process updated this catalog cache during a sync; starting over (%d)", attempt + 1)
    raise SharedCatalogError(f"the catalog on the Chroma server kept changing during {attempts} sync attempts")


class CatalogSync:
    """Keeps one data dir's catalog cache in line with the server (thread-safe).

    Parameters
    ----------
    settings: names the server, the collection and the data dir.
    shared: an open :class:`SharedCatalog` to reuse.
    min_interval_s: check the server at most this often (0: on every call).
    """

    def __init__(self, settings: StoreSettings, *, shared: SharedCatalog | None = None,
                 min_interval_s: float = 0.0) -> None:
        self.shared = shared or SharedCatalog(settings)
        self.catalog = Catalog(settings.catalog_path)  # its own connection: the writer
        check_cache_source(self.catalog, settings)
        self.min_interval_s = min_interval_s
        self._lock = threading.Lock()
        self._checked_at = float("-inf")

    @property
    def version(self) -> str:
        return self.catalog.get_meta(VERSION_KEY) or ""

    def refresh(self, *, force: bool = False) -> bool:
        """Sync when the server's version moved; True when the cache changed."""
        with self._lock:
            now = time.monotonic()
            if not force and now - self._checked_at < self.min_interval_s:
                return False
            self._checked_at = now
            remote = self.shared.version()
            if remote == self.version and not force:
                return False
            before = self.version
            manifest = sync_catalog(self.shared, self.catalog)
            if manifest.version != before:
                log.info("catalog synced to server version %s (%d documents)", manifest.version[:8],
                         len(manifest.files))
                return True
            return False

    def close(self) -> None:
        self.catalog.close()


def catalog_sync(settings: StoreSettings, **kwargs) -> CatalogSync | None:  # noqa: ANN003
    """A :class:`CatalogSync` in server mode, None in embedded mode."""
    return CatalogSync(settings, **kwargs) if settings.chroma_url else None
