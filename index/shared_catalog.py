"""Server mode: the catalog published on the Chroma server, where every replica sees it.

With ``SANAD_CHROMA_URL`` set, the chunk vectors live in the server's collection
``<collection>`` and the catalog (manifest, paragraph table, chunk list) in a second
collection ``<collection>_catalog``. Chroma only stores records; nothing here is embedded
(every record carries the same 1-d dummy vector, so Chroma's own embedding function, which
would download a model, never runs). Three kinds of record:

``doc:<key>:<i>``
    part ``i`` of one document *version*: its text, paragraph offsets and chunk list as JSON
    (split into parts of ``PART_CHARS`` characters so a 10 MB file stays well under the
    server's request limit). ``key`` is derived from the file name and the sha256 of its
    bytes, so a record is immutable: a new version of a file is a new key.
``manifest``
    the commit point. Its document lists ``file -> (sha256, key, parts, uploaded)``; its
    metadata carries ``version`` (a fresh random token per commit), ``generation`` and the
    ``embedder`` fingerprint. One upsert of one record is atomic, so a reader sees the old
    or the new manifest, never half of one. Document records are written before the
    manifest that names them and deleted only after a manifest that no longer names them.
``lease``
    which indexer may write (owner token, host, pid, expiry): Chroma has no
    compare-and-set, so this is a best-effort lease (see :meth:`SharedCatalog.acquire_lease`).

Replicas read the manifest's ``version`` (one small request) to know whether their local
cache is current (:mod:`index.sync`).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from index.catalog import StoredDocument
from index.chunks import Chunk, chunk_id
from settings import StoreSettings
from settings.errors import SanadError
from index.paragraphs import Paragraph, ParsedDocument
from index.vectors import collection_ids

CATALOG_SUFFIX = "_catalog"
MANIFEST_ID = "manifest"
LEASE_ID = "lease"
DOC_PREFIX = "doc:"
#: characters of a document record's JSON per Chroma record
PART_CHARS = 1_000_000
#: how long an indexer's lease lasts without renewal (seconds)
LEASE_TTL_S = 60.0
_DUMMY = [1.0]
_FORMAT = 1


class SharedCatalogError(SanadError, RuntimeError):
    """The server's catalog is unusable or another writer holds it; the message says why."""

    code = "shared_catalog_unavailable"


class LeaseHeld(SharedCatalogError):
    """Another indexer holds the server's write lease."""

    code = "lease_held"


class MissingRecords(SharedCatalogError):
    """A manifest names document records that are gone (a newer commit replaced them)."""

    code = "missing_records"


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    sha256: str
    key: str
    parts: int
    uploaded: bool = False
    indexed_at: float = 0.0


@dataclass(frozen=True)
class Manifest:
    """One committed version of the server's catalog (``version == ""``: nothing committed yet)."""

    version: str = ""
    generation: int = 0
    embedder: str | None = None
    files: dict[str, ManifestEntry] = field(default_factory=dict)

    def changed(self, *, puts: dict[str, ManifestEntry], removes: Iterable[str],
                embedder: str | None) -> "Manifest":
        files = dict(self.files)
        for file in removes:
            files.pop(file, None)
        files.update(puts)
        return Manifest(version=uuid.uuid4().hex, generation=self.generation + 1,
                        embedder=embedder or self.embedder, files=files)

    def keys(self) -> set[str]:
        return {e.key for e in self.files.values()}


def doc_key(file: str, sha256: str) -> str:
    return hashlib.sha256(f"{file}\0{sha256}".encode()).hexdigest()[:32]


def part_ids(key: str, parts: int) -> list[str]:
    return [f"{DOC_PREFIX}{key}:{i}" for i in range(parts)]


def source_id(settings: StoreSettings) -> str:
    """Names the server + collection a local cache mirrors."""
    return f"chroma:{(settings.chroma_url or '').rstrip('/')}#{settings.chroma_collection}"


