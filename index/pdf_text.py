"""PDF (text layer) to paragraphs in logical reading order, page by page, with pypdfium2.

Why pypdfium2 (PDFium, Apache-2.0/BSD-3-Clause): measured best of pypdfium2, pdfminer.six
and pypdf on Arabic and English PDFs from LibreOffice and Chromium (bench/pdf_extractors.py),
and it gives every glyph's box, which the repair needs. PyMuPDF is AGPL: not used.

A page's glyphs become text lines by their geometry (index.pdf_glyphs: baselines, gaps,
kashida recognised by shape whatever their code, marks on the letters they sit on), each line
its clusters left to right, turned into logical order (index.bidi_text). Lines are put in
reading order (columns found from their gutters, read in the page's script direction; a table's
rows right to left or left to right) and become paragraphs by layout (vertical gaps, font size,
a line that ends short of the measure, indentation, column jumps); a paragraph that runs over a
column or page break is joined and spans both pages, past a footnote at the foot of the page.
Lines at the top or bottom of pages that repeat across pages (digits ignored), and bare page
numbers there, are flagged as boilerplate. Brackets drawn in right-to-left text are taken in
the form that pairs them (producers code them either way).
"""

from __future__ import annotations

import re
import statistics
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

from index.bidi_text import join_lines, line_is_rtl, visual_to_logical
from index.extracted import Block, Extraction, ExtractError, ExtractLimits
from index.ocr import OcrUnavailable, ocr_available, ocr_pages
from index.pdf_glyphs import TATWEEL, page_glyph_lines

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["extract_pdf", "looks_like_pdf", "pages_for_ocr"]

# PDFium is not thread-safe: one document at a time per process.
_PDFIUM_LOCK = threading.Lock()
_TERMINAL = tuple(".!?؟:;»\"”)…۔")
_PAGE_NUMBER_RE = re.compile(
    r"(?:(?:page|p\.|صفحة|الصفحة)\s*)?[-–—]?\s*(?:\d+|[ivxlc]+)\s*[-–—]?"
    r"(?:\s*(?:/|of|من)\s*\d+)?", re.IGNORECASE)
_DIGITS_RE = re.compile(r"\d+")


def looks_like_pdf(data: bytes) -> bool:
    """PDF readers accept the ``%PDF-`` header anywhere in the first KiB."""
    return b"%PDF-" in data[:1024]


@dataclass(slots=True)
class _Line:
    text: str
    x0: float
    x1: float
    y0: float
    y1: float
    size: float
    rtl: bool
    visual: list[str] = field(default_factory=list)  # clusters and spaces, left to right
    boilerplate: bool = False
    kashida: bool = False  # justification stretches were dropped from it
    baseline: float = 0.0

    def logical(self, *, rtl: bool, mirror: bool = False, tatweel: bool = True) -> str:
        """The line's text in logical order for a paragraph of base direction ``rtl``
        (``mirror``: the producer maps mirrored glyphs to the characters they look like;
        ``tatweel``: keep the stretch glyphs coded U+0640)."""
        visual = self.visual if tatweel else [c for c in self.visual if c != TATWEEL]
        return " ".join("".join(visual_to_logical(visual, rtl=rtl, mirror=mirror)).split())

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def yc(self) -> float:
        return (self.y0 + self.y1) / 2


@dataclass(slots=True)
class _Para:
    lines: list[_Line]
    page_start: int
    page_end: int
    boilerplate: bool = False
    col: tuple[float, float] = field(default=(0.0, 0.0))
    note: bool = False  # a footnote: smaller type under the page's body text


# ----------------------------------------------------------------------------- lines
def _page_lines(textpage) -> list[_Line]:  # noqa: ANN001 - a pypdfium2 PdfTextPage
    """The page's text lines (index.pdf_glyphs) in reading order."""
    lines = []
    for glyph_line in page_glyph_lines(textpage):
        visual = glyph_line.clusters()
        plain = [c for c in visual if c != TATWEEL]
        rtl = line_is_rtl("".join(plain))
        text = " ".join("".join(visual_to_logical(plain, rtl=rtl)).split())
        if not text:
            continue
        lines.append(_Line(
            text=text, x0=glyph_line.x0, x1=glyph_line.x1, y0=glyph_line.y0, y1=glyph_line.y1,
            size=glyph_line.size, rtl=rtl, visual=visual, baseline=glyph_line.baseline,
            kashida=any(g.kashida for word in glyph_line.words for g in word)))
    return _reading_order(lines)


def _gutters(lines: list[_Line], size: float) -> list[tuple[float, float]]:
    """Column gutters: x-ranges wider than a font size that, somewhere down the page, have at
    least three lines on each side with no line running across between them (a title, a
    running header or a paragraph over both columns runs across, and splits the page into
    bands), and that are narrower than half the typical line beside them (a table's cells
    stand far apart: a table is read row by row)."""
    edges = sorted({x for ln in lines for x in (ln.x0, ln.x1)})
    by_y = sorted(lines, key=lambda ln: -ln.yc)
    found: list[tuple[float, float]] = []
    for a, b in zip(edges, edges[1:]):
        left = right = 0
        for ln in by_y:
            if ln.x0 < b and ln.x1 > a:
                left = right = 0
                continue
            left += ln.x1 <= a
            right += ln.x0 >= b
            if left >= 3 and right >= 3:
                if found and found[-1][1] >= a:
                    found[-1] = (found[-1][0], b)
                else:
                    found.append((a, b))
                break
    out = []
    for a, b in found:
        if b - a <= 1.0 * size:
            continue
        left = [ln.width for ln in lines if ln.x1 <= a]
        right = [ln.width for ln in lines if ln.x0 >= b]
        if b - a < 0.5 * min(statistics.median(left), statistics.median(right)):
            out.append((a, b))
    return out


def _spans(line: _Line, gutters: list[tuple[float, float]]) -> bool:
    """True when ``line`` runs past a gutter's middle (a line over the columns, or a paragraph's
    last line above them that ends in the gutter; a ragged line of a column may reach into it)."""
    return any(line.x0 < (g[0] + g[1]) / 2 < line.x1 for g in gutters)


def _reading_order(lines: list[_Line]) -> list[_Line]:
    """Top to bottom within each column; columns in the page's script direction.

    Columns are separated by gutters: x-ranges no line crosses (lines that cross every gutter,
    like a title over both columns, keep their place by height before the columns below them).
    """
    if len(lines) < 2:
        return lines
    size = statistics.median(ln.size for ln in lines)
    gutters = _gutters(lines, size)
    if not gutters:
        # Top to bottom; lines on one baseline (a table's row) in the page's script direction.
        rtl = sum(ln.rtl for ln in lines) * 2 > len(lines)
        return sorted(lines, key=lambda ln: (-round(ln.baseline / (0.3 * size)), -ln.x1 if rtl else ln.x0))
    edges = [g[0] for g in gutters]
    # Columns run in the page's direction: where its short lines (a paragraph's last line) sit
    # flush, right or left, in their column; else where most lines' letters run.
    bounds: dict[int, tuple[float, float]] = {}
    for ln in lines:
        if not _spans(ln, gutters):
            k = sum(1 for e in edges if (ln.x0 + ln.x1) / 2 > e)
            x0, x1 = bounds.get(k, (ln.x0, ln.x1))
            bounds[k] = (min(x0, ln.x0), max(x1, ln.x1))
    right = left = 0
    for ln in lines:
        k = sum(1 for e in edges if (ln.x0 + ln.x1) / 2 > e)
        if k not in bounds or ln.width > 0.8 * (bounds[k][1] - bounds[k][0]):
            continue
        right += bounds[k][1] - ln.x1 < 0.5 * ln.size < ln.x0 - bounds[k][0]
        left += ln.x0 - bounds[k][0] < 0.5 * ln.size < bounds[k][1] - ln.x1
    rtl = right > left if right != left else sum(ln.rtl for ln in lines) * 2 > len(lines)

    def column(ln: _Line) -> int:
        if _spans(ln, gutters):
            return -1  # spans the columns
        k = sum(1 for e in edges if (ln.x0 + ln.x1) / 2 > e)
        return len(edges) - k if rtl else k

    # Spanning lines split the page into bands; in each band, columns one after the other.
    ordered = sorted(lines, key=lambda ln: -ln.yc)
    out: list[_Line] = []
    band: list[_Line] = []
    for ln in ordered + [None]:
        if ln is None or column(ln) == -1:
            out.extend(sorted(band, key=lambda b: (column(b), -b.yc)))
            band = []
            if ln is not None:
                out.append(ln)
        else:
            band.append(ln)
    return out


