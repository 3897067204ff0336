"""What the HTTP layer drives: one Answerer, one Indexer sharing its embedder, conversations.

Blocking work (the model, SQLite, Chroma) is called from FastAPI's threadpool. One lock
(``work_lock``) serialises everything that touches the model or writes the index: the
Answerer is not re-entrant (it sets its retriever's ``top_k`` per call) and a fast
tokenizer must not be used by two threads at once. Reads of the catalog for ``/documents``
and ``/paragraphs`` go through a separate connection and never wait for the model.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from api.documents import DocumentInfo, FileNameError, ParagraphOut, checked_name, validate_filename
from api.errors import ApiError
from api.metrics import Metrics
from index.catalog import Catalog, DocumentRecord
from index.config import Settings
from index.paragraphs import DocumentError, parse_document
from qa.conversation import ConversationStore, answer_in_language, standalone_question
from qa.language import detect_language
from qa.models import Answer

log = logging.getLogger("sanad.api")

Loader = Callable[[Settings], "object"]


def default_loader(settings: Settings):  # noqa: ANN201 - qa.answerer.Answerer
    from qa.answerer import build_answerer

    return build_answerer(settings)


class Service:
    """The loaded state of one app. ``start_loading()`` loads in a background thread."""

    def __init__(self, settings: Settings, *, answerer=None, loader: Loader | None = None,  # noqa: ANN001
                 metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.conversations = ConversationStore()
        self.work_lock = threading.Lock()
        self.read_lock = threading.Lock()
        self.answerer = answerer
        self.loader = loader or default_loader
        self.indexer = None
        self.catalog: Catalog | None = None
        self.load_error: str | None = None
        self._ready = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------
    @property
    def uploads_dir(self) -> Path:
        return self.settings.data_dir / "uploads"

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def start_loading(self) -> None:
        self._thread = threading.Thread(target=self._load, name="sanad-load", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def _load(self) -> None:
        from index.indexer import Indexer

        try:
            if self.answerer is None:
                log.info("loading the embedding model and the index from %s", self.settings.data_dir)
                self.answerer = self.loader(self.settings)
            if self.generative:  # it takes the lock itself, around model use only (not the LLM call)
                self.answerer.lock = self.work_lock
            self.indexer = Indexer(self.settings, embedder=self.answerer.embedder)
            self.catalog = Catalog(self.settings.catalog_path)
            counts = self.catalog.counts()
            self.metrics.set_counts(counts)
        except Exception as exc:  # noqa: BLE001 - reported by /readyz and the log
            log.exception("loading failed")
            self.load_error = f"{exc.__class__.__name__}: {exc}"
            return
        if self._closing:
            self._close_stores()
            return
        self.metrics.ready.set(1)
        self._ready.set()
        log.info("ready: %(documents)d documents, %(chunks)d chunks", counts)

    def close(self) -> None:
        self._closing = True
        if self._ready.is_set():
            with self.work_lock:
                self._close_stores()

    def _close_stores(self) -> None:
        for obj in (self.indexer, self.answerer, self.catalog):
            try:
                if obj is not None:
                    obj.close()
            except Exception:  # noqa: BLE001
                log.debug("closing %r failed", obj, exc_info=True)

    def require_ready(self) -> None:
        if self._ready.is_set():
            return
        if self.load_error:
            raise ApiError(503, f"the service failed to load: {self.load_error}", code="load_failed")
        raise ApiError(503, "the model and index are still loading; retry shortly",
                       code="not_ready", headers={"Retry-After": "5"})

    def counts(self) -> dict[str, int]:
        assert self.catalog is not None
        with self.read_lock:
            return self.catalog.counts()

    def sync_catalog(self) -> None:
        """Server mode: bring this replica's catalog cache to the Chroma server's version
        before a document read (asks do it themselves); one small request when current."""
        sync = getattr(self.answerer, "sync", None)
        if sync is None:
            return
        try:
            sync.refresh()
        except Exception:  # noqa: BLE001 - serve the last synced version
            log.warning("could not sync the catalog from the Chroma server", exc_info=True)

    # --- answering --------------------------------------------------------------------
    def check_question(self, question: str) -> None:
        """422 for questions the answerer would refuse (before waiting for the model)."""
        limit = self.settings.max_question_chars
        stripped = question.strip()
        if not stripped:
            raise ApiError(422, "the question is empty", code="invalid_question")
        if len(stripped) > limit:
            raise ApiError(422, f"the question is {len(stripped)} characters; the limit is {limit}",
                           code="question_too_long")

    @property
    def generative(self) -> bool:
        """True when the answerer is the LLM one (it streams tokens and locks for itself)."""
        return bool(getattr(self.answerer, "supports_streaming", False))

    def ask(self, question: str, *, top_k: int | None = None,
            history: Sequence[str] = ()) -> tuple[Answer, str]:
        """Answer ``question`` given earlier standalone questions; returns (answer, standalone)."""
        from qa.answerer import QuestionError

        self.require_ready()
        self.check_question(question)
        standalone = standalone_question(question, history, max_chars=self.settings.max_question_chars)
        language = detect_language(question)
        try:
            if self.generative:  # holds work_lock only around model use, not while the LLM writes
                answer = self.answerer.ask(standalone, top_k=top_k, language=language)
            else:
                with self.work_lock:
                    answer = self.answerer.ask(standalone, top_k=top_k)
        except QuestionError as exc:
            raise ApiError(422, str(exc), code="invalid_question") from None
        if answer.language != language:
            answer = answer_in_language(answer, language)
        self.metrics.observe_answer(answer)
        return answer, standalone

    def ask_stream(self, question: str, *, top_k: int | None = None,
                   history: Sequence[str] = ()) -> tuple[Iterator[tuple[str, Any]], str]:
        """For the LLM answerer: ``(events, standalone)``; ``events`` yields ``("delta", text)``
        as the checked answer is generated, then ``("answer", Answer)``. Call it only when
        :attr:`generative`; it validates first (4xx/503 before any event)."""
        self.require_ready()
        self.check_question(question)
        standalone = standalone_question(question, history, max_chars=self.settings.max_question_chars)
        events = self.answerer.ask_stream(standalone, top_k=top_k, language=detect_language(question))

        def observed() -> Iterator[tuple[str, Any]]:
            for kind, value in events:
                if kind == "answer":
                    self.metrics.observe_answer(value)
                yield kind, value

        return observed(), standalone

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
            checked_name(file)  # 400 for names that could never exist
            raise ApiError(404, f"no such document: {file}")
        return rec

    def document(self, file: str) -> DocumentInfo:
        self.require_ready()
        return self._info(self._record_or_404(file))

    def paragraph(self, file: str, number: int) -> ParagraphOut:
        self.require_ready()
        assert self.catalog is not None
        self.sync_catalog()
        with self.read_lock:  # SQLite integers are 64-bit: a larger number is no paragraph (not a 500)
            para = self.catalog.paragraph(file, number) if 0 < number < 2**63 else None
        if para is None:
            rec = self._record_or_404(file)
            raise ApiError(404, f"{file} has paragraphs 1 to {rec.n_paragraphs}, not {number}")
        return ParagraphOut(file=para.file, paragraph=para.paragraph, line_start=para.line_start,
                            line_end=para.line_end, char_start=para.char_start, char_end=para.char_end,
                            text=para.text, boilerplate=para.boilerplate,
                            page_start=para.page_start, page_end=para.page_end)

    def add_document(self, name: str, data: bytes) -> tuple[DocumentInfo, bool]:
        """Store and index an uploaded document; returns (info, created)."""
        from index.indexer import IndexerError

        self.require_ready()
        name = checked_name(name)
        path = self._upload_path(name)
        assert path is not None and self.catalog is not None
        limit = min(self.settings.max_upload_bytes, self.settings.max_file_bytes)
        if len(data) > limit:
            raise ApiError(413, f"the document is larger than the limit of {limit} bytes")
        try:
            doc = parse_document(data, file=name, limits=self.settings.extract_limits)
        except DocumentError as exc:
            raise ApiError(400, f"cannot read the document: {exc}", code="invalid_document") from None
        if not doc.paragraphs:
            raise ApiError(400, "the document has no text to index" + (f" ({'; '.join(doc.warnings)})" if doc.warnings else ""),
                           code="invalid_document")
        with self.work_lock:
            with self.read_lock:
                existing = self.catalog.document(name)
            if existing is not None and not path.is_file():
                raise ApiError(409, f"{name} is a corpus document indexed by `sanad index`; "
                               "upload under another name", code="conflict")
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
            tmp.write_bytes(data)
            try:
                self.indexer.add_document(doc, size_bytes=len(data))
            except IndexerError as exc:
                tmp.unlink(missing_ok=True)
                raise ApiError(503, str(exc), code="index_busy", headers={"Retry-After": "10"}) from None
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            os.replace(tmp, path)
            self.answerer.reload()
            with self.read_lock:
                rec = self.catalog.document(name)
                self.metrics.set_counts(self.catalog.counts())
        assert rec is not None
        log.info("indexed upload %s (%d paragraphs)", name, rec.n_paragraphs)
        return self._info(rec), existing is None

    def delete_document(self, name: str) -> None:
        from index.indexer import IndexerError

        self.require_ready()
        name = checked_name(name)
        path = self._upload_path(name)
        assert path is not None and self.catalog is not None
        with self.work_lock:
            try:
                removed = self.indexer.remove(name)
            except IndexerError as exc:
                raise ApiError(503, str(exc), code="index_busy", headers={"Retry-After": "10"}) from None
            had_file = path.is_file()
            if had_file:
                path.unlink()
                self._prune_empty_dirs(path.parent)
            if not removed and not had_file:
                raise ApiError(404, f"no such document: {name}")
            self.answerer.reload()
            with self.read_lock:
                self.metrics.set_counts(self.catalog.counts())
        log.info("removed document %s", name)

    def _prune_empty_dirs(self, folder: Path) -> None:
        root = self.uploads_dir.resolve()
        while folder != root and root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent
