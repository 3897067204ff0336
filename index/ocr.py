"""OCR: page images read by Tesseract into paragraphs with their confidence.

Tesseract (Apache-2.0) is the ``tesseract`` program with Debian's Arabic and English models
(apt ``tesseract-ocr tesseract-ocr-ara tesseract-ocr-eng``; ``make test`` installs them). Each
page is one ``tesseract`` run (TSV output: words with boxes and confidences, grouped into
Tesseract's blocks, paragraphs and lines, words in reading order), with:

- a time limit per page (``SANAD_OCR_PAGE_TIME_LIMIT_S``: the run is killed, the page reported);
- a page limit per file (``SANAD_OCR_MAX_PAGES``: later pages are reported, not read);
- one thread and a lower CPU priority, so questions keep being answered while a scan is read;
- the page levelled first (:func:`deskew`: a skew of a degree or two loses a page's columns);
- a page with columns (gutters found from its ink: :mod:`index.ocr_layout`) read region by
  region (``--psm 4``, and ``--psm 6`` too when the first reading has fewer lines than the
  region's rows of ink: the more confident reading kept), the columns of a band in the
  script's direction; a page without is read whole;
- a confidence floor (``SANAD_OCR_MIN_CONFIDENCE``): a page read with less mean confidence
  (noise, a photo, a scan at too low a resolution) is reported instead of indexed, and so is a
  paragraph of a readable page read with less.

The text is Tesseract's, lightly normalised: bidi marks dropped, a comma, semicolon or question
mark after an Arabic word written in its Arabic form, lines joined into paragraphs
(:func:`index.bidi_text.join_lines`). A paragraph that ends a page mid-sentence is joined with
the next page's first; a page's first or last paragraph that recurs on most pages (a running
header or footer) or is a bare page number is flagged as boilerplate. Quotes are verbatim to this text, which is what the
catalog stores and ``GET /v1/documents/{file}/text`` serves.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from index.bidi_text import is_rtl_char, join_lines
from index.extracted import Block, ExtractLimits
from index.ocr_layout import Region, count_lines, page_regions
from settings.errors import SanadError

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["OcrPage", "OcrParagraph", "OcrUnavailable", "ocr_available", "ocr_image", "ocr_pages"]

TESSERACT = "tesseract"
INSTALL_HINT = "apt-get install tesseract-ocr tesseract-ocr-ara tesseract-ocr-eng"
_BIDI_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"), None)
_ARABIC_PUNCTUATION = {",": "،", ";": "؛", "?": "؟"}
_TRAILING_PUNCT_RE = re.compile(r"([,;?])(\W*)\Z")
_SENTENCE_END = tuple(".!?؟:;»\"”)…۔")


class OcrUnavailable(SanadError, RuntimeError):
    """Tesseract or a language model it needs is missing; str(exc) says what to install."""

    code = "ocr_unavailable"


@dataclass(frozen=True, slots=True)
class OcrParagraph:
    text: str
    confidence: float  # mean word confidence, 0 to 1, weighted by word length
    box: tuple[int, int, int, int] = (0, 0, 0, 0)  # left, top, right, bottom in the image's pixels
    last_width: int = 0  # its last line's width in pixels
    first_mid: float = 0.0  # the middle height of its first and last lines
    last_mid: float = 0.0


@dataclass(frozen=True, slots=True)
class OcrPage:
    paragraphs: tuple[OcrParagraph, ...]
    confidence: float  # the page's mean word confidence (0 when it has no words)
    seconds: float


def ocr_available(languages: str) -> str | None:
    """None when ``tesseract`` runs and has every model in ``languages``; else why not."""
    if shutil.which(TESSERACT) is None:
        return f"OCR is not available: tesseract is not installed ({INSTALL_HINT})"
    try:
        proc = subprocess.run([TESSERACT, "--list-langs"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"OCR is not available: tesseract does not run ({exc.__class__.__name__})"
    installed = {ln.strip() for ln in proc.stdout.splitlines()[1:]}
    missing = [lang for lang in languages.split("+") if lang and lang not in installed]
    if missing:
        return (f"OCR is not available: tesseract has no {'+'.join(missing)} model "
                f"(apt-get install {' '.join('tesseract-ocr-' + m for m in missing)}; SANAD_OCR_LANGUAGES)")
    return None


def _lower_priority() -> None:  # runs in the child before tesseract starts
    try:
        os.nice(10)
    except OSError:
        pass


def _arabic_punctuation(word: str, *, arabic_line: bool = False) -> str:
    """``word,`` -> ``word،`` when ``word`` is Arabic, or a number in an Arabic line (Tesseract's
    Arabic model writes Latin forms)."""
    match = _TRAILING_PUNCT_RE.search(word)
    head = word[:match.start()] if match else ""
    if match and (any(is_rtl_char(ch) for ch in head) or (arabic_line and head and _NUMBER_WORD_RE.fullmatch(head))):
        return word[:match.start()] + _ARABIC_PUNCTUATION[match.group(1)] + match.group(2)
    return word


def _arabic_quotes(text: str) -> str:
    """Tesseract's Arabic model reads the Arabic comma as ``»`` at times: one that closes no
    ``«``, right after an Arabic word, is a comma."""
    out, open_quotes = [], 0
    for k, ch in enumerate(text):
        if ch == "«":
            open_quotes += 1
        elif ch == "»":
            if open_quotes:
                open_quotes -= 1
            elif k and is_rtl_char(text[k - 1]) and (k + 1 == len(text) or text[k + 1] == " "):
                ch = "،"
        out.append(ch)
    return "".join(out)


@dataclass(slots=True)
class _OcrLine:
    words: list[tuple[str, float]]
    box: list[int]  # left, top, right, bottom

    @property
    def text(self) -> str:
        return " ".join(w for w, _ in self.words)


@dataclass(slots=True)
class _Word:
    key: tuple[int, int, int, int]  # page, block, paragraph, line (Tesseract's)
    text: str
    conf: float
    box: tuple[int, int, int, int]  # left, top, right, bottom


def _words(tsv: str) -> list[_Word]:
    """Tesseract's TSV word rows (words in reading order)."""
    out = []
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        if row.get("level") != "5":
            continue
        try:
            conf = float(row["conf"])
            left, top, width, height = (int(row[k]) for k in ("left", "top", "width", "height"))
            key = tuple(int(row[k]) for k in ("page_num", "block_num", "par_num", "line_num"))
        except (TypeError, ValueError):
            continue
        word = (row.get("text") or "").translate(_BIDI_MARKS).strip()
        if conf >= 0 and word:
            out.append(_Word(key, word, conf, (left, top, left + width, top + height)))
    return out


