"""The glyphs of one PDF page as text lines, from their geometry first and their codes second.

PDFium reports, for every character of a page, its code, its advance ("loose") box, its ink
("tight") box, its origin and its font size. Producers write a page's glyphs in any order
(LibreOffice writes a line in several pieces, marks apart from their letters, a word's end
after the next line's start), and they code some glyphs in ways that are not their text: the
kashida that justification stretches Arabic words with comes out as a control character, a
digit, a private-use character or U+0640, wherever the line was stretched. So:

- **Lines** are the glyphs on one baseline that lie close together (a wider gap is a column
  gutter, unless other lines of the page run across it: justified word spacing);
- **words** are the runs of glyphs whose advance boxes abut; the gaps between them are the spaces
  (PDFium's own spaces are not used: producers place them unreliably in right-to-left text);
- **kashida**: a glyph inside an Arabic word whose ink is a flat bar on the baseline and whose code
  is no Arabic letter is a justification stretch and is dropped, whatever its code;
  one coded U+0640 is kept as a tatweel (:attr:`Glyph.tatweel`; the paragraph decides, see
  :mod:`index.pdf_text`);
- **marks** (harakat, shadda, tanween) go to the line whose band holds them and to the letter
  their ink sits on: the one written just before them in the stream when it is under them, else the
  one under most of their ink, else the nearest on the reading side;
- glyphs stacked over one another (ligatures such as Amiri's) keep the order they were written in.

The result is each line's glyph clusters left to right (:class:`GlyphLine`), which
:mod:`index.bidi_text` turns into logical order.
"""

from __future__ import annotations

import ctypes
import statistics
import unicodedata
from dataclasses import dataclass, field

from index.bidi_text import clean_text, is_rtl_char

__all__ = ["Glyph", "GlyphLine", "page_glyph_lines", "TATWEEL"]

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 (PDF points, y upwards)
TATWEEL = "\u0640"
_LINE_END_HYPHEN = "\u0002"  # PDFium's code for a hyphen that ends a line (index.bidi_text.join_lines)


@dataclass(slots=True)
class Glyph:
    """One glyph: a character, or the several characters of one ligature glyph."""

    text: str
    box: Box  # advance box: it abuts its neighbours inside a word
    ink: Box
    baseline: float
    size: float
    index: int  # position in the page's character stream
    word: int = 0  # the stream's word: glyphs the producer wrote with no space between them share it
    seq: int = 0  # the glyph's number in the stream (glyphs only)
    marks: list[tuple[int, str]] = field(default_factory=list)  # (stream position, mark)
    kashida: bool = False  # a justification stretch: not text
    tatweel: bool = False  # a stretch coded U+0640: typed by the author, or a producer's kashida

    @property
    def xc(self) -> float:
        return (self.box[0] + self.box[2]) / 2

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]


@dataclass(slots=True)
class _Mark:
    text: str
    ink: Box
    index: int


@dataclass(slots=True)
class GlyphLine:
    """One line: its words left to right (each its glyphs left to right) and its extent."""

    words: list[list[Glyph]]
    x0: float
    x1: float
    y0: float
    y1: float
    size: float
    baseline: float

    def clusters(self) -> list[str]:
        """The line's clusters left to right, a ``" "`` between words; kashida dropped, a tatweel
        kept as its own cluster (``TATWEEL``), control and private-use characters dropped."""
        out: list[str] = []
        for word in self.words:
            texts = []
            for g in word:
                if g.kashida:
                    continue
                if g.tatweel:
                    texts.append(TATWEEL)
                    continue
                text = clean_text(g.text + "".join(m for _, m in sorted(g.marks)))
                text = "".join(ch for ch in text if ch == _LINE_END_HYPHEN
                               or unicodedata.category(ch) not in ("Cc", "Co", "Cn", "Cs"))
                if text:
                    texts.append(text)
            if texts:
                if out:
                    out.append(" ")
                out.extend(texts)
        return out


# ----------------------------------------------------------------------------- reading
@dataclass(slots=True)
class _Page:
    """What PDFium says about a page's characters."""

    glyphs: list[Glyph]
    marks: list[_Mark]
    #: spaces the producer drew with an advance: (x0, x1, baseline)
    space_boxes: list[tuple[float, float, float]]


