"""Answers as event streams: ``("delta", text)`` items, then one ``("answer", Answer)``.

Every answer goes through one stream, whichever writer made it: the LLM's checked text as it
is generated, or a complete (extractive) answer replayed in word groups. Concatenating the
deltas gives the final answer's text exactly.
"""

from __future__ import annotations

import re
import time
from typing import Iterator, Literal, Union

from qa.models import Answer

#: one item of an answer stream
AnswerEvent = Union[tuple[Literal["delta"], str], tuple[Literal["answer"], Answer]]

#: words per delta when a complete answer is replayed
WORDS_PER_DELTA = 4

_WORD_RE = re.compile(r"\s*\S+\s*")


def word_groups(text: str, size: int = WORDS_PER_DELTA) -> list[str]:
    """``text`` cut into pieces of ``size`` words (whitespace kept: ``"".join`` gives it back)."""
    if not text:
        return []
    tokens = _WORD_RE.findall(text)  # each word with the whitespace around it
    if not tokens:
        return [text]
    return ["".join(tokens[i:i + size]) for i in range(0, len(tokens), size)]


def replay(answer: Answer, timings: dict[str, float], started: float) -> Iterator[AnswerEvent]:
    """An already complete answer as a stream: its text in word groups, then the answer with
    ``timings`` (and the total since ``started``, a ``time.perf_counter()``) in ``timings_ms``."""
    timings = {**answer.timings_ms, **timings, "total": round((time.perf_counter() - started) * 1000, 1)}
    yield from replay_complete(answer.model_copy(update={"timings_ms": timings}))


def replay_complete(answer: Answer) -> Iterator[AnswerEvent]:
    """``answer`` as a stream, unchanged: its text in word groups, then the answer."""
    for piece in word_groups(answer.answer):
        yield "delta", piece
    yield "answer", answer


def final_answer(events: Iterator[AnswerEvent]) -> Answer:
    """The answer a stream ends with (its deltas are dropped)."""
    answer = None
    for kind, value in events:
        if kind == "answer":
            answer = value
    if not isinstance(answer, Answer):
        raise RuntimeError("the answer stream ended without an answer")
    return answer


__all__ = ["AnswerEvent", "WORDS_PER_DELTA", "final_answer", "replay", "replay_complete", "word_groups"]
