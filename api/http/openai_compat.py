"""``POST /v1/chat/completions``: enough of OpenAI's Chat Completions API for chat front ends.

The last user message is the question; earlier user messages are the conversation's
history (follow-ups are made standalone as in ``/v1/ask``); system and assistant messages
are ignored, and so are sampling options. ``model`` is echoed. The reply's content is the
cited answer with its ``[n]`` markers and a "Sources:" list; the citations also ride in
an extra top-level field ``citations`` (and in the last chunk when streaming), beside
``answer_id`` (for ``POST /v1/feedback``), ``answerable``, ``answerer``, ``unsupported_claims``
and ``warnings``.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Callable, Iterator

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from api.http.deps import GrantDep, HubDep, OwnerDep
from api.http.errors import ERROR_SCHEMA, ApiError
from api.http.streaming import SSE_HEADERS, from_the_loop, sse
from api.schemas import MODEL_NAME, ChatRequest
from api.service.collections import CollectionHub
from index.collections import DEFAULT_COLLECTION
from qa.models import Answer
from qa.stream import AnswerEvent, replay_complete

log = logging.getLogger("sanad.api")


def sources_block(answer: Answer) -> str:
    lines = []
    for c in answer.citations:
        where = f"line {c.line_start}" if c.line_start == c.line_end else f"lines {c.line_start}-{c.line_end}"
        page = c.page_label()
        lines.append(f"[{c.ref}] {c.file} {page + ' ' if page else ''}¶{c.paragraph}, {where}")
    return "Sources:\n" + "\n".join(lines) if lines else ""


def message_content(answer: Answer) -> str:
    block = sources_block(answer)
    return f"{answer.answer}\n\n{block}" if block else answer.answer


def _usage(question: str, content: str) -> dict[str, int]:
    prompt, completion = len(question.split()), len(content.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion_object(answer: Answer, *, model: str, question: str) -> dict[str, Any]:
    content = message_content(answer)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": _usage(question, content),
        "citations": [c.model_dump(mode="json") for c in answer.citations],
        "answer_id": answer.answer_id,
        "answerable": answer.answerable,
        "answerer": answer.answerer,
        "unsupported_claims": answer.unsupported_claims,
        "warnings": answer.warnings,
    }


def _chunk_maker(model: str) -> Callable[..., bytes]:
    """``chunk(delta, finish=None, **extra)``: one SSE ``chat.completion.chunk`` of one stream
    (the id and creation time are shared by the stream's chunks)."""
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
        return sse(None, body)

    return chunk


def completion_chunks(events: Iterator[AnswerEvent], *, model: str) -> Iterator[bytes]:
    """``chat.completion.chunk`` SSE: content deltas as the answer streams, then the sources
    block, then the finishing chunk with ``citations``. The content concatenates to
    :func:`message_content` of the final answer."""
    chunk = _chunk_maker(model)

    yield chunk({"role": "assistant", "content": ""})
    answer: Answer | None = None
    try:
        for kind, value in events:
            if kind == "delta":
                yield chunk({"content": value})
            elif isinstance(value, Answer):
                answer = value
        if answer is None:
            raise RuntimeError("the answerer ended without an answer")
    except Exception:  # noqa: BLE001 - the response has started: end it cleanly, no trace
        log.exception("streaming a chat completion failed")
        yield chunk({}, "error", error={"code": "internal_error", "message": "the answer could not be completed"})
        yield b"data: [DONE]\n\n"
        return
    block = sources_block(answer)
    if block:
        yield chunk({"content": f"\n\n{block}"})
    yield chunk({}, "stop", citations=[c.model_dump(mode="json") for c in answer.citations],
                answer_id=answer.answer_id, answerable=answer.answerable, answerer=answer.answerer,
                unsupported_claims=answer.unsupported_claims, warnings=answer.warnings)
    yield b"data: [DONE]\n\n"


router = APIRouter(prefix="/v1", tags=["openai"])


async def _asking(hub: CollectionHub, grant: Any, model: str) -> Any:
    """The ask service of ``model``'s collections. A single name that is no collection this key
    can see is the default collection when the key may read that (chat clients send model names
    of their own, and any was accepted before collections); else 404, as for a hidden one."""
    names = model_collections(model)
    if len(names) == 1 and names[0] != DEFAULT_COLLECTION:
        visible = await run_in_threadpool(hub.visible, grant)
        if names[0] not in visible and DEFAULT_COLLECTION in visible:
            names = [DEFAULT_COLLECTION]
    names = hub.question_collections(grant, None, names)
    return await run_in_threadpool(hub.asking, names)


def model_collections(model: str) -> list[str]:
    """The collections a chat ``model`` names: `sanad` (or empty, or `default`) is the default
    collection; a collection's name is that collection; `a,b` (or `a+b`) several, ranked together."""
    names = [n.strip() for n in model.replace("+", ",").split(",") if n.strip()]
    return [DEFAULT_COLLECTION if n == MODEL_NAME else n for n in names] or [DEFAULT_COLLECTION]


@router.get("/models")
async def list_models(hub: HubDep, grant: GrantDep) -> dict[str, Any]:
    """The collections this key may read, as models: `sanad` is the default collection, any
    other id is the collection of that name (give it as `model` to /chat/completions)."""
    names = await run_in_threadpool(hub.visible, grant)
    ids = [MODEL_NAME if n == DEFAULT_COLLECTION else n for n in names]
    return {"object": "list", "data": [{"id": i, "object": "model", "created": 0, "owned_by": "sanad"} for i in ids]}


@router.post("/chat/completions", responses={
    code: {"description": "error", "content": {"application/json": {"schema": ERROR_SCHEMA}}}
    for code in (400, 401, 403, 404, 413, 422, 429, 503)})
async def chat_completions(request: ChatRequest, hub: HubDep, grant: GrantDep, owner: OwnerDep) -> Any:
    """The last user message is the question; the earlier user messages are its history.
    `model` names the collection (see `/v1/models`); one the key cannot see is 404."""
    users = [m.text() for m in request.messages if m.role == "user"]
    users = [u for u in users if u.strip()]
    if not users:
        raise ApiError(422, "messages need at least one non-empty user message", code="invalid_request")
    question, earlier = users[-1], users[:-1]
    model = request.model or MODEL_NAME
    asking = await _asking(hub, grant, model)
    stream = asking.start(question, owner=owner, earlier_questions=earlier, top_k=request.top_k)
    if request.stream and stream.live:  # the LLM's tokens as they are generated
        return StreamingResponse(completion_chunks(stream.events, model=model), media_type="text/event-stream",
                                 headers=SSE_HEADERS)
    answer = await run_in_threadpool(stream.answer)
    if request.stream:
        return StreamingResponse(from_the_loop(completion_chunks(replay_complete(answer), model=model)),
                                 media_type="text/event-stream", headers=SSE_HEADERS)
    return JSONResponse(completion_object(answer, model=model, question=question))
