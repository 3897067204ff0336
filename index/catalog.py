"""The catalog: documents (the manifest), their paragraphs and their chunks, in SQLite.

A document row is the manifest entry: it is written in the same transaction as the
document's paragraphs and chunks, and only after the chunks' vectors are in Chroma, so a
file counts as indexed only when every store has it. Citations and ``/paragraphs``
answers are served from here, never by re-reading a file that may have changed.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import uuid
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from index.chunks import Chunk
from index.paragraphs import Paragraph, ParsedDocument
from index.sqlite_db import connect, write_transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    file TEXT PRIMARY KEY, sha256 TEXT NOT NULL, kind TEXT NOT NULL, title TEXT NOT NULL,
    text TEXT NOT NULL, n_paragraphs INTEGER NOT NULL, size_bytes INTEGER NOT NULL,
    indexed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS paragraphs (
    file TEXT NOT NULL, paragraph INTEGER NOT NULL, line_start INTEGER NOT NULL,
    line_end INTEGER NOT NULL, char_start INTEGER NOT NULL, char_end INTEGER NOT NULL,
    text TEXT NOT NULL, boilerplate INTEGER NOT NULL, page_start INTEGER, page_end INTEGER,
    ocr INTEGER NOT NULL DEFAULT 0, ocr_confidence REAL,
    PRIMARY KEY (file, paragraph)
);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY, file TEXT NOT NULL, paragraphs TEXT NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_file ON chunks (file);
CREATE TABLE IF NOT EXISTS chunk_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS chunk_log_added AFTER INSERT ON chunks
    BEGIN INSERT INTO chunk_log (id) VALUES (new.id); END;
CREATE TRIGGER IF NOT EXISTS chunk_log_removed AFTER DELETE ON chunks
    BEGIN INSERT INTO chunk_log (id) VALUES (old.id); END;
CREATE TRIGGER IF NOT EXISTS chunk_log_trim AFTER INSERT ON chunk_log
    BEGIN DELETE FROM chunk_log WHERE seq <= new.seq - {log_keep}; END;
"""

#: the change log keeps the ids of the last this many chunk insertions and deletions
#: (a derived index further behind than that is rebuilt whole)
LOG_KEEP = 100_000
#: meta key: this catalog file's identity (a log position means nothing in another catalog)
LOG_UID_KEY = "log_uid"


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    file: str
    sha256: str
    kind: str
    title: str
    n_paragraphs: int
    size_bytes: int
    indexed_at: float


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """What the catalog keeps of one indexed document."""

    doc: ParsedDocument
    chunks: tuple[Chunk, ...]
    size_bytes: int
    indexed_at: float


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    id: str
    file: str
    paragraphs: tuple[int, ...]
    text: str


