"""What the HTTP layer drives: one Answerer, one Indexer sharing its embedder, the documents.

Blocking work (the model, SQLite, Chroma) is called from FastAPI's threadpool. The
Answerer is thread-safe and holds its own lock around model and catalog use. Uploads and
deletes are indexed by an Indexer with its own copy of the model (``SANAD_UPLOAD_EMBEDDER=
separate``, loaded in the background once the service is ready), so questions keep being
answered, on the other core, while a document is embedded: readers never see a document
before its catalog commit, and see the old or the new version in one snapshot. With
``shared`` the Indexer uses the Answerer's model and takes its lock (less memory; questions
wait for the write, and their encodes take turns with the upload's: the embedder makes one
model call at a time). Reads of the catalog for ``/documents`` and ``/paragraphs`` go through a separate
connection and never wait for the model. Asking is ``api.service.asking``.

An upload is visible only once it is complete: its file is written to a ``.part`` beside its
name, its vectors are stored, the file is moved onto its name, and only then is the catalog
commit made (``Indexer.add_document(publish=...)``), so a listed upload is ``uploaded: true``
from its first moment; a delete sets the file aside (a ``.part``) just before the commit that
removes the document. What a killed process leaves (a ``.part``, vectors no commit names)
is put right at the next start, before ``/readyz`` is 200 (``api.service.recovery``).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from api.schemas import DocumentInfo, DocumentText, ParagraphOut
from api.service import upload_paths
from api.answer_log.local import IndexVersion
from api.service.errors import Conflict, DocumentTooLarge, IndexBusy, LoadFailed, NotFound, NotReady
from api.service.file_names import FileNameError, validate_filename
from api.service.folder_sync import start_folder_sync
from api.service.metrics import Metrics
from api.service.recovery import recover
from api.service.upload_jobs import JOBS_FOLDER, MAX_ATTEMPTS, POLL_S, JobStore, UploadJob, lower_thread_priority
from index.catalog import Catalog, DocumentRecord
from index.embedding import SanadEmbedding
from index.extracted import ExtractLimits
from index.indexer import Indexer, IndexerError
from index.watch import FolderSync
from index.paragraphs import DocumentError, ParsedDocument, needs_ocr, parse_document
from settings.errors import SanadError
from qa.answerer import Answerer, build_answerer
from settings import Settings

if TYPE_CHECKING:  # made by the server that runs the service (api.serving)
    from api.serving.worker_readiness import WorkerReadiness

log = logging.getLogger("sanad.api")


class _Stopping(Exception):
    """The service is closing: a job being read is left for the next start."""

#: builds the Answerer from settings (in the loading thread)
Loader = Callable[[Settings], Answerer]

#: how long a document write waits for the upload indexer's model to load
INDEXER_WAIT_S = 300.0


class Service:
    """The loaded state of one app. ``start_loading()`` loads in a background thread."""

    def __init__(self, settings: Settings, *, answerer: Answerer | None = None, loader: Loader | None = None,
                 metrics: Metrics, workers: WorkerReadiness | None = None,
                 indexer_embedder: Callable[[], SanadEmbedding] | None = None, collection: str = "default") -> None:
        """``workers``: the other processes of ``sanad serve --workers N`` (``/readyz`` waits for all).
        ``indexer_embedder``: a named collection's (``api.service.collections``): the model its upload
        Indexer shares (the default collection's), made on the first write instead of at load;
        such a service leaves the index-size gauges to the default collection's."""
        self.collection = collection
        self._indexer_embedder = indexer_embedder
        self._indexer_make_lock = threading.Lock()
        self.settings = settings
        self.workers = workers
        self.metrics = metrics
        self.read_lock = threading.Lock()
        self.answerer = answerer
        self.loader = loader or build_answerer
        self.indexer: Indexer | None = None
        self._indexer_ready = threading.Event()
        self._uploads_lock = threading.Lock()
        self.catalog: Catalog | None = None
        self.load_error: str | None = None
        self._ready = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._index_version = IndexVersion()
        #: SANAD_WATCH_DIRS kept in sync once the indexer is loaded (api.service.folder_sync)
        self.folder_sync: FolderSync | None = None
        self.jobs = JobStore(settings.data_dir / JOBS_FOLDER)
        self._jobs_wake = threading.Event()
        self._jobs_thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------
    @property
    def uploads_dir(self) -> Path:
        return self.settings.uploads_dir

    @property
    def closed(self) -> bool:
        """True once :meth:`close` began (a deleted collection's service)."""
        return self._closing

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def start_loading(self) -> None:
        self._thread = threading.Thread(target=self._load, name="sanad-load", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def _load(self) -> None:
        try:
            if self.answerer is None:
                log.info("loading the embedding model and the index from %s", self.settings.data_dir)
                self.answerer = self.loader(self.settings)
            if self._indexer_embedder is None:  # the default collection's service reports these
                self.metrics.watch_answer_cache(self.answerer.cache)
                self.metrics.watch_query_batcher(self.answerer.query_batcher)
            if recover(self.settings, embedder=self.answerer.embedder).committed:
                self.answerer.reload()  # an upload killed just before its commit was committed
            if self.settings.upload_embedder == "shared":
                self.indexer = Indexer(self.settings, embedder=self.answerer.embedder,
                                       lexical=self.answerer.lexical_follower)
                self._indexer_ready.set()
            self.catalog = Catalog(self.settings.catalog_path)
            counts = self.catalog.counts()
            self._set_counts(counts)
        except Exception as exc:  # noqa: BLE001 - reported by /readyz and the log
            log.exception("loading failed")
            self.load_error = f"{exc.__class__.__name__}: {exc}"
            return
        if self._closing:
            self._close_stores()
            return
        if self._indexer_embedder is None:
            self.metrics.ready.set(1)
        self._ready.set()
        if self.workers is not None:
            try:
                self.workers.mark_ready()
            except OSError:  # /readyz then stays 503, and says how many workers are ready
                log.exception("could not write this worker's readiness marker in %s", self.workers.folder)
        log.info("ready: %(documents)d documents, %(chunks)d chunks", counts)
        if not self._indexer_ready.is_set() and self._indexer_embedder is None:
            self._load_indexer()
        if self.settings.watch_dirs and self._indexer_ready.is_set() and self._indexer_embedder is None:
            # SANAD_WATCH_DIRS is the default collection's corpus (a named collection's settings copy it)
            with self._uploads_lock:
                if not self._closing:
                    self.folder_sync = start_folder_sync(self)
        self._jobs_thread = threading.Thread(target=self._run_jobs, name="sanad-ocr-uploads", daemon=True)
        self._jobs_thread.start()

    def _set_counts(self, counts: dict[str, int]) -> None:
        if self._indexer_embedder is None:  # the gauges are the default collection's
            self.metrics.set_counts(counts)

    def load_now(self) -> None:
        """Load in this thread (a named collection, opened on its first use); raises what
        loading failed with as :class:`LoadFailed`."""
        self._load()
        self.require_ready()

    def _load_indexer(self) -> None:
        """The upload Indexer with its own model (after ready: it never delays questions)."""
        try:
            indexer = Indexer(self.settings,
                              embedder=self._indexer_embedder() if self._indexer_embedder else None,
                              lexical=self.answerer.lexical_follower if self.answerer else None)
        except Exception:  # noqa: BLE001 - uploads then answer 503 with the reason in the log
            log.exception("loading the upload indexer failed")
            return
        with self._uploads_lock:
            if self._closing:
                indexer.close()
                return
            self.indexer = indexer
        self._indexer_ready.set()

    @property
    def write_lock(self) -> threading.Lock | threading.RLock:
        """Held around document writes: the Answerer's lock when the model is shared."""
        if self.settings.upload_embedder == "shared" and self.answerer is not None:
            return self.answerer.lock
        return self._uploads_lock

    def require_indexer(self) -> Indexer:
        """The upload Indexer, waiting while its model loads; :class:`NotReady` when it cannot be had."""
        self.require_ready()
        if self._indexer_embedder is not None and not self._indexer_ready.is_set():
            with self._indexer_make_lock:  # a named collection's: made on its first write, with the shared model
                if not self._indexer_ready.is_set():
                    self._load_indexer()
            if self.indexer is None:
                raise NotReady("the document indexer is still loading (or failed to load); retry shortly",
                               retry_after_s=10)
        if not self._indexer_ready.wait(INDEXER_WAIT_S) or self.indexer is None:
            raise NotReady("the document indexer is still loading (or failed to load); retry shortly",
                           retry_after_s=10)
        return self.indexer

    def close(self) -> None:
        self._closing = True
        with self._uploads_lock:
            sync, self.folder_sync = self.folder_sync, None
        if sync is not None:
            sync.stop()
        self._jobs_wake.set()
        if self._ready.is_set() and self.answerer is not None:
            with self.write_lock, self.answerer.lock:
                self._close_stores()

    def _close_stores(self) -> None:
        for obj in (self.indexer, self.answerer, self.catalog):
            try:
                if obj is not None:
                    obj.close()
            except Exception:  # noqa: BLE001
                log.debug("closing %r failed", obj, exc_info=True)

    def require_answerer(self) -> Answerer:
        """The loaded answerer, or :class:`NotReady` (still loading) / :class:`LoadFailed`."""
        self.require_ready()
        assert self.answerer is not None
        return self.answerer

    def require_ready(self) -> None:
        if self._closing and self.collection != "default":  # a deleted collection's service
            raise NotFound(f"no such collection: {self.collection}")
        if self._ready.is_set():
            return
        if self.load_error:
            raise LoadFailed(f"the service failed to load: {self.load_error}")
        raise NotReady("the model and index are still loading; retry shortly")

    def documents_changed(self) -> None:
        """The documents changed outside an upload (folder sync): the metrics' counts follow."""
        assert self.catalog is not None
        with self.read_lock:
            self._set_counts(self.catalog.counts())

    def counts(self) -> dict[str, int]:
        assert self.catalog is not None
        with self.read_lock:
            return self.catalog.counts()

    def index_version(self) -> str:
        """A digest of the documents being served (``api.answer_log.local.IndexVersion``)."""
        with self.read_lock:
            return self._index_version.of(self.catalog)

    def sync_catalog(self) -> None:
        """Server mode: bring this replica's catalog cache to the Chroma server's version
        before a document read (asks do it themselves); one small request when current."""
        sync = self.answerer.sync if self.answerer is not None else None
        if sync is None:
            return
        try:
            sync.refresh()
        except Exception:  # noqa: BLE001 - serve the last synced version
            log.warning("could not sync the catalog from the Chroma server", exc_info=True)

    # --- documents --------------------------------------------------------------------
    def _info(self, rec: DocumentRecord) -> DocumentInfo:
        path = self._upload_path(rec.file, must_be_valid=False)
        return DocumentInfo(file=rec.file, paragraphs=rec.n_paragraphs, sha256=rec.sha256, kind=rec.kind,
                            title=rec.title, size=rec.size_bytes, indexed_at=rec.indexed_at,
                            uploaded=path is not None and path.is_file())

    def _upload_path(self, file: str, *, must_be_valid: bool = True) -> Path | None:
        """Where an upload named ``file`` lives, confined to the uploads folder."""
        try:
            validate_filename(file)
        except FileNameError:
            if must_be_valid:
                raise
            return None
        root = self.uploads_dir.resolve()
        path = (root / file).resolve()
        if path != root and root not in path.parents:
            if must_be_valid:
                raise FileNameError("the file name leaves the uploads folder")
            return None
        return path

    def list_documents(self) -> list[DocumentInfo]:
        self.require_ready()
        assert self.catalog is not None
        self.sync_catalog()
        with self.read_lock:
            records = self.catalog.documents()
        return [self._info(r) for r in records]

    def _record_or_404(self, file: str) -> DocumentRecord:
        assert self.catalog is not None
        self.sync_catalog()
        with self.read_lock:
            rec = self.catalog.document(file)
        if rec is None:
            validate_filename(file)  # FileNameError for names that could never exist
            raise NotFound(f"no such document: {file}")
        return rec

    def document(self, file: str) -> DocumentInfo:
        self.require_ready()
        return self._info(self._record_or_404(file))

    def document_text(self, file: str) -> DocumentText:
        """The stored text of ``file`` (every citation offset indexes into it); :class:`NotFound`,
        or :class:`FileNameError` for a name that could never exist."""
        self.require_ready()
        assert self.catalog is not None
        self.sync_catalog()
        with self.read_lock:
            text = self.catalog.document_text(file)
        if text is None:
            self._record_or_404(file)  # raises what the other document reads raise
            raise NotFound(f"no such document: {file}")
        return DocumentText(file=file, text=text)

    def paragraph(self, file: str, number: int) -> ParagraphOut:
        self.require_ready()
        assert self.catalog is not None
        self.sync_catalog()
        with self.read_lock:  # SQLite integers are 64-bit: a larger number is no paragraph (not a 500)
            para = self.catalog.paragraph(file, number) if 0 < number < 2**63 else None
        if para is None:
            rec = self._record_or_404(file)
            raise NotFound(f"{file} has paragraphs 1 to {rec.n_paragraphs}, not {number}")
        return ParagraphOut(**asdict(para))

    def accept_upload(self, name: str, data: bytes) -> tuple[DocumentInfo, bool] | UploadJob:
        """An upload: indexed now (``(info, created)``, as :meth:`add_document`), or, when reading
        it needs OCR (an image, a scanned PDF page), checked, kept and queued for the OCR worker:
        its :class:`UploadJob` (``api.service.upload_jobs``)."""
        self.require_answerer()
        path = self._upload_path(name)
        assert path is not None and self.catalog is not None
        self._check_size(data)
        if not needs_ocr(data, file=name, limits=ExtractLimits.from_settings(self.settings)):
            return self.add_document(name, data)
        with self.read_lock:
            existing = self.catalog.document(name)
        if existing is not None and not path.is_file():
            raise Conflict(f"{name} is a corpus document indexed by `sanad index`; upload under another name")
        reason = upload_paths.clash(self.uploads_dir.resolve(), path)
        if reason:
            raise Conflict(reason)
        job = self.jobs.submit(name, data)
        self._jobs_wake.set()
        log.info("queued upload %s for OCR (job %s)", name, job.id)
        return job

    def upload_status(self, file: str) -> UploadJob:
        """The latest upload job of ``file``; :class:`NotFound` when it has none."""
        self.require_ready()
        job = self.jobs.latest(file)
        if job is None:
            validate_filename(file)
            raise NotFound(f"no upload of {file} is queued or was read by OCR recently "
                           "(uploads that need no OCR are indexed in their request)")
        return job

    def _check_size(self, data: bytes) -> None:
        limit = min(self.settings.max_upload_bytes, self.settings.max_file_bytes)
        if len(data) > limit:
            raise DocumentTooLarge(f"the document is larger than the limit of {limit} bytes")

    def _parse_upload(self, name: str, data: bytes, *, job: UploadJob | None = None) -> ParsedDocument:
        self._check_size(data)
        limits = ExtractLimits.from_settings(self.settings)
        if job is not None:
            def progress(pages: int) -> None:
                job.pages_read = pages
                try:
                    self.jobs.save(job)
                except OSError:  # only the progress is lost
                    log.debug("could not save the progress of job %s", job.id, exc_info=True)

            limits = replace(limits, ocr_progress=progress)
        try:
            doc = parse_document(data, file=name, limits=limits)
        except DocumentError as exc:
            raise DocumentError(f"cannot read the document: {exc}") from None
        if not doc.paragraphs:
            why = f" ({'; '.join(doc.warnings)})" if doc.warnings else ""
            raise DocumentError(f"the document has no text to index{why}")
        return doc

    def add_document(self, name: str, data: bytes) -> tuple[DocumentInfo, bool]:
        """Store and index an uploaded document now (OCR included); returns (info, created)."""
        self.require_answerer()
        path = self._upload_path(name)
        assert path is not None and self.catalog is not None
        return self._index_upload(name, data, self._parse_upload(name, data))

    def _index_upload(self, name: str, data: bytes, doc: ParsedDocument) -> tuple[DocumentInfo, bool]:
        answerer = self.require_answerer()
        path = self._upload_path(name)
        assert path is not None and self.catalog is not None
        indexer = self.require_indexer()
        with self.write_lock:
            with self.read_lock:
                existing = self.catalog.document(name)
            if existing is not None and not path.is_file():
                raise Conflict(f"{name} is a corpus document indexed by `sanad index`; upload under another name")
            tmp = upload_paths.write_temp(self.uploads_dir, path, data)  # Conflict/FileNameError before indexing
            try:  # the file moves into place once every vector is stored, just before the commit
                indexer.add_document(doc, size_bytes=len(data),
                                     publish=lambda: upload_paths.commit(self.uploads_dir, tmp, path))
            except IndexerError as exc:
                upload_paths.discard(self.uploads_dir, tmp)
                raise IndexBusy(str(exc)) from None
            except BaseException:
                upload_paths.discard(self.uploads_dir, tmp)
                raise
            # read back under the write lock: a delete of this name waits for it (and succeeds
            # after), so the record is the one just committed, unless another process wrote it
            with self.read_lock:
                rec = self.catalog.document(name)
                self._set_counts(self.catalog.counts())
            if rec is None or rec.sha256 != doc.sha256:
                raise Conflict(f"{name} was deleted or replaced by another process while it was being "
                               "uploaded; upload it again if it is still wanted")
            info = self._info(rec)
        answerer.reload()  # the new version is committed: have its lexical index built
        log.info("indexed upload %s (%d paragraphs)", name, rec.n_paragraphs)
        return info, existing is None

    # --- the OCR worker -------------------------------------------------------------------
    def _run_jobs(self) -> None:
        """Read and index the queued OCR uploads, one at a time, at a lower CPU priority; jobs a
        killed process left are taken up again (``api.service.upload_jobs``)."""
        lower_thread_priority()
        left = self.jobs.pending()
        if left:
            log.warning("%d upload(s) waiting for OCR from before this start: reading them now", len(left))
        while not self._closing:
            try:
                job = self.jobs.claim_next()
            except OSError:
                log.exception("looking for OCR uploads failed")
                job = None
            if job is None:
                self._jobs_wake.wait(POLL_S)
                self._jobs_wake.clear()
                continue
            self._process_job(job)

    def _process_job(self, job: UploadJob) -> None:
        if job.attempts >= MAX_ATTEMPTS:
            self.jobs.finish(job, "failed", error=f"reading it was cut short {job.attempts} times (the server "
                             "stopped or was killed meanwhile); upload it again, or index it with `sanad index`")
            log.warning("upload job %s (%s) given up after %d attempts", job.id, job.file, job.attempts)
            return
        job.state, job.attempts, job.pages_read = "reading", job.attempts + 1, 0
        self.jobs.save(job)
        try:
            data = self.jobs.data(job)
            started = time.monotonic()
            doc = self._parse_upload(job.file, data, job=job)
            if self._closing:
                raise _Stopping
            info, _ = self._index_upload(job.file, data, doc)
        except _Stopping:
            self.jobs.release(job)  # read again at the next start
            return
        except IndexBusy as exc:  # another writer: try again shortly
            job.state, job.attempts = "queued", job.attempts - 1
            job.error = str(exc)
            self.jobs.save(job)
            self.jobs.release(job)
            self._jobs_wake.wait(exc.retry_after_s)
            return
        except (SanadError, FileNameError) as exc:
            if self._closing:
                self.jobs.release(job)
                return
            self.jobs.finish(job, "failed", error=str(exc))
            log.info("upload job %s (%s) failed: %s", job.id, job.file, exc)
            return
        except Exception:  # noqa: BLE001 - the job is reported; the traceback goes to the log
            if self._closing:
                self.jobs.release(job)
                return
            log.exception("upload job %s (%s) failed", job.id, job.file)
            self.jobs.finish(job, "failed", error="the server failed to index it (see its log)")
            return
        self.jobs.finish(job, "indexed", paragraphs=info.paragraphs, warnings=list(doc.warnings))
        log.info("indexed OCR upload %s (%d paragraphs, %.1f s)", job.file, info.paragraphs,
                 time.monotonic() - started)

    def delete_document(self, name: str) -> None:
        answerer = self.require_answerer()
        path = self._upload_path(name)
        assert path is not None and self.catalog is not None
        indexer = self.require_indexer()
        with self.write_lock:
            aside: list[Path] = []

            def set_aside() -> None:  # just before the commit: the file goes with its document
                if path.is_file():
                    aside.append(upload_paths.set_aside(path))

            try:
                removed = indexer.remove(name, before=set_aside)
            except BaseException as exc:
                with self.read_lock:
                    still_listed = self.catalog.document(name) is not None
                for tmp in aside:
                    if still_listed:
                        upload_paths.restore(tmp, path)
                    else:
                        upload_paths.discard(self.uploads_dir, tmp)
                if isinstance(exc, IndexerError):
                    raise IndexBusy(str(exc)) from None
                raise
            for tmp in aside:
                upload_paths.discard(self.uploads_dir, tmp)
            had_file = bool(aside)
            if not removed and path.is_file():  # a file no document names (left by an older version)
                path.unlink()
                upload_paths.prune_empty_dirs(self.uploads_dir, path.parent)
                had_file = True
            if not removed and not had_file:
                raise NotFound(f"no such document: {name}")
        answerer.reload()
        with self.read_lock:
            self._set_counts(self.catalog.counts())
        log.info("removed document %s", name)
