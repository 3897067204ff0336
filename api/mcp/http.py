"""MCP over streamable HTTP at ``/mcp`` in ``sanad serve``, behind Sanad's API keys.

Stateless, with JSON responses: each POST is one exchange, handled by whichever worker
process takes it (``sanad serve --workers N`` keeps no session between them). Before the SDK
sees a request, :class:`McpGuard` checks it the way ``/v1`` requests are checked: the key in
``Authorization: Bearer KEY`` (when keys are configured: ``SANAD_API_KEYS`` or scoped keys;
:func:`authorize` is the one place a key is judged, through ``api.keys.check_key``: its grant's
role and collections then bound every tool), the failed-key limit per address and the rate
limit per key; and a browser's ``Origin``, which must be one of ``SANAD_CORS_ORIGINS``
(the MCP specification's guard against DNS rebinding). The request body limit and the JSON
depth limit of the app apply as for every path.
"""

from __future__ import annotations

import hashlib
import math
from contextlib import asynccontextmanager
from typing import AsyncIterator, Mapping

from fastapi import FastAPI
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route

from api.http.security import Receive, RateLimiter, Scope, Send, bearer_token, send_error
from api.keys import Grant, check_key, keyring_for
from api.mcp.server import build_server
from api.mcp.tools import McpTools
from api.service.collections import CollectionHub
from settings import Settings

#: where the MCP endpoint is mounted
MCP_PATH = "/mcp"


def authorize(token: str | None, settings: Settings) -> Grant | None:
    """The grant a bearer token carries (role, collections), or None when it may not use MCP: no
    key or a wrong one where keys are set, or a metrics-only key. The one key check of the MCP face."""
    grant = check_key(settings, token)
    return None if grant is None or grant.role == "metrics" else grant


def grant_of(settings: Settings):  # noqa: ANN201 - an api.mcp.server.GrantOf
    """The caller's grant, from the request's ``Authorization`` header (checked by the guard)."""

    def grant(headers: Mapping[str, str] | None) -> Grant:
        value = (headers or {}).get("authorization") or ""
        scheme, _, token = value.strip().partition(" ")
        found = authorize(token.strip() if scheme.lower() == "bearer" and token.strip() else None, settings)
        if found is None:  # the guard let no such request through; refuse rather than guess
            raise PermissionError("no valid API key")
        return found

    return grant


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
        keys = keyring_for(self.settings).has_keys()
        if keys:
            wait = self.auth_failures.blocked(ip)
            if wait is not None:
                await self._too_many(send, wait, "too many requests with a missing or wrong API key from this address")
                return
        grant = authorize(token, self.settings)
        if grant is None:
            self.auth_failures.hit(ip)
            message = "missing API key: send `Authorization: Bearer KEY`" if token is None else "invalid API key"
            await send_error(send, 401, "unauthorized", message, [("www-authenticate", "Bearer")])
            return
        key = "key:" + hashlib.sha256(token.encode()).hexdigest()[:16] if token and keys else ip
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

    def __init__(self, hub: CollectionHub, settings: Settings, *, version: str = "") -> None:
        self.server = build_server(McpTools(hub), grant_of=grant_of(settings), version=version)
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


def install_mcp(app: FastAPI, hub: CollectionHub, settings: Settings, *, version: str = "") -> McpHttp:
    """Mount ``/mcp`` on ``app`` (the app's lifespan must hold :meth:`McpHttp.running`)."""
    mcp = McpHttp(hub, settings, version=version)
    app.router.routes.append(Route(MCP_PATH, endpoint=mcp.guard, methods=["GET", "POST", "DELETE"]))
    app.state.mcp = mcp
    return mcp


__all__ = ["MCP_PATH", "McpGuard", "McpHttp", "authorize", "grant_of", "install_mcp"]
