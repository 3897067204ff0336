"""Sentence spans inside a paragraph, as offsets (so quotes stay verbatim)."""

from __future__ import annotations

import re

# a sentence ends at . ! ? ؟ … (and closing quotes/brackets after them) followed by space, or at a newline
_BOUNDARY = re.compile(r"(?<=[.!?؟…])[\"'”’»)\]]*\s+|\n+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, stripped, in order, never empty."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.start() if text[match.start()].isspace() else match.end()
        # keep the closing quote with its sentence: end is where whitespace starts
        end = match.start() + len(match.group(0).rstrip())
        _add(text, start, end, spans)
        start = match.end()
    _add(text, start, len(text), spans)
    return spans


def _add(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))