# ----------------------------------------------------------------------------- layout
def _columns(lines: list[_Line]) -> list[tuple[float, float]]:
    """The x-extent of the text column each line is in: between the page's gutters (the body's,
    running headers and footers left out), the extent of the column's lines; a line across a
    gutter is in all of them; a running header or footer is its own."""
    body = [ln for ln in lines if not ln.boilerplate]
    if not body:
        return [(ln.x0, ln.x1) for ln in lines]
    whole = (min(ln.x0 for ln in body), max(ln.x1 for ln in body))
    gutters = _gutters(body, statistics.median(ln.size for ln in body))

    def column(ln: _Line) -> int | None:
        if _spans(ln, gutters):
            return None
        return sum(1 for g in gutters if (ln.x0 + ln.x1) / 2 > g[0])

    extents: dict[int, tuple[float, float]] = {}
    for ln in body:
        k = column(ln)
        if k is not None:
            x0, x1 = extents.get(k, (ln.x0, ln.x1))
            extents[k] = (min(x0, ln.x0), max(x1, ln.x1))
    out = []
    for ln in lines:
        k = column(ln)
        out.append((ln.x0, ln.x1) if ln.boilerplate else whole if k is None else extents[k])
    return out


def _ref_pitch(lines: list[_Line]) -> float | None:
    pitches = []
    for a, b in zip(lines, lines[1:]):
        size = max(a.size, b.size)
        pitch = a.baseline - b.baseline
        if abs(a.size - b.size) <= 0.15 * size and 0.8 * size <= pitch <= 3 * size:
            pitches.append(pitch)
    if not pitches:
        return None
    pitches.sort()
    return pitches[len(pitches) // 4]


def _room_for(a: _Line, b: _Line, col: tuple[float, float]) -> bool:
    """True when ``b``'s first word would have fitted at the end of ``a``: ``a`` ended a paragraph."""
    words = b.text.split()
    if not words:
        return False
    em = b.width / max(1, len(b.text))
    return em * (len(words[0]) + 1.5) < (col[1] - col[0]) - a.width


def _full(line: _Line, col: tuple[float, float], ratio: float) -> bool:
    return line.width >= ratio * (col[1] - col[0])


def _breaks(a: _Line, b: _Line, col_a: tuple[float, float], col_b: tuple[float, float],
            pitch: float | None, before: _Line | None = None) -> bool:
    """True when line ``b`` starts a new paragraph after line ``a`` (same page; ``before``: the
    line before ``a`` in its paragraph)."""
    size = max(a.size, b.size)
    if a.boilerplate or b.boilerplate:
        return True
    if b.y1 > a.y0 + 0.5 * size:  # moved up: the next column (or a float)
        return True
    if min(a.x1, b.x1) - max(a.x0, b.x0) <= 0:  # side by side: another column
        return True
    if abs(a.size - b.size) > 0.15 * size:
        return True
    step = a.baseline - b.baseline
    if step > (1.2 * pitch if pitch is not None else 2.2 * size):
        return True
    if _room_for(a, b, col_a):
        return True
    if a.text.endswith(_TERMINAL) and not _full(a, col_a, 0.6):
        return True
    # Justified text: a sentence's end on a line short of the measure, after a full line.
    if (a.text.endswith(_TERMINAL) and before is not None and _full(before, col_a, 0.98)
            and not _full(a, col_a, 0.97)):
        return True
    # An indent starts a paragraph only after a sentence's end (a right-aligned last line of a
    # left-to-right sentence in a right-to-left page looks indented too).
    return a.text.endswith(_TERMINAL) and _indented(b, col_b) and not _indented(a, col_a)


def _indented(line: _Line, col: tuple[float, float]) -> bool:
    """A first-line indent: 1.5 to 6 ems in from the column edge the line's script starts at."""
    inset = (col[1] - line.x1) if line.rtl else (line.x0 - col[0])
    return 1.5 * line.size < inset < 6 * line.size


def _set_apart(line: _Line, lines: list[_Line]) -> bool:
    """True when no line above or below it in its column is closer than 1.6 line heights: a
    running header or footer stands apart from the body (a body line that happens to repeat at
    the top of pages does not)."""
    for other in lines:
        if other is line or min(line.x1, other.x1) - max(line.x0, other.x0) <= 0:
            continue
        if abs(line.yc - other.yc) < 1.6 * max(line.size, other.size):
            return False
    return True


def _flag_boilerplate(pages: list[list[_Line]]) -> None:
    """Flag running headers/footers (repeated, digits ignored) and page numbers at page edges."""
    edges: list[list[_Line]] = []
    for lines in pages:
        by_y = sorted(lines, key=lambda ln: -ln.yc)
        edge = by_y[:2] + by_y[-2:] if len(by_y) > 4 else by_y
        edges.append(list({id(ln): ln for ln in edge}.values()))
    counts: dict[str, int] = {}
    for edge in edges:
        for key in {_DIGITS_RE.sub("#", ln.text) for ln in edge}:
            counts[key] = counts.get(key, 0) + 1
    n_pages = len([p for p in pages if p])
    for lines, edge in zip(pages, edges):
        if not lines:
            continue
        top = max(lines, key=lambda ln: ln.yc)
        bottom = min(lines, key=lambda ln: ln.yc)
        for ln in edge:
            repeated = (n_pages >= 2 and counts[_DIGITS_RE.sub("#", ln.text)] >= max(2, n_pages / 2)
                        and _set_apart(ln, lines))
            page_no = ln in (top, bottom) and _PAGE_NUMBER_RE.fullmatch(ln.text) is not None
            if repeated or page_no:
                ln.boilerplate = True


def _continues(before: _Para, after: _Para) -> bool:
    """True when ``after`` (top of the next column or page) carries on paragraph ``before``."""
    a, b = before.lines[-1], after.lines[0]
    return (not a.text.endswith(_TERMINAL) and not _room_for(a, b, before.col)
            and abs(a.size - b.size) <= 0.15 * max(a.size, b.size) and not _indented(b, after.col))


def _page_paragraphs(lines: list[_Line], page: int) -> list[_Para]:
    pitch = _ref_pitch([ln for ln in lines if not ln.boilerplate])
    cols = _columns(lines)
    paras: list[_Para] = []
    last_body: _Para | None = None
    current: _Para | None = None  # the paragraph the previous line went to
    for k, line in enumerate(lines):
        before = current.lines[-2] if current is not None and len(current.lines) > 1 else None
        if current is not None and not _breaks(lines[k - 1], line, cols[k - 1], cols[k], pitch, before):
            current.lines.append(line)
            continue
        para = _Para([line], page, page, line.boilerplate, cols[k])
        # The first line of the next column may carry on the last paragraph of the previous one.
        if (last_body is not None and not line.boilerplate and k
                and line.y1 > lines[k - 1].y0 + 0.5 * line.size and _continues(last_body, para)):
            last_body.lines.append(line)
            current = last_body
            continue
        paras.append(para)
        current = para
        if not para.boilerplate:
            last_body = para
    _flag_notes(paras)
    return paras


def _flag_notes(paras: list[_Para]) -> None:
    """Flag footnotes: paragraphs in type under 0.85 of the page's body size, below every line
    of body size. They stay where they are, but a paragraph running over to the next page skips
    them (index.pdf_text._assemble)."""
    body = [ln for p in paras if not p.boilerplate for ln in p.lines]
    if not body:
        return
    size = statistics.median(ln.size for ln in body)
    big = [ln for ln in body if ln.size > 0.85 * size]
    if not big:
        return
    floor = min(ln.y0 for ln in big)
    for para in paras:
        if not para.boilerplate and all(ln.size <= 0.85 * size and ln.y1 <= floor + 0.1 * size for ln in para.lines):
            para.note = True


def _assemble(pages: list[list[_Line]]) -> list[_Para]:
    _flag_boilerplate(pages)
    out: list[_Para] = []
    last_body: _Para | None = None
    for number, lines in enumerate(pages, start=1):
        paras = _page_paragraphs(lines, number)
        first_body = next((p for p in paras if not p.boilerplate and not p.note), None)
        if last_body is not None and first_body is not None and last_body.page_end == number - 1:
            if _continues(last_body, first_body):
                last_body.lines.extend(first_body.lines)
                last_body.page_end = number
                paras.remove(first_body)
        out.extend(paras)
        body = [p for p in out if not p.boilerplate and not p.note]
        last_body = body[-1] if body else None
    return out


def _paragraph_rtl(para: _Para) -> bool:
    """Base direction: from the alignment (lines flush right, not left = right-to-left), else
    from the letters. An English sentence in a right-to-left document is laid out right to left,
    and Arabic in a left-to-right paragraph (a .txt opened in a word processor) left to right."""
    col_x0, col_x1 = para.col
    tolerance = 0.5 * max(ln.size for ln in para.lines)
    flush_left = all(ln.x0 - col_x0 < tolerance for ln in para.lines)
    flush_right = all(col_x1 - ln.x1 < tolerance for ln in para.lines)
    if flush_right and not flush_left:
        return True
    if flush_left and not flush_right:
        return False
    return line_is_rtl(" ".join(ln.text for ln in para.lines))


def _stretches_with_tatweel(paras: list[_Para]) -> bool:
    """True when the producer justifies with stretch glyphs coded U+0640: at least half (and at
    least two) of the stretched right-to-left lines (full, not a paragraph's last) hold one. A
    tatweel the author typed is rare and stays; LibreOffice codes its kashida otherwise."""
    full = with_tatweel = 0
    for para in paras:
        for line in para.lines[:-1]:
            if line.rtl and not line.boilerplate and _full(line, para.col, 0.97):
                full += 1
                with_tatweel += TATWEEL in line.visual
    return with_tatweel >= 2 and 2 * with_tatweel >= full


def _keeps_tatweel(para: _Para, k: int, *, stretching: bool) -> bool:
    """Whether line ``k``'s stretch glyphs coded U+0640 are the author's tatweel: always, unless
    the producer justifies with them (``stretching``); then only on lines it did not stretch
    (the paragraph's last line, a line short of the measure)."""
    return not stretching or k == len(para.lines) - 1 or not _full(para.lines[k], para.col, 0.97)


_PAIRS = {"(": ")", "[": "]", "{": "}", "«": "»", "‹": "›", "“": "”"}
_CLOSERS = {close: open_ for open_, close in _PAIRS.items()}


def _unmatched(chars: list[str]) -> int:
    """Brackets and quotes without a partner (a closing one before its opening one counts)."""
    stack: list[str] = []
    bad = 0
    for ch in chars:
        if ch in _PAIRS:
            stack.append(ch)
        elif ch in _CLOSERS:
            if stack and stack[-1] == _CLOSERS[ch]:
                stack.pop()
            else:
                bad += 1
    return bad + len(stack)


def _balance_brackets(mirrored: str, plain: str) -> str:
    """The paragraph with each bracket or quote drawn in right-to-left text taken in the form
    that pairs it: producers code such a glyph as the character it stands for or as the one it
    looks like (its mirror image), even within one paragraph. ``mirrored`` and ``plain`` are
    the paragraph read both ways (they differ only there); ties keep ``mirrored``."""
    choices = [i for i, (a, b) in enumerate(zip(mirrored, plain)) if a != b]
    if not choices or len(mirrored) != len(plain):
        return mirrored
    chars = list(mirrored)
    best = _unmatched(chars)
    if _unmatched(list(plain)) < best:  # the producer codes every one as what it stands for
        chars, best = list(plain), _unmatched(list(plain))
    improved = True
    while improved and best:
        improved = False
        for i in choices:
            old = chars[i]
            chars[i] = plain[i] if old == mirrored[i] else mirrored[i]  # the other form
            score = _unmatched(chars)
            if score < best:
                best, improved = score, True
            else:
                chars[i] = old
    return "".join(chars)


_CLOSING = tuple(".,:;!?؟،؛)]}»”")
_OPENING = tuple("([{«“")


_WORD_RE = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


def _vocabulary(paras: list[_Para]) -> set[str]:
    """The words of the document's lines (lower case; hyphenated ones whole): they decide
    whether a hyphen at a line end splits a word (index.bidi_text.join_lines)."""
    return {w.casefold() for para in paras for ln in para.lines for w in _WORD_RE.findall(ln.text)}


def _paragraph_text(para: _Para, *, stretching: bool, vocabulary: set[str] | None = None) -> str:
    """The paragraph's text: its lines in logical order, read with the base direction that puts
    no closing punctuation at a line's start and no opening one at its end (an Arabic sentence's
    full stop is drawn at the left in a right-to-left paragraph, at the right in a
    left-to-right one; when both read alike, the direction the alignment and letters say),
    joined, with its mirrored brackets paired."""
    preferred = _paragraph_rtl(para)
    keep = [_keeps_tatweel(para, k, stretching=stretching) for k in range(len(para.lines))]
    best: tuple[int, bool, list[str]] | None = None
    for rtl in (preferred, not preferred):
        lines = [ln.logical(rtl=rtl, mirror=True, tatweel=kept) for ln, kept in zip(para.lines, keep)]
        bad = sum(ln.startswith(_CLOSING) + ln.endswith(_OPENING) for ln in lines)
        if best is None or bad < best[0]:
            best = (bad, rtl, lines)
    _, rtl, lines = best
    plain = [ln.logical(rtl=rtl, mirror=False, tatweel=kept) for ln, kept in zip(para.lines, keep)]
    return _balance_brackets(join_lines(lines, vocabulary=vocabulary), join_lines(plain, vocabulary=vocabulary))


# ----------------------------------------------------------------------------- entry point
def _open_error(exc: Exception) -> ExtractError:
    message = str(exc)
    if "password" in message.lower():
        return ExtractError("encrypted PDF (password-protected): cannot be read without its password")
    if "security" in message.lower():
        return ExtractError("PDF uses an unsupported security handler: cannot be read")
    return ExtractError("not a valid PDF (corrupt or truncated file)")


def _page_list(pages: list[int]) -> str:
    shown = ", ".join(map(str, pages[:10]))
    return shown + (f" and {len(pages) - 10} more" if len(pages) > 10 else "")


def _unusable(textpage) -> bool:  # noqa: ANN001 - a pypdfium2 PdfTextPage
    """True when most of a page's characters are codes without text (control, private-use,
    unassigned, replacement characters): a text layer whose fonts map nothing, OCR reads it."""
    chars = [c for c in textpage.get_text_range() if not c.isspace() and c != "\ufffe"]
    bad = sum(1 for c in chars if c == "\ufffd" or unicodedata.category(c) in ("Cc", "Co", "Cn"))
    return len(chars) >= 20 and bad >= 0.3 * len(chars)


def _has_images(page) -> bool:  # noqa: ANN001 - a pypdfium2 PdfPage
    import pypdfium2.raw as pdfium_c

    return any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2))