class Catalog:
    """SQLite catalog under the data dir (WAL: readers never block the indexer)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = connect(path, "synchronous=NORMAL")
        self._conn.executescript(SCHEMA.format(log_keep=LOG_KEEP))
        _migrate(self._conn)
        if self.get_meta(LOG_UID_KEY) is None:
            with self._transaction() as tx:
                tx.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (LOG_UID_KEY, uuid.uuid4().hex))

    def close(self) -> None:
        self._conn.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_transaction(self._conn)

    # --- meta ---------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as tx:
            tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # --- writes -------------------------------------------------------------------------
    def replace_document(self, doc: ParsedDocument, chunks: Sequence[Chunk], *, size_bytes: int,
                         indexed_at: float | None = None) -> None:
        """Swap in one document's paragraphs, chunks and manifest row, atomically."""
        self.apply([StoredDocument(doc, tuple(chunks), size_bytes, indexed_at or time.time())], ())

    def delete_document(self, file: str) -> None:
        self.apply((), (file,))

    def apply(self, puts: Sequence["StoredDocument"], removes: Sequence[str],
              meta: dict[str, str] | None = None, *, expect: tuple[str, str | None] | None = None) -> bool:
        """Swap in ``puts``, drop ``removes`` and set ``meta``, all in one transaction.

        Readers (in WAL mode, each on its own connection) see all of it or none of it. With
        ``expect=(key, value)`` nothing is written, and False returned, unless meta ``key``
        still holds ``value`` (a sync applies a diff only to the state it computed it from).
        """
        with self._transaction() as tx:
            if expect is not None:
                row = tx.execute("SELECT value FROM meta WHERE key = ?", (expect[0],)).fetchone()
                if (row[0] if row else None) != expect[1]:
                    return False
            for file in removes:
                _delete(tx, file)
            for stored in puts:
                doc = stored.doc
                _delete(tx, doc.file)
                tx.executemany(
                    "INSERT INTO paragraphs (file, paragraph, line_start, line_end, char_start, char_end, "
                    "text, boilerplate, page_start, page_end, ocr, ocr_confidence) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(p.file, p.paragraph, p.line_start, p.line_end, p.char_start, p.char_end,
                      p.text, int(p.boilerplate), p.page_start, p.page_end, int(p.ocr), p.ocr_confidence)
                     for p in doc.paragraphs],
                )
                tx.executemany(
                    "INSERT INTO chunks VALUES (?, ?, ?, ?)",
                    [(c.id, c.file, json.dumps(list(c.paragraphs)), c.text) for c in stored.chunks],
                )
                tx.execute(
                    "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (doc.file, doc.sha256, doc.kind, doc.title, doc.text, len(doc.paragraphs),
                     stored.size_bytes, stored.indexed_at),
                )
            for key, value in (meta or {}).items():
                tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
        return True

    def clear(self) -> None:
        """Forget every document (a replica's cache of another server starts over)."""
        with self._transaction() as tx:
            tx.execute("DELETE FROM documents")
            tx.execute("DELETE FROM paragraphs")
            tx.execute("DELETE FROM chunks")
            tx.execute("DELETE FROM meta WHERE key NOT IN ('source', ?)", (LOG_UID_KEY,))

    # --- consistent reads -----------------------------------------------------------------
    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read inside sees one committed state (a SQLite read transaction).

        An answer reads chunk records, then paragraphs: without a snapshot an indexer
        committing in between could pair an old chunk with a new paragraph table.
        Re-entrant: an inner ``snapshot()`` joins the outer one.
        """
        if self._conn.in_transaction:
            yield
            return
        self._conn.execute("BEGIN")
        try:
            self._conn.execute("SELECT 1 FROM documents LIMIT 1").fetchall()  # pins the snapshot now
            yield
        finally:
            if self._conn.in_transaction:
                self._conn.execute("COMMIT")

    def data_version(self) -> int:
        """Changes whenever another connection (another process, a sync) commits."""
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    # --- reads --------------------------------------------------------------------------
    def manifest(self) -> dict[str, str]:
        """file -> sha256 of every indexed document."""
        return dict(self._conn.execute("SELECT file, sha256 FROM documents").fetchall())

    def documents(self) -> list[DocumentRecord]:
        rows = self._conn.execute(
            "SELECT file, sha256, kind, title, n_paragraphs, size_bytes, indexed_at "
            "FROM documents ORDER BY file").fetchall()
        return [DocumentRecord(*row) for row in rows]

    def document(self, file: str) -> DocumentRecord | None:
        row = self._conn.execute(
            "SELECT file, sha256, kind, title, n_paragraphs, size_bytes, indexed_at "
            "FROM documents WHERE file = ?", (file,)).fetchone()
        return DocumentRecord(*row) if row else None

    def document_text(self, file: str) -> str | None:
        row = self._conn.execute("SELECT text FROM documents WHERE file = ?", (file,)).fetchone()
        return row[0] if row else None

    def paragraph(self, file: str, number: int) -> Paragraph | None:
        row = self._conn.execute(
            f"SELECT {_PARAGRAPH_COLUMNS} FROM paragraphs WHERE file = ? AND paragraph = ?", (file, number)).fetchone()
        return _paragraph(row) if row else None

    def paragraphs_of(self, file: str) -> list[Paragraph]:
        rows = self._conn.execute(
            f"SELECT {_PARAGRAPH_COLUMNS} FROM paragraphs WHERE file = ? ORDER BY paragraph", (file,)).fetchall()
        return [_paragraph(r) for r in rows]

    def chunk_ids_of(self, file: str) -> set[str]:
        return {r[0] for r in self._conn.execute("SELECT id FROM chunks WHERE file = ?", (file,))}

    def all_chunk_ids(self) -> set[str]:
        return {r[0] for r in self._conn.execute("SELECT id FROM chunks")}

    def chunks(self, ids: Sequence[str]) -> dict[str, ChunkRecord]:
        """The chunks among ``ids`` that are committed (others are silently absent)."""
        out: dict[str, ChunkRecord] = {}
        for start in range(0, len(ids), 500):
            part = list(ids[start:start + 500])
            marks = ",".join("?" * len(part))
            for cid, file, paras, text in self._conn.execute(
                    f"SELECT id, file, paragraphs, text FROM chunks WHERE id IN ({marks})", part):
                out[cid] = ChunkRecord(cid, file, tuple(json.loads(paras)), text)
        return out

    def iter_chunks(self) -> Iterator[ChunkRecord]:
        for cid, file, paras, text in self._conn.execute(
                "SELECT id, file, paragraphs, text FROM chunks ORDER BY id"):
            yield ChunkRecord(cid, file, tuple(json.loads(paras)), text)

    def stamp(self) -> str:
        """A digest of the committed chunk ids: derived indexes built from it carry it."""
        digest = hashlib.sha256()
        for (cid,) in self._conn.execute("SELECT id FROM chunks ORDER BY id"):
            digest.update(cid.encode())
            digest.update(b"\0")
        return digest.hexdigest()

    # --- change log (derived indexes follow it: index.live_lexical) ------------------------
    def log_position(self) -> tuple[str, int]:
        """(this catalog's identity, the sequence number of its last chunk change)."""
        try:
            row = self._conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'chunk_log'").fetchone()
        except sqlite3.OperationalError:  # no AUTOINCREMENT row written yet: no sqlite_sequence table
            row = None
        return self.get_meta(LOG_UID_KEY) or "", int(row[0]) if row else 0

    def changed_since(self, seq: int) -> list[str] | None:
        """Ids of the chunks inserted or deleted after log position ``seq`` (each once, in no
        particular order), or None when the log no longer reaches back that far."""
        _, head = self.log_position()
        if head <= seq:
            return []
        first = self._conn.execute("SELECT MIN(seq) FROM chunk_log").fetchone()[0]
        if first is None or first > seq + 1:
            return None
        return list(dict.fromkeys(r[0] for r in self._conn.execute(
            "SELECT id FROM chunk_log WHERE seq > ? ORDER BY seq", (seq,))))

    def counts(self) -> dict[str, int]:
        return {
            "documents": self._conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0],
            "paragraphs": self._conn.execute("SELECT COUNT(*) FROM paragraphs").fetchone()[0],
            "chunks": self._conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0],
        }


