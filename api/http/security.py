"""API keys, a sliding-window rate limit and a request-body size limit (raw ASGI middleware).

They run before routing and body parsing, so a request without a key is answered 401
before its body is read, and an oversized body is refused with 413 as soon as its
``Content-Length`` (or, when chunked, its byte count) passes the limit.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections import deque
from typing import Awaitable, Callable, Iterable, MutableMapping

from api.http.errors import error_bytes
from api.keys import OPEN, KeyRing

Scope = MutableMapping[str, object]
Message = MutableMapping[str, object]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: only these paths need a key and are rate limited; /healthz /readyz stay open
PROTECTED_PREFIX = "/v1/"
#: needs an admin or metrics key once keys are set (``api.keys``)
METRICS_PATH = "/metrics"
#: where the guard leaves the caller's ``api.keys.Grant`` (``scope["state"]``: ``request.state.grant``)
GRANT_STATE = "grant"


async def send_error(send: Send, status: int, code: str, message: str,
                     headers: Iterable[tuple[str, str]] = ()) -> None:
    body = error_bytes(code, message)
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:  # type: ignore[union-attr]
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def bearer_token(scope: Scope) -> str | None:
    value = _header(scope, b"authorization")
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def key_matches(token: str | None, keys: Iterable[str]) -> bool:
    """Constant-time comparison against every configured key."""
    if token is None:
        return False
    given = token.encode()
    found = False
    for key in keys:
        found |= hmac.compare_digest(given, key.encode())
    return found


class RateLimiter:
    """At most ``limit`` hits per ``window`` seconds per key (sliding window of timestamps)."""

    def __init__(self, limit: int, window: float = 60.0, *, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> float | None:
        """Record a hit; None when allowed, else the seconds until one more would be."""
        return self._check(key, now, record=True)

    def blocked(self, key: str, now: float | None = None) -> float | None:
        """Like :meth:`hit` without recording one: None when a hit would be allowed now."""
        return self._check(key, now, record=False)

    def _check(self, key: str, now: float | None, *, record: bool) -> float | None:
        if self.limit <= 0:
            return None
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if not record:
                    return None
                if len(self._hits) >= self.max_keys:
                    self._prune(now)
                hits = self._hits[key] = deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(hits[0] + self.window - now, 0.001)
            if record:
                hits.append(now)
            return None

    def _prune(self, now: float) -> None:
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - self.window]:
            del self._hits[key]
        while len(self._hits) >= self.max_keys:  # still full: forget the oldest key
            del self._hits[next(iter(self._hits))]


class TrailingNewlinePathMiddleware:
    """404 for a path that ends in a line break (``/v1/documents/%0A``).

    Starlette matches routes with a regular expression ending in ``$``, which also matches
    before a final ``\n``: ``/v1/documents/\n`` would be served as ``/v1/documents/`` (the
    list) and ``/healthz\n`` as ``/healthz``. No route of ours has such a path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).endswith("\n"):
            await send_error(send, 404, "not_found", "no such path (a path cannot end with a line break)")
            return
        await self.app(scope, receive, send)


class GuardMiddleware:
    """Bearer keys (when configured) then the rate limit, for ``/v1/`` paths.

    Failed authentication (a missing or wrong key) counts in a separate, stricter bucket per
    client IP (``auth_failures_per_minute``): once it is full, every ``/v1`` request from that
    IP gets 429 with ``Retry-After`` (before its key is even compared, so a guess that would
    be right cannot be told from a wrong one) until the oldest failure is a minute old.

    Keys are those of ``keyring`` (``SANAD_API_KEYS`` and the scoped key file, re-read when it
    changes); the caller's :class:`api.keys.Grant` is left in ``scope["state"]["grant"]`` for the
    routes (every caller gets :data:`api.keys.OPEN` when no key is configured). ``/metrics``
    needs an admin or metrics key once keys are set."""

    def __init__(self, app: ASGIApp, *, keyring: KeyRing, rate_limit_per_minute: int,
                 auth_failures_per_minute: int = 0) -> None:
        self.app = app
        self.keyring = keyring
        self.limiter = RateLimiter(rate_limit_per_minute, 60.0)
        self.auth_failures = RateLimiter(auth_failures_per_minute, 60.0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or scope.get("method") == "OPTIONS" \
                or not (path.startswith(PROTECTED_PREFIX) or path == METRICS_PATH):
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope)
        client = scope.get("client") or ("unknown", 0)
        ip = f"ip:{client[0]}"  # type: ignore[index]
        state = scope.setdefault("state", {})
        if self.keyring.has_keys():
            wait = self.auth_failures.blocked(ip)
            if wait is not None:
                await self._too_many(send, wait, f"too many requests with a missing or wrong API key from this "
                                     f"address (limit {self.auth_failures.limit} per minute)")
                return
            grant = self.keyring.check(token)
            if grant is None:
                self.auth_failures.hit(ip)
                message = ("missing API key: send `Authorization: Bearer KEY`" if token is None
                           else "invalid API key")
                await send_error(send, 401, "unauthorized", message, [("www-authenticate", "Bearer")])
                return
            if path == METRICS_PATH and not grant.can("metrics"):
                await send_error(send, 403, "forbidden", "/metrics needs an admin or metrics key")
                return
            if path != METRICS_PATH and grant.role == "metrics":
                await send_error(send, 403, "forbidden", "a metrics key reads /metrics only")
                return
            key = "key:" + hashlib.sha256(token.encode()).hexdigest()[:16]  # type: ignore[union-attr]
        else:
            grant = OPEN
            key = ip
        state[GRANT_STATE] = grant  # type: ignore[index]
        if path == METRICS_PATH:  # scrapes are not rate limited
            await self.app(scope, receive, send)
            return
        wait = self.limiter.hit(key)
        if wait is not None:
            await self._too_many(send, wait, f"rate limit of {self.limiter.limit} requests per minute exceeded")
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _too_many(send: Send, wait: float, message: str) -> None:
        retry = max(1, math.ceil(wait))
        await send_error(send, 429, "rate_limited", f"{message}; retry in {retry} s", [("retry-after", str(retry))])


class _BodyTooLarge(Exception):
    pass


class BodySizeLimitMiddleware:
    """413 for request bodies over ``limit_for(scope)`` bytes (declared or streamed)."""

    def __init__(self, app: ASGIApp, *, limit_for: Callable[[Scope], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        message = f"the request body is larger than the limit of {limit} bytes"
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                await send_error(send, 400, "invalid_body", "invalid Content-Length header")
                return
            if too_big:
                await send_error(send, 413, "payload_too_large", message)
                return

        state = {"received": 0, "over": False, "started": False, "replaced": False}

        async def limited_receive() -> Message:
            msg = await receive()
            if msg["type"] == "http.request":
                state["received"] += len(msg.get("body", b""))  # type: ignore[operator, arg-type]
                if state["received"] > limit:
                    state["over"] = True
                    raise _BodyTooLarge()
            return msg

        async def guarded_send(msg: Message) -> None:
            # The app may turn our exception into an error of its own (FastAPI answers 400
            # "error parsing the body"): while the body is over the limit, send 413 instead.
            if state["over"] and not state["started"]:
                if not state["replaced"]:
                    state["replaced"] = True
                    await send_error(send, 413, "payload_too_large", message)
                return
            if msg["type"] == "http.response.start":
                state["started"] = True
            await send(msg)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            if not state["replaced"] and not state["started"]:
                state["replaced"] = True
                await send_error(send, 413, "payload_too_large", message)