# --- document records -------------------------------------------------------------------
def encode_document(stored: StoredDocument) -> str:
    doc = stored.doc
    return json.dumps({
        "format": _FORMAT, "file": doc.file, "sha256": doc.sha256, "kind": doc.kind,
        "title": doc.title, "text": doc.text, "size_bytes": stored.size_bytes,
        # pages ride along only for paged formats, OCR's confidence only for OCR'd paragraphs
        # (after the pages, null where unpaged), so records of other files stay as they were
        "paragraphs": [[p.paragraph, p.line_start, p.line_end, p.char_start, p.char_end, int(p.boilerplate)]
                       + ([p.page_start, p.page_end] if p.page_start is not None or p.ocr else [])
                       + ([p.ocr_confidence] if p.ocr else [])
                       for p in doc.paragraphs],
        "chunks": [[c.id, list(c.paragraphs)] for c in stored.chunks],
    }, ensure_ascii=False, separators=(",", ":"))


def decode_document(payload: str, *, indexed_at: float = 0.0) -> StoredDocument:
    """The inverse of :func:`encode_document`; paragraph and chunk texts are cut from the text.

    The record depends on nothing but the file's name and bytes (``indexed_at`` lives in
    the manifest entry), so rewriting it after a crash writes the very same parts.
    """
    data = json.loads(payload)
    if data.get("format") != _FORMAT:
        raise SharedCatalogError(f"unsupported document record format {data.get('format')!r}")
    file, text = data["file"], data["text"]
    paragraphs = tuple(
        Paragraph(file=file, paragraph=n, line_start=ls, line_end=le, char_start=cs, char_end=ce,
                  text=text[cs:ce], boilerplate=bool(b), page_start=pages[0] if pages else None,
                  page_end=pages[1] if pages else None, ocr=len(pages) > 2,
                  ocr_confidence=pages[2] if len(pages) > 2 else None)
        for n, ls, le, cs, ce, b, *pages in data["paragraphs"])
    by_number = {p.paragraph: p for p in paragraphs}
    chunks = []
    for cid, numbers in data["chunks"]:
        chunk_text = "\n".join(by_number[n].text for n in numbers)
        if chunk_id(file, tuple(numbers), chunk_text) != cid:
            raise SharedCatalogError(f"document record of {file} is corrupt (chunk {cid} does not match its text)")
        chunks.append(Chunk(id=cid, file=file, paragraphs=tuple(numbers), text=chunk_text))
    doc = ParsedDocument(file=file, kind=data["kind"], text=text, sha256=data["sha256"],
                         paragraphs=paragraphs, title=data["title"])
    return StoredDocument(doc, tuple(chunks), int(data["size_bytes"]), indexed_at)


def _host_id() -> str:
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = ""
    return f"{socket.gethostname()}/{boot}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Lease:
    owner: str
    renewed_at: float = 0.0


