"""Checking a generated answer against its evidence: ``[n]`` markers, claims, support.

A generated answer is cut into *claims* (sentences; a marker group written after the full
stop, "... meeting. [1]", stays with its sentence). Every marker ``[n]`` of a claim is checked:

- ``n`` must be the number of an evidence paragraph that was given (else: *invalid*);
- the claim must be supported by paragraph ``n`` (:class:`SupportChecker`: the embedding
  cosine between the claim and the paragraph or its best sentence reaches
  ``SUPPORT_MIN_COSINE``, it is within ``SUPPORT_MARGIN`` of the best evidence paragraph for
  that claim, and every number in the claim occurs in the paragraph).

Markers that fail are removed from the text and the claim is listed as unsupported; a claim
with content but no marker is listed too. Nothing else in the model's text is changed.

:class:`ClaimStream` does this incrementally, for streaming: it is fed the model's tokens
and returns the text that may be shown now. Text is released only once the first claim
has passed its check (so a fallback never has to take back shown text), and a marker is
released only once its claim is complete and checked; what it returns, concatenated, is
exactly the final answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

#: a claim's cosine with the cited paragraph (or its best sentence) must reach this (measured
#: on the seeds gold set, see docs/generative.md)
SUPPORT_MIN_COSINE = 0.50
#: ... and be within this of the best-matching evidence paragraph (a wrong-paragraph citation
#: usually has a better paragraph right next to it)
SUPPORT_MARGIN = 0.08
#: a claim with fewer words than this and no marker is a connective, not a claim
MIN_CLAIM_WORDS = 3

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_NUM = r"[0-9٠-٩۰-۹]+"
MARKER_RE = re.compile(rf"\[\s*({_NUM}(?:\s*[,،]\s*{_NUM})*)\s*\]")
#: an unfinished marker at the end of streamed text ("[", "[1", "[1,")
_PARTIAL_MARKER_RE = re.compile(r"\[[\s0-9٠-٩۰-۹,،]*$")
_SENTENCE_END_RE = re.compile(r"[.!?؟…。]+[\"'”’»)]*")
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
_WORD_RE = re.compile(r"\w+", re.UNICODE)

#: how a model says the documents do not answer (the prompt asks for the first form)
ABSTAIN_PATTERNS = re.compile(
    r"not in the (?:documents|evidence)|(?:documents?|evidence|paragraphs?|text) (?:do|does) not "
    r"(?:contain|answer|mention|say|include|provide)"
    r"|no (?:relevant )?information|not (?:mentioned|stated|found) in the (?:documents|evidence)"
    r"|ليس(?:ت)? في المستندات|لا (?:تتضمن|تحتوي|تذكر) المستندات|المستندات لا (?:تتضمن|تحتوي|تذكر)"
    r"|لا توجد معلومات|غير موجود(?:ة)? في المستندات|لا تحتوي على (?:الإجابة|إجابة|جواب)",
    re.IGNORECASE,
)


# ------------------------------------------------------------------------------ parsing
@dataclass(frozen=True)
class Marker:
    start: int  # span of the whole "[..]" in the text
    end: int
    refs: tuple[int, ...]


@dataclass(frozen=True)
class Claim:
    """A segment of the answer text: ``text[start:end]`` (leading whitespace included, so
    the segments of an answer concatenate to it) and the markers inside it."""

    start: int
    end: int
    markers: tuple[Marker, ...]  # offsets inside ``raw``
    raw: str  # text[start:end]

    @property
    def text(self) -> str:
        """The claim without its markers, whitespace collapsed: what is checked."""
        return plain_text(self.raw)

    @property
    def refs(self) -> list[int]:
        return list(dict.fromkeys(r for m in self.markers for r in m.refs))


def plain_text(text: str) -> str:
    return " ".join(MARKER_RE.sub(" ", text).split()).replace(" .", ".").replace(" ،", "،").strip()


def _marker_refs(group: str) -> tuple[int, ...]:
    return tuple(int(p.translate(_DIGITS)) for p in re.split(r"[,،]", group) if p.strip())


def find_markers(text: str) -> list[Marker]:
    return [Marker(m.start(), m.end(), _marker_refs(m.group(1))) for m in MARKER_RE.finditer(text)]


def split_claims(text: str) -> list[Claim]:
    """Cut ``text`` into sentence claims; segments cover ``text`` exactly, in order."""
    bounds: list[int] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] == "\n":
            bounds.append(i + 1)
            i += 1
            continue
        m = _SENTENCE_END_RE.match(text, i)
        if m and (m.end() == n or text[m.end()].isspace()):
            j = m.end()
            while True:  # a marker group after the full stop belongs to this sentence
                k = j
                while k < n and text[k] in " \t":
                    k += 1
                mm = MARKER_RE.match(text, k)
                if not mm:
                    break
                j = mm.end()
                pm = _SENTENCE_END_RE.match(text, j)
                if pm:
                    j = pm.end()
            bounds.append(j)
            i = j
            continue
        i += 1
    claims: list[Claim] = []
    start = 0
    for end in [*bounds, n]:
        if end <= start:
            continue
        raw = text[start:end]
        if raw.strip():
            markers = tuple(find_markers(raw))
            claims.append(Claim(start, end, markers, raw))
        elif claims:  # whitespace only: glue to the previous segment
            last = claims[-1]
            claims[-1] = Claim(last.start, end, last.markers, text[last.start:end])
        start = end
    if claims and claims[0].start > 0:  # leading whitespace: part of the first segment
        first = claims[0]
        claims[0] = Claim(0, first.end, tuple(Marker(m.start + first.start, m.end + first.start, m.refs)
                                              for m in first.markers), text[:first.end])
    return claims


def is_abstention(text: str) -> bool:
    return bool(ABSTAIN_PATTERNS.search(" ".join(text.split())))


_SCALES = {"ألف": 1_000, "آلاف": 1_000, "الف": 1_000, "thousand": 1_000, "مليون": 1_000_000,
           "ملايين": 1_000_000, "million": 1_000_000, "مليار": 1_000_000_000, "billion": 1_000_000_000}
_SCALED_RE = re.compile(r"(\d+(?:[.,]\d+)?)\s*(" + "|".join(_SCALES) + r")\b", re.IGNORECASE)


def _number_words() -> dict[str, int]:
    words: dict[str, int] = {}
    ar = {1: "واحد واحدة", 2: "اثنان اثنين اثنتين اثنتان", 3: "ثلاث ثلاثة", 4: "أربع أربعة اربع اربعة",
          5: "خمس خمسة", 6: "ست ستة", 7: "سبع سبعة", 8: "ثمان ثماني ثمانية", 9: "تسع تسعة", 10: "عشر عشرة",
          20: "عشرين عشرون", 30: "ثلاثين ثلاثون", 40: "أربعين أربعون اربعين", 50: "خمسين خمسون",
          60: "ستين ستون", 70: "سبعين سبعون", 80: "ثمانين ثمانون", 90: "تسعين تسعون", 100: "مئة مائة"}
    en = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine",
          10: "ten", 20: "twenty", 30: "thirty", 40: "forty", 50: "fifty", 60: "sixty", 70: "seventy",
          80: "eighty", 90: "ninety", 100: "hundred"}
    for table in (ar, en):
        for value, forms in table.items():
            for form in forms.split():
                words[form] = value
    return words


_NUMBER_WORDS = _number_words()
_AR_PREFIXES = ("وال", "بال", "لل", "ال", "و")


def _word_value(word: str) -> int | None:
    word = word.lower()
    if word in _NUMBER_WORDS:
        return _NUMBER_WORDS[word]
    for prefix in _AR_PREFIXES:
        if word.startswith(prefix) and word[len(prefix):] in _NUMBER_WORDS:
            return _NUMBER_WORDS[word[len(prefix):]]
    return None


def numbers(text: str) -> set[str]:
    """Numbers written in ``text`` in digits (Arabic-Indic read as 0-9; "100,000" -> "100000";
    "100 ألف" and "100 thousand" also give "100000"). Number words
    ("الثلاثين", "thirty" -> "30") are read by :func:`number_words`, which the support check
    adds for the paragraph side only (a claim's "four" need not be in the paragraph as a digit)."""
    text = text.translate(_DIGITS)
    out = {m.group(0).replace(",", "") for m in _NUMBER_RE.finditer(text) if m.group(0) != "0"}
    for m in _SCALED_RE.finditer(text):
        try:
            value = float(m.group(1).replace(",", ".")) * _SCALES[m.group(2).lower()]
        except ValueError:  # pragma: no cover - the pattern only matches numbers
            continue
        if value.is_integer():
            out.add(str(int(value)))
    return out


def number_words(text: str) -> set[str]:
    """The values of the number words in ``text`` ("الثلاثين", "أربعة", "thirty", ...)."""
    return {str(v) for w in _WORD_RE.findall(text) if (v := _word_value(w)) is not None}


# ------------------------------------------------------------------------------ support
@dataclass(frozen=True)
class Support:
    """How well one claim is supported by one evidence paragraph."""

    ref: int
    cosine: float            # best of the paragraph and its sentences
    best_other: float        # best cosine of the claim with any evidence paragraph
    numbers_ok: bool         # every number of the claim occurs in the paragraph
    supported: bool
    reason: str = ""
    all_scores: tuple[float, ...] = ()  # the claim's cosine with every evidence paragraph


@dataclass
class Verdict:
    """The checked form of one claim."""

    claim: Claim
    kept: list[int] = field(default_factory=list)      # evidence numbers whose marker stays
    removed: list[int] = field(default_factory=list)   # evidence numbers whose marker went
    invalid: list[int] = field(default_factory=list)   # numbers that name no evidence paragraph
    supports: list[Support] = field(default_factory=list)
    uncited: bool = False                              # content without any marker
    abstains: bool = False                             # "not in the documents"


Judge = Callable[[str, Sequence[int]], list[Support]]


class SupportChecker:
    """Scores claims against evidence paragraphs with the embedding model.

    ``paragraph_texts[n - 1]`` is the text of evidence paragraph ``n``. Vectors of
    paragraphs and their sentences come from ``embed_documents`` (cached by the caller's
    function when given), the claim's from ``embed_queries``.
    """

    def __init__(self, *, embed_queries: Callable[[list[str]], np.ndarray],
                 embed_documents: Callable[[list[str]], np.ndarray],
                 sentence_spans: Callable[[str], list[tuple[int, int]]],
                 min_cosine: float = SUPPORT_MIN_COSINE, margin: float = SUPPORT_MARGIN) -> None:
        self.embed_queries = embed_queries
        self.embed_documents = embed_documents
        self.sentence_spans = sentence_spans
        self.min_cosine = min_cosine
        self.margin = margin

    def paragraph_scores(self, claim: str, paragraph_texts: Sequence[str]) -> list[float]:
        """Cosine of ``claim`` with each paragraph: the best of the whole text and its sentences."""
        pieces: list[str] = []
        owner: list[int] = []
        for i, text in enumerate(paragraph_texts):
            spans = self.sentence_spans(text)
            units = [text] + ([text[s:e] for s, e in spans] if len(spans) > 1 else [])
            pieces.extend(units)
            owner.extend([i] * len(units))
        if not pieces:
            return []
        qv = np.asarray(self.embed_queries([claim])[0], dtype=np.float32)
        sims = np.asarray(self.embed_documents(pieces), dtype=np.float32) @ qv
        best = [-1.0] * len(paragraph_texts)
        for i, s in zip(owner, sims):
            best[i] = max(best[i], float(s))
        return best

    def judge(self, claim: str, refs: Sequence[int], paragraph_texts: Sequence[str]) -> list[Support]:
        """One :class:`Support` per ref in ``refs`` (refs are valid evidence numbers)."""
        scores = self.paragraph_scores(claim, paragraph_texts)
        top = max(scores, default=-1.0)
        claim_numbers = numbers(claim)
        out = []
        for ref in refs:
            cos = scores[ref - 1]
            para_text = paragraph_texts[ref - 1]
            para_numbers = numbers(para_text) | number_words(para_text)
            numbers_ok = claim_numbers <= para_numbers
            reasons = []
            if cos < self.min_cosine:
                reasons.append(f"cosine {cos:.2f} < {self.min_cosine:.2f}")
            if cos < top - self.margin:
                reasons.append(f"paragraph {scores.index(top) + 1} fits better ({top:.2f} vs {cos:.2f})")
            if not numbers_ok:
                reasons.append("numbers not in the paragraph: " + ", ".join(sorted(claim_numbers - para_numbers)))
            out.append(Support(ref=ref, cosine=round(cos, 4), best_other=round(top, 4), numbers_ok=numbers_ok,
                               supported=not reasons, reason="; ".join(reasons),
                               all_scores=tuple(round(x, 4) for x in scores)))
        return out


def check_claim(claim: Claim, n_evidence: int, judge: Judge) -> Verdict:
    """Check every marker of ``claim``; ``judge(text, valid_refs)`` scores the valid ones."""
    verdict = Verdict(claim=claim)
    refs = claim.refs
    verdict.invalid = [r for r in refs if not 1 <= r <= n_evidence]
    valid = [r for r in refs if 1 <= r <= n_evidence]
    text = claim.text
    if not refs:
        verdict.abstains = is_abstention(text)
        question = text.rstrip().endswith(("?", "؟"))  # an echoed question claims nothing
        verdict.uncited = (not verdict.abstains and not question
                           and len(_WORD_RE.findall(text)) >= MIN_CLAIM_WORDS)
        return verdict
    if valid and text and _WORD_RE.search(text):
        verdict.supports = judge(text, valid)
        verdict.kept = [s.ref for s in verdict.supports if s.supported]
        verdict.removed = [s.ref for s in verdict.supports if not s.supported]
    else:
        verdict.removed = valid
    return verdict


# ------------------------------------------------------------------------------ streaming
class ClaimStream:
    """Feed the model's text piece by piece; get back the checked text to show.

    ``ref_for(n)`` gives the citation number shown for evidence paragraph ``n`` (called
    once per kept marker, in order of appearance, so citations can be numbered 1, 2, ...).
    """

    def __init__(self, n_evidence: int, judge: Judge, ref_for: Callable[[int], int]) -> None:
        self.n_evidence = n_evidence
        self.judge = judge
        self.ref_for = ref_for
        self.raw = ""
        self.verdicts: list[Verdict] = []
        self._done_text: list[str] = []  # checked segments
        self._emitted = ""
        self.released = False
        self.finished = False

    # -- public --------------------------------------------------------------------
    def feed(self, piece: str) -> str:
        """Add model text; return the new text that may be shown now ("" if none)."""
        self.raw += piece
        return self._advance(final=False)

    def finish(self) -> str:
        """The model is done (or was cut off): check the last claim; return the rest to show
        (only once released: see :attr:`released`)."""
        self.finished = True
        return self._advance(final=True)

    @property
    def text(self) -> str:
        """The checked answer so far (all complete claims; everything after ``finish``)."""
        return "".join(self._done_text).strip()

    @property
    def emitted(self) -> str:
        return self._emitted

    @property
    def supported(self) -> bool:
        return any(v.kept for v in self.verdicts)

    # -- internals -----------------------------------------------------------------
    def _advance(self, *, final: bool) -> str:
        raw = self.raw
        if not final:
            cut = _PARTIAL_MARKER_RE.search(raw)
            raw = raw[:cut.start()] if cut else raw
        claims = split_claims(raw)
        complete = claims if final else claims[:-1]
        for claim in complete[len(self.verdicts):]:
            verdict = check_claim(claim, self.n_evidence, self.judge)
            self.verdicts.append(verdict)
            self._done_text.append(self._render(claim, verdict))
            if verdict.kept:
                self.released = True
        shown = "".join(self._done_text)
        if not final and len(claims) > len(complete):  # the growing claim: up to its first "["
            tail = claims[-1].raw
            bracket = tail.find("[")
            shown += tail[:bracket] if bracket >= 0 else tail
        shown = shown.lstrip()
        shown = shown.rstrip() if not final else shown.strip()
        if not self.released or not shown.startswith(self._emitted):
            return ""
        new = shown[len(self._emitted):]
        self._emitted = shown
        return new

    def _render(self, claim: Claim, verdict: Verdict) -> str:
        """The claim's segment with failed markers removed and kept ones renumbered."""
        out = []
        pos = 0
        raw = claim.raw
        for m in claim.markers:
            keep = [r for r in m.refs if r in verdict.kept]
            before = raw[pos:m.start]
            if keep:
                out.append(before + "".join(f"[{self.ref_for(r)}]" for r in dict.fromkeys(keep)))
            else:
                out.append(before.rstrip(" \t"))
            pos = m.end
        out.append(raw[pos:])
        return "".join(out)


def removed_claims(verdicts: Sequence[Verdict]) -> list[str]:
    """The claims whose marker(s) were removed, or that cite nothing: for ``unsupported_claims``."""
    out = []
    for v in verdicts:
        if v.removed or v.invalid or v.uncited:
            text = v.claim.text
            if text and text not in out:
                out.append(text)
    return out


def describe(verdicts: Sequence[Verdict]) -> list[str]:
    """One warning line per failed marker or uncited claim."""
    lines = []
    for v in verdicts:
        short = v.claim.text if len(v.claim.text) <= 80 else v.claim.text[:77] + "..."
        for r in v.invalid:
            lines.append(f"marker [{r}] names no evidence paragraph; removed from: {short}")
        for s in v.supports:
            if not s.supported:
                lines.append(f"marker [{s.ref}] not supported by its paragraph ({s.reason}); removed from: {short}")
        if v.uncited:
            lines.append(f"sentence cites no paragraph: {short}")
    return lines
