"""Incremental indexing: files -> paragraphs -> chunks -> Chroma + catalog -> BM25.

Order of writes for one file, chosen so that a crash at any point loses nothing and a
rerun ends in exactly the state of a clean run:

1. embed the chunks Chroma does not have yet and add them (new ids only; a chunk id
   carries a hash of its text, so an existing id already holds the right vector);
2. (server mode) write the file version's document record to the server's catalog
   collection (immutable, named by file + content hash: :mod:`index.shared_catalog`);
3. commit: embedded, swap the file's paragraphs, chunks and manifest row in one catalog
   transaction; server, upsert the manifest record (the one atomic commit point every
   replica syncs to), then apply the same change to the local catalog cache;
4. delete the file's old chunk ids from Chroma (and, server, its old document record).

A crash before 3 leaves vectors and records no committed manifest names: readers ignore
them (retrieval keeps only chunk ids its catalog snapshot knows), the next run reuses the
vectors it still needs and deletes the rest at its end. A crash after 3 leaves stale
vectors that the committed catalog no longer names: the same clean-up. The lexical index
is derived from the catalog and follows its change log (``index.live_lexical``).

Writers are kept apart by a lock file in the data dir and, in server mode, by a lease
record on the server (owner, host, pid, expiry) so indexers on other machines wait too.

``SANAD_TEST_CRASH_AT=point[:n]`` (tests only) makes the process SIGKILL itself the n-th
time it passes a named point (see :func:`crash_point`).
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import logging
import os
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from index.catalog import Catalog, StoredDocument
from index.chunks import Chunk, build_chunks
from settings import HarnessSettings, StoreSettings, env_name
from settings.errors import SanadError
from index.titles import embedding_title
from index.embedding import SanadEmbedding, build_embedder, embedder_fingerprint
from index.extracted import ExtractLimits
from index.lexical import LexicalIndex
from index.live_lexical import LexicalKeeper, SavedLexical
from index.paragraphs import DocumentError, ParsedDocument, load_document
from index.readers import BINARY_SUFFIXES, SUPPORTED_SUFFIXES
from index.sentences import sentence_spans
from index.shared_catalog import LEASE_TTL_S, Lease, Manifest, ManifestEntry, SharedCatalog, SharedCatalogError
from index.sync import VERSION_KEY, CacheSourceError, check_cache_source, sync_catalog
from index.vectors import ChunkVectors

log = logging.getLogger("sanad.index")

#: the crash-test hook's environment variable
CRASH_ENV = env_name("test_crash_at")
#: the named points of the hook, in the order a run passes them
CRASH_POINTS = ("embed_batch", "document_record", "before_commit", "published", "after_server_commit",
                "after_commit", "stale_deletion", "before_lexical")
_crash_counts: dict[str, int] = {}


@functools.lru_cache(maxsize=1)
def _crash_spec() -> str:
    """The hook's setting, read once per process (reading settings costs ~4 ms: per commit and
    per embedded group that was a tenth of indexing without the model)."""
    return HarnessSettings().test_crash_at or ""


def crash_point(name: str) -> None:
    """Test hook: ``SANAD_TEST_CRASH_AT=name[:n]`` SIGKILLs this process the n-th time here."""
    spec = _crash_spec()
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    _crash_counts[name] = _crash_counts.get(name, 0) + 1
    if _crash_counts[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


class IndexerError(SanadError, RuntimeError):
    """The run as a whole cannot go on (lock held, wrong model for this index, bad path)."""

    code = "index_failed"


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, str] = field(default_factory=dict)
    chunks_embedded: int = 0
    orphans_removed: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        parts = [f"{len(self.added)} added", f"{len(self.changed)} changed",
                 f"{len(self.removed)} removed", f"{len(self.unchanged)} unchanged"]
        if self.errors:
            parts.append(f"{len(self.errors)} skipped with errors")
        return (", ".join(parts) + f"; {self.chunks_embedded} chunks embedded in {self.seconds:.1f}s")


@dataclass(frozen=True)
class SourceFile:
    file: str   # relative to its root, POSIX
    path: Path


def _unchanged_binary(source: SourceFile, manifest: dict[str, str], *, max_bytes: int) -> bool:
    """True for an indexed binary file (.pdf, .docx) whose bytes still hash to its manifest entry."""
    if source.path.suffix.lower() not in BINARY_SUFFIXES or source.file not in manifest:
        return False
    try:
        if source.path.stat().st_size > max_bytes:
            return False
        return hashlib.sha256(source.path.read_bytes()).hexdigest() == manifest[source.file]
    except OSError:
        return False  # load_document reports it


#: names of temporary files editors, office suites, browsers and copy tools leave (never indexed)
TEMP_SUFFIXES = frozenset({".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".swp", ".swo",
                           ".swx", ".bak", ".lock", ".kate-swp"})
TEMP_PREFIXES = ("~$", ".~lock", "#", ".#", ".goutputstream")


def ignored_name(name: str) -> bool:
    """A hidden (``.x``) or temporary (``~$x.docx``, ``x~``, ``x.tmp``, ``#x#``, ...) file or folder name:
    never indexed from inside a folder."""
    if name.startswith(".") or name.startswith(TEMP_PREFIXES) or name.endswith(("~", "#")):
        return True
    return Path(name).suffix.lower() in TEMP_SUFFIXES


def discover(paths: Sequence[Path]) -> tuple[list[SourceFile], dict[str, str]]:
    """Supported files under ``paths`` (a folder is a corpus root; a file's root is its folder);
    hidden and temporary names inside a folder are left out (:func:`ignored_name`)."""
    found: dict[str, SourceFile] = {}
    problems: dict[str, str] = {}
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise IndexerError(f"no such file or folder: {path}")
        if path.is_file():
            root, candidates = path.parent, [path]
        else:
            root = path
            candidates = sorted(p for p in path.rglob("*") if p.is_file()
                                and not any(ignored_name(part) for part in p.relative_to(path).parts))
        for candidate in candidates:
            if candidate.suffix.lower() not in SUPPORTED_SUFFIXES:
                if path.is_file():
                    problems[candidate.name] = f"unsupported file type {candidate.suffix or '(none)'}"
                continue
            rel = candidate.relative_to(root).as_posix()
            if rel in found and found[rel].path.resolve() != candidate.resolve():
                problems[rel] = f"two files map to the name {rel!r} ({found[rel].path} and {candidate}); kept the first"
                continue
            found[rel] = SourceFile(rel, candidate)
    return [found[k] for k in sorted(found)], problems


@contextmanager
def index_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexerError(f"another `sanad index` is running on this data dir ({path})") from exc
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)


ProgressFactory = Callable[[int], "ProgressSink"]
#: server mode: how often the lease is renewed while the model encodes a group of chunks
LEASE_HEARTBEAT_S = 5.0


class ProgressSink:
    """Receives embedding progress; the CLI passes a rich progress bar."""

    def advance(self, n: int) -> None:  # pragma: no cover - trivial
        pass

    def close(self) -> None:  # pragma: no cover - trivial
        pass


class _Pending:
    """Files written to the stores but not yet committed to the catalog."""

    def __init__(self) -> None:
        self.puts: dict[str, tuple[StoredDocument, ManifestEntry | None]] = {}
        self.removes: set[str] = set()
        self.since = time.monotonic()

    def __bool__(self) -> bool:
        return bool(self.puts or self.removes)

    def clear(self) -> None:
        self.puts.clear()
        self.removes.clear()
        self.since = time.monotonic()


def embed_chunks(embedder: SanadEmbedding, chunks: Sequence[Chunk], *, titles: Sequence[str] | None = None,
                 late: bool = False) -> tuple[Sequence[Chunk], np.ndarray, list[np.ndarray | None]]:
    """Document vectors of ``chunks`` and of the sentences of each multi-sentence chunk:
    (chunks, chunk vectors, per chunk its sentence vectors or None). The retriever scores a
    chunk by its own and by its best sentence's similarity to the question.
    ``titles``: per chunk, its document's title for the document prompt ('' = none; chunks
    of many documents go in one call). ``late``: sentence vectors pooled from the chunk's
    own forward pass (``SANAD_SENTENCE_VECTORS=late``) instead of each sentence encoded alone."""
    spans = [sentence_spans(c.text) for c in chunks]
    spans = [found if len(found) > 1 else [] for found in spans]
    texts = [c.text for c in chunks]
    chunk_vectors, rows = embedder.embed_documents_and_spans(texts, spans, titles=titles, late=late)
    per_chunk: list[np.ndarray | None] = [matrix if len(matrix) else None for matrix in rows]
    return chunks, chunk_vectors, per_chunk


@dataclass
class _FileWork:
    """One file to (re)index: its parse, chunks, and the chunks still to embed."""

    doc: ParsedDocument
    chunks: list[Chunk]
    size: int
    existed: bool
    missing: set[str]


class Indexer:
    """Brings the stores in line with a set of corpus paths.

    Parameters
    ----------
    settings:
        where state lives and which model embeds; ``chroma_url`` set means server mode.
    embedder:
        an already-loaded embedder to reuse; loaded from settings on first need otherwise.
    commit_interval_s:
        server mode: publish a new catalog version at most this often during a run (each
        commit rewrites the manifest record, so committing per file would cost O(files²));
        embedded mode commits every file.
    lexical:
        brings the saved BM25 index up to the catalog after each change (a serving process
        passes its answerer's follower, which holds the index in memory already); default:
        one kept by this indexer (:class:`~index.live_lexical.SavedLexical`).
    """

    def __init__(self, settings: StoreSettings, *, embedder: SanadEmbedding | None = None,
                 commit_interval_s: float = 2.0, lexical: LexicalKeeper | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self.commit_interval_s = commit_interval_s
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(settings.catalog_path)
        try:
            check_cache_source(self.catalog, settings)
        except CacheSourceError as exc:
            self.catalog.close()
            raise IndexerError(str(exc)) from None
        self.vectors = ChunkVectors(settings)
        self.shared = SharedCatalog(settings, client=self.vectors.client) if settings.chroma_url else None
        self._manifest = Manifest()
        self._lease: Lease | None = None
        self.lexical: LexicalKeeper = lexical if lexical is not None else SavedLexical(
            self.catalog, settings.lexical_path)
        if self.shared is None:
            self._check_model()

    @property
    def embedder(self) -> SanadEmbedding:
        if self._embedder is None:
            self._embedder = build_embedder(self.settings)
        return self._embedder

    def _check_model(self) -> None:
        wanted = embedder_fingerprint(self.settings)
        have = self.catalog.get_meta("embedder")
        if have is None:
            if self.catalog.counts()["chunks"] == 0:
                self.catalog.set_meta("embedder", wanted)
                return
            have = "unknown"
        if have != wanted:
            raise IndexerError(
                f"this index was built with the embedder {have!r} but settings name {wanted!r}; "
                f"use another SANAD_DATA_DIR or delete {self.settings.data_dir} to rebuild"
            )

    def _check_server_model(self) -> None:
        wanted = embedder_fingerprint(self.settings)
        have = self._manifest.embedder
        if have is not None and have != wanted:
            raise IndexerError(
                f"the index on {self.settings.chroma_url} (collection {self.settings.chroma_collection!r}) "
                f"was built with the embedder {have!r} but settings name {wanted!r}; "
                "use another SANAD_CHROMA_COLLECTION to build a new one"
            )

    def close(self) -> None:
        self.catalog.close()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the write locks; in server mode also the lease, with the cache synced first."""
        with index_lock(self.settings.lock_path):
            if self.shared is None:
                yield
                return
            try:
                self._lease = self.shared.acquire_lease()
            except SharedCatalogError as exc:
                raise IndexerError(str(exc)) from None
            try:
                self._manifest = sync_catalog(self.shared, self.catalog)
                self._check_server_model()
                if not self._manifest.version:
                    self._remove_orphans()  # nothing committed yet: whatever is there is a killed run's
                yield
            except SharedCatalogError as exc:
                raise IndexerError(str(exc)) from None
            finally:
                lease, self._lease = self._lease, None
                try:
                    self.shared.release_lease(lease)
                except Exception:  # noqa: BLE001 - it expires on its own
                    log.warning("could not release the index lease; it expires in %.0f s", LEASE_TTL_S)

    # ------------------------------------------------------------------------------------
    def index(self, paths: Sequence[Path], *, prune: bool = True,
              progress: ProgressFactory | None = None) -> IndexReport:
        """Index ``paths``; with ``prune``, indexed files not found under them are removed."""
        started = time.perf_counter()
        report = IndexReport()
        with self._writing():
            sources, problems = discover(paths)
            report.errors.update(problems)
            manifest = self.catalog.manifest()
            todo = self._read(sources, manifest, report)
            pending = _Pending()
            if prune:
                seen = {s.file for s in sources}
                for file in sorted(set(manifest) - seen):
                    if file in report.errors:
                        continue  # an unreadable file keeps its last good version
                    entry = self._manifest.files.get(file)
                    if entry is not None and entry.uploaded:
                        continue  # server mode: uploaded through a replica's API; DELETE removes it
                    pending.removes.add(file)
                    report.removed.append(file)
                self._commit(pending)
            self._embed_and_commit(todo, pending, report, progress)
            report.orphans_removed = self._remove_orphans()
            crash_point("before_lexical")
            self.refresh_lexical()
        report.seconds = time.perf_counter() - started
        return report

    def update(self, sources: Sequence[SourceFile], removed: Sequence[str] = (), *,
               progress: ProgressFactory | None = None) -> IndexReport:
        """Index just ``sources`` (new or changed files, named relative to their corpus root) and
        remove the documents named in ``removed``; nothing else is read or pruned (folder sync:
        ``index.watch``). The same writes, in the same order, as :meth:`index`."""
        started = time.perf_counter()
        report = IndexReport()
        with self._writing():
            manifest = self.catalog.manifest()
            todo = self._read(sources, manifest, report)
            pending = _Pending()
            reindexed = {doc.file for doc, *_ in todo} | set(report.unchanged)
            for file in sorted(set(removed) - reindexed):
                if file in manifest:
                    pending.removes.add(file)
                    report.removed.append(file)
            self._commit(pending)
            self._embed_and_commit(todo, pending, report, progress)
            if report.added or report.changed or report.removed:
                crash_point("before_lexical")
                self.refresh_lexical()
        report.seconds = time.perf_counter() - started
        return report

    def _read(self, sources: Sequence[SourceFile], manifest: dict[str, str],
              report: IndexReport) -> list[tuple[ParsedDocument, list[Chunk], int, bool]]:
        """Parse and chunk the sources whose content is not the indexed one (errors, warnings and
        unchanged files go to ``report``)."""
        todo: list[tuple[ParsedDocument, list[Chunk], int, bool]] = []
        for source in sources:
            if _unchanged_binary(source, manifest, max_bytes=self.settings.max_file_bytes):
                report.unchanged.append(source.file)  # PDF/DOCX: skip the extraction too
                continue
            try:
                doc = load_document(source.path, root=_root_of(source), max_bytes=self.settings.max_file_bytes,
                                    limits=ExtractLimits.from_settings(self.settings))
                size = source.path.stat().st_size
            except DocumentError as exc:
                report.errors[source.file] = str(exc)
                continue
            except Exception as exc:  # noqa: BLE001 - one bad file never stops the corpus
                log.warning("reading %s failed", source.path, exc_info=True)
                report.errors[source.file] = f"could not be read ({exc.__class__.__name__}: {exc})"
                continue
            if manifest.get(doc.file) == doc.sha256:
                report.unchanged.append(doc.file)
                continue
            if doc.warnings:
                report.warnings[doc.file] = "; ".join(doc.warnings)
            elif not doc.paragraphs:
                report.warnings[doc.file] = "empty file: no paragraphs to index"
            todo.append((doc, build_chunks(doc), size, doc.file in manifest))
        return todo

    def _embed_and_commit(self, todo: Sequence[tuple[ParsedDocument, list[Chunk], int, bool]], pending: _Pending,
                          report: IndexReport, progress: ProgressFactory | None) -> None:
        work = [_FileWork(doc, chunks, size, existed, self._missing_ids(chunks))
                for doc, chunks, size, existed in todo]
        total = sum(len(w.missing) for w in work)
        sink = progress(total) if (progress and total) else ProgressSink()
        try:
            for done in self._write_files(work, sink, pending):
                report.chunks_embedded += len(done.missing)
                (report.changed if done.existed else report.added).append(done.doc.file)
            self._commit(pending)
        finally:
            sink.close()

    def remove(self, file: str, *, before: Callable[[], None] | None = None) -> bool:
        """Remove one indexed document from every store; False if it was not indexed.
        ``before`` runs just before the commit that removes it (an upload's file is set aside
        there; raising leaves the document as it was)."""
        with self._writing():
            if self.catalog.document(file) is None:
                return False
            pending = _Pending()
            pending.removes.add(file)
            self._commit(pending, before=before)
            self.refresh_lexical()
            return True

    def add_document(self, doc: ParsedDocument, *, size_bytes: int,
                     publish: Callable[[], None] | None = None) -> int:
        """Index one already-parsed document (API uploads); returns chunks embedded.

        ``publish`` runs once every vector is stored and just before the commit that makes
        the document visible (an upload moves its file into place there), so a reader never
        sees the document before ``publish`` is done. If anything fails before the commit,
        the vectors this call stored are deleted again and the error is raised."""
        with self._writing():
            chunks = build_chunks(doc)
            pending = _Pending()
            work = _FileWork(doc, chunks, size_bytes, False, self._missing_ids(chunks))
            try:
                for _ in self._write_files([work], ProgressSink(), pending, uploaded=True, commit=False):
                    pass
                self._commit(pending, before=publish)
            except BaseException:
                try:
                    committed = self._is_committed(doc)
                except Exception:  # noqa: BLE001 - unknown: the orphan clean-up removes them later
                    committed = True
                if not committed:  # what this call stored names nothing
                    self._discard(work)
                raise
            self.refresh_lexical()
            return len(work.missing)

    def chunks_stored(self, doc: ParsedDocument) -> bool:
        """Every chunk of ``doc`` has its vector in Chroma (an upload killed between storing
        them and its commit can then be committed without the model)."""
        chunks = build_chunks(doc)
        return bool(chunks) and not self._missing_ids(chunks)

    def remove_orphans(self) -> int:
        """Delete the vectors (and, in server mode, document records) that no committed
        document names: what a run killed before its commit left. Returns vectors deleted."""
        with self._writing():
            return self._remove_orphans()

    # ------------------------------------------------------------------------------------
    def _missing_ids(self, chunks: Sequence[Chunk]) -> set[str]:
        ids = [c.id for c in chunks]
        return set(ids) - self.vectors.existing_ids(ids)

    def _renew(self) -> None:
        if self.shared is not None and self._lease is not None:
            self.shared.renew_lease(self._lease)

    @contextmanager
    def _lease_heartbeat(self) -> Iterator[None]:
        """Server mode: keep the lease renewed while a long model call runs (the lease lasts
        ``LEASE_TTL_S``; a group of long paragraphs can take longer on a CPU). A lost lease is
        raised once the call is over."""
        if self.shared is None or self._lease is None:
            yield
            return
        stop = threading.Event()
        failed: list[BaseException] = []

        def beat() -> None:
            while not stop.wait(LEASE_HEARTBEAT_S):
                try:
                    self._renew()
                except Exception as exc:  # noqa: BLE001 - raised in the indexing thread below
                    failed.append(exc)
                    return

        thread = threading.Thread(target=beat, name="sanad-index-lease", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
        if failed:
            raise failed[0]

    def _write_files(self, work: Sequence[_FileWork], sink: ProgressSink, pending: _Pending, *,
                     uploaded: bool | None = None, commit: bool = True) -> Iterator[_FileWork]:
        """Embed the files' new chunks into Chroma and stage each file once all of its chunks
        are stored (committing when due); yields each file as it is staged, in order.

        The new chunks of consecutive files are encoded together, ``index_group_size`` at a
        time (the model sorts a call's texts by length and batches them, so many small files
        share batches padded to like lengths; a large file spans several groups). Vectors
        stored before a crash and not committed are orphans the next run removes. With
        ``commit=False`` the caller commits ``pending`` itself."""
        late = self.settings.sentence_vectors == "late"
        titles = [embedding_title(w.doc.own_title, w.doc.file, mode=self.settings.embed_title) for w in work]
        queue = [(n, c) for n, w in enumerate(work) for c in w.chunks if c.id in w.missing]
        left = [0] * len(work)  # per file, its chunks not stored yet
        for n, _ in queue:
            left[n] += 1
        staged = 0
        group = self.settings.index_group_size
        for start in (None, *range(0, len(queue), group)):  # None: files with nothing to embed come first
            if start is not None:
                part = queue[start:start + group]
                chunks = [c for _, c in part]
                with self._lease_heartbeat():  # a group can take minutes on a CPU
                    embedded = embed_chunks(self.embedder, chunks, titles=[titles[n] for n, _ in part], late=late)
                self.vectors.add(*embedded)
                for n, _ in part:
                    left[n] -= 1
                sink.advance(len(part))
                crash_point("embed_batch")
                self._renew()
            while staged < len(work) and left[staged] == 0:
                self._stage(work[staged], pending, uploaded=uploaded, commit=commit)
                yield work[staged]
                staged += 1

    def _stage(self, work: _FileWork, pending: _Pending, *, uploaded: bool | None, commit: bool = True) -> None:
        """Stage one file whose chunks are all stored; commits when due (and ``commit``)."""
        doc = work.doc
        stored = StoredDocument(doc, tuple(work.chunks), work.size, time.time())
        entry = None
        if self.shared is not None:
            if uploaded is None:
                previous = self._manifest.files.get(doc.file)
                uploaded = previous is not None and previous.uploaded
            entry = self.shared.put_document(stored, uploaded=uploaded)
            crash_point("document_record")
        pending.removes.discard(doc.file)
        pending.puts[doc.file] = (stored, entry)
        if commit and (self.shared is None or time.monotonic() - pending.since >= self.commit_interval_s):
            self._commit(pending)

    def _is_committed(self, doc: ParsedDocument) -> bool:
        """This version of ``doc`` is the committed one (server: in the manifest written last)."""
        if self.shared is not None:
            entry = self._manifest.files.get(doc.file)
            return entry is not None and entry.sha256 == doc.sha256
        rec = self.catalog.document(doc.file)
        return rec is not None and rec.sha256 == doc.sha256

    def _discard(self, work: _FileWork) -> None:
        """Undo a file that was stored but not committed: the vectors it added (and, server,
        its document record)."""
        try:
            self.vectors.delete_ids(sorted(work.missing))
            if self.shared is not None:
                self.shared.delete_unreferenced(self._manifest)
        except Exception:  # noqa: BLE001 - the next start-up or index run removes them
            log.warning("could not delete the vectors of %s after a failed write", work.doc.file, exc_info=True)

    def _commit(self, pending: _Pending, *, before: Callable[[], None] | None = None) -> None:
        """Make ``pending`` visible to readers at once, then drop what it replaced.

        Embedded: one SQLite transaction. Server: one upsert of the manifest record on the
        server (the commit every replica syncs to), then the same change in the local
        cache. Stale vectors and document records are deleted only after that. ``before``
        runs just before the commit (raising there leaves nothing committed).
        """
        if not pending:
            pending.since = time.monotonic()
            return
        files = sorted(set(pending.puts) | pending.removes)
        old_ids = {f: self.catalog.chunk_ids_of(f) for f in files}
        crash_point("before_commit")
        if before is not None:
            before()
            crash_point("published")
        meta: dict[str, str] = {}
        old_manifest = self._manifest
        if self.shared is not None:
            new_manifest = old_manifest.changed(
                puts={f: entry for f, (_, entry) in pending.puts.items() if entry is not None},
                removes=pending.removes, embedder=embedder_fingerprint(self.settings))
            self.shared.commit(new_manifest, expected_version=old_manifest.version, lease=self._lease)
            self._manifest = new_manifest
            crash_point("after_server_commit")
            meta = {VERSION_KEY: new_manifest.version, "embedder": new_manifest.embedder or ""}
        self.catalog.apply([stored for stored, _ in pending.puts.values()], sorted(pending.removes), meta)
        crash_point("after_commit")
        for file in files:
            kept = {c.id for c in pending.puts[file][0].chunks} if file in pending.puts else set()
            stale = old_ids[file] - kept
            if stale:
                self.vectors.delete_ids(sorted(stale))
                crash_point("stale_deletion")
        if self.shared is not None:
            live = self._manifest.keys()
            self.shared.delete_documents(
                e for f, e in old_manifest.files.items() if f in old_ids and e.key not in live)
        pending.clear()

    def _remove_orphans(self) -> int:
        """Delete vectors (and, in server mode, document records) no committed file names."""
        orphans = self.vectors.all_ids() - self.catalog.all_chunk_ids()
        self.vectors.delete_ids(sorted(orphans))
        if self.shared is not None:
            self.shared.delete_unreferenced(self._manifest)
        return len(orphans)

    def refresh_lexical(self) -> LexicalIndex:
        """Bring the saved BM25 index up to the catalog: what changed since it was saved is
        added or deleted (``index.live_lexical``); rebuilt whole only when missing or too old."""
        return self.lexical.refresh()


def _root_of(source: SourceFile) -> Path:
    root = source.path
    for _ in Path(source.file).parts:
        root = root.parent
    return root