def _read(textpage) -> _Page:  # noqa: ANN001 - a pypdfium2 PdfTextPage
    import pypdfium2.raw as pdfium_c

    raw = textpage.raw
    n = textpage.count_chars()
    glyphs: list[Glyph] = []
    marks: list[_Mark] = []
    space_boxes: list[tuple[float, float, float]] = []
    word = 0
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
        if 0xD800 <= u < 0xE000:
            continue
        ch = chr(u)
        if ch in "\r\n":
            continue  # a line break in the stream says nothing of spaces (LibreOffice breaks inside words)
        if pdfium_c.FPDFText_IsGenerated(raw, index):
            word += ch == " "
            continue
        ink = tuple(textpage.get_charbox(index))
        inked = ink[2] > ink[0] and ink[3] > ink[1]
        size = pdfium_c.FPDFText_GetFontSize(raw, index) or 1.0
        if unicodedata.combining(ch):
            pdfium_c.FPDFText_GetCharOrigin(raw, index, ox, oy)
            if inked and not _flat_ink(ink, oy.value, size):
                marks.append(_Mark(ch, ink, index))
                continue
            if not inked:
                continue
            # A mark's code on a flat bar on the baseline: a kashida coded as a mark (LibreOffice
            # does so in some fonts); it is read as a glyph and recognised below.
        box = tuple(textpage.get_charbox(index, loose=True))
        if ch.isspace() and not ink[3] - ink[1] >= 0.02 * size:
            word += 1  # a space: where it is drawn is checked against the gaps
            if box[2] - box[0] > 0.02 * size:
                pdfium_c.FPDFText_GetCharOrigin(raw, index, ox, oy)
                space_boxes.append((box[0], box[2], oy.value))
            continue
        if box[2] <= box[0]:
            box = (ink[0], box[1], max(ink[2], ink[0] + 1e-3), box[3])
        pdfium_c.FPDFText_GetCharOrigin(raw, index, ox, oy)
        last = glyphs[-1] if glyphs else None
        if last is not None and last.box == box and last.index == index - 1 - (u > 0xFFFF):
            last.text += ch  # several characters of one glyph (a ligature)
            last.index = index
            continue
        glyphs.append(Glyph(ch, box, ink, oy.value, size, index, word=word, seq=len(glyphs)))
    for g in glyphs:
        # PDFium gives an Arabic ligature glyph's letters (lam-alef, lam-yeh...) last first.
        if len(g.text) > 1 and all(is_rtl_char(ch) for ch in g.text):
            g.text = g.text[::-1]
    return _Page(glyphs, marks, space_boxes)


# ----------------------------------------------------------------------------- lines
def _baseline_groups(glyphs: list[Glyph]) -> list[list[Glyph]]:
    """Glyphs grouped by baseline (within 0.4 of the font size), top of the page first."""
    groups: list[list[Glyph]] = []
    anchor = 0.0
    for g in sorted(glyphs, key=lambda g: -g.baseline):
        if groups:
            size = max(g.size, max(h.size for h in groups[-1][:8]))
            if anchor - g.baseline <= 0.4 * size:
                groups[-1].append(g)
                continue
        groups.append([g])
        anchor = g.baseline
    # A superscript (a footnote's number) joins the line it is raised over: smaller type (or a
    # glyph not half the line's height: a mark drawn as a glyph), at most 0.6 of the line's size
    # up, touching one of its glyphs.
    merged: list[list[Glyph]] = []
    for k, group in enumerate(groups):
        lower = groups[k + 1] if k + 1 < len(groups) else None
        if lower is not None and len(group) <= 4:
            size = statistics.median(g.size for g in lower)
            top = max(g.size for g in group)
            rise = group[0].baseline - lower[0].baseline
            touching = any(abs(max(g.box[0], h.box[0]) - min(g.box[2], h.box[2])) <= 0.3 * size
                           or _overlap(g.box, h.box) > 0 for g in group for h in lower)
            small = top <= 0.8 * size or max(g.box[3] - g.box[1] for g in group) <= 0.5 * size
            if small and 0 < rise <= 0.6 * size and touching:
                lower.extend(group)
                continue
        merged.append(group)
    return merged


def _extent(glyphs: list[Glyph]) -> Box:
    return (min(g.box[0] for g in glyphs), min(g.box[1] for g in glyphs),
            max(g.box[2] for g in glyphs), max(g.box[3] for g in glyphs))