def pages_for_ocr(data: bytes, *, max_pages: int) -> int:
    """How many of a PDF's first ``max_pages`` pages have no usable text layer (the pages
    :func:`extract_pdf` reads by OCR), without extracting the text; 0 for a file PDFium cannot
    open (extraction says what is wrong with it)."""
    import pypdfium2 as pdfium

    count = 0
    with _PDFIUM_LOCK:
        try:
            doc = pdfium.PdfDocument(data)
        except pdfium.PdfiumError:
            return 0
        try:
            for index in range(min(len(doc), max_pages)):
                try:
                    page = doc[index]
                    textpage = page.get_textpage()
                    if _unusable(textpage) or (not textpage.get_text_range().strip() and _has_images(page)):
                        count += 1
                    textpage.close()
                    page.close()
                except pdfium.PdfiumError:
                    continue
        finally:
            doc.close()
    return count


def _rendered(data: bytes, pages: list[int], dpi: int) -> Iterator[tuple[int, "Image", int]]:
    """``(page number, greyscale image, dpi)`` for each of ``pages`` (1-based), rendered one at
    a time under PDFium's lock (the OCR in between runs without it)."""
    import pypdfium2 as pdfium

    with _PDFIUM_LOCK:
        doc = pdfium.PdfDocument(data)
    try:
        for number in pages:
            with _PDFIUM_LOCK:
                page = doc[number - 1]
                image = page.render(scale=dpi / 72, grayscale=True).to_pil()
                page.close()
            yield number, image, dpi
    finally:
        with _PDFIUM_LOCK:
            doc.close()


