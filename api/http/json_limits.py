"""The one nesting limit for every JSON body Sanad reads, checked before anything parses it.

Python's ``json`` and pydantic parse nested arrays and objects recursively: a body of
``[`` x 1000 then ``]`` x 1000 raised ``RecursionError`` inside a route (a 500), and each
parser in the app (FastAPI's, pydantic's, bolt's for Slack) failed in its own way.
:class:`JsonDepthMiddleware` therefore runs before routing, inside the body-size limit
(so what it buffers is bounded by ``SANAD_MAX_BODY_BYTES`` / the upload limit), and
answers ``400 invalid_json`` for a body nested deeper than ``SANAD_MAX_JSON_DEPTH``:

- any body that a route or bolt may read as JSON: a JSON content type, none, or a body
  that starts with ``{`` or ``[`` (bolt reads such a body as JSON whatever its type);
- a form body's ``payload`` field (Slack's interactivity payload, which bolt parses as JSON);
- multipart bodies (file uploads) are passed through untouched: nothing in them is JSON.

:func:`json_depth` measures without parsing: strings are cut out (their brackets do not
count), then the running count of openers minus closers is taken over the rest.
"""

from __future__ import annotations

import re
from typing import Awaitable, Callable, MutableMapping
from urllib.parse import parse_qsl

import numpy as np

from api.http.security import send_error

Scope = MutableMapping[str, object]
Message = MutableMapping[str, object]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: a JSON string (escapes included); an unterminated one is left in and counted (invalid anyway)
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
#: every byte but the four brackets, deleted before counting
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPENERS = np.frombuffer(b"[{", dtype=np.uint8)
#: the methods whose body a route reads
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def json_depth(data: bytes | str) -> int:
    """How deeply ``data`` (JSON text, valid or not) nests arrays and objects; 0 for a scalar."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where(np.isin(codes, _OPENERS), 1, -1).astype(np.int32)
    return int(max(0, np.cumsum(steps).max()))


def too_deep(data: bytes | str, limit: int) -> bool:
    return json_depth(data) > limit


def _content_type(scope: Scope) -> str:
    for key, value in scope.get("headers") or []:  # type: ignore[union-attr]
        if key.lower() == b"content-type":
            return value.decode("latin-1").split(";")[0].strip().lower()
    return ""


def json_parts(body: bytes, content_type: str) -> list[bytes]:
    """The parts of a request body that something in Sanad reads as JSON."""
    if content_type == "multipart/form-data":
        return []
    stripped = body.lstrip()
    if content_type in ("", "application/json") or content_type.endswith("+json") \
            or stripped.startswith((b"{", b"[")):
        return [body]
    if b"payload" in body:  # a form with Slack's JSON ``payload`` field (bolt: ``parse_body``)
        try:
            fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            return []
        return [value.encode("utf-8", "surrogatepass") for key, value in fields if key == "payload"]
    return []


class JsonDepthMiddleware:
    """``400 invalid_json`` for a request whose JSON nests deeper than ``max_depth``.

    The body is read whole (the size limit outside this middleware bounds it) and handed on
    unchanged; multipart bodies stream through unread."""

    def __init__(self, app: ASGIApp, *, max_depth: int) -> None:
        self.app = app
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        content_type = _content_type(scope)
        if content_type == "multipart/form-data":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([], message, receive), send)
                return
            chunks.append(message.get("body", b""))  # type: ignore[arg-type]
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if any(too_deep(part, self.max_depth) for part in json_parts(body, content_type)):
            await send_error(send, 400, "invalid_json",
                             f"the request's JSON is nested more than {self.max_depth} levels deep")
            return
        await self.app(scope, _replay([body], None, receive), send)


def _replay(bodies: list[bytes], pending: Message | None, receive: Receive) -> Receive:
    """A ``receive`` that gives the buffered body (or message) first, then the real one."""
    queue: list[Message] = [{"type": "http.request", "body": b, "more_body": False} for b in bodies]
    if pending is not None:
        queue.append(pending)

    async def replay() -> Message:
        if queue:
            return queue.pop(0)
        return await receive()

    return replay


__all__ = ["JsonDepthMiddleware", "json_depth", "json_parts", "too_deep"]