def _pieces(group: list[Glyph]) -> list[list[Glyph]]:
    """One baseline's glyphs split at gaps wider than the font size, left to right."""
    pieces: list[list[Glyph]] = []
    reach = None
    for g in sorted(group, key=lambda g: g.xc):
        if reach is not None and g.box[0] - reach <= 1.0 * max(g.size, pieces[-1][-1].size):
            pieces[-1].append(g)
            reach = max(reach, g.box[2])
        else:
            pieces.append([g])
            reach = g.box[2]
    return pieces


def _join_pieces(groups: list[list[list[Glyph]]]) -> list[list[Glyph]]:
    """Pieces of one baseline joined across a gap that at least three other lines of the page
    run across and at most one other line has a gap of its own at (justified word spacing,
    however wide; a column gutter or a table's cell gap recurs on many lines)."""
    extents = [(_extent(p), gi) for gi, pieces in enumerate(groups) for p in pieces]
    gaps = [(max(g.box[2] for g in a), min(g.box[0] for g in b), gi)
            for gi, pieces in enumerate(groups) for a, b in zip(pieces, pieces[1:])]
    lines: list[list[Glyph]] = []
    for gi, pieces in enumerate(groups):
        current = pieces[0]
        for nxt in pieces[1:]:
            gap0, gap1 = max(g.box[2] for g in current), min(g.box[0] for g in nxt)
            crossed = sum(1 for box, other in extents if other != gi and box[0] < gap0 and box[2] > gap1)
            aligned = len({other for x0, x1, other in gaps if other != gi and x0 < gap1 and x1 > gap0})
            if crossed >= 3 and aligned <= 1:
                current = current + nxt
            else:
                lines.append(current)
                current = nxt
        lines.append(current)
    return lines


def _overlap(a: Box, b: Box) -> float:
    return min(a[2], b[2]) - max(a[0], b[0])


_LAM = "ل"
_ALEFS = frozenset("اأإآٱ")


def _stacked(a: Glyph, b: Glyph) -> bool:
    return _overlap(a.box, b.box) >= 0.5 * min(a.width, b.width)


def _stream_votes(row: list[Glyph]) -> tuple[int, int]:
    """Neighbours (not stacked) written left to right, and right to left, in the stream."""
    forward = backward = 0
    for a, b in zip(row, row[1:]):
        if not _stacked(a, b):
            forward += a.index < b.index
            backward += a.index > b.index
    return forward, backward


def _order(word: list[Glyph], line_votes: tuple[int, int]) -> list[Glyph]:
    """A word's glyphs left to right. Glyphs stacked over one another (more than half the
    narrower one's width shared) are ordered as the stream wrote them, read in the direction the
    stream writes this word's other glyphs (producers write some words left to right, others in
    reading order), else its line's; where neither says, a lam-alef has its alef on the left."""
    row = list(word)
    forward, backward = _stream_votes(row)
    own = forward != backward
    if not own:
        forward, backward = line_votes
    ascending = forward > backward
    for _ in range(len(row)):
        swapped = False
        for k in range(len(row) - 1):
            a, b = row[k], row[k + 1]
            if not _stacked(a, b):
                continue
            lam_alef = {a.text, b.text} & {_LAM} and (a.text in _ALEFS or b.text in _ALEFS)
            if own or (forward != backward and not lam_alef):
                wrong = (a.index > b.index) == ascending
            else:
                wrong = a.text == _LAM and b.text in _ALEFS
            if wrong:
                row[k], row[k + 1] = b, a
                swapped = True
        if not swapped:
            break
    return row


def _spaced(a: Glyph, b: Glyph, page: _Page) -> bool | None:
    """Whether the producer put a space between neighbours ``a`` and ``b`` (left, right): False
    when the stream wrote them in one word, True when it wrote them one after the other with a
    space between or a space is drawn between them; None when the stream does not say."""
    if a.word == b.word:
        return False
    if abs(a.seq - b.seq) == 1:
        return True
    size = max(a.size, b.size)
    if any(a.box[2] - 0.1 * size <= (x0 + x1) / 2 <= b.box[0] + 0.1 * size and abs(base - a.baseline) < 0.4 * size
           for x0, x1, base in page.space_boxes):
        return True
    return None