def _ocr_blocks(data: bytes, wanted: list[int], ocr: ExtractLimits | None) -> tuple[list[Block], list[str]]:
    """Blocks read by OCR from the pages in ``wanted`` (no usable text layer), and warnings."""
    if not wanted:
        return [], []
    which = f"page {wanted[0]} has" if len(wanted) == 1 else f"pages {_page_list(wanted)} have"
    if ocr is None or not ocr.ocr:
        return [], [f"{which} no text layer (scanned?)" + ("; OCR is off (SANAD_OCR)" if ocr is not None else "")]
    missing = ocr_available(ocr.ocr_languages)
    if missing:
        return [], [f"{which} no text layer (scanned?); {missing}"]
    try:
        return ocr_pages(_rendered(data, wanted[:ocr.ocr_max_pages], ocr.ocr_dpi), ocr, total=len(wanted))
    except OcrUnavailable as exc:
        return [], [f"{which} no text layer (scanned?); {exc}"]


def extract_pdf(data: bytes, *, max_pages: int, time_limit_s: float, ocr: ExtractLimits | None = None) -> Extraction:
    """Paragraph blocks (with pages and boilerplate flags) and warnings of a PDF's text layer,
    and of its pages without a usable one read by OCR (``ocr``: the OCR settings; None: no OCR).

    Args:
        data: the file's bytes.
        max_pages: a PDF with more pages is refused (ExtractError).
        time_limit_s: extraction of the text layer stops with ExtractError when it runs longer
            (checked per page; OCR has its own limits).
        ocr: the limits whose ``ocr*`` fields say whether and how pages are read by OCR.
    """
    import pypdfium2 as pdfium

    if not looks_like_pdf(data):
        if data.startswith(b"PK\x03\x04"):
            raise ExtractError("not a PDF: the content is a ZIP archive (a .docx named .pdf?)")
        raise ExtractError("not a PDF: no %PDF- header (the extension does not match the content?)")
    started = time.monotonic()
    pages: list[list[_Line]] = []
    scanned: list[int] = []
    unreadable: list[int] = []
    with _PDFIUM_LOCK:
        try:
            doc = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise _open_error(exc) from None
        try:
            try:
                title = str(doc.get_metadata_dict().get("Title") or "")
            except pdfium.PdfiumError:  # no readable metadata: no title, the text still counts
                title = ""
            n_pages = len(doc)
            if n_pages > max_pages:
                raise ExtractError(f"too many pages: {n_pages} (limit {max_pages}, SANAD_MAX_PAGES)")
            for index in range(n_pages):
                if time.monotonic() - started > time_limit_s:
                    raise ExtractError(
                        f"extraction took longer than {time_limit_s:g} s (stopped at page {index + 1} "
                        f"of {n_pages}; limit SANAD_EXTRACT_TIME_LIMIT_S)")
                try:
                    page = doc[index]
                    textpage = page.get_textpage()
                    lines = _page_lines(textpage)
                    if _unusable(textpage):
                        lines = []
                        scanned.append(index + 1)
                    elif not lines and _has_images(page):
                        scanned.append(index + 1)
                    textpage.close()
                    page.close()
                except pdfium.PdfiumError:
                    lines = []
                    unreadable.append(index + 1)
                pages.append(lines)
        finally:
            doc.close()
    warnings: list[str] = []
    ocr_blocks, ocr_warnings = _ocr_blocks(data, scanned, ocr)
    warnings.extend(ocr_warnings)
    if unreadable:
        which = f"page {unreadable[0]}" if len(unreadable) == 1 else f"pages {_page_list(unreadable)}"
        warnings.append(f"{which} could not be read")
    blocks = []
    paras = _assemble(pages)
    stretching = _stretches_with_tatweel(paras)
    vocabulary = _vocabulary(paras)
    for para in paras:
        text = _paragraph_text(para, stretching=stretching, vocabulary=vocabulary)
        if text:
            blocks.append(Block(text=text, page_start=para.page_start, page_end=para.page_end,
                                boilerplate=para.boilerplate))
    # OCR'd pages have no text-layer paragraphs: their blocks go in page order.
    blocks = sorted(blocks + ocr_blocks, key=lambda b: b.page_start or 0)
    return Extraction(blocks=tuple(blocks), warnings=tuple(warnings), title=title)
