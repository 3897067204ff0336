"""The HTTP API: ``create_app(settings)`` builds a FastAPI app (served by ``sanad serve``).

The model and stores load once, in a background thread started by the app's lifespan:
``/healthz`` answers at once, ``/readyz`` is 503 until loading is done, and every route
that needs the index answers 503 until then too.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response, StreamingResponse

from api import documents, openai_compat, web
from api.errors import ERROR_SCHEMA, error_response, install_error_handlers
from api.metrics import Metrics, MetricsMiddleware
from api.security import BodySizeLimitMiddleware, GuardMiddleware
from api.service import Service
from api.streaming import SSE_HEADERS, ask_events, live_ask_events
from index.config import Settings
from qa.conversation import Turn
from qa.models import Answer, AskRequest

if TYPE_CHECKING:
    from api.slack import SlackOptions
    from qa.answerer import Answerer

API_VERSION = "0.1.0"
_ERR = {"description": "error", "content": {"application/json": {"schema": ERROR_SCHEMA}}}


def create_app(settings: Settings, *, answerer: Answerer | None = None,
               loader: Callable[[Settings], Answerer] | None = None,
               slack: SlackOptions | None = None) -> FastAPI:
    """Build the app.

    Parameters
    ----------
    settings: the one Settings object (data dir, model, HTTP limits and keys).
    answerer: an already-loaded ``qa.answerer.Answerer`` to serve (the app then only opens
        its Indexer and catalog at start-up, and closes it at shutdown); else one is loaded
        in the background.
    loader: builds the Answerer from settings in the background thread (default:
        ``Answerer(settings)``); tests pass a slow one to observe ``/readyz`` = 503.
    slack: how the Slack bot reaches Slack (tests point it at a local server); the bot's
        ``POST /slack/events`` is mounted only when its token and signing secret are set.
    """
    metrics = Metrics()
    service = Service(settings, answerer=answerer, loader=loader, metrics=metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start_loading()
        try:
            yield
        finally:
            service.close()

    app = FastAPI(
        title="Sanad", version=API_VERSION, lifespan=lifespan,
        description="Cited answers over Arabic and English documents: every answer quotes the file, "
        "paragraph, lines and characters it rests on.",
    )
    app.state.service = service
    app.state.metrics = metrics
    app.state.settings = settings
    install_error_handlers(app)

    # --- middleware (added inner first): CORS > metrics > keys + rate limit > body size
    def body_limit(scope: Any) -> int:
        if scope.get("path") == "/v1/documents" and scope.get("method") == "POST":
            return settings.max_body_bytes + settings.max_upload_bytes
        return settings.max_body_bytes

    app.add_middleware(BodySizeLimitMiddleware, limit_for=body_limit)
    app.add_middleware(GuardMiddleware, api_keys=settings.api_keys,
                       rate_limit_per_minute=settings.rate_limit_per_minute)
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=lambda: app.router.routes)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                           allow_headers=["Authorization", "Content-Type"],
                           expose_headers=["Retry-After", "X-Sanad-Standalone-Question"])

    # --- operations -----------------------------------------------------------------
    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process is up (always 200)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], responses={503: _ERR})
    async def readyz() -> Any:
        """200 with index counts once the model and stores are loaded; 503 before."""
        if not service.ready:
            if service.load_error:
                return error_response(503, "load_failed", f"the service failed to load: {service.load_error}")
            return error_response(503, "not_ready", "the model and index are still loading",
                                  {"Retry-After": "5"})
        counts = await run_in_threadpool(service.counts)
        return {"status": "ready", **counts}

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def metrics_endpoint() -> Response:
        """Prometheus text format."""
        metrics.conversations.set(len(service.conversations))
        return Response(metrics.render(), media_type=metrics.content_type)

    # --- answering ------------------------------------------------------------------
    @app.post("/v1/ask", response_model=Answer, tags=["answers"],
              responses={200: {"content": {"text/event-stream": {}},
                               "description": "the answer (JSON), or SSE when `stream` is true"},
                         400: _ERR, 401: _ERR, 413: _ERR, 422: _ERR, 429: _ERR, 503: _ERR})
    async def ask(request: AskRequest) -> Any:
        """Answer a question with verbatim, cited quotes.

        `conversation_id` keeps a conversation: a follow-up ("and who represented Russia?")
        is read together with the previous question. A new id is returned when none is
        given. With `stream: true` the reply is Server-Sent Events: `delta` (answer text in
        word groups), `citations`, then `done` with the full response object."""
        service.require_ready()
        service.check_question(request.question)
        store = service.conversations
        cid = request.conversation_id or store.new_id()
        history = [t.standalone for t in store.history(cid)] if request.conversation_id else []
        if request.stream and service.generative:  # true token streaming from the LLM
            events, standalone = service.ask_stream(request.question, top_k=request.top_k, history=history)

            def finalize(answer: Answer) -> Answer:
                store.append(cid, Turn(request.question.strip(), standalone, answer.answer))
                return answer.model_copy(update={"conversation_id": cid})

            return StreamingResponse(live_ask_events(events, finalize), media_type="text/event-stream",
                                     headers={**SSE_HEADERS, "X-Sanad-Standalone-Question": quote(standalone, safe="")})
        answer, standalone = await run_in_threadpool(service.ask, request.question, top_k=request.top_k,
                                                      history=history)
        store.append(cid, Turn(request.question.strip(), standalone, answer.answer))
        answer = answer.model_copy(update={"conversation_id": cid})
        headers = {"X-Sanad-Standalone-Question": quote(standalone, safe="")}
        if request.stream:
            return StreamingResponse(ask_events(answer), media_type="text/event-stream",
                                     headers={**SSE_HEADERS, **headers})
        return JSONResponse(answer.model_dump(mode="json"), headers=headers)

    app.include_router(documents.build_router(service))
    app.include_router(openai_compat.build_router(service))
    app.include_router(web.build_router())
    from api.slack import install as install_slack

    install_slack(app, service, settings, options=slack)
    return app
