"""Server-Sent Events for ``POST /v1/ask`` with ``"stream": true``.

The extractive answer is complete before the first byte is sent (it is fast and its
citations must be checked first), so streaming here is a presentation: the answer text
in word groups (``event: delta``), then ``event: citations``, then ``event: done`` with
the whole response object, the same one the non-streaming call returns. Concatenating
the ``text`` of every delta gives ``answer`` exactly.

With the LLM answerer (``SANAD_ANSWERER=llm``) the deltas are the model's tokens as it
writes them (:func:`live_ask_events`), held back only until the first sentence's citation
has been checked, and each ``[n]`` until its sentence has; the same concatenation rule holds.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Callable, Iterator

from qa.models import Answer

log = logging.getLogger("sanad.api")

#: words per ``delta`` event
WORDS_PER_DELTA = 4

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

_WORD_RE = re.compile(r"\s*\S+\s*")


def word_groups(text: str, size: int = WORDS_PER_DELTA) -> list[str]:
    """``text`` cut into pieces of ``size`` words (whitespace kept: ``"".join`` gives it back)."""
    if not text:
        return []
    tokens = _WORD_RE.findall(text)  # each word with the whitespace around it
    if not tokens:
        return [text]
    return ["".join(tokens[i:i + size]) for i in range(0, len(tokens), size)]


def sse(event: str | None, data: Any) -> bytes:
    """One SSE message; ``data`` is sent as one line of JSON (or as-is when a str)."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def ask_events(answer: Answer) -> Iterator[bytes]:
    for piece in word_groups(answer.answer):
        yield sse("delta", {"text": piece})
    yield sse("citations", [c.model_dump(mode="json") for c in answer.citations])
    yield sse("done", answer.model_dump(mode="json"))


def live_ask_events(events: Iterator[tuple[str, Any]], finalize: Callable[[Answer], Answer]) -> Iterator[bytes]:
    """SSE for the LLM answerer: ``delta`` events as the checked answer is generated (text is
    shown once its first sentence's citation has been checked, and a marker once its sentence
    has), then ``citations`` and ``done`` as above. ``finalize`` completes the answer (its
    conversation id) before it is sent. A failure mid-stream ends it with ``event: error``."""
    answer: Answer | None = None
    try:
        for kind, value in events:
            if kind == "delta":
                yield sse("delta", {"text": value})
            elif kind == "answer":
                answer = value
        if answer is None:
            raise RuntimeError("the answerer ended without an answer")
        answer = finalize(answer)
    except Exception:  # noqa: BLE001 - the response has started: report in-band, never a trace
        log.exception("streaming an answer failed")
        yield sse("error", {"error": {"code": "internal_error", "message": "the answer could not be completed"}})
        return
    yield sse("citations", [c.model_dump(mode="json") for c in answer.citations])
    yield sse("done", answer.model_dump(mode="json"))


def parse_sse(raw: str) -> list[tuple[str, str]]:
    """(event, data) pairs of an SSE stream (a helper for clients and tests)."""
    events: list[tuple[str, str]] = []
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        event, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        events.append((event, "\n".join(data)))
    return events
