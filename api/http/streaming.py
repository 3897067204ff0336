"""Server-Sent Events for ``POST /v1/ask`` with ``"stream": true``.

The extractive answer is complete before the first byte is sent (it is fast and its
citations must be checked first), so streaming it is a presentation: the answer text in
word groups (``event: delta``), then ``event: citations``, then ``event: done`` with the
whole response object, the same one the non-streaming call returns. Concatenating the
``text`` of every delta gives ``answer`` exactly.

With the LLM writer (``SANAD_ANSWERER=llm``) the deltas are the model's tokens as it writes
them, held back only until the first sentence's citation has been checked, and each ``[n]``
until its sentence has; the same concatenation rule holds. Both come from one answer
stream (``qa.stream``), so this module only formats it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any, Iterator

from qa.models import Answer
from qa.stream import AnswerEvent

log = logging.getLogger("sanad.api")

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(event: str | None, data: Any) -> bytes:
    """One SSE message; ``data`` is sent as one line of JSON (or as-is when a str)."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


async def from_the_loop(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    """A finished answer's chunks, made in the event loop. Each is cheap to make (the answer is
    complete), and Starlette iterates a plain iterator in its thread pool: a thread hop for every
    word group of the stream. (A live LLM stream blocks between tokens: it stays a plain iterator.)"""
    for chunk in chunks:
        yield chunk


def ask_events(events: Iterator[AnswerEvent]) -> Iterator[bytes]:
    """SSE for ``/v1/ask``: a ``delta`` event per piece of text, then ``citations`` and ``done``
    with the whole answer. A failure mid-stream (the response has started) ends it with
    ``event: error`` of the documented error shape, never a trace."""
    answer: Answer | None = None
    try:
        for kind, value in events:
            if kind == "delta":
                yield sse("delta", {"text": value})
            elif isinstance(value, Answer):
                answer = value
        if answer is None:
            raise RuntimeError("the answerer ended without an answer")
    except Exception:  # noqa: BLE001 - the response has started: report in-band, never a trace
        log.exception("streaming an answer failed")
        yield sse("error", {"error": {"code": "internal_error", "message": "the answer could not be completed"}})
        return
    yield sse("citations", [c.model_dump(mode="json") for c in answer.citations])
    yield sse("done", answer.model_dump(mode="json"))
