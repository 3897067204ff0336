"""One question, analysed once: what every retrieval stage and the composer read.

:class:`Question` is made by :func:`parse_question` when a question arrives (``Answerer``), and
travels through retrieval inside a :class:`QuestionBundle` (llama-index's ``QueryBundle`` with
the parsed question beside the text), so no stage detects the language, cleans the text or
tokenises it again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from llama_index.core.schema import QueryBundle

from index.arabic import Analyzer
from qa.language import detect_language
from qa.models import Language
from qa.question_text import QUESTION_WORDS, lexical_text, retrieval_text

#: what kind of answer a question asks for, from its question words (None: not recognised)
_ANSWER_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("number", re.compile(r"(?:^|\s)(?:كم|بكم|ما\s+عدد|how\s+(?:many|much|long|far|old))(?:\s|$)", re.IGNORECASE)),
    ("date", re.compile(r"(?:^|\s)(?:متى|متي|في\s+اي\s+(?:عام|سنة|سنه|عام)|when|what\s+year|which\s+year)(?:\s|$)",
                        re.IGNORECASE)),
    ("person", re.compile(r"(?:^|\s)(?:من\s+هو|من\s+هي|من|مين|who|whom|whose)(?:\s|$)", re.IGNORECASE)),
    ("place", re.compile(r"(?:^|\s)(?:اين|أين|وين|where)(?:\s|$)", re.IGNORECASE)),
)


#: normalised words without stopwords, unstemmed
_CONTENT_WORDS = Analyzer(stem=False)


def answer_type(text: str) -> str | None:
    """``number``, ``date``, ``person`` or ``place`` when the question's words say so, else None."""
    lowered = " ".join(text.replace("؟", " ").replace("?", " ").split()).lower()
    for kind, pattern in _ANSWER_TYPES:
        if pattern.search(lowered):
            return kind
    return None


@dataclass(frozen=True)
class Question:
    """A question as asked and as every stage reads it.

    ``text``: as asked (stripped). ``search``: the text that is encoded (tidied when the
    ``question_cleanup`` setting is on). ``lexical``: what BM25 searches for. ``language``:
    ``ar`` or ``en``. ``terms``: the normalised content words (question words left out).
    ``answer_type``: :func:`answer_type`.
    """

    text: str
    search: str
    lexical: str
    language: Language
    terms: tuple[str, ...] = ()
    answer_type: str | None = None


def parse_question(text: str, *, cleanup: bool) -> Question:
    """Analyse ``text`` once (``cleanup``: the retrieval settings' ``question_cleanup``)."""
    text = text.strip()
    tidy = retrieval_text(text)
    terms = tuple(t for t in _CONTENT_WORDS.analyze(tidy) if t not in QUESTION_WORDS)
    return Question(text=text, search=tidy if cleanup else text, lexical=lexical_text(text) if cleanup else text,
                    language=detect_language(text), terms=terms, answer_type=answer_type(tidy))


@dataclass
class QuestionBundle(QueryBundle):
    """A llama-index ``QueryBundle`` that carries its :class:`Question` (and, once encoded, its
    embedding) from stage to stage."""

    question: Question | None = field(default=None)


__all__ = ["Question", "QuestionBundle", "answer_type", "parse_question"]
