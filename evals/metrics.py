"""Metrics over per-question rows. Pure functions: no model, no index, no I/O.

Each function takes a sequence of :class:`Row` and returns a float in [0, 1] (or
milliseconds for latency), or ``None`` when it has nothing to measure (no denominator),
so an absent figure is never mistaken for 0 or 1. docs/evals.md ("What each metric means") states each definition.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Sequence

from index.arabic import normalize_arabic

#: retrieval depth of the eval: recall@k for k <= this, and MRR over this many chunks
RETRIEVAL_DEPTH = 10
RECALL_KS = (1, 5, 10)

#: metrics where lower is better (a threshold on them is a ceiling, not a floor)
LOWER_IS_BETTER = frozenset({"false_abstention", "latency_p50_ms", "latency_p95_ms"})
RETRIEVAL_METRICS = ("recall_at_1", "recall_at_5", "recall_at_10", "mrr")
ANSWER_METRICS = ("first_citation_hit", "citation_hit", "citation_precision", "verbatim", "answer_hit", "abstention",
                  "false_abstention", "latency_p50_ms", "latency_p95_ms")
ALL_METRICS = RETRIEVAL_METRICS + ANSWER_METRICS

_SPACES = re.compile(r"\s+")


@dataclass
class RetrievedChunk:
    file: str
    paragraphs: list[int]
    dense: float | None = None
    lexical: float | None = None


@dataclass
class CitedSpan:
    file: str
    paragraph: int
    quote: str
    char_start: int = 0
    char_end: int = 0
    verbatim: bool = True  # quote == catalog document text[char_start:char_end] (set by the runner)


@dataclass
class Row:
    """One question as asked: its gold, what each retriever returned, and Sanad's answer."""

    id: str
    lang: str
    question: str
    answerable: bool  # the gold: does the corpus answer it?
    gold: list[tuple[str, int]] = field(default_factory=list)  # (file, paragraph)
    answers: list[str] = field(default_factory=list)
    kind: str = ""
    retrieved: dict[str, list[RetrievedChunk]] = field(default_factory=dict)  # system -> top chunks
    asked: bool = False  # was Sanad's answerer run on it
    predicted_answerable: bool | None = None
    answer: str = ""
    citations: list[CitedSpan] = field(default_factory=list)
    latency_ms: float | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["gold"] = [{"file": f, "paragraph": p} for f, p in self.gold]
        out["rank"] = {system: gold_rank(chunks, self.gold) for system, chunks in self.retrieved.items()}
        out["answer_hit"] = contains_answer(self.answer, self.answers) if self.asked and self.answerable else None
        for cit in out["citations"]:
            cit["gold"] = (cit["file"], cit["paragraph"]) in set(self.gold)
            cit["contains_answer"] = contains_answer(cit["quote"], self.answers)
        return out


# --------------------------------------------------------------------------- matching
def norm(text: str) -> str:
    """``normalize_arabic`` plus collapsed whitespace: the form answers are compared in."""
    return _SPACES.sub(" ", normalize_arabic(text)).strip()


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """Does ``text`` contain one of ``answers`` (both normalised)?"""
    hay = norm(text)
    return any(needle and needle in hay for needle in (norm(a) for a in answers))


def gold_rank(chunks: Sequence[RetrievedChunk], gold: Iterable[tuple[str, int]],
              depth: int = RETRIEVAL_DEPTH) -> int | None:
    """1-based rank of the first chunk covering a gold paragraph, within ``depth``; else None."""
    wanted = set(gold)
    for rank, chunk in enumerate(chunks[:depth], 1):
        if any((chunk.file, p) in wanted for p in chunk.paragraphs):
            return rank
    return None


def _ratio(hits: int, total: int) -> float | None:
    return hits / total if total else None


# --------------------------------------------------------------------------- retrieval
def _retrieval_rows(rows: Sequence[Row], system: str) -> list[Row]:
    return [r for r in rows if r.answerable and r.gold and system in r.retrieved]


def recall_at(rows: Sequence[Row], k: int, system: str = "sanad") -> float | None:
    """Share of answerable questions with a gold paragraph in the top ``k`` chunks."""
    pool = _retrieval_rows(rows, system)
    hits = sum(1 for r in pool if (rank := gold_rank(r.retrieved[system], r.gold)) is not None and rank <= k)
    return _ratio(hits, len(pool))


def mrr(rows: Sequence[Row], system: str = "sanad", depth: int = RETRIEVAL_DEPTH) -> float | None:
    """Mean of 1/rank of the first gold-covering chunk (0 when none in the top ``depth``)."""
    pool = _retrieval_rows(rows, system)
    if not pool:
        return None
    total = 0.0
    for r in pool:
        rank = gold_rank(r.retrieved[system], r.gold, depth)
        total += 1.0 / rank if rank else 0.0
    return total / len(pool)


# --------------------------------------------------------------------------- answers
def _asked(rows: Sequence[Row], answerable: bool | None = None) -> list[Row]:
    return [r for r in rows if r.asked and r.error is None and (answerable is None or r.answerable == answerable)]


def citation_hit_rate(rows: Sequence[Row]) -> float | None:
    """Answerable questions where some citation's (file, paragraph) is gold (abstaining = miss)."""
    pool = [r for r in _asked(rows, True) if r.gold]
    hits = sum(1 for r in pool if any((c.file, c.paragraph) in set(r.gold) for c in r.citations))
    return _ratio(hits, len(pool))


