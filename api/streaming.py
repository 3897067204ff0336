"""Server-Sent Events for ``POST /v1/ask`` with ``"stream": true``.

The extractive answer is complete before the first byte is sent (it is fast and its
citations must be checked first), so streaming here is a presentation: the answer text
in word groups (``event: delta``), then ``event: citations``, then ``event: done`` with
the whole response object, the same one the non-streaming call returns. Concatenating
the ``text`` of every delta gives ``answer`` exactly.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

from qa.models import Answer

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
