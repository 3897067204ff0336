"""Reading Server-Sent Events back (tests and benchmarks are the API's clients here)."""

from __future__ import annotations


def parse_sse(raw: str) -> list[tuple[str, str]]:
    """(event, data) pairs of an SSE stream."""
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