class SharedCatalog:
    """The ``<collection>_catalog`` collection of a Chroma server."""

    def __init__(self, settings: StoreSettings, *, client: Any = None) -> None:
        if client is None:
            from index.vectors import chroma_client

            client = chroma_client(settings)
        self.settings = settings
        self.name = settings.chroma_collection + CATALOG_SUFFIX
        self.source = source_id(settings)
        try:
            self._col = client.get_or_create_collection(self.name, embedding_function=None)
        except Exception as exc:  # noqa: BLE001
            raise SharedCatalogError(f"cannot open the catalog collection {self.name!r} on "
                                     f"{settings.chroma_url}: {exc}") from exc

    # --- the manifest -------------------------------------------------------------------
    def version(self) -> str:
        """The committed manifest's version token ("" if none): one small request."""
        got = self._col.get(ids=[MANIFEST_ID], include=["metadatas"])
        if not got["ids"]:
            return ""
        return str((got["metadatas"][0] or {}).get("version", ""))

    def read_manifest(self) -> Manifest:
        got = self._col.get(ids=[MANIFEST_ID], include=["metadatas", "documents"])
        if not got["ids"]:
            return Manifest()
        meta = got["metadatas"][0] or {}
        data = json.loads(got["documents"][0])
        if data.get("format") != _FORMAT:
            raise SharedCatalogError(f"unsupported manifest format {data.get('format')!r} in {self.name}")
        files = {f: ManifestEntry(sha, key, int(parts), bool(up), float(at))
                 for f, (sha, key, parts, up, at) in data["files"].items()}
        return Manifest(version=str(meta.get("version", "")), generation=int(meta.get("generation", 0)),
                        embedder=meta.get("embedder"), files=files)

    def commit(self, manifest: Manifest, *, expected_version: str, lease: Lease | None) -> None:
        """Publish ``manifest`` if the server still holds ``expected_version`` and our lease."""
        ids = [MANIFEST_ID] + ([LEASE_ID] if lease is not None else [])
        got = self._col.get(ids=ids, include=["metadatas"])
        metas = dict(zip(got["ids"], got["metadatas"]))
        if lease is not None and (metas.get(LEASE_ID) or {}).get("owner") != lease.owner:
            raise LeaseHeld("this indexer lost its lease on the Chroma server (it expired and another "
                            "indexer took it); nothing was committed: run `sanad index` again")
        current = str((metas.get(MANIFEST_ID) or {}).get("version", ""))
        if current != expected_version:
            raise LeaseHeld("the server's catalog changed under this indexer (another writer committed); "
                            "nothing was committed: run `sanad index` again")
        meta: dict[str, Any] = {"version": manifest.version, "generation": manifest.generation,
                                "committed_at": time.time(), "documents": len(manifest.files)}
        if manifest.embedder:
            meta["embedder"] = manifest.embedder
        body = json.dumps({"format": _FORMAT, "files": {
            f: [e.sha256, e.key, e.parts, e.uploaded, e.indexed_at] for f, e in sorted(manifest.files.items())}},
            ensure_ascii=False, separators=(",", ":"))
        self._col.upsert(ids=[MANIFEST_ID], documents=[body], metadatas=[meta], embeddings=[_DUMMY])

    # --- document records ---------------------------------------------------------------
    def put_document(self, stored: StoredDocument, *, uploaded: bool = False) -> ManifestEntry:
        """Write one document version's record (immutable, content-addressed)."""
        doc = stored.doc
        key = doc_key(doc.file, doc.sha256)
        payload = encode_document(stored)
        pieces = [payload[i:i + PART_CHARS] for i in range(0, len(payload), PART_CHARS)] or [""]
        ids = part_ids(key, len(pieces))
        entry = ManifestEntry(doc.sha256, key, len(pieces), uploaded, stored.indexed_at)
        if len(self._col.get(ids=ids, include=[])["ids"]) == len(ids):
            return entry  # already complete (written by a killed run): the same bytes, the same record
        for i, (rid, piece) in enumerate(zip(ids, pieces)):
            self._col.upsert(ids=[rid], documents=[piece], embeddings=[_DUMMY],
                             metadatas=[{"kind": "doc", "key": key, "part": i, "parts": len(pieces)}])
        return entry

    def fetch_documents(self, entries: Sequence[ManifestEntry]) -> dict[str, StoredDocument]:
        """key -> document for ``entries``; MissingRecords if any part is gone."""
        out: dict[str, StoredDocument] = {}
        batch: list[ManifestEntry] = []
        for entry in entries:
            batch.append(entry)
            if sum(e.parts for e in batch) >= 16:
                out.update(self._fetch(batch))
                batch = []
        if batch:
            out.update(self._fetch(batch))
        return out

    def _fetch(self, entries: Sequence[ManifestEntry]) -> dict[str, StoredDocument]:
        ids = [rid for e in entries for rid in part_ids(e.key, e.parts)]
        got = self._col.get(ids=ids, include=["documents"])
        pieces = dict(zip(got["ids"], got["documents"]))
        out = {}
        for entry in entries:
            wanted = part_ids(entry.key, entry.parts)
            if any(rid not in pieces for rid in wanted):
                raise MissingRecords(f"document record {entry.key} is gone")
            out[entry.key] = decode_document("".join(pieces[rid] for rid in wanted), indexed_at=entry.indexed_at)
        return out

    def delete_documents(self, entries: Iterable[ManifestEntry]) -> None:
        self._delete([rid for e in entries for rid in part_ids(e.key, e.parts)])

    def _delete(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), 1000):
            self._col.delete(ids=list(ids[start:start + 1000]))

    def record_ids(self) -> set[str]:
        return collection_ids(self._col)

    def delete_unreferenced(self, manifest: Manifest) -> int:
        """Delete document records no entry of ``manifest`` names (left by a killed indexer)."""
        keep = {rid for e in manifest.files.values() for rid in part_ids(e.key, e.parts)}
        garbage = sorted(rid for rid in self.record_ids() if rid.startswith(DOC_PREFIX) and rid not in keep)
        self._delete(garbage)
        return len(garbage)

    # --- the writers' lease -----------------------------------------------------------------
    def _lease_meta(self) -> dict[str, Any] | None:
        got = self._col.get(ids=[LEASE_ID], include=["metadatas"])
        return (got["metadatas"][0] or {}) if got["ids"] else None

    def acquire_lease(self, *, ttl_s: float = LEASE_TTL_S, settle_s: float = 0.3) -> Lease:
        """Take the write lease, or raise LeaseHeld naming its holder.

        A lease is free when absent, expired, or held by a process of this host that is no
        longer alive (an indexer killed with SIGKILL). Chroma has no compare-and-set: we
        write our owner token, wait ``settle_s`` and read it back, so two indexers starting
        within that window both notice and one backs off; indexers that start further
        apart than the window always see each other. Clocks of the hosts must agree to well
        within ``ttl_s``.
        """
        host = _host_id()
        held = self._lease_meta()
        if held and held.get("owner"):
            alive = float(held.get("expires", 0)) > time.time()
            if alive and held.get("host") == host and not _pid_alive(int(held.get("pid", 0))):
                alive = False  # its holder on this host was killed
            if alive:
                raise LeaseHeld(
                    f"another `sanad index` holds the index lease on {self.settings.chroma_url} "
                    f"(host {str(held.get('host', '?')).split('/')[0]}, pid {held.get('pid')}, "
                    f"for up to {max(0, float(held['expires']) - time.time()):.0f} s more)")
        lease = Lease(owner=uuid.uuid4().hex)
        self._write_lease(lease, ttl_s)
        time.sleep(settle_s)
        now = self._lease_meta() or {}
        if now.get("owner") != lease.owner:
            raise LeaseHeld(f"another `sanad index` took the index lease on {self.settings.chroma_url} "
                            f"at the same moment (pid {now.get('pid')}); try again")
        return lease

    def _write_lease(self, lease: Lease, ttl_s: float) -> None:
        lease.renewed_at = time.monotonic()
        self._col.upsert(ids=[LEASE_ID], documents=[""], embeddings=[_DUMMY], metadatas=[{
            "owner": lease.owner, "host": _host_id(), "pid": os.getpid(), "expires": time.time() + ttl_s}])

    def renew_lease(self, lease: Lease, *, ttl_s: float = LEASE_TTL_S, every_s: float = 10.0) -> None:
        """Extend the lease when more than ``every_s`` passed since the last write."""
        if time.monotonic() - lease.renewed_at < every_s:
            return
        held = self._lease_meta() or {}
        if held.get("owner") != lease.owner:
            raise LeaseHeld("this indexer lost its lease on the Chroma server; run `sanad index` again")
        self._write_lease(lease, ttl_s)

    def release_lease(self, lease: Lease) -> None:
        held = self._lease_meta() or {}
        if held.get("owner") == lease.owner:
            self._col.delete(ids=[LEASE_ID])


__all__ = ["SharedCatalog", "Manifest", "ManifestEntry", "Lease", "SharedCatalogError", "LeaseHeld",
           "MissingRecords", "doc_key", "source_id", "encode_document", "decode_document"]
