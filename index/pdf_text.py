"""PDF (text layer) to paragraphs in logical reading order, page by page, with pypdfium2.

Why pypdfium2 (PDFium, Apache-2.0/BSD-3-Clause): measured best of pypdfium2, pdfminer.six
and pypdf on Arabic and English PDFs from LibreOffice and Chromium (bench/pdf_extractors.py),
and it gives every glyph's box, which the repair below needs. PyMuPDF is AGPL: not used.

Per line we take PDFium's characters with their boxes, group combining marks and ligature
glyphs into clusters, sort the clusters left to right by position (the visual order, whatever
order the producer wrote them in) and turn that into logical order (index.bidi_text). Lines
become paragraphs by layout (vertical gaps, font size, short last lines, indentation, column
jumps); a paragraph that runs over a page break is joined and spans both pages. Lines at the
top or bottom of pages that repeat across pages (digits ignored), and bare page numbers there,
are flagged as boilerplate.
"""

from __future__ import annotations

import ctypes
import re
import statistics
import threading
import time
import unicodedata
from dataclasses import dataclass, field

from index.bidi_text import clean_text, join_lines, line_is_rtl, visual_to_logical
from index.extracted import Block, Extraction, ExtractError

__all__ = ["extract_pdf", "looks_like_pdf"]

# PDFium is not thread-safe: one document at a time per process.
_PDFIUM_LOCK = threading.Lock()
_TERMINAL = tuple(".!?؟:;»\"”)…۔")
_PAGE_NUMBER_RE = re.compile(
    r"(?:(?:page|p\.|صفحة|الصفحة)\s*)?[-–—]?\s*(?:\d+|[ivxlc]+)\s*[-–—]?"
    r"(?:\s*(?:/|of|من)\s*\d+)?", re.IGNORECASE)
_DIGITS_RE = re.compile(r"\d+")
_PIECE = "\u200b"  # joins the pieces of one line in the character list (no character of its own)
_ALEF_LAM = frozenset(alef + "ل" for alef in "اأإآ")


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

    def logical(self, *, rtl: bool, mirror: bool = False) -> str:
        """The line's text in logical order for a paragraph of base direction ``rtl``
        (``mirror``: the producer maps mirrored glyphs to the characters they look like)."""
        return " ".join("".join(visual_to_logical(self.visual, rtl=rtl, mirror=mirror)).split())

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


