"""Document routes: list, upload, delete, and the cited paragraph, of the default collection
(``/v1/documents``) and of each named one (``/v1/collections/{collection}/documents``): the same
routes (:func:`build_router`), with the caller's key checked for the collection (404 for one it
cannot see, 403 for a write its role lacks).

Uploads of text (``.txt .md .html``, PDFs with a text layer, ``.docx``) are indexed
synchronously: ``POST /v1/documents`` returns (201, or 200 for a replaced upload) only once the
new document is embedded, committed and visible to ``/v1/ask``. For the small documents an API
upload carries this takes seconds on CPU. An upload that needs OCR (an image, a PDF with a
scanned page: minutes for a long scan) is checked, kept on disk and answered **202** with its
:class:`~api.schemas.UploadStatus` (``Location``: ``GET /v1/documents/{file}/upload``); the
service's OCR worker reads and indexes it in the background (``api.service.upload_jobs``).
Bulk loads should use ``sanad index`` instead.
"""

from pathlib import PurePosixPath
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from api.http.deps import document_service_for, get_document_service
from api.service.service import Service
from api.http.errors import ERROR_SCHEMA, ApiError
from api.schemas import DocumentInfo, DocumentList, DocumentText, ParagraphOut, UploadJson, UploadStatus
from api.service.upload_jobs import UploadJob
from index.collections import DEFAULT_COLLECTION
from index.readers import BINARY_SUFFIXES

_ERR = {"description": "error", "content": {"application/json": {"schema": ERROR_SCHEMA}}}

#: what every document route may answer for its collection and key: a bad collection name (400),
#: a role that lacks the action (403), a collection (or document) absent or not visible (404)
_SCOPED = {400: _ERR, 401: _ERR, 403: _ERR, 404: _ERR}

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary"},
                "name": {"type": "string", "description": "store under this name instead of the upload's"}}}},
            "application/json": {"schema": UploadJson.model_json_schema()},
        },
    }
}


def prefix_of(service: Service) -> str:
    """Where ``service``'s collection's document routes live."""
    if service.collection == DEFAULT_COLLECTION:
        return "/v1/documents"
    return f"/v1/collections/{service.collection}/documents"


def _status(job: UploadJob, prefix: str) -> UploadStatus:
    return UploadStatus(job=job.id, file=job.file, state=job.state, size=job.size, created_at=job.created_at,
                        updated_at=job.updated_at, pages_read=job.pages_read, paragraphs=job.paragraphs,
                        warnings=job.warnings, error=job.error, status_url=f"{prefix}/{quote(job.file)}/upload")


async def _named_service(request: Request, collection: str) -> Service:
    return await run_in_threadpool(document_service_for, request, collection)