def first_citation_hit_rate(rows: Sequence[Row]) -> float | None:
    """Answerable questions whose FIRST citation is a gold paragraph (abstaining = miss): the
    paragraph a reader is sent to first."""
    pool = [r for r in _asked(rows, True) if r.gold]
    hits = sum(1 for r in pool if r.citations and (r.citations[0].file, r.citations[0].paragraph) in set(r.gold))
    return _ratio(hits, len(pool))


def citation_precision(rows: Sequence[Row]) -> float | None:
    """Share of the citations given on answerable questions that are right: a gold
    paragraph, or a quote that contains an accepted answer (normalised). Citations on
    unanswerable questions are judged by ``abstention`` instead."""
    good = total = 0
    for r in _asked(rows, True):
        gold = set(r.gold)
        for c in r.citations:
            total += 1
            good += (c.file, c.paragraph) in gold or contains_answer(c.quote, r.answers)
    return _ratio(good, total)


def verbatim_rate(rows: Sequence[Row]) -> float | None:
    """Share of all citations whose quote is exactly the document text at its offsets."""
    cits = [c for r in _asked(rows) for c in r.citations]
    return _ratio(sum(1 for c in cits if c.verbatim), len(cits))


def answer_hit_rate(rows: Sequence[Row]) -> float | None:
    """Answerable questions whose answer text contains an accepted answer (normalised)."""
    pool = [r for r in _asked(rows, True) if r.answers]
    return _ratio(sum(1 for r in pool if contains_answer(r.answer, r.answers)), len(pool))


def abstention_accuracy(rows: Sequence[Row]) -> float | None:
    """Unanswerable questions on which Sanad said so (answerable == False)."""
    pool = _asked(rows, False)
    return _ratio(sum(1 for r in pool if r.predicted_answerable is False), len(pool))


def false_abstention_rate(rows: Sequence[Row]) -> float | None:
    """Answerable questions on which Sanad abstained (lower is better)."""
    pool = _asked(rows, True)
    return _ratio(sum(1 for r in pool if r.predicted_answerable is False), len(pool))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100), linear interpolation between closest ranks."""
    data = sorted(values)
    if not data:
        return None
    pos = (len(data) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def latency_ms(rows: Sequence[Row], q: float) -> float | None:
    """Percentile ``q`` of ``Answer.timings_ms["total"]`` over every question asked."""
    return percentile([r.latency_ms for r in _asked(rows) if r.latency_ms is not None], q)


# --------------------------------------------------------------------------- summaries
def retrieval_metrics(rows: Sequence[Row], system: str = "sanad") -> dict[str, float | None]:
    out: dict[str, float | None] = {f"recall_at_{k}": recall_at(rows, k, system) for k in RECALL_KS}
    out["mrr"] = mrr(rows, system)
    return out


def answer_metrics(rows: Sequence[Row]) -> dict[str, float | None]:
    return {
        "first_citation_hit": first_citation_hit_rate(rows),
        "citation_hit": citation_hit_rate(rows),
        "citation_precision": citation_precision(rows),
        "verbatim": verbatim_rate(rows),
        "answer_hit": answer_hit_rate(rows),
        "abstention": abstention_accuracy(rows),
        "false_abstention": false_abstention_rate(rows),
        "latency_p50_ms": latency_ms(rows, 50),
        "latency_p95_ms": latency_ms(rows, 95),
    }


def counts(rows: Sequence[Row]) -> dict[str, int]:
    return {
        "questions": len(rows),
        "answerable": sum(1 for r in rows if r.answerable),
        "unanswerable": sum(1 for r in rows if not r.answerable),
        "citations": sum(len(r.citations) for r in rows),
        "errors": sum(1 for r in rows if r.error),
    }


def slices(rows: Sequence[Row]) -> dict[str, list[Row]]:
    """``all`` plus one slice per language present (``ar`` before ``en``)."""
    out: dict[str, list[Row]] = {"all": list(rows)}
    for lang in sorted({r.lang for r in rows}):
        out[lang] = [r for r in rows if r.lang == lang]
    return out


def summarize(rows: Sequence[Row], systems: Sequence[str] = ("sanad",)) -> dict[str, Any]:
    """``{system: {slice: {metric: value}}}`` plus ``counts``; answer metrics for sanad only."""
    out: dict[str, Any] = {"counts": {}}
    for name, part in slices(rows).items():
        out["counts"][name] = counts(part)
    for system in systems:
        out[system] = {}
        for name, part in slices(rows).items():
            figures = retrieval_metrics(part, system)
            if system == "sanad":
                figures.update(answer_metrics(part))
            out[system][name] = figures
    return out


def by_kind(rows: Sequence[Row]) -> dict[str, dict[str, float | None]]:
    """Sanad's figures per question kind (seeds: factoid, crosslingual, ...)."""
    kinds = sorted({r.kind for r in rows if r.kind})
    out = {}
    for kind in kinds:
        part = [r for r in rows if r.kind == kind]
        figures = retrieval_metrics(part)
        figures.update(answer_metrics(part))
        figures["questions"] = len(part)
        out[kind] = figures
    return out
