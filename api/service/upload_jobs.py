"""Uploads that need OCR, kept on disk and indexed by a background worker (issue 30).

Reading a scan takes seconds a page (``bench/documents.py``): a 100-page scan, minutes. So an
upload that needs OCR (``index.paragraphs.needs_ocr``: an image file, a PDF with a page without
a text layer) is not read in its HTTP request. ``POST /v1/documents`` writes it here and answers
**202** with its status; the service's OCR worker (one thread per server process, at a lower CPU
priority; Tesseract itself runs one thread at ``nice 10``) reads and indexes it like any upload,
and ``GET /v1/documents/{file}/upload`` says where it stands: ``queued``, ``reading``,
``indexed`` (with its paragraphs and OCR's warnings) or ``failed`` (with why). The document is
visible to ``/v1/ask`` and listed once it is ``indexed``, as every upload is: only once complete.

On disk (``SANAD_DATA_DIR/upload_jobs/``), per upload:

- ``ID.data``: the uploaded bytes, written (and fsynced) before the 202 is sent;
- ``ID.json``: its status, replaced atomically at each step;
- ``ID.claim``: the PID of the process reading it (created exclusively, so of several
  ``sanad serve`` workers one reads it).

A process killed while reading or indexing leaves the job ``reading`` with a claim whose PID is
gone: the next worker to look (any process's, at its start or within :data:`POLL_S`) claims it
again and reads it from the start, after start-up recovery (``api.service.recovery``) has put
right whatever the killed indexing left. A job that was being read when the server died
:data:`MAX_ATTEMPTS` times is reported ``failed`` instead of tried again. The data file is
deleted once the job is ``indexed`` or ``failed``; finished statuses are kept for
:data:`KEEP_FINISHED_S` (and at most :data:`KEEP_FINISHED` of them).
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

log = logging.getLogger("sanad.upload_jobs")

JOBS_FOLDER = "upload_jobs"
#: how often an idle OCR worker looks for jobs (another process's, or one left by a killed one)
POLL_S = 2.0
#: a job whose reading was cut short by the server's death this many times is reported failed
MAX_ATTEMPTS = 3
KEEP_FINISHED_S = 7 * 24 * 3600.0
KEEP_FINISHED = 500

State = Literal["queued", "reading", "indexed", "failed"]


@dataclass
class UploadJob:
    id: str
    file: str
    size: int
    created_at: float
    state: State = "queued"
    updated_at: float = 0.0
    attempts: int = 0
    pages_read: int = 0  # pages OCR has gone through (while reading)
    paragraphs: int | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in ("indexed", "failed")


class JobStore:
    """The jobs of one data folder (every method is safe across threads and processes)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._mine: set[str] = set()  # claims this process holds

    # --- files ---------------------------------------------------------------------------
    def _path(self, job_id: str, ext: str) -> Path:
        return self.folder / f"{job_id}.{ext}"

    def _write(self, path: Path, data: bytes) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def save(self, job: UploadJob) -> None:
        job.updated_at = time.time()
        self._write(self._path(job.id, "json"), json.dumps(asdict(job), ensure_ascii=False).encode("utf-8"))

    def _load(self, path: Path) -> UploadJob | None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return UploadJob(**raw)
        except (OSError, ValueError, TypeError):
            return None

    # --- the API side --------------------------------------------------------------------
    def submit(self, file: str, data: bytes) -> UploadJob:
        """Keep ``data`` as a new queued job for ``file`` (on disk, fsynced, when this returns)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        job = UploadJob(id=uuid.uuid4().hex, file=file, size=len(data), created_at=time.time())
        self._write(self._path(job.id, "data"), data)
        self.save(job)
        self.prune()
        return job

    def jobs(self) -> list[UploadJob]:
        if not self.folder.is_dir():
            return []
        found = (self._load(p) for p in self.folder.glob("*.json"))
        return sorted((j for j in found if j is not None), key=lambda j: (j.created_at, j.id))

    def get(self, job_id: str) -> UploadJob | None:
        return self._load(self._path(job_id, "json")) if job_id.isalnum() else None

    def latest(self, file: str) -> UploadJob | None:
        """The most recent job for ``file``."""
        mine = [j for j in self.jobs() if j.file == file]
        return mine[-1] if mine else None

    def pending(self) -> list[UploadJob]:
        return [j for j in self.jobs() if not j.finished]

    # --- the worker side -----------------------------------------------------------------
    def claim_next(self) -> UploadJob | None:
        """The oldest unfinished job no live process is reading, claimed by this process."""
        for job in self.pending():
            if self._claim(job.id):
                job = self.get(job.id) or job
                if job.finished:  # finished between the listing and the claim
                    self.release(job)
                    continue
                return job
        return None

    def _claim(self, job_id: str) -> bool:
        path = self._path(job_id, "claim")
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self._stale(path, job_id):
                    return False
                path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(str(os.getpid()))
            self._mine.add(job_id)
            return True
        return False

    def _stale(self, path: Path, job_id: str) -> bool:
        """The claim's process is gone (or is this one, which does not hold it: a PID reused)."""
        try:
            pid = int(path.read_text().strip() or "0")
        except (OSError, ValueError):
            return time.time() - _mtime(path) > 60  # being written, or garbage
        if pid == os.getpid():
            return job_id not in self._mine
        if pid <= 0:
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def release(self, job: UploadJob) -> None:
        self._mine.discard(job.id)
        self._path(job.id, "claim").unlink(missing_ok=True)

    def data(self, job: UploadJob) -> bytes:
        return self._path(job.id, "data").read_bytes()

    def finish(self, job: UploadJob, state: State, *, error: str | None = None,
               paragraphs: int | None = None, warnings: list[str] | None = None) -> None:
        """Record the outcome; the data file and the claim go."""
        job.state, job.error, job.paragraphs = state, error, paragraphs
        job.warnings = list(warnings or [])
        self.save(job)
        self._path(job.id, "data").unlink(missing_ok=True)
        self.release(job)

    def prune(self) -> None:
        """Finished statuses older than :data:`KEEP_FINISHED_S`, or beyond :data:`KEEP_FINISHED`."""
        done = [j for j in self.jobs() if j.finished]
        now = time.time()
        old = [j for j in done if now - j.updated_at > KEEP_FINISHED_S]
        old += [j for j in done[:max(0, len(done) - KEEP_FINISHED)] if j not in old]
        for job in old:
            self._path(job.id, "json").unlink(missing_ok=True)
            self._path(job.id, "data").unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def lower_thread_priority(increment: int = 10) -> None:
    """Lower the CPU priority of the calling thread only (Linux schedules threads on their own)."""
    try:
        import threading

        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + increment)
    except (AttributeError, OSError):
        pass


__all__ = ["JOBS_FOLDER", "JobStore", "MAX_ATTEMPTS", "POLL_S", "UploadJob", "lower_thread_priority"]
