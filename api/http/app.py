"""The HTTP API: ``create_app(settings)`` builds a FastAPI app (served by ``sanad serve``).

The model and stores load once, in a background thread started by the app's lifespan:
``/healthz`` answers at once, ``/readyz`` is 503 until loading is done, and every route
that needs the index answers 503 until then too.
"""

from __future__ import annotations

import re
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api.http import openai_compat, web
from api.http.errors import install_error_handlers
from api.http.json_limits import JsonDepthMiddleware
from api.http.metrics_middleware import MetricsMiddleware
from api.http.routes import ask, collections, conversations, documents, feedback, operations
from api.http.security import BodySizeLimitMiddleware, GuardMiddleware, TrailingNewlinePathMiddleware
from api.keys import keyring_for
from api.mcp.http import install_mcp
from api.service.collections import CollectionHub
from api.service.metrics import Metrics
from api.service.service import Loader, Service
from api.slack.mount import install_slack
from api.slack.options import SlackOptions
from qa.answerer import Answerer
from settings import Settings

if TYPE_CHECKING:  # made by the server that runs this app (api.serving)
    from api.serving.worker_readiness import WorkerReadiness

API_VERSION = "0.1.0"
#: the upload routes (the default collection's and a named one's): their body limit is larger
UPLOAD_PATH = re.compile(r"^/v1/(collections/[^/]+/)?documents$")


def create_app(settings: Settings, *, answerer: Answerer | None = None, loader: Loader | None = None,
               slack: SlackOptions | None = None, workers: WorkerReadiness | None = None) -> FastAPI:
    """Build the app.

    Parameters
    ----------
    settings: the one Settings object (data dir, model, HTTP limits and keys).
    answerer: an already-loaded ``qa.answerer.Answerer`` to serve (the app then only opens
        its Indexer and catalog at start-up, and closes it at shutdown); else one is loaded
        in the background.
    loader: builds the Answerer from settings in the background thread (default:
        ``qa.answerer.build_answerer``); tests pass a slow one to observe ``/readyz`` = 503.
    slack: how the Slack bot reaches Slack (tests point it at a local server); the bot's
        ``POST /slack/events`` is mounted only when its token and signing secret are set.
    workers: the run this process is one worker of (``sanad serve --workers N``): ``/readyz``
        is 200 only once every worker has loaded (``api.serving.worker_readiness``).
    """
    metrics = Metrics()
    service = Service(settings, answerer=answerer, loader=loader, metrics=metrics, workers=workers)
    hub = CollectionHub(settings, default=service, metrics=metrics)
    hub.registry.cleanup()  # what a killed collection create / delete left (index.collections)
    ask_service = hub.default_asking()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start_loading()
        if getattr(app.state, "slack_bot", None) is not None:
            app.state.slack_bot.start()  # checks the bot token in the background
        try:
            async with app.state.mcp.running():  # MCP's streamable HTTP at /mcp (api.mcp.http)
                yield
        finally:
            hub.close()
            service.close()
            ask_service.close()

    app = FastAPI(
        title="Sanad", version=API_VERSION, lifespan=lifespan,
        docs_url=None, redoc_url=None,  # /docs is served by api.http.web (no CDN, no inline code: the page's CSP)
        description="Cited answers over Arabic and English documents: every answer quotes the file, "
        "paragraph, lines and characters it rests on.",
    )
    app.state.service = service
    app.state.ask_service = ask_service
    app.state.hub = hub
    app.state.metrics = metrics
    app.state.settings = settings
    install_error_handlers(app)

    # --- middleware (added inner first): CORS > metrics > keys + rate limit > path check > body size
    #     > JSON depth (every JSON body, before anything parses it: api.http.json_limits)
    def body_limit(scope: Any) -> int:
        if UPLOAD_PATH.match(str(scope.get("path"))) and scope.get("method") == "POST":
            return settings.max_body_bytes + settings.max_upload_bytes
        return settings.max_body_bytes

    app.add_middleware(JsonDepthMiddleware, max_depth=settings.max_json_depth)
    app.add_middleware(BodySizeLimitMiddleware, limit_for=body_limit)
    app.add_middleware(TrailingNewlinePathMiddleware)
    app.add_middleware(GuardMiddleware, keyring=keyring_for(settings),
                       rate_limit_per_minute=settings.rate_limit_per_minute,
                       auth_failures_per_minute=settings.auth_failures_per_minute)
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=lambda: app.router.routes)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                           allow_headers=["Authorization", "Content-Type"],
                           expose_headers=["Retry-After", "X-Sanad-Standalone-Question"])

    app.include_router(operations.router)
    app.include_router(ask.router)
    app.include_router(feedback.router)
    app.include_router(conversations.router)
    app.include_router(collections.router)
    app.include_router(documents.build_router(named=False))
    app.include_router(documents.build_router(named=True))
    app.include_router(openai_compat.router)
    app.include_router(web.build_router())
    install_slack(app, ask_service, settings, options=slack, route=hub.asking)
    install_mcp(app, hub, settings, version=API_VERSION)
    return app