def _lines(words: list[_Word]) -> dict[tuple[int, int], list[_OcrLine]]:
    """Words as lines, by (page, block)."""
    lines: dict[tuple[int, int, int, int], _OcrLine] = {}
    letters: dict[tuple[int, int, int, int], list[int]] = {}
    for w in words:
        counts = letters.setdefault(w.key, [0, 0])
        counts[0] += sum(is_rtl_char(c) for c in w.text)
        counts[1] += sum(c.isalpha() and not is_rtl_char(c) for c in w.text)
    for w in words:
        line = lines.setdefault(w.key, _OcrLine([], list(w.box)))
        arabic = letters[w.key][0] > letters[w.key][1]
        line.words.append((_arabic_punctuation(w.text, arabic_line=arabic), w.conf))
        b = line.box
        b[:] = [min(b[0], w.box[0]), min(b[1], w.box[1]), max(b[2], w.box[2]), max(b[3], w.box[3])]
    blocks: dict[tuple[int, int], list[_OcrLine]] = {}
    for key in sorted(lines):
        blocks.setdefault(key[:2], []).append(lines[key])
    return blocks


_NUMBER_RE = re.compile(r"[0-9٠-٩][0-9٠-٩.,:/%\-]*")
_NUMBER_WORD_RE = re.compile(r"[0-9٠-٩.,:/%\-()]+")


