"""``sanad_http_requests_total`` and ``sanad_http_request_duration_seconds``: every HTTP request
counted and timed by its route template, into the app's :class:`~api.service.metrics.Metrics`."""

from __future__ import annotations

import time
from typing import Callable

from starlette.routing import Match

from api.http.security import ASGIApp, Message, Receive, Scope, Send
from api.service.metrics import Metrics


def _matching_path(routes: list, scope: Scope) -> str | None:
    """The path template of the route ``scope`` would reach (included routers searched too:
    FastAPI resolves those lazily, so they name no path themselves)."""
    for candidate in routes:
        try:
            match, _ = candidate.matches(scope)
        except Exception:  # noqa: BLE001 - a route that cannot match this scope
            continue
        if match == Match.NONE:
            continue
        path = getattr(candidate, "path", None)
        if path:
            return str(path)
        inner = getattr(getattr(candidate, "original_router", None), "routes", None)
        if inner:
            found = _matching_path(list(inner), scope)
            if found:
                return found
    return None


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (not its raw path)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, routes: Callable[[], list]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    def _route_of(self, scope: Scope) -> str:
        route = scope.get("route")
        path = getattr(route, "path", None)
        if path:
            return str(path)
        return _matching_path(self.routes(), scope) or "unmatched"  # answered before routing (401, 413, 429)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def recording_send(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                status["code"] = int(msg["status"])  # type: ignore[arg-type]
            await send(msg)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = self._route_of(scope)
            method = str(scope.get("method", ""))
            code = str(status["code"])
            self.metrics.requests.labels(method, route, code).inc()
            self.metrics.latency.labels(method, route, code).observe(time.perf_counter() - started)
