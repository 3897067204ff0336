"""The lexical index of a serving process, kept in step with its catalog in the background.

The BM25 index is derived data: it is rebuilt from the catalog's chunks when the catalog
changes (an indexer or, in server mode, a sync committed). A rebuild of 10k chunks takes
about 4 s cold, so it must not run inside a request: :class:`LexicalFollower` rebuilds in
one background thread (from its own catalog connection, inside one snapshot) and hands
the finished index over with a single attribute swap. Until then requests use the previous
index; that is safe because retrieval keeps only chunk ids its catalog snapshot knows, so
a lexical hit of a version the snapshot does not hold is dropped, never cited.

Terms of unchanged chunks are reused between rebuilds (a text's analysis is cached), which
brings a rebuild of 10k chunks to about 1 s.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from index.arabic import Analyzer
from index.catalog import Catalog
from index.lexical import LexicalIndex

log = logging.getLogger("sanad.lexical")


def lexical_from_catalog(catalog: Catalog, *, analyzer: Analyzer | None = None) -> LexicalIndex:
    """The BM25 index of ``catalog``'s committed chunks, stamped with the catalog's version."""
    records = list(catalog.iter_chunks())
    return LexicalIndex.build([r.id for r in records], [r.text for r in records], stamp=catalog.stamp(),
                              analyzer=analyzer)


def current_lexical(catalog: Catalog, directory: Path, *, save: bool) -> LexicalIndex:
    """The index saved in ``directory`` if it matches the catalog's version, else one rebuilt
    from the catalog (and saved there when ``save``: the indexer does, a reader never writes)."""
    try:
        lexical = LexicalIndex.load(directory)
        if lexical.stamp == catalog.stamp():
            return lexical
    except FileNotFoundError:
        pass
    lexical = lexical_from_catalog(catalog)
    if save:
        lexical.save(directory)
    return lexical


class CachingAnalyzer(Analyzer):
    """An Analyzer that remembers the terms of the texts of the last build."""

    def __init__(self, **config: bool) -> None:
        super().__init__(**config)
        self._cache: dict[str, list[str]] = {}
        self._used: dict[str, list[str]] | None = None

    def analyze(self, text: str) -> list[str]:
        terms = self._cache.get(text)
        if terms is None:
            terms = super().analyze(text)
            self._cache[text] = terms
        used = self._used
        if used is not None:
            used[text] = terms
        return terms

    def build(self, catalog: Catalog) -> LexicalIndex:
        """A LexicalIndex of ``catalog``'s committed chunks (call inside a snapshot)."""
        self._used = {}
        try:
            lexical = lexical_from_catalog(catalog, analyzer=self)
        finally:
            self._cache, self._used = self._used or {}, None  # keep only what this build used
        return lexical


class LexicalFollower:
    """Rebuilds a catalog's lexical index in a background thread whenever :meth:`request`-ed.

    ``on_built`` receives each new index. Requests made while a rebuild runs lead to one
    more rebuild afterwards, so the last index built always reflects the last request.
    """

    def __init__(self, catalog_path: Path, *, on_built: Callable[[LexicalIndex], None]) -> None:
        self.catalog_path = catalog_path
        self.on_built = on_built
        self.analyzer = CachingAnalyzer()
        self._cond = threading.Condition()
        self._wanted = False
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None

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
        self.request()
        return self.wait(timeout)

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
                    with catalog.snapshot():
                        lexical = self.analyzer.build(catalog)
                    self.on_built(lexical)
                except Exception:  # noqa: BLE001 - keep serving the previous index
                    log.exception("rebuilding the lexical index failed")
                finally:
                    with self._cond:
                        self._busy = False
                        self._cond.notify_all()
        finally:
            catalog.close()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
