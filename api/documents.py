"""Document routes: list, upload, delete, and the cited paragraph; plus the file-name guard.

Uploads are indexed synchronously: ``POST /v1/documents`` returns (201) only once the new
document is embedded, committed and visible to ``/v1/ask``. For the small documents an
API upload carries this takes seconds on CPU, and it spares clients a job-polling
protocol; bulk loads should use ``sanad index`` instead.
"""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.errors import ERROR_SCHEMA, ApiError
from index.paragraphs import SUPPORTED_SUFFIXES

#: formats that are uploaded as files (multipart), never as JSON text
BINARY_SUFFIXES = (".pdf", ".docx")

MAX_NAME_CHARS = 255
MAX_PATH_CHARS = 1024
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


class FileNameError(ValueError):
    """A document name that must not be used (message says why)."""


def validate_filename(name: str) -> str:
    """Return ``name`` if it is a safe relative POSIX path of a supported document.

    Refused: empty names, NUL and other control characters, backslashes, absolute paths
    (``/x``, ``C:...``), ``.`` / ``..`` / empty / hidden (``.x``) components, over-long
    names, and suffixes other than those the indexer reads."""
    if not isinstance(name, str) or not name or not name.strip():
        raise FileNameError("the file name is empty")
    if "\x00" in name:
        raise FileNameError("the file name contains a NUL byte")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        raise FileNameError("the file name contains control characters")
    if "\\" in name:
        raise FileNameError("the file name contains a backslash; use '/' between folders")
    if name.startswith("/") or _DRIVE_RE.match(name):
        raise FileNameError("the file name must be relative, not an absolute path")
    if len(name) > MAX_PATH_CHARS:
        raise FileNameError(f"the file name is longer than {MAX_PATH_CHARS} characters")
    parts = name.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise FileNameError(f"the file name has an empty, '.' or '..' component: {name!r}")
        if part.startswith("."):
            raise FileNameError(f"hidden names (starting with '.') are not allowed: {part!r}")
        if part != part.strip():
            raise FileNameError("a file name component starts or ends with a space")
        if len(part) > MAX_NAME_CHARS:
            raise FileNameError(f"a file name component is longer than {MAX_NAME_CHARS} characters")
    suffix = PurePosixPath(parts[-1]).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        shown = suffix or "(none)"
        raise FileNameError(f"unsupported file type {shown}; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    return name


def checked_name(name: str) -> str:
    try:
        return validate_filename(name)
    except FileNameError as exc:
        raise ApiError(400, str(exc), code="invalid_file_name") from None


# ------------------------------------------------------------------------------ models


class DocumentInfo(BaseModel):
    file: str = Field(..., description="path relative to its corpus root (or to the uploads folder)")
    paragraphs: int = Field(..., description="number of paragraphs")
    sha256: str
    kind: str = Field(..., description="txt | md | html | pdf | docx")
    title: str
    size: int = Field(..., description="bytes of the source file")
    indexed_at: float = Field(..., description="Unix time it was (re)indexed")
    uploaded: bool = Field(..., description="true for documents added through the API")


class DocumentList(BaseModel):
    documents: list[DocumentInfo]
    count: int


class ParagraphOut(BaseModel):
    file: str
    paragraph: int
    line_start: int
    line_end: int
    char_start: int
    char_end: int
    text: str
    boilerplate: bool
    page_start: int | None = Field(None, description="1-based first page (paged formats: .pdf); null elsewhere")
    page_end: int | None = Field(None, description="1-based last page; null for unpaged formats")


class UploadJson(BaseModel):
    file: str = Field(..., description="the document's name, e.g. notes/report.txt")
    text: str = Field(..., description="its full text (UTF-8)")


_ERR = {"description": "error", "content": {"application/json": {"schema": ERROR_SCHEMA}}}

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


def build_router(service) -> APIRouter:  # noqa: ANN001 - api.service.Service (no import cycle)
    router = APIRouter(prefix="/v1/documents", tags=["documents"])

    @router.get("", response_model=DocumentList, responses={503: _ERR})
    async def list_documents() -> DocumentList:
        docs = await run_in_threadpool(service.list_documents)
        return DocumentList(documents=docs, count=len(docs))

    @router.post("", status_code=201, response_model=DocumentInfo, openapi_extra=_UPLOAD_BODY,
                 responses={200: {"model": DocumentInfo, "description": "an uploaded document replaced"},
                            400: _ERR, 409: _ERR, 413: _ERR, 415: _ERR, 422: _ERR, 503: _ERR})
    async def upload_document(request: Request, response: Response) -> DocumentInfo:
        """Upload and index a document (synchronously: it is searchable when this returns).

        Multipart with a `file` field (optionally `name` to rename), or JSON
        `{"file": name, "text": str}`. 201 when new, 200 when it replaced an earlier upload."""
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
            try:
                payload = UploadJson.model_validate_json(await request.body())
            except ValueError as exc:
                try:
                    json.loads(await request.body())
                except ValueError:
                    raise ApiError(400, "the request body is not valid JSON", code="invalid_json") from None
                raise ApiError(422, "JSON upload needs {\"file\": name, \"text\": str}: "
                               + str(exc).splitlines()[0]) from None
            name, data = payload.file, payload.text.encode("utf-8")
            if PurePosixPath(name).suffix.lower() in BINARY_SUFFIXES:
                raise ApiError(415, f"send {PurePosixPath(name).suffix.lower()} files as multipart/form-data "
                               "(field `file`); the JSON upload takes text only")
        else:
            raise ApiError(415, f"send multipart/form-data or application/json, not {ctype}")
        info, created = await run_in_threadpool(service.add_document, name, data)
        response.status_code = 201 if created else 200
        return info

    @router.get("/{file:path}/paragraphs/{n}", response_model=ParagraphOut,
                responses={400: _ERR, 404: _ERR, 503: _ERR})
    async def get_paragraph(file: str, n: int) -> ParagraphOut:
        """The paragraph a citation points to (`file` may be URL-encoded)."""
        return await run_in_threadpool(service.paragraph, file, n)

    @router.get("/{file:path}", response_model=DocumentInfo, responses={400: _ERR, 404: _ERR, 503: _ERR})
    async def get_document(file: str) -> DocumentInfo:
        return await run_in_threadpool(service.document, file)

    @router.delete("/{file:path}", status_code=204, response_class=Response,
                   responses={400: _ERR, 404: _ERR, 503: _ERR})
    async def delete_document(file: str) -> Response:
        """Remove a document from the index (and its uploaded file, if it was uploaded)."""
        await run_in_threadpool(service.delete_document, file)
        return Response(status_code=204)

    return router