def _is_punctuation(g: Glyph) -> bool:
    return all(unicodedata.category(ch)[0] == "P" for ch in g.text)


def _words(row: list[Glyph], size: float, page: _Page) -> list[list[Glyph]]:
    """The glyphs of a line cut into words where a gap between their advance boxes is a space:
    never next to a stretch glyph, always past 0.6 em; in between, a gap of 0.05 em or more
    where the producer wrote a space, or (when the stream does not say) one of 0.15 em or more."""
    words: list[list[Glyph]] = []
    reach = None
    for g in row:
        if reach is None:
            words.append([g])
            reach = g.box[2]
            continue
        a = words[-1][-1]
        gap = (g.box[0] - reach) / size
        if _stretch_candidate(a) or _stretch_candidate(g):
            split = gap > 0.3
        elif gap <= 0.05:
            split = False
        else:
            hint = _spaced(a, g, page)
            if hint is False and (_is_punctuation(a) or _is_punctuation(g)):
                hint = None  # producers put the space on either side of a bracket or quote
            split = gap > 0.6 if hint is False else (hint is True or gap >= 0.15)
        if split:
            words.append([g])
        else:
            words[-1].append(g)
        reach = max(reach, g.box[2])
    return words


def _flat_ink(ink: Box, baseline: float, size: float) -> bool:
    """Ink that is a flat bar on the baseline (a kashida or tatweel glyph), code aside."""
    w, h = ink[2] - ink[0], ink[3] - ink[1]
    return 0.02 * size <= h <= 0.12 * size and w >= 1.2 * h and w >= 0.05 * size and abs(ink[1] - baseline) <= 0.15 * size


def _flat_bar(g: Glyph) -> bool:
    return _flat_ink(g.ink, g.baseline, g.size)


def _stretch_code(text: str) -> bool:
    """Codes a kashida glyph comes out as: anything but an Arabic letter. LibreOffice leaves its
    kashida out of the font's ToUnicode map, so it reads as the glyph's raw code in the subset
    font: a control character, a digit, punctuation (``;`` ``,``), a letter of another script;
    others give U+0640, a private-use character or the code of a mark."""
    return text == TATWEEL or not any(unicodedata.category(ch).startswith("L") and is_rtl_char(ch) for ch in text)


def _stretch_candidate(g: Glyph) -> bool:
    return _stretch_code(g.text) and _flat_bar(g)


def _mark_kashida(words: list[list[Glyph]]) -> None:
    for word in words:
        if not any(is_rtl_char(ch) for g in word for ch in g.text):
            continue
        for k in range(1, len(word) - 1):
            g = word[k]
            if _stretch_candidate(g):
                if g.text == TATWEEL:
                    g.tatweel = True
                else:
                    g.kashida = True


#: Arabic marks drawn under their letter (kasra, kasratan, hamza below, subscript alef...)
_BELOW = frozenset("\u064d\u0650\u0655\u0656\u065f\u0616\u061a\u08e3\u08e6\u08e9\u08ed\u08f6\u08f9\u08fa")


def _below(mark: str) -> bool:
    if 0x0610 <= ord(mark) <= 0x06FF or 0x08D3 <= ord(mark) <= 0x08FF:
        return mark in _BELOW
    return unicodedata.combining(mark) in (202, 218, 220, 222)


def _line_of(mark: _Mark, lines: list[GlyphLine]) -> GlyphLine | None:
    """The line a mark belongs to, among the lines it is beside: the one whose advance boxes'
    band holds most of its ink on the side of the baseline it is drawn on (producers that report
    a mark's box near the baseline); else the
    nearest one under it (a mark drawn above its letter) or over it (one drawn below); else the
    nearest line."""
    mx = (mark.ink[0] + mark.ink[2]) / 2
    height = max(mark.ink[3] - mark.ink[1], 1e-6)
    below = _below(mark.text)
    held: tuple[float, GlyphLine] | None = None
    best: tuple[float, GlyphLine] | None = None
    near: tuple[float, GlyphLine] | None = None
    for line in lines:
        if not line.x0 - 0.3 * line.size <= mx <= line.x1 + 0.3 * line.size:
            continue
        inside = (min(line.y1, mark.ink[3]) - max(line.y0, mark.ink[1])) / height
        my = (mark.ink[1] + mark.ink[3]) / 2
        on_side = (my <= line.baseline + 0.1 * line.size) if below else (my >= line.baseline - 0.1 * line.size)
        if inside > 0.5 and on_side and (held is None or inside > held[0]):
            held = (inside, line)
        rise = (line.baseline - mark.ink[3]) if below else (mark.ink[1] - line.baseline)
        if -0.15 * line.size <= rise <= (0.9 if below else 1.3) * line.size and (best is None or rise < best[0]):
            best = (rise, line)
        distance = max(line.y0 - mark.ink[3], mark.ink[1] - line.y1, 0.0)
        if distance <= 0.6 * line.size and (near is None or distance < near[0]):
            near = (distance, line)
    for found in (held, best, near):
        if found is not None:
            return found[1]
    return None


