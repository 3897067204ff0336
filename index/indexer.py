"""Incremental indexing: files -> paragraphs -> chunks -> Chroma + catalog -> BM25.

Order of writes for one file, chosen so that a crash at any point loses nothing and a
rerun ends in exactly the state of a clean run:

1. embed the chunks Chroma does not have yet and add them (new ids only);
2. swap the file's paragraphs, chunks and manifest row in one catalog transaction;
3. delete the file's old chunk ids from Chroma.

A crash after 1 leaves vectors the catalog does not know: every run starts by deleting
such orphans, and readers ignore them. The lexical index is derived from the catalog and
rebuilt when the catalog's stamp changes. A lock file keeps two indexers apart.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

from index.catalog import Catalog
from index.chunks import Chunk, build_chunks
from index.config import Settings
from index.embedding import SanadEmbedding, build_embedder, embedder_fingerprint
from index.lexical import LexicalIndex
from index.paragraphs import SUPPORTED_SUFFIXES, DocumentError, ParsedDocument, load_document
from index.vectors import ChunkVectors


class IndexerError(RuntimeError):
    """The run as a whole cannot go on (lock held, wrong model for this index, bad path)."""


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


def discover(paths: Sequence[Path]) -> tuple[list[SourceFile], dict[str, str]]:
    """Supported files under ``paths`` (a folder is a corpus root; a file's root is its folder)."""
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
                                and not any(part.startswith(".") for part in p.relative_to(path).parts))
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


class ProgressSink:
    """Receives embedding progress; the CLI passes a rich progress bar."""

    def advance(self, n: int) -> None:  # pragma: no cover - trivial
        pass

    def close(self) -> None:  # pragma: no cover - trivial
        pass


class Indexer:
    """Brings the stores in line with a set of corpus paths.

    Parameters
    ----------
    settings:
        where state lives and which model embeds.
    embedder:
        an already-loaded embedder to reuse; loaded from settings on first need otherwise.
    """

    def __init__(self, settings: Settings, *, embedder: SanadEmbedding | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(settings.catalog_path)
        self.vectors = ChunkVectors(settings)
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

    def close(self) -> None:
        self.catalog.close()

    # ------------------------------------------------------------------------------------
    def index(self, paths: Sequence[Path], *, prune: bool = True,
              progress: ProgressFactory | None = None) -> IndexReport:
        """Index ``paths``; with ``prune``, indexed files not found under them are removed."""
        started = time.perf_counter()
        report = IndexReport()
        with index_lock(self.settings.lock_path):
            sources, problems = discover(paths)
            report.errors.update(problems)
            report.orphans_removed = self._remove_orphans()
            manifest = self.catalog.manifest()

            todo: list[tuple[ParsedDocument, list[Chunk], int, bool]] = []
            for source in sources:
                try:
                    doc = load_document(source.path, root=_root_of(source), max_bytes=self.settings.max_file_bytes)
                except DocumentError as exc:
                    report.errors[source.file] = str(exc)
                    continue
                if manifest.get(doc.file) == doc.sha256:
                    report.unchanged.append(doc.file)
                    continue
                if not doc.paragraphs:
                    report.warnings[doc.file] = "empty file: no paragraphs to index"
                todo.append((doc, build_chunks(doc), source.path.stat().st_size, doc.file in manifest))

            if prune:
                seen = {s.file for s in sources}
                for file in sorted(set(manifest) - seen):
                    if file in report.errors:
                        continue  # an unreadable file keeps its last good version
                    old_ids = self.catalog.chunk_ids_of(file)
                    self.catalog.delete_document(file)
                    self.vectors.delete_ids(sorted(old_ids))
                    report.removed.append(file)

            new_ids_by_file = {doc.file: self._missing_ids(chunks) for doc, chunks, _, _ in todo}
            total = sum(len(ids) for ids in new_ids_by_file.values())
            sink = progress(total) if (progress and total) else ProgressSink()
            try:
                for doc, chunks, size, existed in todo:
                    wanted = new_ids_by_file[doc.file]
                    report.chunks_embedded += self._write_file(doc, chunks, size, wanted, sink)
                    (report.changed if existed else report.added).append(doc.file)
            finally:
                sink.close()
            self.refresh_lexical()
        report.seconds = time.perf_counter() - started
        return report

    def remove(self, file: str) -> bool:
        """Remove one indexed document from every store; False if it was not indexed."""
        with index_lock(self.settings.lock_path):
            if self.catalog.document(file) is None:
                return False
            old_ids = self.catalog.chunk_ids_of(file)
            self.catalog.delete_document(file)
            self.vectors.delete_ids(sorted(old_ids))
            self.refresh_lexical()
            return True

    def add_document(self, doc: ParsedDocument, *, size_bytes: int) -> int:
        """Index one already-parsed document (API uploads); returns chunks embedded."""
        with index_lock(self.settings.lock_path):
            chunks = build_chunks(doc)
            embedded = self._write_file(doc, chunks, size_bytes, self._missing_ids(chunks), ProgressSink())
            self.refresh_lexical()
            return embedded

    # ------------------------------------------------------------------------------------
    def _missing_ids(self, chunks: Sequence[Chunk]) -> set[str]:
        ids = [c.id for c in chunks]
        return set(ids) - self.vectors.existing_ids(ids)

    def _write_file(self, doc: ParsedDocument, chunks: list[Chunk], size: int,
                    missing: set[str], sink: ProgressSink) -> int:
        to_embed = [c for c in chunks if c.id in missing]
        batch = self.settings.embed_batch_size
        for start in range(0, len(to_embed), batch):
            part = to_embed[start:start + batch]
            self.vectors.add(part, self.embedder.embed_documents([c.text for c in part]))
            sink.advance(len(part))
        old_ids = self.catalog.chunk_ids_of(doc.file)
        self.catalog.replace_document(doc, chunks, size_bytes=size)
        stale = old_ids - {c.id for c in chunks}
        self.vectors.delete_ids(sorted(stale))
        return len(to_embed)

    def _remove_orphans(self) -> int:
        orphans = self.vectors.all_ids() - self.catalog.all_chunk_ids()
        self.vectors.delete_ids(sorted(orphans))
        return len(orphans)

    def refresh_lexical(self) -> LexicalIndex:
        """Rebuild the BM25 index from the catalog when it is missing or stale."""
        return current_lexical(self.catalog, self.settings.lexical_path, save=True)


def current_lexical(catalog: Catalog, directory: Path, *, save: bool) -> LexicalIndex:
    """The saved BM25 index if it matches the catalog's stamp, else one rebuilt from the catalog."""
    stamp = catalog.stamp()
    try:
        lexical = LexicalIndex.load(directory)
        if lexical.stamp == stamp:
            return lexical
    except FileNotFoundError:
        pass
    return build_lexical(catalog, directory if save else None, stamp=stamp)


def build_lexical(catalog: Catalog, directory: Path | None, *, stamp: str) -> LexicalIndex:
    records = list(catalog.iter_chunks())
    lexical = LexicalIndex.build([r.id for r in records], [r.text for r in records], stamp=stamp)
    if directory is not None:
        lexical.save(directory)
    return lexical


def _root_of(source: SourceFile) -> Path:
    root = source.path
    for _ in Path(source.file).parts:
        root = root.parent
    return root