# ----------------------------------------------------------------------------- characters
def _page_lines(textpage, raw) -> list[_Line]:  # noqa: ANN001 - pypdfium2 objects
    import pypdfium2.raw as pdfium_c

    n = textpage.count_chars()
    rows: list[list[tuple[str, tuple[float, float, float, float] | None, float]]] = [[]]
    baselines: list[float] = [0.0]  # each row's baseline (y of its first glyph's origin)
    ox, oy = ctypes.c_double(), ctypes.c_double()
    i = 0
    while i < n:
        u = pdfium_c.FPDFText_GetUnicode(raw, i)
        index = i
        i += 1
        if 0xD800 <= u < 0xDC00 and i < n:
            low = pdfium_c.FPDFText_GetUnicode(raw, i)
            if 0xDC00 <= low < 0xE000:
                u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00)
                i += 1
        if 0xD800 <= u < 0xE000 or u == 0:
            continue
        ch = chr(u)
        if ch in "\r\n":
            continue  # lines are found from the glyph boxes below, not from PDFium's breaks
        generated = bool(pdfium_c.FPDFText_IsGenerated(raw, index))
        # Loose (advance) boxes abut inside words, so gaps between them are word spaces; a
        # combining mark has no advance, so its ink box says which letter it sits on.
        box = None if generated else tuple(textpage.get_charbox(index, loose=not unicodedata.combining(ch)))
        size = pdfium_c.FPDFText_GetFontSize(raw, index)
        row = rows[-1]
        if box is not None and not ch.isspace() and not unicodedata.combining(ch):
            pdfium_c.FPDFText_GetCharOrigin(raw, index, ox, oy)
            if row and not _same_line(row, box, oy.value, size, baselines[-1]):
                rows.append([])
                baselines.append(oy.value)
            elif not row:
                baselines[-1] = oy.value
        rows[-1].append((ch, box, size))
    # A piece of a line written later in the stream (another font run, say) joins its line:
    # same baseline and near it, or further (justified text) when at least three other rows of
    # the page run across the gap between them (so the gap is no column gutter).
    boxes = []
    for row in rows:
        inked = [b for ch, b, _ in row if b is not None and not ch.isspace()]
        boxes.append((min(b[0] for b in inked), min(b[1] for b in inked),
                      max(b[2] for b in inked), max(b[3] for b in inked)) if inked else None)

    def crossed(gap0: float, gap1: float) -> bool:
        return sum(1 for b in boxes if b is not None and b[0] < gap0 and b[2] > gap1) >= 3

    def joins(entry: list, baseline: float, box: tuple[float, float, float, float], size: float) -> bool:
        other = entry[2]
        if other is None or abs(entry[0] - baseline) > 0.4 * max(size, 1.0):
            return False
        gap0, gap1 = (other[2], box[0]) if box[0] >= other[2] else (box[2], other[0])
        return gap1 - gap0 < 1.0 * size or (gap1 - gap0 < 5 * size and crossed(gap0, gap1))

    pieces: list[list] = []  # [baseline, row, box, size]
    for baseline, row, box in zip(baselines, rows, boxes):
        if row:
            size = max((sz for ch, b, sz in row if b is not None and not ch.isspace()), default=0.0)
            pieces.append([baseline, list(row), box, size])
    # Only pieces on (nearly) one baseline can join: group them by baseline first, then merge
    # pairwise inside each group until no two pieces of one line are left.
    by_baseline = sorted(range(len(pieces)), key=lambda k: pieces[k][0])
    groups: list[list[int]] = []
    for k in by_baseline:
        tolerance = 0.4 * max(pieces[k][3], 1.0)
        if groups and pieces[k][0] - pieces[groups[-1][0]][0] <= tolerance:
            groups[-1].append(k)
        else:
            groups.append([k])
    merged: list[tuple[int, list]] = []  # (stream position of the first piece, piece)
    for group in groups:
        members = [pieces[k] for k in sorted(group)]
        changed = True
        while changed:
            changed = False
            for i in range(len(members)):
                for j in range(i + 1, len(members)):
                    a, b = members[i], members[j]
                    if a[2] is None or b[2] is None or not joins(a, b[0], b[2], max(a[3], b[3])):
                        continue
                    a[1].append((_PIECE, None, 0.0))
                    a[1].extend(b[1])
                    a[2] = (min(a[2][0], b[2][0]), min(a[2][1], b[2][1]),
                            max(a[2][2], b[2][2]), max(a[2][3], b[2][3]))
                    a[3] = max(a[3], b[3])
                    del members[j]
                    changed = True
                    break
                if changed:
                    break
        merged.extend((id_, m) for id_, m in zip(sorted(group), members))
    merged.sort(key=lambda entry: entry[0])
    lines = [line for line in (_line(piece[1]) for _, piece in merged) if line is not None]
    return _reading_order(lines)


