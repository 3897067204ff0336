"""Text repair for extracted PDF lines: visual to logical order, presentation forms, hyphens.

PDF files draw glyphs; the order of the characters an extractor reads back depends on the
producer (LibreOffice, Chromium, Word) and is often the *visual* order, left to right, so a
naive reader reverses Arabic words, letters or digit runs. :func:`visual_to_logical` takes the
glyph clusters of one line sorted left to right by position and returns them in logical
(reading) order with a compact form of the Unicode bidirectional algorithm (UAX #9, rules W1-W7,
N1-N2, I1-I2 and L2, no explicit embeddings): reordering is its own inverse on the run
structure, so applying it to the visual order gives back the logical order.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterator, Sequence

__all__ = [
    "fold_presentation_forms",
    "clean_text",
    "is_rtl_char",
    "line_is_rtl",
    "visual_to_logical",
    "join_lines",
]

_TATWEEL = "\u0640"
_SOFT_HYPHEN = "\u00ad"
# Invisible characters that carry no text in an extracted line (BOM/ZWNBSP, bidi marks, PDFium's
# end-of-line hyphen marker U+0002 is handled by join_lines).
_DROP = dict.fromkeys(map(ord, "\ufeff\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"), None)
_SPACES_RE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")


def _is_presentation_form(ch: str) -> bool:
    cp = ord(ch)
    return 0xFB50 <= cp <= 0xFDFF or 0xFE70 <= cp <= 0xFEFE


def fold_presentation_forms(text: str) -> str:
    """Arabic presentation forms (U+FB50-FDFF, U+FE70-FEFE) to the letters they stand for.

    Only those code points are NFKC-normalised (lam-alef ligatures become lam + alef, in
    logical order); every other character is kept as it is.
    """
    if not any(_is_presentation_form(ch) for ch in text):
        return text
    return "".join(unicodedata.normalize("NFKC", ch) if _is_presentation_form(ch) else ch for ch in text)


def clean_text(text: str) -> str:
    """Fold presentation forms, drop tatweel and invisible marks, collapse runs of spaces."""
    text = fold_presentation_forms(text).replace(_TATWEEL, "").translate(_DROP)
    return _SPACES_RE.sub(" ", text)


# ----------------------------------------------------------------------------- bidi classes
def _bidi_class(ch: str) -> str:
    cls = unicodedata.bidirectional(ch)
    if cls in ("R", "AL"):
        return "R"
    if cls in ("L", "EN", "AN", "ES", "ET", "CS", "NSM"):
        return cls
    return "ON"  # WS, ON, B, S, BN and explicit formatting characters (dropped earlier)


def is_rtl_char(ch: str) -> bool:
    return unicodedata.bidirectional(ch) in ("R", "AL")


def line_is_rtl(text: str) -> bool:
    """True when right-to-left letters outnumber left-to-right ones (the line's base direction)."""
    rtl = sum(1 for ch in text if is_rtl_char(ch))
    ltr = sum(1 for ch in text if unicodedata.bidirectional(ch) == "L" and ch.isalpha())
    return rtl > ltr


def _runs(types: list[str], kind: str) -> Iterator[tuple[int, int]]:
    """The maximal runs ``[i, j)`` of ``kind`` in ``types``, left to right (``types`` may be
    changed inside a run as they are yielded)."""
    i, n = 0, len(types)
    while i < n:
        if types[i] != kind:
            i += 1
            continue
        j = i
        while j < n and types[j] == kind:
            j += 1
        yield i, j
        i = j

def _levels(classes: list[str], base: int) -> list[int]:
    """Embedding levels of a single paragraph-level run without explicit embeddings."""
    n = len(classes)
    t = list(classes)
    sos = "R" if base else "L"
    # W1: NSM takes the class of the previous character (a cluster's marks are grouped already).
    for i in range(n):
        if t[i] == "NSM":
            t[i] = t[i - 1] if i else sos
    # W2/W7 on a visual line: a number right after (to the left of nothing but neutrals)
    # left-to-right letters continues that run (L); inside right-to-left text it is an
    # Arabic-context number (AN), which does not absorb % and the like (W5).
    last_strong = sos
    for i in range(n):
        if t[i] in ("L", "R"):
            last_strong = t[i]
        elif t[i] == "EN" and base == 1:
            t[i] = "L" if last_strong == "L" else "AN"
    # W4: a single separator between two numbers joins them.
    for i in range(1, n - 1):
        if t[i] == "ES" and t[i - 1] == "EN" and t[i + 1] == "EN":
            t[i] = "EN"
        elif t[i] == "CS" and t[i - 1] == t[i + 1] and t[i - 1] in ("EN", "AN"):
            t[i] = t[i - 1]
    # W5: terminators next to European numbers become numbers.
    for i, j in _runs(t, "ET"):
        if (i > 0 and t[i - 1] == "EN") or (j < n and t[j] == "EN"):
            t[i:j] = ["EN"] * (j - i)
    # W6: remaining separators and terminators are neutral.
    t = ["ON" if c in ("ES", "ET", "CS") else c for c in t]
    # W7: European numbers after left-to-right text are left-to-right (left-to-right lines).
    last_strong = sos
    for i in range(n):
        if t[i] in ("L", "R"):
            last_strong = t[i]
        elif t[i] == "EN" and last_strong == "L":
            t[i] = "L"
    # N1/N2: neutrals between text of one direction take it (numbers count as R); else base.
    strong = ["R" if c in ("EN", "AN") else c for c in t]
    for i, j in _runs(strong, "ON"):
        before = strong[i - 1] if i else sos
        after = strong[j] if j < n else sos
        t[i:j] = [before if before == after else ("R" if base else "L")] * (j - i)
    # I1/I2.
    levels = []
    for c in t:
        if base == 0:
            levels.append(0 if c == "L" else (2 if c in ("EN", "AN") else 1))
        else:
            levels.append(1 if c == "R" else 2)
    return levels


_MIRRORS = dict(zip("()[]{}<>«»‹›“”‘’", ")(][}{><»«›‹”“’‘"))


def visual_to_logical(clusters: Sequence[str], *, rtl: bool | None = None, mirror: bool = False) -> list[str]:
    """Reorder glyph clusters of one line, given left to right, into logical order.

    A cluster is a base character with its combining marks (or the characters of one
    ligature glyph), already in logical order inside. ``rtl`` is the line's base direction
    (guessed from its letters when None). With ``mirror``, brackets and quotes in right-to-left
    runs are swapped with their mirror images (for producers that map a mirrored glyph to the
    character it looks like).
    """
    clusters = list(clusters)
    if not clusters:
        return clusters
    if rtl is None:
        rtl = line_is_rtl("".join(clusters))
    classes = [_bidi_class(c[0]) if c else "ON" for c in clusters]
    if not rtl and "R" not in classes:
        return clusters
    levels = _levels(classes, 1 if rtl else 0)
    order = list(range(len(clusters)))
    # L2: from the highest level down to the lowest odd level, reverse every run at or above it.
    top = max(levels)
    lowest_odd = 1
    for level in range(top, lowest_odd - 1, -1):
        i = 0
        while i < len(order):
            if levels[order[i]] >= level:
                j = i
                while j < len(order) and levels[order[j]] >= level:
                    j += 1
                order[i:j] = reversed(order[i:j])
                i = j
            else:
                i += 1
    if mirror:
        return ["".join(_MIRRORS.get(ch, ch) for ch in clusters[k]) if levels[k] % 2 else clusters[k]
                for k in order]
    return [clusters[k] for k in order]


# ----------------------------------------------------------------------------- joining lines
_LATIN_END_HYPHEN_RE = re.compile(r"([A-Za-z\u00c0-\u024f]+)[-\u0002]\Z")
#: hyphens a renderer draws where it breaks a word (Chromium codes a soft hyphen's as U+2010)
_BREAK_HYPHENS = (_SOFT_HYPHEN, "\u2010")
_FIRST_WORD_RE = re.compile(r"[A-Za-z\u00c0-\u024f]+")


def join_lines(lines: Sequence[str], *, vocabulary: frozenset[str] | set[str] | None = None) -> str:
    """Join the lines of one paragraph: a space between lines, end-of-line hyphenation undone.

    A soft hyphen (or U+2010, the hyphen Chromium draws for one) at a line end is a break
    inside a word. A hyphen after a Latin letter
    (or PDFium's U+0002, its mark for a hyphen at a line end, hard or soft) is one when the
    document uses the word whole and not hyphenated (``vocabulary``: its words, lower case);
    else it stays, and the line joins without a space (office programs hyphenate only when
    asked: ``al-`` / ``Rashid`` is ``al-Rashid``). Soft hyphens inside lines are dropped.
    """
    out = ""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if not out:
            out = line
            continue
        hyphen = _LATIN_END_HYPHEN_RE.search(out)
        nxt = _FIRST_WORD_RE.match(line)
        if out.endswith(_BREAK_HYPHENS) and line[:1].isalpha():
            out = out[:-1] + line
        elif hyphen and nxt:
            whole = (hyphen.group(1) + nxt.group(0)).casefold()
            split = f"{hyphen.group(1)}-{nxt.group(0)}".casefold()
            if vocabulary is not None and whole in vocabulary and split not in vocabulary:
                out = out[:-1] + line
            else:
                out = out[:-1] + "-" + line
        else:
            out = out + " " + line
    return out.replace(_SOFT_HYPHEN, "").replace("\u0002", "")
