"""The HTTP error edge: every error the API returns is JSON ``{"error": {"code": str, "message": str}}``.

Below this module nothing knows HTTP: the service and the layers under it raise domain errors
(``settings.errors.SanadError`` and its subclasses, each with a stable ``code``), and
:data:`STATUS` here, the one table, gives each code its status (a ``retry_after_s`` becomes
``Retry-After``). A domain error whose code is not in the table is a failure of the server
(500, like any unhandled exception: a generic message, the traceback in the server log only).
Handlers here also cover the HTTP edge's own :class:`ApiError` (a route refusing a request
the service never sees), Starlette's HTTP errors (unknown route, wrong method) and FastAPI's
request validation errors.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from settings.errors import SanadError

log = logging.getLogger("sanad.api")

CODES: dict[int, str] = {
    400: "invalid_body",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "not_ready",
}


#: the HTTP status of each domain error code (``SanadError.code``); docs/errors.md lists them
STATUS: dict[str, int] = {
    "invalid_file_name": 400,   # api.service.file_names.FileNameError
    "invalid_document": 400,    # index.document_model.DocumentError (not readable, no text)
    "invalid_json": 400,
    "invalid_body": 400,        # api.slack.payloads.SlackPayloadError
    "invalid_collection_name": 400,  # index.collections.CollectionNameError
    "forbidden": 403,           # api.service.errors.Forbidden (a key's role lacks the action)
    "not_found": 404,           # api.service.errors.NotFound
    "answer_log_off": 404,
    "conflict": 409,
    "already_voted": 409,
    "payload_too_large": 413,   # api.service.errors.DocumentTooLarge
    "invalid_request": 422,
    "invalid_question": 422,    # qa.answerer.QuestionError
    "question_too_long": 422,   # qa.answerer.QuestionTooLong
    "not_ready": 503,           # api.service.errors.NotReady (with Retry-After)
    "load_failed": 503,
    "index_busy": 503,
    "overloaded": 503,
}


def status_of(exc: SanadError) -> int | None:
    """The status ``exc`` is answered with (:data:`STATUS` of its code); None for a code the
    table does not know: a failure of the server, not of the request."""
    return exc.status if isinstance(exc, ApiError) else STATUS.get(exc.code)


class ApiError(SanadError):
    """A request the HTTP edge itself refuses (a body it cannot read, a static file it does not
    have), with its status; the code is the status's unless given."""

    def __init__(self, status: int, message: str, *, code: str | None = None) -> None:
        super().__init__(message, code=code or CODES.get(status, "error"))
        self.status = status


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=dict(headers or {}))


def error_bytes(code: str, message: str) -> bytes:
    """The JSON body for responses sent from raw ASGI middleware."""
    import json

    return json.dumps(error_body(code, message), ensure_ascii=False).encode()


#: error response schema for OpenAPI
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}}, "required": ["code", "message"]}},
    "required": ["error"],
}


def _describe_validation(exc: RequestValidationError) -> tuple[int, str, str]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "invalid_json", "the request body is not valid JSON"
    parts = []
    for err in errors[:3]:
        loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path", "header")]
        where = ".".join(loc) or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return 422, "invalid_request", "; ".join(parts) + more


def domain_error_response(exc: SanadError, *, where: str) -> JSONResponse:
    """The response to ``exc``; a code the table does not know is a 500 (logged, with ``where``)."""
    status = status_of(exc)
    if status is None:
        log.error("unhandled %s (%s) on %s", exc.__class__.__name__, exc.code, where, exc_info=exc)
        return error_response(500, "internal_error", "internal server error (details are in the server log)")
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
    return error_response(status, exc.code, exc.message, headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SanadError)
    async def _domain_error(request: Request, exc: SanadError) -> JSONResponse:
        return domain_error_response(exc, where=f"{request.method} {request.url.path}")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = CODES.get(exc.status_code, "error")
        if exc.status_code == 404 and exc.detail in (None, "Not Found"):
            message = f"no such route: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        return error_response(exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, code, message = _describe_validation(exc)
        return error_response(status, code, message)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal server error (details are in the server log)")