def _number_words(words: list[_Word]) -> list[int]:
    """The words that are numbers (digits with their separators): Tesseract's Arabic model
    drops digits of numbers set left to right inside Arabic (1962 comes out as 2)."""
    return [k for k, w in enumerate(words) if _NUMBER_WORD_RE.fullmatch(w.text) and any(c.isdigit() for c in w.text)]


def _split(lines: list[_OcrLine]) -> list[list[_OcrLine]]:
    """A block's lines as paragraphs, from the layout (Tesseract's own paragraphs are unreliable
    in Arabic): a new one after a wider gap than the block's line pitch allows, or after a line
    that ends a sentence short of the block's measure."""
    if len(lines) < 2:
        return [lines]
    def mid(ln: _OcrLine) -> float:
        return (ln.box[1] + ln.box[3]) / 2

    steps = sorted(mid(b) - mid(a) for a, b in zip(lines, lines[1:]) if mid(b) > mid(a))
    pitch = steps[len(steps) // 4] if steps else 0
    left = min(ln.box[0] for ln in lines)
    measure = max(ln.box[2] for ln in lines) - left or 1
    height = statistics.median(ln.box[3] - ln.box[1] for ln in lines)
    paras = [[lines[0]]]
    for a, b in zip(lines, lines[1:]):
        gap = pitch and mid(b) - mid(a) > 1.2 * pitch
        short_end = a.text.endswith(_SENTENCE_END) and (a.box[2] - a.box[0]) < 0.9 * measure - 0.5 * height
        if gap or short_end:
            paras.append([b])
        else:
            paras[-1].append(b)
    return paras


def _block_paragraphs(words: list[_Word]) -> tuple[list[OcrParagraph], float]:
    """Tesseract's words grouped into paragraphs of lines, block by block (words in reading
    order), and the line pitch."""
    out = []
    blocks = _lines(words)
    every = [ln for block in blocks.values() for ln in block]
    if not every:
        return [], 0.0
    page_width = max(ln.box[2] for ln in every) - min(ln.box[0] for ln in every) or 1
    mids = [[(ln.box[1] + ln.box[3]) / 2 for ln in block] for block in blocks.values()]
    steps = [b - a for m in mids for a, b in zip(m, m[1:]) if b > a]
    pitch = statistics.median(steps) if steps else 0.0
    for _, block in sorted(blocks.items()):
        for lines in _split(block):
            words = [w for ln in lines for w in ln.words]
            text = _arabic_quotes(join_lines([ln.text for ln in lines]))
            if not any(ch.isalnum() for ch in text):
                continue
            if len(text) <= 3 and max(ln.box[2] - ln.box[0] for ln in lines) < 0.03 * page_width:
                continue  # a speck (or a lone page number): it would cut the paragraph it sits in
            weight = sum(len(w) for w, _ in words) or 1
            box = (min(ln.box[0] for ln in lines), min(ln.box[1] for ln in lines),
                   max(ln.box[2] for ln in lines), max(ln.box[3] for ln in lines))
            out.append(OcrParagraph(text=text, confidence=sum(len(w) * c for w, c in words) / weight / 100, box=box,
                                    last_width=lines[-1].box[2] - lines[-1].box[0],
                                    first_mid=(lines[0].box[1] + lines[0].box[3]) / 2,
                                    last_mid=(lines[-1].box[1] + lines[-1].box[3]) / 2))
    return out, pitch


def _paragraphs(words: list[_Word]) -> list[OcrParagraph]:
    """Tesseract's words grouped into paragraphs of lines (words in reading order)."""
    out, pitch = _block_paragraphs(words)
    return _join_runs(_reading_order(out), pitch)


def _region_paragraphs(words: list[_Word], regions: list[Region]) -> list[OcrParagraph]:
    """Paragraphs of a page read region by region (:mod:`index.ocr_layout`; each word keyed by
    its region's index): each region's words read as one column; the regions in reading
    order: bands top to bottom, a band's columns in the script's direction, a paragraph that
    ends a column mid-sentence on its last full line carried on at the top of the next."""
    per_region: list[list[OcrParagraph]] = [[] for _ in regions]
    grouped: list[list[_Word]] = [[] for _ in regions]
    for w in words:
        if 0 <= w.key[0] < len(regions):
            grouped[w.key[0]].append(w)
    for k, region_words in enumerate(grouped):
        paras, pitch = _block_paragraphs(region_words)
        per_region[k] = _join_runs(sorted(paras, key=lambda p: p.box[1]), pitch)
    rtl = _rtl([p for paras in per_region for p in paras])
    order = sorted(range(len(regions)), key=lambda k: (regions[k].band,
                                                        -regions[k].column if rtl else regions[k].column))
    out: list[OcrParagraph] = []
    for n, k in enumerate(order):
        paras = per_region[k]
        if not paras:
            continue
        before = order[n - 1] if n else None
        if (out and before is not None and per_region[before] and out[-1] is per_region[before][-1]
                and not out[-1].text.endswith(_SENTENCE_END)):
            measure = max(p.box[2] - p.box[0] for p in per_region[before])
            if out[-1].last_width >= 0.85 * measure:
                out[-1] = _merge(out[-1], paras[0])
                paras = paras[1:]
        out.extend(paras)
    return out


def _merge(a: OcrParagraph, b: OcrParagraph) -> OcrParagraph:
    weight = len(a.text) + len(b.text) or 1
    return OcrParagraph(text=join_lines([a.text, b.text]),
                        confidence=(a.confidence * len(a.text) + b.confidence * len(b.text)) / weight,
                        box=(min(a.box[0], b.box[0]), min(a.box[1], b.box[1]), max(a.box[2], b.box[2]),
                             max(a.box[3], b.box[3])), last_width=b.last_width, first_mid=a.first_mid,
                        last_mid=b.last_mid)


def _join_runs(paras: list[OcrParagraph], pitch: float) -> list[OcrParagraph]:
    """A paragraph whose last line runs the full measure of its column and ends mid-sentence
    carries on in the next one when that starts on the next line, one line pitch below
    (Tesseract starts a new block inside a paragraph at times)."""
    out: list[OcrParagraph] = []
    for para in paras:
        if out and pitch and 0 < para.first_mid - out[-1].last_mid <= 1.15 * pitch:
            before = out[-1]
            column = [p.box[2] - p.box[0] for p in paras
                      if min(p.box[2], before.box[2]) - max(p.box[0], before.box[0]) > 0.5 * (before.box[2] - before.box[0])]
            measure = max(column, default=before.box[2] - before.box[0])
            if before.last_width >= 0.9 * measure and not before.text.endswith(_SENTENCE_END):
                out[-1] = _merge(before, para)
                continue
        out.append(para)
    return out


def _rtl(paras: list[OcrParagraph]) -> bool:
    text = "".join(p.text for p in paras)
    return sum(is_rtl_char(c) for c in text) > sum(c.isalpha() and not is_rtl_char(c) for c in text)


def _reading_order(paras: list[OcrParagraph]) -> list[OcrParagraph]:
    """Paragraphs top to bottom; where the page has columns (paragraphs side by side), column by
    column in the page's script direction, each band between paragraphs that run across the
    columns on its own; a paragraph that ends a column mid-sentence carries on at the top of the
    next (Tesseract orders blocks as it finds them)."""
    if len(paras) < 2:
        return paras
    left = min(p.box[0] for p in paras)
    width = max(p.box[2] for p in paras) - left or 1
    rtl = _rtl(paras)
    out: list[OcrParagraph] = []
    band: list[OcrParagraph] = []

    def flush() -> None:
        if not band:
            return
        centres = sorted({(p.box[0] + p.box[2]) / 2 for p in band})
        cuts = [b for a, b in zip(centres, centres[1:]) if b - a > 0.25 * width]
        def column(p: OcrParagraph) -> int:
            k = sum(1 for c in cuts if (p.box[0] + p.box[2]) / 2 >= c)
            return len(cuts) - k if rtl else k
        ordered = sorted(band, key=lambda p: (column(p), p.box[1]))
        for k, para in enumerate(ordered):
            if (k and out and column(ordered[k - 1]) != column(para) and out[-1] is ordered[k - 1]
                    and not out[-1].text.endswith(_SENTENCE_END)):
                para = _merge(out.pop(), para)
            out.append(para)
        band.clear()

    for para in sorted(paras, key=lambda p: p.box[1]):
        if para.box[2] - para.box[0] > 0.6 * width:  # runs across the columns (or a one-column page)
            flush()
            out.append(para)
        else:
            band.append(para)
    flush()
    return out


def _tesseract(png: bytes, languages: str, time_limit_s: float, dpi: int | None, psm: int = 3) -> str:
    """Tesseract's TSV for one image (see _run for the errors)."""
    cmd = [TESSERACT, "stdin", "stdout", "-l", languages, "--psm", str(psm)]
    if dpi:
        cmd += ["--dpi", str(int(dpi))]
    cmd.append("tsv")
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    try:
        proc = subprocess.run(cmd, input=png, capture_output=True, timeout=max(time_limit_s, 0.001), env=env,
                              preexec_fn=_lower_priority if os.name == "posix" else None)
    except FileNotFoundError:
        raise OcrUnavailable(f"OCR is not available: tesseract is not installed ({INSTALL_HINT})") from None
    except subprocess.TimeoutExpired:
        raise TimeoutError from None
    if proc.returncode != 0:
        error = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = next((ln for ln in error if "Failed loading language" in ln or "Error" in ln), error[-1] if error else "")
        if "Failed loading language" in reason:
            raise OcrUnavailable(f"OCR is not available: {reason.strip()} (SANAD_OCR_LANGUAGES; {INSTALL_HINT})")
        raise RuntimeError(f"tesseract failed ({reason.strip()[:160] or f'exit {proc.returncode}'})")
    return proc.stdout.decode("utf-8", "replace")


def _reread_numbers(words: list[_Word], image: "Image", model: str, time_limit_s: float) -> None:
    """Read the number words again with ``model`` (``eng``): their boxes, widened a little
    (Tesseract's Arabic model also cuts a number's box short), stacked on one sheet, one
    Tesseract run; a reading that is a number with at least as many digits replaces the word."""
    from PIL import Image as PILImage

    picked = _number_words(words)
    if not picked:
        return
    crops = []
    for k in picked:
        left, top, right, bottom = words[k].box
        pad = max(4, (bottom - top) // 2)
        crops.append(image.crop((max(0, left - pad), max(0, top - pad // 2), right + pad, bottom + pad // 2)))
    gap = max(c.height for c in crops)
    sheet = PILImage.new("L", (max(c.width for c in crops) + 2 * gap, sum(c.height + gap for c in crops) + gap), 255)
    spans = []
    y = gap
    for crop in crops:
        sheet.paste(crop, (gap, y))
        spans.append((y, y + crop.height))
        y += crop.height + gap
    buf = io.BytesIO()
    sheet.save(buf, format="PNG", compress_level=1)
    try:
        found = _words(_tesseract(buf.getvalue(), model, time_limit_s, None, psm=6))
    except (TimeoutError, RuntimeError, OcrUnavailable):
        return  # the first reading stands
    for (top, bottom), k in zip(spans, picked):
        texts = [w.text for w in sorted(found, key=lambda w: w.box[0])
                 if top <= (w.box[1] + w.box[3]) / 2 <= bottom]
        match = _NUMBER_RE.search(" ".join(texts))
        old = words[k].text
        if match and sum(c.isdigit() for c in match.group(0)) >= sum(c.isdigit() for c in old):
            number = match.group(0).rstrip(".,:-/")
            tail = old[len(old.rstrip(".,:;،؛")):]  # the word's trailing punctuation stays
            words[k] = _Word(words[k].key, number + tail, words[k].conf, words[k].box)


def _region_words(image: "Image", regions: list[Region], languages: str, time_limit_s: float,
                  dpi: int | None) -> list[_Word]:
    """The words of each region of ``image`` (keyed by the region's index, boxes in the page's
    pixels): each region cut out with a white margin and read as a column (``--psm 4``); when
    that reading has fewer lines than the region's rows of ink show, read again as a uniform
    block (``--psm 6``), keeping the reading with more text read confidently (each of
    Tesseract's modes drops a line now and then, on kashida-stretched lines mostly, and rarely
    the same one)."""
    from PIL import Image as PILImage

    started = time.monotonic()
    margin = REGION_MARGIN
    out: list[_Word] = []
    for k, region in enumerate(regions):
        left, top, right, bottom = region.box
        crop = PILImage.new("L", (right - left + 2 * margin, bottom - top + 2 * margin), 255)
        crop.paste(image.crop(region.box), (margin, margin))
        buf = io.BytesIO()
        crop.save(buf, format="PNG", compress_level=1)
        best: list[_Word] = []
        lines = count_lines(crop)
        for psm in (4, 6):
            left_s = time_limit_s - (time.monotonic() - started)
            found = _words(_tesseract(buf.getvalue(), languages, left_s, dpi, psm=psm))
            if _score(found) > _score(best):
                best = found
            if len({w.key for w in best}) >= lines:  # no line dropped: no second reading
                break
        dx, dy = left - margin, top - margin
        out.extend(_Word((k,) + w.key[1:], w.text, w.conf, (w.box[0] + dx, w.box[1] + dy, w.box[2] + dx, w.box[3] + dy))
                   for w in best)
    return out


def _score(words: list[_Word]) -> float:
    return sum(len(w.text) * w.conf for w in words)


#: white pixels around a region cut out for Tesseract
REGION_MARGIN = 30


def _run(png: bytes, languages: str, time_limit_s: float, dpi: int | None, *,
         image: "Image", numbers_model: str | None = None, layout: list[Region] | None = None) -> OcrPage:
    """One reading of a page (``png`` is ``image``): whole, or (``layout``) each of its regions
    on its own; number words read again with ``numbers_model``."""
    started = time.monotonic()
    words = _region_words(image, layout, languages, time_limit_s, dpi) if layout else \
        _words(_tesseract(png, languages, time_limit_s, dpi))
    if numbers_model:
        _reread_numbers(words, image, numbers_model, time_limit_s - (time.monotonic() - started))
    paragraphs = _region_paragraphs(words, layout) if layout else _paragraphs(words)
    weight = sum(len(p.text) for p in paragraphs) or 1
    confidence = sum(len(p.text) * p.confidence for p in paragraphs) / weight if paragraphs else 0.0
    return OcrPage(paragraphs=tuple(paragraphs), confidence=confidence, seconds=time.monotonic() - started)


#: a page the first model alone reads with this confidence is kept as read (see ocr_image):
#: Arabic pages read by ``ara`` alone come out at 0.75-0.95, English ones at about 0.3
SINGLE_MODEL_CONFIDENCE = 0.6


def deskew(image: "Image", *, max_degrees: float = 3.0, least: float = 0.3) -> tuple["Image", float]:
    """``image`` (greyscale) rotated so its text lines run level, and the angle (0 when under
    ``least``): the rotation within ``max_degrees`` whose rows of ink are the most uneven (lines
    and the gaps between them sharpest), found in half-degree steps and then tenths on a copy
    600 pixels wide. Tesseract levels small skews itself, but a page skewed by a degree loses
    its columns."""
    import numpy as np
    from PIL import Image as PILImage

    grey = image.convert("L")
    scale = min(1.0, 600 / max(grey.size))
    small = grey.resize((max(1, int(grey.width * scale)), max(1, int(grey.height * scale))))
    ink = PILImage.fromarray(((np.asarray(small) < 128) * 255).astype("uint8"))

    def evenness(angle: float) -> float:
        rows = np.asarray(ink.rotate(angle, resample=PILImage.NEAREST, fillcolor=0)).sum(axis=1, dtype=np.float64)
        return float(np.var(rows))

    coarse = max((k * 0.5 for k in range(-int(2 * max_degrees), int(2 * max_degrees) + 1)), key=evenness)
    best = max((coarse + k * 0.1 for k in range(-5, 6)), key=evenness)
    if abs(best) < least:
        return grey, 0.0
    return grey.rotate(best, resample=PILImage.BICUBIC, expand=True, fillcolor=255), round(best, 1)


def ocr_image(image: "Image", *, languages: str, time_limit_s: float, dpi: int | None = None) -> OcrPage:
    """Read one page image with the first model of ``languages`` (``ara`` of ``ara+eng``)
    alone, and, when that reads it with less than :data:`SINGLE_MODEL_CONFIDENCE` (a page in
    another script), with all of them together, keeping the more confident reading. (Together,
    the English model reads some Arabic words as Latin letters: 0.62 against 0.91 character
    accuracy on an Amiri page; alone, Arabic pages read about twice as fast. Latin words on an
    Arabic page come out garbled.) The Arabic model drops digits of numbers (1962 as 2): the
    words that are numbers are read again with ``eng`` when it is listed, in one more run.

    Raises OcrUnavailable (tesseract or a model missing), TimeoutError (over ``time_limit_s``,
    both readings together) or RuntimeError (tesseract failed)."""
    started = time.monotonic()
    level = deskew(image)[0]
    regions = page_regions(level)
    layout = regions if len(regions) > 1 else None  # columns: each region read on its own
    buf = io.BytesIO()
    level.save(buf, format="PNG", compress_level=1)
    png = buf.getvalue()
    models = [m for m in languages.split("+") if m]
    # Numbers in Arabic text are read again with the English model when it is listed.
    numbers = "eng" if models[0] != "eng" and "eng" in models else None
    try:
        page = _run(png, models[0], time_limit_s, dpi, image=level, numbers_model=numbers, layout=layout)
        if len(models) > 1 and page.confidence < SINGLE_MODEL_CONFIDENCE:
            both = _run(png, languages, time_limit_s - (time.monotonic() - started), dpi, image=level,
                        layout=layout)
            if both.confidence > page.confidence:
                page = both
    except TimeoutError:
        raise TimeoutError(f"OCR took longer than {time_limit_s:g} s") from None
    return OcrPage(paragraphs=page.paragraphs, confidence=page.confidence, seconds=time.monotonic() - started)


_DIGITS_RE = re.compile(r"\d+")
_PAGE_NUMBER_RE = re.compile(r"\W*(?:page|p\.|صفحة|الصفحة)?\W*\d{1,4}\W*", re.IGNORECASE)


def _similar(a: str, b: str) -> bool:
    import difflib

    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= 0.8


def _running_heads(blocks: list[Block]) -> list[Block]:
    """Flag a page's first or last paragraph as boilerplate when it is a bare page number, or
    when (digits aside, OCR's slips allowed) it recurs first or last on at least half the
    pages (two at least): running headers and footers of a scan."""
    from dataclasses import replace

    pages: dict[int, list[int]] = {}
    for k, block in enumerate(blocks):
        pages.setdefault(block.page_start or 0, []).append(k)
    edges = {k for ks in pages.values() for k in (ks[0], ks[-1])}
    keys = {k: " ".join(_DIGITS_RE.sub("#", blocks[k].text).split()) for k in edges}
    flagged = set()
    for k in edges:
        if _PAGE_NUMBER_RE.fullmatch(blocks[k].text):
            flagged.add(k)
            continue
        recurring = {blocks[j].page_start for j in edges if _similar(keys[k], keys[j])}
        if len(pages) >= 2 and len(recurring) >= max(2, len(pages) / 2):
            flagged.add(k)
    return [replace(b, boilerplate=True) if k in flagged else b for k, b in enumerate(blocks)]


def _join_across_pages(blocks: list[Block]) -> list[Block]:
    """A page's last paragraph that ends mid-sentence carries on in the next page's first one
    (running headers and footers aside): one paragraph over both pages."""
    from dataclasses import replace

    out: list[Block] = []
    last_body: int | None = None
    for block in blocks:
        if block.boilerplate:
            out.append(block)
            continue
        if last_body is not None:
            before = out[last_body]
            first_on_page = not any(not b.boilerplate and b.page_start == block.page_start for b in out)
            if (first_on_page and before.page_end == (block.page_start or 0) - 1
                    and not before.text.endswith(_SENTENCE_END)):
                weight = len(before.text) + len(block.text)
                confidence = ((before.ocr_confidence or 0) * len(before.text)
                              + (block.ocr_confidence or 0) * len(block.text)) / weight
                out[last_body] = replace(before, text=join_lines([before.text, block.text]),
                                         page_end=block.page_end, ocr_confidence=round(confidence, 3))
                continue
        out.append(block)
        last_body = len(out) - 1
    return out


def _pages_text(pages: list[int]) -> str:
    if len(pages) == 1:
        return f"page {pages[0]}"
    runs: list[str] = []
    start = prev = pages[0]
    for p in pages[1:] + [None]:
        if p is not None and p == prev + 1:
            prev = p
            continue
        runs.append(f"{start}" if start == prev else f"{start}-{prev}")
        if p is not None:
            start = prev = p
    return "pages " + ", ".join(runs[:10]) + (f" and {len(runs) - 10} more" if len(runs) > 10 else "")


def ocr_pages(images: Iterable[tuple[int, "Image", int | None]], limits: ExtractLimits, *,
              total: int | None = None) -> tuple[list[Block], list[str]]:
    """OCR blocks (one per Tesseract paragraph, flagged ``ocr`` with the page and confidence)
    and warnings, for ``(page number, image, dpi)`` in page order, under ``limits``' page
    limit, per-page time limit and confidence floor. ``total``: how many pages wanted OCR (for
    the page-limit message when ``images`` stops early). Raises OcrUnavailable when
    tesseract or a model is missing (the caller says what that means for its file)."""
    blocks: list[Block] = []
    read: list[int] = []
    slow: list[int] = []
    unreadable: list[int] = []
    confidences: list[float] = []
    low: list[float] = []
    count = 0
    for number, image, dpi in images:
        count += 1
        if count > 1 and limits.ocr_progress is not None:
            limits.ocr_progress(count - 1)
        try:
            page = ocr_image(image, languages=limits.ocr_languages, time_limit_s=limits.ocr_page_time_limit_s,
                             dpi=dpi)
        except TimeoutError:
            slow.append(number)
            continue
        kept = [p for p in page.paragraphs if p.confidence >= limits.ocr_min_confidence]
        if not kept or page.confidence < limits.ocr_min_confidence:
            unreadable.append(number)
            low.append(page.confidence)
            continue
        read.append(number)
        confidences.append(page.confidence)
        blocks.extend(Block(text=p.text, page_start=number, page_end=number, ocr=True,
                            ocr_confidence=round(p.confidence, 3)) for p in kept)
    if count and limits.ocr_progress is not None:
        limits.ocr_progress(count)
    blocks = _running_heads(blocks)
    blocks = _join_across_pages(blocks)
    warnings = []
    if read:
        warnings.append(f"{_pages_text(read)} read by OCR (mean confidence "
                        f"{100 * sum(confidences) / len(confidences):.0f}%)")
    if slow:
        warnings.append(f"{_pages_text(slow)}: OCR took longer than {limits.ocr_page_time_limit_s:g} s "
                        "(SANAD_OCR_PAGE_TIME_LIMIT_S) and was stopped")
    if unreadable:
        warnings.append(f"{_pages_text(unreadable)} without a text layer: OCR found no readable text (confidence "
                        f"{100 * sum(low) / len(low):.0f}%, under SANAD_OCR_MIN_CONFIDENCE "
                        f"{limits.ocr_min_confidence:g})")
    if total is not None and total > count:
        warnings.append(f"{total - count} more page(s) without a text layer not read: OCR reads "
                        f"{limits.ocr_max_pages} per file (SANAD_OCR_MAX_PAGES)")
    return blocks, warnings