def _reading_order(lines: list[_Line]) -> list[_Line]:
    """Top to bottom within each column; columns in the page's script direction.

    Columns are separated by gutters: x-ranges no line crosses (lines that cross every gutter,
    like a title over both columns, keep their place by height before the columns below them).
    """
    if len(lines) < 2:
        return lines
    spans = sorted((ln.x0, ln.x1) for ln in lines)
    size = statistics.median(ln.size for ln in lines)
    narrow = [ln for ln in lines if ln.width < 0.6 * (max(x1 for _, x1 in spans) - min(x0 for x0, _ in spans))]
    gutters: list[tuple[float, float]] = []
    reach = None
    for x0, x1 in sorted((ln.x0, ln.x1) for ln in narrow):
        if reach is not None and x0 - reach > 1.0 * size:
            gutters.append((reach, x0))
        reach = x1 if reach is None else max(reach, x1)
    gutters = [g for g in gutters
               if sum(1 for ln in lines if ln.x0 < g[0] and ln.x1 > g[1]) <= max(1, len(lines) // 10)]
    if not gutters:
        return sorted(lines, key=lambda ln: -ln.yc)
    edges = [g[0] for g in gutters]
    # Columns run in the page's direction: where its short lines (a paragraph's last line) sit
    # flush, right or left, in their column; else where most lines' letters run.
    bounds: dict[int, tuple[float, float]] = {}
    for ln in lines:
        if not any(ln.x0 < g[0] and ln.x1 > g[1] for g in gutters):
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
        if any(ln.x0 < g[0] and ln.x1 > g[1] for g in gutters):
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


def _is_punctuation(text: str) -> bool:
    return bool(text) and all(unicodedata.category(ch).startswith("P") for ch in text)


def _regroup_punctuation(words: list[list[list]]) -> None:
    """Move a bracket or quote at the edge of a stream word to the neighbouring word it touches.

    Producers writing right-to-left text sometimes put the space on the wrong side of an
    opening bracket in the stream; the glyph boxes say which word it belongs to.
    """
    for k in range(len(words) - 1):
        left, right = words[k], words[k + 1]
        if len(left) > 1 and _is_punctuation(left[-1][0]):
            own = left[-1][1][0] - left[-2][1][2]
            other = right[0][1][0] - left[-1][1][2]
            if other < own:
                right.insert(0, left.pop())
        if len(right) > 1 and _is_punctuation(right[0][0]):
            own = right[1][1][0] - right[0][1][2]
            other = right[0][1][0] - left[-1][1][2]
            if other < own:
                left.append(right.pop(0))


def _same_line(row: list, box: tuple[float, float, float, float], baseline: float, size: float,
               row_baseline: float) -> bool:
    """True when a glyph (``box``, origin at ``baseline``) continues ``row``: same baseline, near."""
    if abs(baseline - row_baseline) > 0.4 * max(size, 1.0):
        return False
    inked = [b for ch, b, _ in row if b is not None and not ch.isspace()]
    if not inked:
        return True
    x0 = min(b[0] for b in inked)
    x1 = max(b[2] for b in inked)
    return max(x0 - box[2], box[0] - x1) < 1.0 * max(size, 1.0)


def _line(chars: list[tuple[str, tuple[float, float, float, float] | None, float]]) -> _Line | None:
    """One line from its characters in stream order (spaces included, boxes None if generated)."""
    inked = [(ch, box, size) for ch, box, size in chars if box is not None and not ch.isspace()]
    if not inked:
        return None
    size = statistics.median(s for _, _, s in inked) or 1.0
    # Clusters: a base character with its combining marks, or the characters of one glyph;
    # words: the clusters between two spaces of the stream. Producers write a word's glyphs
    # together (in visual or logical order) and a space between words, but the space glyph's
    # own position is unreliable in right-to-left text, so words are placed by their glyphs.
    clusters: list[list] = []  # [text, box, word, piece]
    marks: list[tuple[str, tuple[float, float, float, float] | None, int]] = []  # mark, box, cluster before
    word = piece = 0
    for ch, box, _size in chars:
        if ch == _PIECE:  # the next piece of the line (written elsewhere in the stream)
            piece += 1
            if clusters and clusters[-1][2] == word:
                word += 1
        elif ch.isspace():
            if clusters and clusters[-1][2] == word:
                word += 1
        elif unicodedata.combining(ch) and clusters:
            marks.append((ch, box, len(clusters) - 1))
        elif clusters and box is not None and box == clusters[-1][1]:
            clusters[-1][0] += ch  # several characters of one glyph (a ligature)
            if clusters[-1][0] in _ALEF_LAM:  # PDFium reverses a lam-alef glyph's two letters
                clusters[-1][0] = clusters[-1][0][::-1]
        else:
            clusters.append([ch, box, word, piece])
    # A combining mark joins the base glyph it sits on: the one its ink overlaps most, else
    # (producers that map a mark and its base to each other's glyphs) the nearest base on its
    # right for Arabic, on its left otherwise; without boxes, the base before it in the stream.
    for ch, box, before in marks:
        target = before
        if box is not None:
            width = max(box[2] - box[0], 1e-6)
            centre = (box[0] + box[2]) / 2
            arabic = 0x0610 <= ord(ch) <= 0x06ED
            best_overlap, nearest = 0.0, None
            for k, (_, b, *_) in enumerate(clusters):
                if b is None:
                    continue
                overlap = min(b[2], box[2]) - max(b[0], box[0])
                if overlap > best_overlap:
                    best_overlap, target = overlap, k
                side = (b[0] + b[2]) / 2 - centre
                if (side > 0) == arabic and (nearest is None or abs(side) < nearest[0]):
                    nearest = (abs(side), k)
            if best_overlap < 0.5 * width:
                target = nearest[1] if nearest is not None else before
        clusters[target][0] += ch
    # A character without a box takes its stream neighbour's (PDFium rarely generates these).
    for k, cl in enumerate(clusters):
        if cl[1] is None:
            near = [c[1] for c in clusters[max(0, k - 1):k + 2] if c[1] is not None]
            cl[1] = near[0] if near else (0.0, 0.0, 0.0, 0.0)
    words: dict[int, list[list]] = {}
    for cl in clusters:
        words.setdefault(cl[2], []).append(cl)
    placed = []
    for members in words.values():
        members.sort(key=lambda cl: (cl[1][0] + cl[1][2]) / 2)
        placed.append((min(cl[1][0] for cl in members), max(cl[1][2] for cl in members), members))
    placed.sort(key=lambda w: (w[0] + w[1]) / 2)
    _regroup_punctuation([members for _, _, members in placed])
    visual: list[str] = []
    previous_end: float | None = None
    previous_piece = None
    for x0, x1, members in placed:
        # Words are spaced, except where two pieces of the line touch (one word split in two).
        if previous_end is not None and (members[0][3] == previous_piece or x0 - previous_end > 0.15 * size):
            visual.append(" ")
        previous_piece = members[0][3]
        for k, cl in enumerate(members):
            if k and members[k][1][0] - members[k - 1][1][2] > 0.6 * size:
                visual.append(" ")  # a wide gap inside a stream word is a space all the same
            text = clean_text(cl[0])
            if text:
                visual.append(text)
        previous_end = x1
    rtl = line_is_rtl("".join(visual))
    text = " ".join("".join(visual_to_logical(visual, rtl=rtl)).split())
    if not text:
        return None
    return _Line(
        text=text,
        x0=min(b[0] for _, b, _ in inked), x1=max(b[2] for _, b, _ in inked),
        y0=min(b[1] for _, b, _ in inked), y1=max(b[3] for _, b, _ in inked),
        size=size, rtl=rtl, visual=visual,
    )


# ----------------------------------------------------------------------------- layout
def _column(line: _Line, lines: list[_Line]) -> tuple[float, float]:
    """The x-extent of the text column ``line`` is in (lines overlapping it horizontally)."""
    x0, x1 = line.x0, line.x1
    for other in lines:
        if other.boilerplate:
            continue
        overlap = min(line.x1, other.x1) - max(line.x0, other.x0)
        if overlap > 0.5 * min(line.width, other.width):
            x0, x1 = min(x0, other.x0), max(x1, other.x1)
    return x0, x1


def _ref_pitch(lines: list[_Line]) -> float | None:
    pitches = []
    for a, b in zip(lines, lines[1:]):
        size = max(a.size, b.size)
        pitch = a.yc - b.yc
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
            pitch: float | None) -> bool:
    """True when line ``b`` starts a new paragraph after line ``a`` (same page)."""
    size = max(a.size, b.size)
    if a.boilerplate or b.boilerplate:
        return True
    if b.y1 > a.y0 + 0.5 * size:  # moved up: the next column (or a float)
        return True
    if min(a.x1, b.x1) - max(a.x0, b.x0) <= 0:  # side by side: another column
        return True
    if abs(a.size - b.size) > 0.15 * size:
        return True
    if pitch is not None and (a.yc - b.yc) > 1.3 * pitch:
        return True
    if (a.yc - b.yc) > 2.2 * size:
        return True
    if _room_for(a, b, col_a):
        return True
    if a.text.endswith(_TERMINAL) and not _full(a, col_a, 0.6):
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
    cols = [_column(ln, lines) for ln in lines]
    paras: list[_Para] = []
    last_body: _Para | None = None
    for k, line in enumerate(lines):
        if paras and not _breaks(lines[k - 1], line, cols[k - 1], cols[k], pitch):
            paras[-1].lines.append(line)
            continue
        para = _Para([line], page, page, line.boilerplate, cols[k])
        # The first line of the next column may carry on the last paragraph of the previous one.
        if (last_body is not None and not line.boilerplate and k
                and line.y1 > lines[k - 1].y0 + 0.5 * line.size and _continues(last_body, para)):
            last_body.lines.append(line)
            continue
        paras.append(para)
        if not para.boilerplate:
            last_body = para
    return paras


def _assemble(pages: list[list[_Line]]) -> list[_Para]:
    _flag_boilerplate(pages)
    out: list[_Para] = []
    last_body: _Para | None = None
    for number, lines in enumerate(pages, start=1):
        paras = _page_paragraphs(lines, number)
        first_body = next((p for p in paras if not p.boilerplate), None)
        if last_body is not None and first_body is not None and last_body.page_end == number - 1:
            if _continues(last_body, first_body):
                last_body.lines.extend(first_body.lines)
                last_body.page_end = number
                paras.remove(first_body)
        out.extend(paras)
        body = [p for p in out if not p.boilerplate]
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


_CLOSING = tuple(".,:;!?؟،؛)]}»”")
_OPENING = tuple("([{«“")


def _logical_lines(para: _Para, *, mirror: bool) -> list[str]:
    """The paragraph's lines in logical order, read with the base direction that puts no
    closing punctuation at a line's start and no opening one at its end (an Arabic sentence's
    full stop is drawn at the left in a right-to-left paragraph, at the right in a
    left-to-right one); when both read alike, the direction the alignment and letters say."""
    preferred = _paragraph_rtl(para)
    best: tuple[int, list[str]] | None = None
    for rtl in (preferred, not preferred):
        lines = [ln.logical(rtl=rtl, mirror=mirror) for ln in para.lines]
        bad = sum(ln.startswith(_CLOSING) + ln.endswith(_OPENING) for ln in lines)
        if best is None or bad < best[0]:
            best = (bad, lines)
    return best[1]


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


def extract_pdf(data: bytes, *, max_pages: int, time_limit_s: float) -> Extraction:
    """Paragraph blocks (with pages and boilerplate flags) and warnings of a PDF's text layer.

    Args:
        data: the file's bytes.
        max_pages: a PDF with more pages is refused (ExtractError).
        time_limit_s: extraction stops with ExtractError when it runs longer (checked per page).
    """
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

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
            # Producers (LibreOffice, Chromium) map a mirrored glyph (a bracket or quote in
            # right-to-left text) to the character it looks like, not the one it stands for.
            mirror = True
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
                    lines = _page_lines(textpage, textpage.raw)
                    if not lines and any(True for _ in page.get_objects(
                            filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2)):
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
    if scanned:
        which = f"page {scanned[0]} has" if len(scanned) == 1 else f"pages {_page_list(scanned)} have"
        warnings.append(f"{which} no text layer (scanned?)")
    if unreadable:
        which = f"page {unreadable[0]}" if len(unreadable) == 1 else f"pages {_page_list(unreadable)}"
        warnings.append(f"{which} could not be read")
    blocks = []
    for para in _assemble(pages):
        text = join_lines(_logical_lines(para, mirror=mirror))
        if text:
            blocks.append(Block(text=text, page_start=para.page_start, page_end=para.page_end,
                                boilerplate=para.boilerplate))
    return Extraction(blocks=tuple(blocks), warnings=tuple(warnings), title=title)