def _delete(tx: sqlite3.Connection, file: str) -> None:
    tx.execute("DELETE FROM documents WHERE file = ?", (file,))
    tx.execute("DELETE FROM paragraphs WHERE file = ?", (file,))
    tx.execute("DELETE FROM chunks WHERE file = ?", (file,))


_PARAGRAPH_COLUMNS = ("file, paragraph, line_start, line_end, char_start, char_end, text, boilerplate, "
                      "page_start, page_end, ocr, ocr_confidence")
#: columns later versions added, with their types: an older catalog gains them on open
_ADDED_COLUMNS = (("page_start", "INTEGER"), ("page_end", "INTEGER"), ("ocr", "INTEGER NOT NULL DEFAULT 0"),
                  ("ocr_confidence", "REAL"))


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a catalog written by an earlier version up to this schema (adds columns only)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(paragraphs)")}
    for column, kind in _ADDED_COLUMNS:
        if column not in columns:
            try:
                conn.execute(f"ALTER TABLE paragraphs ADD COLUMN {column} {kind}")
            except sqlite3.OperationalError as exc:  # another process added it first
                if "duplicate column" not in str(exc):
                    raise


def _paragraph(row: tuple) -> Paragraph:
    file, number, ls, le, cs, ce, text, boiler, page_start, page_end, ocr, ocr_confidence = row
    return Paragraph(file=file, paragraph=number, line_start=ls, line_end=le, char_start=cs,
                     char_end=ce, text=text, boilerplate=bool(boiler), page_start=page_start,
                     page_end=page_end, ocr=bool(ocr), ocr_confidence=ocr_confidence)