def _attach_marks(marks: list[_Mark], lines: list[GlyphLine]) -> None:
    """Each mark to its line, then to the glyph it sits on: the one written just before it
    when that one is under it (or touches it, and no glyph is under half of it), else the one
    under most of its ink, else the nearest on the side its script reads from."""
    for mark in marks:
        line = _line_of(mark, lines)
        if line is None:
            continue  # a mark on its own (no letter near it): nothing to carry it
        bases = [g for word in line.words for g in word if not g.kashida and not g.tatweel]
        if not bases:
            continue
        mx = (mark.ink[0] + mark.ink[2]) / 2
        width = max(mark.ink[2] - mark.ink[0], 1e-6)
        under = [(_overlap(mark.ink, g.box), g) for g in bases]
        good = [g for ov, g in under if ov >= 0.3 * width]
        before = max((g for g in bases if g.index < mark.index), key=lambda g: g.index, default=None)
        touching = before is not None and mark.index - before.index <= 2 and max(
            before.box[0] - mark.ink[2], mark.ink[0] - before.box[2]) <= 0.05 * line.size
        most = max(under, key=lambda item: item[0])
        if before is not None and (before in good or (touching and most[0] < 0.5 * width)):
            target = before
        elif good:
            target = most[1]
        else:
            arabic = 0x0610 <= ord(mark.text) <= 0x06ED or 0x08D3 <= ord(mark.text) <= 0x08FF
            side = [g for g in bases if (g.xc > mx) == arabic] or bases
            target = min(side, key=lambda g: abs(g.xc - mx))
        target.marks.append((mark.index, mark.text))


def page_glyph_lines(textpage) -> list[GlyphLine]:  # noqa: ANN001 - a pypdfium2 PdfTextPage
    """The text lines of a page (in no particular order), each its words left to right."""
    page = _read(textpage)
    if not page.glyphs:
        return []
    groups = [_pieces(group) for group in _baseline_groups(page.glyphs)]
    lines: list[GlyphLine] = []
    for members in _join_pieces(groups):
        size = statistics.median(g.size for g in members) or 1.0
        row = sorted(members, key=lambda g: g.xc)
        votes = _stream_votes(row)
        words = [_order(word, votes) for word in _words(row, size, page)]
        _mark_kashida(words)
        x0, y0, x1, y1 = _extent(members)
        baseline = statistics.median(g.baseline for g in members)
        lines.append(GlyphLine(words=words, x0=x0, x1=x1, y0=y0, y1=y1, size=size, baseline=baseline))
    _attach_marks(page.marks, lines)
    _keep_marks_of_stretches(lines)
    return lines


def _keep_marks_of_stretches(lines: list[GlyphLine]) -> None:
    """A kashida coded as a mark carries its cluster's mark (LibreOffice gives the stretch the
    code of the mark it drew before it): the letter it stretches, the one before it in reading
    order, gets the mark unless it has it already."""
    for line in lines:
        for word in line.words:
            for k, g in enumerate(word):
                if not g.kashida or not all(unicodedata.combining(ch) for ch in g.text):
                    continue
                rtl = any(is_rtl_char(ch) for h in word for ch in h.text)
                side = word[k + 1:] if rtl else word[:k][::-1]
                letter = next((h for h in side if not h.kashida and not h.tatweel), None)
                if letter is not None and not any(m == g.text for _, m in letter.marks):
                    letter.marks.append((g.index, g.text))
