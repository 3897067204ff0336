"""Document routes: list, upload, delete, and the cited paragraph; plus the file-name guard.

Uploads are indexed synchronously: ``POST /v1/documents`` returns (201) only once the new
document is embedded, committed and visible to ``/v1/ask``. For the small documents an
API upload carries this takes seconds on CPU, and it spares clients a job-polling
protocol; bulk loads should use ``sanad index`` instead.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import PurePosixPath

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, model_validator

from api.errors import ERROR_SCHEMA, ApiError
from index.paragraphs import SUPPORTED_SUFFIXES
from qa.text_rules import require_utf8

MAX_NAME_CHARS = 255
MAX_PATH_CHARS = 1024
#: file systems limit each path component to 255 bytes (Linux NAME_MAX; UTF-8 bytes, not characters)
MAX_COMPONENT_BYTES = 255
#: an upload is first written to ``.{name}.{pid}.{tid}.part`` beside its target
#: (api.upload_paths.temp_path): 1 + 1 + 20 + 1 + 20 + 5 bytes on top of the name at most
TEMP_NAME_OVERHEAD = len(".." + "9" * 20 + "." + "9" * 20 + ".part")
#: so the file's own name (the last component) gets what remains of the 255 bytes
MAX_FILE_NAME_BYTES = MAX_COMPONENT_BYTES - TEMP_NAME_OVERHEAD
#: the whole name, in UTF-8 bytes (the data dir's path comes on top; Linux PATH_MAX is 4096)
MAX_PATH_BYTES = 1024
#: Unicode categories refused anywhere in a name: controls (Cc: NUL, U+0085...), format
#: characters (Cf: bidi overrides such as U+202E, ZWJ, BOM), line and paragraph separators,
#: and lone surrogates (Cs: not encodable as UTF-8, so no file system can hold them)
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


class FileNameError(ValueError):
    """A document name that must not be used (message says why)."""


def validate_filename(name: str) -> str:
    """Return ``name`` if it is a safe relative POSIX path of a supported document.

    The one place that decides what a document name may be. Refused: empty names, control
    and format characters (:data:`REFUSED_CATEGORIES`: NUL, U+0085, bidi overrides, ZWJ,
    BOM, line separators, lone surrogates), backslashes, absolute paths (``/x``,
    ``C:...``), ``.`` / ``..`` / empty / hidden (``.x``) components, names longer than a
    file system holds (a component over 255 UTF-8 bytes, the file's own name over
    :data:`MAX_FILE_NAME_BYTES` so that its temporary upload file fits too, the whole over
    :data:`MAX_PATH_BYTES`), and suffixes other than those the indexer reads."""
    if not isinstance(name, str) or not name or not name.strip():
        raise FileNameError("the file name is empty")
    if "\x00" in name:
        raise FileNameError("the file name contains a NUL byte")
    refused = next((ch for ch in name if unicodedata.category(ch) in REFUSED_CATEGORIES), None)
    if refused is not None:
        raise FileNameError(f"the file name contains a control or format character (U+{ord(refused):04X})")
    if "\\" in name:
        raise FileNameError("the file name contains a backslash; use '/' between folders")
    if name.startswith("/") or _DRIVE_RE.match(name):
        raise FileNameError("the file name must be relative, not an absolute path")
    if len(name) > MAX_PATH_CHARS:
        raise FileNameError(f"the file name is longer than {MAX_PATH_CHARS} characters")
    if len(name.encode("utf-8")) > MAX_PATH_BYTES:
        raise FileNameError(f"the file name is longer than {MAX_PATH_BYTES} bytes in UTF-8")
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
        if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
            raise FileNameError(f"a part of the file name is longer than {MAX_COMPONENT_BYTES} bytes in UTF-8")
    if len(parts[-1].encode("utf-8")) > MAX_FILE_NAME_BYTES:
        raise FileNameError(f"the file's own name is {len(parts[-1].encode('utf-8'))} bytes in UTF-8; "
                            f"the limit is {MAX_FILE_NAME_BYTES} (file systems hold 255, and an upload "
                            f"is first written to a temporary file with a longer name)")
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
    kind: str = Field(..., description="txt | md | html")
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


class UploadJson(BaseModel):
    file: str = Field(..., description="the document's name, e.g. notes/report.txt")
    text: str = Field(..., description="its full text (UTF-8)")

    _utf8 = model_validator(mode="before")(require_utf8)


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

    @router.get("/", response_model=DocumentList, include_in_schema=False)
    async def list_documents_slash() -> DocumentList:
        """``GET /v1/documents/`` lists too (not a document with an empty name)."""
        return await list_documents()

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
