"""``POST /v1/ask``: a question answered with verbatim, cited quotes (JSON or SSE)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from api.http.deps import GrantDep, HubDep, OwnerDep
from api.http.errors import ERROR_SCHEMA
from api.http.streaming import SSE_HEADERS, ask_events, from_the_loop
from api.schemas import AskRequest
from qa.models import Answer
from qa.stream import replay_complete

_ERR = {"description": "error", "content": {"application/json": {"schema": ERROR_SCHEMA}}}

router = APIRouter(tags=["answers"])


@router.post("/v1/ask", response_model=Answer,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "the answer (JSON), or SSE when `stream` is true"},
                        400: _ERR, 401: _ERR, 403: _ERR, 404: _ERR, 413: _ERR, 422: _ERR, 429: _ERR,
                        503: _ERR})
async def ask(request: AskRequest, hub: HubDep, grant: GrantDep, owner: OwnerDep) -> Any:
    """Answer a question with verbatim, cited quotes.

    `conversation_id` keeps a conversation: a follow-up ("and who represented Russia?") is
    read together with the previous question. Conversations belong to the caller (its API
    key) that started them; an id that is unknown, or another caller's, starts a new
    conversation, whose id is returned. With `stream: true` the reply is Server-Sent
    Events: `delta` (answer text), `citations`, then `done` with the full response object.

    `collection` (or `collections`, ranked together) names what to ask; none is the default
    collection. A collection the key cannot see is 404, as one that does not exist."""
    names = hub.question_collections(grant, request.collection, request.collections)
    asking = await run_in_threadpool(hub.asking, names)
    stream = asking.start(request.question, owner=owner, conversation_id=request.conversation_id,
                          top_k=request.top_k)
    headers = {"X-Sanad-Standalone-Question": quote(stream.standalone, safe="")}
    if request.stream and stream.live:  # the LLM's checked text as it is written
        return StreamingResponse(ask_events(stream.events), media_type="text/event-stream",
                                 headers={**SSE_HEADERS, **headers})
    answer = await run_in_threadpool(stream.answer)
    if request.stream:
        return StreamingResponse(from_the_loop(ask_events(replay_complete(answer))), media_type="text/event-stream",
                                 headers={**SSE_HEADERS, **headers})
    return JSONResponse(answer.model_dump(mode="json"), headers=headers)
