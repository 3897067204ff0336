"""``/healthz``, ``/readyz`` and ``/metrics``: open routes for operators and load balancers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.http.deps import AskServiceDep, MetricsDep, ServiceDep
from api.http.errors import ERROR_SCHEMA, error_response

_ERR = {"description": "error", "content": {"application/json": {"schema": ERROR_SCHEMA}}}

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (always 200)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: _ERR})
async def readyz(service: ServiceDep, request: Request) -> Any:
    """200 with index counts once the model and stores are loaded (in every worker process of
    ``sanad serve --workers N``); 503 before. When the Slack
    bot is on, ``slack`` says whether Slack accepted its token: ``{"status": "checking" | "ok"}``
    or ``{"status": "failed", "error": <Slack's error>, "fix": ...}`` (the API stays ready).
    ``ranker`` says whether the learned ranker is in use: ``{"active": true, "sha256": ...}``, or
    ``{"active": false, "reason": ...}`` when its model is off, missing, corrupt or mismatched.
    ``watch`` (with ``SANAD_WATCH_DIRS``) is the folder sync's state: ``{"status": "watching" |
    "paused" | "standby" | "starting" | "failed", "reason": ..., "pending": n, ...}``; ``paused``
    means documents vanished at once and nothing was removed (the API stays ready)."""
    if not service.ready:
        if service.load_error:
            return error_response(503, "load_failed", f"the service failed to load: {service.load_error}")
        return error_response(503, "not_ready", "the model and index are still loading", {"Retry-After": "5"})
    workers = service.workers
    if workers is not None and (ready := workers.ready_workers()) < workers.workers:
        return error_response(503, "not_ready", f"{ready} of {workers.workers} worker processes have "
                              "loaded the model and index; the others are still loading", {"Retry-After": "5"})
    counts = await run_in_threadpool(service.counts)
    body: dict[str, Any] = {"status": "ready", **counts}
    if service.answerer is not None:  # the learned ranker in use, or why the fixed rules rank
        body["ranker"] = service.answerer.ranker_status.as_dict()
    if service.folder_sync is not None:  # SANAD_WATCH_DIRS: "watching", or "paused" with the reason
        body["watch"] = service.folder_sync.status()
    slack_bot = getattr(request.app.state, "slack_bot", None)
    if slack_bot is not None:
        body["slack"] = slack_bot.status()
    return body


@router.get("/metrics", response_class=Response)
async def metrics_endpoint(metrics: MetricsDep, asking: AskServiceDep) -> Response:
    """Prometheus text format."""
    metrics.conversations.set(len(asking.conversations))
    return Response(metrics.render(), media_type=metrics.content_type)
