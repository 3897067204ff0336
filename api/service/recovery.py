"""Start-up recovery: what a killed upload, delete or index run left behind, put right before
the service is ready (``Service._load`` runs :func:`recover` before ``/readyz`` is 200).

An upload's steps (``api.service.service``) are: write ``uploads/.NAME.PID.TID.part``, store its
vectors, move the ``.part`` onto ``uploads/NAME``, commit the catalog; a delete's: move
``uploads/NAME`` to such a ``.part``, commit, delete the ``.part``. A ``kill -9`` between two
of them leaves, and this puts right (each logged):

- **``.part`` files** whose writer is gone (the PID in the name is no running process, or is
  this one, which has written nothing yet): deleted. One whose bytes are exactly the version
  the catalog lists for its name while ``uploads/NAME`` is missing (a delete killed before
  its commit; or what versions before the upload steps were reordered left) is moved back
  onto its name: the document is as it was.
- **an uploaded file the catalog does not hold** (in that version): an upload killed between
  moving its file into place and its commit, with every vector stored; it is committed now
  (no model call). A file that differs from a listed version is committed only when it was
  written after that version was indexed (in server mode another replica may have replaced
  the document since, with a newer version than this file). Other files are left as they
  are, with a warning (``sanad index`` indexes them): recovery never deletes a document's
  only copy. A file whose name an unfinished OCR upload job holds is left to that job
  (``api.service.upload_jobs``), which reads and commits it again after the start: recovery
  never runs OCR before ``/readyz``.
- **orphan vectors**: Chroma vectors whose chunk the catalog does not hold, deleted under the
  index lock (and, in server mode, the write lease), so a writer in another process is never
  cut short; when one holds them, this step is left to a later start (``sanad index`` also
  removes them).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from api.service import upload_paths
from api.service.upload_jobs import JOBS_FOLDER, JobStore
from index.catalog import Catalog
from index.embedding import SanadEmbedding
from index.extracted import ExtractLimits
from index.indexer import Indexer, IndexerError
from index.paragraphs import DocumentError, parse_document
from settings import StoreSettings

log = logging.getLogger("sanad.recovery")


@dataclass
class RecoveryReport:
    """What :func:`recover` found and did (file names relative to the uploads folder)."""

    parts_removed: list[str] = field(default_factory=list)
    parts_completed: list[str] = field(default_factory=list)
    uploads_committed: list[str] = field(default_factory=list)
    uploads_left: list[str] = field(default_factory=list)
    orphan_vectors: int = 0
    skipped: str | None = None

    @property
    def committed(self) -> bool:
        """The catalog changed: readers must reload."""
        return bool(self.parts_completed or self.uploads_committed)


def recover(settings: StoreSettings, *, embedder: SanadEmbedding | None = None) -> RecoveryReport:
    """Put right what a killed process left in ``settings.data_dir`` (see the module docstring).

    Never raises for what it cannot do: that is logged, and the service starts anyway."""
    report = RecoveryReport()
    uploads = settings.uploads_dir
    try:
        indexer = Indexer(settings, embedder=embedder)
    except Exception as exc:  # noqa: BLE001 - loading the service reports a store it cannot open
        log.warning("start-up recovery skipped: %s", exc)
        report.skipped = str(exc)
        return report
    try:
        if uploads.is_dir():
            _parts(uploads, indexer.catalog, report)
            _uploads(uploads, indexer, settings, report)
        try:
            report.orphan_vectors = indexer.remove_orphans()
        except IndexerError as exc:  # another process is writing: it, or a later start, removes them
            log.info("orphan vectors not looked for now: %s", exc)
            report.skipped = str(exc)
        if report.orphan_vectors:
            log.warning("removed %d orphan vectors (stored by a write that was killed before its commit)",
                        report.orphan_vectors)
    except Exception:  # noqa: BLE001 - the service still starts; the next start tries again
        log.exception("start-up recovery failed")
    finally:
        indexer.close()
    return report


def _parts(uploads: Path, catalog: Catalog, report: RecoveryReport) -> None:
    for part in sorted(uploads.rglob(".*.part")):
        m = upload_paths.TEMP_NAME.fullmatch(part.name)
        if m is None or not part.is_file() or not _writer_gone(int(m["pid"])):
            continue
        target = part.with_name(m["name"])
        rel = target.relative_to(uploads).as_posix()
        rec = catalog.document(rel)
        if rec is not None and not target.exists() and _sha256(part) == rec.sha256:
            os.replace(part, target)
            report.parts_completed.append(rel)
            log.warning("moved %s back onto uploads/%s: the catalog lists that version (a write killed before "
                        "its commit)", part.name, rel)
            continue
        part.unlink(missing_ok=True)
        upload_paths.prune_empty_dirs(uploads, part.parent)
        report.parts_removed.append(part.relative_to(uploads).as_posix())
        log.warning("removed %s, left by an upload that was killed", part.relative_to(uploads).as_posix())


def _uploads(uploads: Path, indexer: Indexer, settings: StoreSettings, report: RecoveryReport) -> None:
    catalog = indexer.catalog
    queued = {j.file for j in JobStore(settings.data_dir / JOBS_FOLDER).pending()}
    for path in sorted(p for p in uploads.rglob("*") if p.is_file() and not p.name.startswith(".")):
        rel = path.relative_to(uploads).as_posix()
        rec = catalog.document(rel)
        data = path.read_bytes()
        if rec is not None and rec.sha256 == hashlib.sha256(data).hexdigest():
            continue
        if rel in queued:  # its OCR job reads and commits it again (no OCR before /readyz)
            report.uploads_left.append(rel)
            log.warning("uploads/%s is left to its queued OCR upload, which indexes it again", rel)
            continue
        if rec is not None and path.stat().st_mtime <= rec.indexed_at:
            log.warning("uploads/%s differs from its indexed version, which is newer; left as it is", rel)
            continue
        try:
            doc = parse_document(data, file=rel, limits=ExtractLimits.from_settings(settings))
        except DocumentError:
            doc = None
        if doc is not None and doc.paragraphs and indexer.chunks_stored(doc):
            try:
                indexer.add_document(doc, size_bytes=len(data))
            except IndexerError as exc:  # another process is writing (its own upload, maybe this one)
                log.info("uploads/%s not committed now: %s", rel, exc)
                continue
            report.uploads_committed.append(rel)
            log.warning("committed the upload of %s: it was killed after storing its vectors", rel)
        else:
            report.uploads_left.append(rel)
            log.warning("uploads/%s is not the indexed version (or not indexed) and its vectors are not all "
                        "stored; left as it is: `sanad index` indexes it", rel)


def _writer_gone(pid: int) -> bool:
    """No running process wrote with this PID (this process has not written anything yet)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return pid > 2**31  # another user's process, or no PID at all
    return False


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


__all__ = ["RecoveryReport", "recover"]
