"""MCP over streamable HTTP at ``/mcp`` in ``sanad serve``, behind Sanad's API keys.

Stateless, with JSON responses: each POST is one exchange, handled by whichever worker
process takes it (``sanad serve --workers N`` keeps no session between them). Before the SDK
sees a request, :class:`McpGuard` checks it the way ``/v1`` requests are checked: the key in
``Authorization: Bearer KEY`` (when ``SANAD_API_KEYS`` is set; :func:`authorize` is the one
place a key is judged, so key scopes plug in there), the failed-key limit per address and the
rate limit per key; and a browser's ``Origin``, which must be one of ``SANAD_CORS_ORIGINS``
(the MCP specification's guard against DNS rebinding). The request body limit and the JSON
depth limit of the app apply as for every path.
"""

from __future__ import annotations

import hashlib
import math
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator

from fastapi import FastAPI
from mcp.server.mcpserver import Context
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route

from api.http.security import Receive, RateLimiter, Scope, Send, bearer_token, key_matches, send_error
from api.mcp.server import build_server
from api.mcp.tools import McpTools
from api.service.asking import AskService, caller_owner
from api.service.service import Service
from settings import Settings

#: where the MCP endpoint is mounted
MCP_PATH = "/mcp"


@dataclass(frozen=True)
class Caller:
    """Who an MCP request comes from. ``owner``: what it starts belongs to (its key, hashed).
    What a key may see (scopes, collections) is for :func:`authorize` to add here."""

    owner: str


def authorize(token: str | None, settings: Settings) -> Caller | None:
    """The caller a bearer token makes, or None when it may not use the API (the one key check
    of the MCP face)."""
    keys = settings.api_keys
    if keys and not key_matches(token, keys):
        return None
    return Caller(owner=caller_owner(token, keys_required=bool(keys)))


def owner_of(settings: Settings):  # noqa: ANN201 - an OwnerOf
    """Who asks, from the request's (already checked) ``Authorization`` header."""

    def owner(ctx: Context) -> str:
        headers = ctx.headers or {}
        value = headers.get("authorization") or ""
        scheme, _, token = value.strip().partition(" ")
        caller = authorize(token.strip() if scheme.lower() == "bearer" else None, settings)
        return caller.owner if caller is not None else "mcp"

    return owner


class McpGuard:
    """Keys, limits and ``Origin`` for the MCP endpoint (raw ASGI, before the body is read)."""

    def __init__(self, manager: StreamableHTTPSessionManager, settings: Settings) -> None:
        self.manager = manager
        self.settings = settings
        self.limiter = RateLimiter(settings.rate_limit_per_minute, 60.0)
        self.auth_failures = RateLimiter(settings.auth_failures_per_minute, 60.0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = _header(scope, b"origin")
        if origin is not None and origin not in self.settings.cors_origins:
            await send_error(send, 403, "forbidden", "this Origin may not use the MCP endpoint "
                             "(SANAD_CORS_ORIGINS lists the ones that may)")
            return
        client = scope.get("client") or ("unknown", 0)
        ip = f"ip:{client[0]}"  # type: ignore[index]
        token = bearer_token(scope)
        if self.settings.api_keys:
            wait = self.auth_failures.blocked(ip)
            if wait is not None:
                await self._too_many(send, wait, "too many requests with a missing or wrong API key from this address")
                return
        caller = authorize(token, self.settings)
        if caller is None:
            self.auth_failures.hit(ip)
            message = "missing API key: send `Authorization: Bearer KEY`" if token is None else "invalid API key"
            await send_error(send, 401, "unauthorized", message, [("www-authenticate", "Bearer")])
            return
        key = "key:" + hashlib.sha256(token.encode()).hexdigest()[:16] if token and self.settings.api_keys else ip
        wait = self.limiter.hit(key)
        if wait is not None:
            await self._too_many(send, wait, f"rate limit of {self.limiter.limit} requests per minute exceeded")
            return
        await self.manager.handle_request(scope, receive, send)

    @staticmethod
    async def _too_many(send: Send, wait: float, message: str) -> None:
        retry = max(1, math.ceil(wait))
        await send_error(send, 429, "rate_limited", f"{message}; retry in {retry} s", [("retry-after", str(retry))])


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:  # type: ignore[union-attr]
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class McpHttp:
    """The MCP endpoint of one app: its server, session manager and guard."""

    def __init__(self, service: Service, asking: AskService, settings: Settings, *, version: str = "") -> None:
        self.server = build_server(McpTools(service, asking), owner_of=owner_of(settings), version=version)
        # builds the session manager (the Starlette app it returns is not used: the guard is mounted)
        self.server.streamable_http_app(
            streamable_http_path=MCP_PATH, stateless_http=True, json_response=True,
            max_request_body_size=max(1, settings.max_body_bytes),
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))  # McpGuard checks Origin
        self.guard = McpGuard(self.server.session_manager, settings)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Held for the app's life (its lifespan): the SDK's task group for requests."""
        async with self.server.session_manager.run():
            yield


def install_mcp(app: FastAPI, service: Service, asking: AskService, settings: Settings, *,
                version: str = "") -> McpHttp:
    """Mount ``/mcp`` on ``app`` (the app's lifespan must hold :meth:`McpHttp.running`)."""
    mcp = McpHttp(service, asking, settings, version=version)
    app.router.routes.append(Route(MCP_PATH, endpoint=mcp.guard, methods=["GET", "POST", "DELETE"]))
    app.state.mcp = mcp
    return mcp


__all__ = ["MCP_PATH", "Caller", "McpGuard", "McpHttp", "authorize", "install_mcp", "owner_of"]
