"""Documents and their numbered paragraphs: the data model every reader (:mod:`index.readers`)
builds, and the pieces they share (decoding, boilerplate, line offsets, paragraph builders).

A document's text is its file decoded as UTF-8 (BOM dropped, ``\\r\\n``/``\\r`` turned into
``\\n``), or the text a binary format's extractor hands over, one block per line. Every
:class:`Paragraph` records offsets into that text such that
``text[char_start:char_end] == paragraph.text`` always holds.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from index.extracted import Extraction
from settings.errors import SanadError


class DocumentError(SanadError, ValueError):
    """A file that cannot be used as a document; str(exc) is a clear one-line message for users."""

    code = "invalid_document"


@dataclass(frozen=True, slots=True)
class Paragraph:
    """One numbered paragraph of a document, with verbatim offsets into the document text
    (the API returns it as it is: ``api.schemas.ParagraphOut``; the descriptions are its schema's)."""

    file: str
    paragraph: int
    line_start: int
    line_end: int
    char_start: int
    char_end: int
    text: str
    boilerplate: bool = False
    page_start: Annotated[int | None, Field(description="1-based first page (paged formats: .pdf, image files); null elsewhere")] \
        = None
    page_end: Annotated[int | None, Field(description="1-based last page; null for unpaged formats")] = None
    ocr: Annotated[bool, Field(description=(
        "read by OCR from a scanned page or an image file (its text is Tesseract's reading, "
        "which may differ from the page)"))] = False
    ocr_confidence: Annotated[float | None, Field(description=(
        "OCR's mean word confidence for the paragraph, 0 to 1; null unless `ocr`"))] = None


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """A decoded document and its paragraphs."""

    file: str
    kind: str
    text: str
    sha256: str
    paragraphs: tuple[Paragraph, ...]
    title: str  # the document's own title, else its first paragraph's start
    warnings: tuple[str, ...] = ()  # e.g. "page 3 has no text layer (scanned?)"
    own_title: str = ""  # the title the document states (its reader finds it; index.titles vets it); "" when none


# --------------------------------------------------------------------------- decoding


_BOM = b"\xef\xbb\xbf"
_NEWLINES_RE = re.compile(r"\r\n?")


def decode_text(data: bytes) -> str:
    """Decode strict UTF-8 (BOM dropped) and normalise ``\\r\\n`` / ``\\r`` to ``\\n``."""
    if b"\x00" in data:
        raise DocumentError("binary file (contains NUL bytes)")
    skipped = 0
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
        skipped = len(_BOM)
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        # Position in the raw file (BOM included), so users can find it with a hex viewer.
        raise DocumentError(f"not valid UTF-8 (byte {exc.start + skipped})") from None
    return _NEWLINES_RE.sub("\n", text)


# --------------------------------------------------------------------------- boilerplate

BOILERPLATE_LINES: frozenset[str] = frozenset(
    s.casefold()
    for s in (
        "+A",
        "-A",
        "icon",
        "حجم الخط",
        "التعليقات",
        "التغطية الحية",
        "طباعة",
        "شارك",
    )
)
_IMAGE_NAME_RE = re.compile(r"\S+\.(?:jpe?g|png|gif|webp|svg)", re.IGNORECASE)
# Invisible format characters that may wrap a UI crumb (bidi marks, ZWJ/ZWNJ, BOM).
_INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"


def is_boilerplate(text: str) -> bool:
    """True for news-page UI crumbs, image file names and lines without letters or digits."""
    core = text.strip().strip(_INVISIBLE).strip()
    if not any(ch.isalnum() for ch in core):
        return True
    if " ".join(core.split()).casefold() in BOILERPLATE_LINES:
        return True
    return _IMAGE_NAME_RE.fullmatch(core) is not None


# --------------------------------------------------------------------------- building paragraphs


class Lines:
    """Lines of a text split on ``\\n`` with their start offsets and newline positions."""

    __slots__ = ("text", "lines", "starts", "newlines")

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines: list[str] = text.split("\n")
        self.starts: list[int] = []
        pos = 0
        for line in self.lines:
            self.starts.append(pos)
            pos += len(line) + 1
        # Offsets of every "\n": the start of line k+1 minus one.
        self.newlines: list[int] = [s - 1 for s in self.starts[1:]]

    def is_blank(self, index: int) -> bool:
        line = self.lines[index]
        return not line or line.isspace()

    def line_of(self, offset: int) -> int:
        """1-based line number of ``offset`` (newlines strictly before it, plus one)."""
        return bisect_left(self.newlines, offset) + 1


class ParagraphBuilder:
    """Collects paragraphs numbered from 1, stripping whitespace from each span."""

    __slots__ = ("file", "lines", "out")

    def __init__(self, file: str, lines: Lines) -> None:
        self.file = file
        self.lines = lines
        self.out: list[Paragraph] = []

    def add_lines(self, first: int, last: int) -> None:
        """Add the paragraph spanning lines ``first``..``last`` (0-based, inclusive)."""
        ls = self.lines
        self.add_span(ls.starts[first], ls.starts[last] + len(ls.lines[last]))

    def add_span(self, start: int, end: int) -> None:
        """Add the paragraph ``text[start:end]`` minus surrounding whitespace, if non-empty."""
        text = self.lines.text
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start >= end:
            return
        body = text[start:end]
        self.out.append(
            Paragraph(
                file=self.file,
                paragraph=len(self.out) + 1,
                line_start=self.lines.line_of(start),
                line_end=self.lines.line_of(end - 1),
                char_start=start,
                char_end=end,
                text=body,
                boilerplate=is_boilerplate(body),
            )
        )


def paragraphs_from_extraction(extraction: Extraction, *, file: str) -> tuple[str, list[Paragraph]]:
    """The stored text (one block per line) and its paragraphs, with pages and boilerplate flags."""
    texts = [" ".join(block.text.split()) for block in extraction.blocks]
    text = "\n".join(texts)
    paragraphs: list[Paragraph] = []
    offset = 0
    for block, body in zip(extraction.blocks, texts):
        if body:
            paragraphs.append(Paragraph(
                file=file, paragraph=len(paragraphs) + 1, line_start=len(paragraphs) + 1,
                line_end=len(paragraphs) + 1, char_start=offset, char_end=offset + len(body), text=body,
                boilerplate=block.boilerplate or is_boilerplate(body),
                page_start=block.page_start, page_end=block.page_end,
                ocr=block.ocr, ocr_confidence=block.ocr_confidence,
            ))
        offset += len(body) + 1
    return text, paragraphs