def build_router(*, named: bool) -> APIRouter:
    """The document routes of the default collection (``named=False``, under ``/v1/documents``)
    or of a named one (under ``/v1/collections/{collection}/documents``)."""
    prefix = "/v1/collections/{collection}/documents" if named else "/v1/documents"
    router = APIRouter(prefix=prefix, tags=["documents"])
    ServiceDep = Annotated[Service, Depends(_named_service if named else get_document_service)]  # noqa: N806

    @router.get("", response_model=DocumentList, responses={**_SCOPED, 503: _ERR})
    async def list_documents(service: ServiceDep) -> DocumentList:
        docs = await run_in_threadpool(service.list_documents)
        return DocumentList(documents=docs, count=len(docs))

    @router.get("/", response_model=DocumentList, include_in_schema=False)
    async def list_documents_slash(service: ServiceDep) -> DocumentList:
        """``GET /v1/documents/`` lists too (not a document with an empty name)."""
        return await list_documents(service)

    @router.post("", status_code=201, response_model=DocumentInfo, openapi_extra=_UPLOAD_BODY,
                 responses={200: {"model": DocumentInfo, "description": "an uploaded document replaced"},
                            202: {"model": UploadStatus, "description": "accepted for OCR: poll its status_url"},
                            **_SCOPED, 409: _ERR, 413: _ERR, 415: _ERR, 422: _ERR, 503: _ERR})
    async def upload_document(request: Request, response: Response,
                              service: ServiceDep) -> DocumentInfo | JSONResponse:
        """Upload and index a document: synchronously (201 when new, 200 when it replaced an
        earlier upload: it is searchable when this returns), or, when it needs OCR (an image, a
        scanned PDF page), in the background: 202 with its status, polled at `status_url`.

        Multipart with a `file` field (optionally `name` to rename), or JSON
        `{"file": name, "text": str}`."""
        service.require_ready()
        ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if ctype == "multipart/form-data":
            async with request.form(max_files=1, max_fields=10) as form:
                upload = form.get("file")
                if upload is None or isinstance(upload, str):
                    raise ApiError(422, "multipart upload needs a file in the field `file`")
                name = form.get("name") if isinstance(form.get("name"), str) else None
                name = name or upload.filename or ""
                data = await upload.read(service.settings.max_upload_bytes + 1)
        elif ctype in ("application/json", ""):
            try:  # the body's nesting is bounded before it gets here (api.http.json_limits)
                payload = UploadJson.model_validate_json(await request.body())
            except ValidationError as exc:
                if any(e["type"] == "json_invalid" for e in exc.errors()):
                    raise ApiError(400, "the request body is not valid JSON", code="invalid_json") from None
                raise ApiError(422, "JSON upload needs {\"file\": name, \"text\": str}: "
                               + str(exc).splitlines()[0]) from None
            suffix = PurePosixPath(payload.file).suffix.lower()
            if suffix in BINARY_SUFFIXES:
                raise ApiError(415, f"send {suffix} files as multipart/form-data (field `file`); the JSON upload "
                               "takes text only")
            name, data = payload.file, payload.text.encode("utf-8")
        else:
            raise ApiError(415, f"send multipart/form-data or application/json, not {ctype}")
        result = await run_in_threadpool(service.accept_upload, name, data)
        if isinstance(result, UploadJob):
            status = _status(result, prefix_of(service))
            return JSONResponse(status.model_dump(), status_code=202, headers={"Location": status.status_url})
        info, created = result
        response.status_code = 201 if created else 200
        return info

    @router.get("/{file:path}/upload", response_model=UploadStatus, responses={**_SCOPED, 503: _ERR})
    async def get_upload_status(file: str, service: ServiceDep) -> UploadStatus:
        """Where the latest upload of `file` that needs OCR stands (queued, reading, indexed, failed)."""
        return _status(await run_in_threadpool(service.upload_status, file), prefix_of(service))

    @router.get("/{file:path}/paragraphs/{n}", response_model=ParagraphOut,
                responses={**_SCOPED, 503: _ERR})
    async def get_paragraph(file: str, n: int, service: ServiceDep) -> ParagraphOut:
        """The paragraph a citation points to (`file` may be URL-encoded)."""
        return await run_in_threadpool(service.paragraph, file, n)

    @router.get("/{file:path}/text", response_model=DocumentText, responses={**_SCOPED, 503: _ERR})
    async def get_document_text(file: str, service: ServiceDep) -> DocumentText:
        """The document's stored text: citation offsets (Python code points) index into it."""
        return await run_in_threadpool(service.document_text, file)

    @router.get("/{file:path}", response_model=DocumentInfo, responses={**_SCOPED, 503: _ERR})
    async def get_document(file: str, service: ServiceDep) -> DocumentInfo:
        return await run_in_threadpool(service.document, file)

    @router.delete("/{file:path}", status_code=204, response_class=Response,
                   responses={**_SCOPED, 503: _ERR})
    async def delete_document(file: str, service: ServiceDep) -> Response:
        """Remove a document from the index (and its uploaded file, if it was uploaded)."""
        await run_in_threadpool(service.delete_document, file)
        return Response(status_code=204)

    return router
