"""OCR: page images read by Tesseract into paragraphs with their confidence.

Tesseract (Apache-2.0) is the ``tesseract`` program with Debian's Arabic and English models
(apt ``tesseract-ocr tesseract-ocr-ara tesseract-ocr-eng``; ``make test`` installs them). Each
page is one ``tesseract`` run (TSV output: words with boxes and confidences, grouped into
Tesseract's blocks, paragraphs and lines, words in reading order), with:

- a time limit per page (``SANAD_OCR_PAGE_TIME_LIMIT_S``: the run is killed, the page reported);
- a page limit per file (``SANAD_OCR_MAX_PAGES``: later pages are reported, not read);
- one thread and a lower CPU priority, so questions keep being answered while a scan is read;
- a confidence floor (``SANAD_OCR_MIN_CONFIDENCE``): a page read with less mean confidence
  (noise, a photo, a scan at too low a resolution) is reported instead of indexed, and so is a
  paragraph of a readable page read with less.

The text is Tesseract's, lightly normalised: bidi marks dropped, a comma, semicolon or question
mark after an Arabic word written in its Arabic form, lines joined into paragraphs
(:func:`index.bidi_text.join_lines`). Quotes are verbatim to this text, which is what the
catalog stores and ``GET /v1/documents/{file}/text`` serves.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from index.bidi_text import is_rtl_char, join_lines
from index.extracted import Block, ExtractLimits

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["OcrPage", "OcrParagraph", "OcrUnavailable", "ocr_available", "ocr_image", "ocr_pages"]

TESSERACT = "tesseract"
INSTALL_HINT = "apt-get install tesseract-ocr tesseract-ocr-ara tesseract-ocr-eng"
_BIDI_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"), None)
_ARABIC_PUNCTUATION = {",": "،", ";": "؛", "?": "؟"}
_TRAILING_PUNCT_RE = re.compile(r"([,;?])(\W*)\Z")


class OcrUnavailable(RuntimeError):
    """Tesseract or a language model it needs is missing; str(exc) says what to install."""


@dataclass(frozen=True, slots=True)
class OcrParagraph:
    text: str
    confidence: float  # mean word confidence, 0 to 1, weighted by word length


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


def _arabic_punctuation(word: str) -> str:
    """``word,`` -> ``word،`` when ``word`` is Arabic (Tesseract's Arabic model writes Latin forms)."""
    match = _TRAILING_PUNCT_RE.search(word)
    if match and any(is_rtl_char(ch) for ch in word[:match.start()]):
        return word[:match.start()] + _ARABIC_PUNCTUATION[match.group(1)] + match.group(2)
    return word


def _paragraphs(tsv: str) -> list[OcrParagraph]:
    """Tesseract's TSV rows grouped into paragraphs of lines of words (in reading order)."""
    paras: dict[tuple[int, int, int], dict[int, list[tuple[str, float]]]] = {}
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        if row.get("level") != "5":
            continue
        try:
            conf = float(row["conf"])
        except (TypeError, ValueError):
            continue
        word = (row.get("text") or "").translate(_BIDI_MARKS).strip()
        if conf < 0 or not word:
            continue
        key = (int(row["page_num"]), int(row["block_num"]), int(row["par_num"]))
        paras.setdefault(key, {}).setdefault(int(row["line_num"]), []).append((_arabic_punctuation(word), conf))
    out = []
    for _, lines in sorted(paras.items()):
        words = [w for _, line in sorted(lines.items()) for w in line]
        text = join_lines([" ".join(w for w, _ in line) for _, line in sorted(lines.items())])
        if not any(ch.isalnum() for ch in text):
            continue
        weight = sum(len(w) for w, _ in words) or 1
        out.append(OcrParagraph(text=text, confidence=sum(len(w) * c for w, c in words) / weight / 100))
    return out


def ocr_image(image: "Image", *, languages: str, time_limit_s: float, dpi: int | None = None) -> OcrPage:
    """Read one page image. Raises OcrUnavailable (tesseract or a model missing),
    TimeoutError (over ``time_limit_s``) or RuntimeError (tesseract failed)."""
    buf = io.BytesIO()
    image.convert("L").save(buf, format="PNG", compress_level=1)
    cmd = [TESSERACT, "stdin", "stdout", "-l", languages, "--psm", "3"]
    if dpi:
        cmd += ["--dpi", str(int(dpi))]
    cmd.append("tsv")
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, input=buf.getvalue(), capture_output=True, timeout=time_limit_s, env=env,
                              preexec_fn=_lower_priority if os.name == "posix" else None)
    except FileNotFoundError:
        raise OcrUnavailable(f"OCR is not available: tesseract is not installed ({INSTALL_HINT})") from None
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"OCR took longer than {time_limit_s:g} s") from None
    if proc.returncode != 0:
        error = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = next((ln for ln in error if "Failed loading language" in ln or "Error" in ln), error[-1] if error else "")
        if "Failed loading language" in reason:
            raise OcrUnavailable(f"OCR is not available: {reason.strip()} (SANAD_OCR_LANGUAGES; {INSTALL_HINT})")
        raise RuntimeError(f"tesseract failed ({reason.strip()[:160] or f'exit {proc.returncode}'})")
    paragraphs = _paragraphs(proc.stdout.decode("utf-8", "replace"))
    weight = sum(len(p.text) for p in paragraphs) or 1
    confidence = sum(len(p.text) * p.confidence for p in paragraphs) / weight if paragraphs else 0.0
    return OcrPage(paragraphs=tuple(paragraphs), confidence=confidence, seconds=time.monotonic() - started)


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
