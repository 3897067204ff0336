"""Documents and their numbered paragraphs (see DESIGN.md, "Data model (contract)").

A document's text is its file decoded as UTF-8 (BOM dropped, ``\\r\\n``/``\\r`` turned into
``\\n``). Every :class:`Paragraph` records offsets into that text such that
``text[char_start:char_end] == paragraph.text`` always holds.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from bisect import bisect_left
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Annotated

from pydantic import Field

from index.extracted import Extraction, ExtractError, ExtractLimits
from index.titles import own_title
from settings import MAX_FILE_BYTES

__all__ = [
    "SUPPORTED_SUFFIXES",
    "DocumentError",
    "Paragraph",
    "ParsedDocument",
    "kind_for",
    "decode_text",
    "is_boilerplate",
    "split_txt",
    "split_markdown",
    "extract_html_text",
    "split_paragraphs",
    "parse_document",
    "paragraphs_from_extraction",
    "load_document",
]

SUPPORTED_SUFFIXES: tuple[str, ...] = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")

_KIND_BY_SUFFIX: dict[str, str] = {
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
_KINDS: frozenset[str] = frozenset(_KIND_BY_SUFFIX.values())

TITLE_MAX_CHARS = 200


class DocumentError(ValueError):
    """A file that cannot be used as a document; str(exc) is a clear one-line message for users."""


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
    page_start: Annotated[int | None, Field(description="1-based first page (paged formats: .pdf); null elsewhere")] \
        = None
    page_end: Annotated[int | None, Field(description="1-based last page; null for unpaged formats")] = None


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """A decoded document and its paragraphs."""

    file: str
    kind: str
    text: str
    sha256: str
    paragraphs: tuple[Paragraph, ...]
    title: str  # the document's own title (index.titles), else its first paragraph's start
    warnings: tuple[str, ...] = ()  # e.g. "page 3 has no text layer (scanned?)"
    own_title: str = ""  # the title the document states (index.titles.own_title); "" when none


# --------------------------------------------------------------------------- kinds / decoding


def kind_for(file: str) -> str:
    """Return "txt", "md", "html", "pdf" or "docx" for ``file`` by suffix; DocumentError if unsupported."""
    suffix = PurePosixPath(file.replace("\\", "/")).suffix.lower()
    kind = _KIND_BY_SUFFIX.get(suffix)
    if kind is None:
        shown = f"'{suffix}'" if suffix else "(none)"
        raise DocumentError(
            f"unsupported file type {shown}; supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    return kind


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


# --------------------------------------------------------------------------- helpers


class _Lines:
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


class _Builder:
    """Collects paragraphs numbered from 1, stripping whitespace from each span."""

    __slots__ = ("file", "lines", "out")

    def __init__(self, file: str, lines: _Lines) -> None:
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


def _blocks(lines: _Lines) -> list[tuple[int, int]]:
    """Runs of consecutive non-blank lines as (first, last) 0-based inclusive indices."""
    blocks: list[tuple[int, int]] = []
    first: int | None = None
    for i in range(len(lines.lines)):
        if lines.is_blank(i):
            if first is not None:
                blocks.append((first, i - 1))
                first = None
        elif first is None:
            first = i
    if first is not None:
        blocks.append((first, len(lines.lines) - 1))
    return blocks


HARD_WRAP_MIN_BLOCKS = 2
HARD_WRAP_MIN_MULTILINE_SHARE = 0.6
HARD_WRAP_MAX_P90_LINE_LENGTH = 100


def _is_hard_wrapped(lines: _Lines, blocks: list[tuple[int, int]]) -> bool:
    """Conservative detection of hard-wrapped prose (blank lines between short-line blocks)."""
    if len(blocks) < HARD_WRAP_MIN_BLOCKS:
        return False
    nonblank = sum(last - first + 1 for first, last in blocks)
    in_multiline = sum(last - first + 1 for first, last in blocks if last > first)
    if in_multiline < HARD_WRAP_MIN_MULTILINE_SHARE * nonblank:
        return False
    lengths = sorted(
        len(lines.lines[i].strip()) for first, last in blocks for i in range(first, last + 1)
    )
    # Nearest-rank 90th percentile.
    rank = max(1, -(-9 * len(lengths) // 10))
    return lengths[rank - 1] <= HARD_WRAP_MAX_P90_LINE_LENGTH


def _split_per_line(text: str, file: str) -> list[Paragraph]:
    lines = _Lines(text)
    builder = _Builder(file, lines)
    for i in range(len(lines.lines)):
        if not lines.is_blank(i):
            builder.add_lines(i, i)
    return builder.out


# --------------------------------------------------------------------------- txt


def split_txt(text: str, *, file: str) -> list[Paragraph]:
    """One paragraph per non-blank line; hard-wrapped files are split on blank lines instead."""
    lines = _Lines(text)
    blocks = _blocks(lines)
    builder = _Builder(file, lines)
    if _is_hard_wrapped(lines, blocks):
        for first, last in blocks:
            builder.add_lines(first, last)
    else:
        for first, last in blocks:
            for i in range(first, last + 1):
                builder.add_lines(i, i)
    return builder.out


# --------------------------------------------------------------------------- markdown

_MD_HEADING_RE = re.compile(r" {0,3}#{1,6}(?:[ \t]|\Z)")
_MD_LIST_ITEM_RE = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]")
_MD_FENCE_OPEN_RE = re.compile(r" {0,3}(?P<fence>`{3,}|~{3,})(?P<info>.*)\Z")


def _fence_close_re(fence: str) -> re.Pattern[str]:
    char = re.escape(fence[0])
    return re.compile(rf" {{0,3}}{char}{{{len(fence)},}}[ \t]*\Z")


def split_markdown(text: str, *, file: str) -> list[Paragraph]:
    """Blank-line blocks; headings and list items are own paragraphs; code fences kept whole."""
    lines = _Lines(text)
    builder = _Builder(file, lines)
    n = len(lines.lines)
    current: tuple[int, int] | None = None

    def flush() -> None:
        nonlocal current
        if current is not None:
            builder.add_lines(*current)
            current = None

    i = 0
    while i < n:
        line = lines.lines[i]
        if lines.is_blank(i):
            flush()
            i += 1
            continue
        fence = _MD_FENCE_OPEN_RE.match(line)
        if fence and not (fence["fence"][0] == "`" and "`" in fence["info"]):
            flush()
            closing = _fence_close_re(fence["fence"])
            j = i + 1
            while j < n and not closing.match(lines.lines[j]):
                j += 1
            last = min(j, n - 1)  # an unclosed fence runs to the end of the document
            builder.add_lines(i, last)
            i = last + 1
            continue
        if _MD_HEADING_RE.match(line):
            flush()
            builder.add_lines(i, i)
        elif _MD_LIST_ITEM_RE.match(line):
            flush()
            current = (i, i)
        elif current is None:
            current = (i, i)
        else:
            current = (current[0], i)
        i += 1
    flush()
    return builder.out


# --------------------------------------------------------------------------- html

_HTML_BLOCK_TAGS: frozenset[str] = frozenset(
    {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "td", "th", "pre"}
)
_HTML_BREAK_TAGS: frozenset[str] = frozenset(
    {
        "div", "section", "article", "tr", "br", "hr", "ul", "ol", "dl", "dt", "dd",
        "table", "thead", "tbody", "tfoot", "caption", "header", "footer", "main", "nav",
        "aside", "figure", "figcaption", "form", "address", "details", "summary", "body",
    }
)  # fmt: skip
_HTML_SKIP_TAGS: frozenset[str] = frozenset({"script", "style", "head", "template", "noscript"})
_WS_RUN_RE = re.compile(r"\s+")


class _TextExtractor(HTMLParser):
    """Collects the text of block elements, one block per entry."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._buffer: list[str] = []
        self._skip: list[str] = []

    def _flush(self) -> None:
        block = _WS_RUN_RE.sub(" ", "".join(self._buffer)).strip()
        self._buffer.clear()
        if block:
            self.blocks.append(block)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body" and "head" in self._skip:
            # <head> is often left unclosed; <body> ends it.
            del self._skip[self._skip.index("head") :]
        if tag in _HTML_SKIP_TAGS:
            self._skip.append(tag)
        elif tag in _HTML_BLOCK_TAGS or tag in _HTML_BREAK_TAGS:
            self._flush()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HTML_BLOCK_TAGS or tag in _HTML_BREAK_TAGS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _HTML_SKIP_TAGS:
            if tag in self._skip:
                idx = len(self._skip) - 1 - self._skip[::-1].index(tag)
                del self._skip[idx:]
        elif tag in _HTML_BLOCK_TAGS or tag in _HTML_BREAK_TAGS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._buffer.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def extract_html_text(html: str) -> str:
    """Text of the HTML's blocks, whitespace collapsed, one block per line (joined by ``\\n``)."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return "\n".join(parser.blocks)


# --------------------------------------------------------------------------- documents


def split_paragraphs(text: str, *, file: str, kind: str) -> list[Paragraph]:
    """Split by kind; for "html" ``text`` is the extracted text (one block per line)."""
    if kind == "txt":
        return split_txt(text, file=file)
    if kind == "md":
        return split_markdown(text, file=file)
    if kind == "html":
        return _split_per_line(text, file)
    raise DocumentError(f"unsupported document kind '{kind}'")


def _extract_binary(data: bytes, *, kind: str, limits: ExtractLimits) -> Extraction:
    """Run the PDF or DOCX extractor; every failure becomes a one-line DocumentError."""
    try:
        if kind == "pdf":
            from index.pdf_text import extract_pdf

            return extract_pdf(data, max_pages=limits.max_pages, time_limit_s=limits.time_limit_s)
        from index.docx_text import extract_docx

        return extract_docx(data, max_unpacked_bytes=limits.max_unpacked_bytes)
    except ExtractError as exc:
        raise DocumentError(str(exc)) from None
    except MemoryError:
        raise DocumentError("too large to extract in memory") from None
    except Exception as exc:  # noqa: BLE001 - a damaged file must never stop the corpus
        raise DocumentError(f"could not extract text ({exc.__class__.__name__}: {str(exc)[:160]})") from None


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
            ))
        offset += len(body) + 1
    return text, paragraphs


def parse_document(data: bytes, *, file: str, kind: str | None = None,
                   limits: ExtractLimits | None = None) -> ParsedDocument:
    """Decode (or, for pdf/docx, extract text from) ``data`` and split it into numbered paragraphs.

    Args:
        data: the file's bytes.
        file: its name relative to the corpus root (decides the kind when ``kind`` is None).
        kind: "txt", "md", "html", "pdf" or "docx".
        limits: page, time and unpacked-size limits of the pdf/docx extractors (defaults if None).
    """
    if kind is None:
        kind = kind_for(file)
    elif kind not in _KINDS:
        raise DocumentError(f"unsupported document kind '{kind}'")
    warnings: tuple[str, ...] = ()
    if kind in ("pdf", "docx"):
        extraction = _extract_binary(data, kind=kind, limits=limits or ExtractLimits())
        text, para_list = paragraphs_from_extraction(extraction, file=file)
        paragraphs = tuple(para_list)
        warnings = extraction.warnings
        stated = own_title("", kind=kind, stated=extraction.title)
    else:
        text = decode_text(data)
        stated = own_title(text, kind=kind)
        if kind == "html":
            text = extract_html_text(text)
        paragraphs = tuple(split_paragraphs(text, file=file, kind=kind))
    title = stated or next((p.text[:TITLE_MAX_CHARS] for p in paragraphs if not p.boilerplate), "")
    return ParsedDocument(
        file=file,
        kind=kind,
        text=text,
        sha256=hashlib.sha256(data).hexdigest(),
        paragraphs=paragraphs,
        title=title,
        warnings=warnings,
        own_title=stated,
    )


def _relative_file(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` as POSIX; DocumentError if it is (or resolves) outside."""
    abs_root = Path(os.path.abspath(root))
    abs_path = Path(os.path.abspath(path))
    try:
        rel = abs_path.relative_to(abs_root)
    except ValueError:
        raise DocumentError(f"path is outside the corpus root: {path}") from None
    if not rel.parts:
        raise DocumentError(f"path is the corpus root itself, not a file: {path}")
    try:
        abs_path.resolve().relative_to(abs_root.resolve())
    except ValueError:
        raise DocumentError(f"path resolves outside the corpus root (symlink?): {path}") from None
    return rel.as_posix()


def load_document(path: Path, *, root: Path, max_bytes: int = MAX_FILE_BYTES,
                  limits: ExtractLimits | None = None) -> ParsedDocument:
    """Read ``path`` (under ``root``) once and parse it; DocumentError for unusable files.

    ``limits`` bound the pdf/docx extractors (see :func:`parse_document`)."""
    file = _relative_file(Path(path), Path(root))
    kind = kind_for(file)
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise DocumentError(f"not a regular file: {file}")
        if st.st_size > max_bytes:
            raise DocumentError(
                f"file too large: {st.st_size} bytes (limit {max_bytes} bytes): {file}"
            )
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise DocumentError(f"cannot read file {file}: {reason}") from None
    if len(data) > max_bytes:  # grew after stat
        raise DocumentError(
            f"file too large: more than {max_bytes} bytes (limit {max_bytes} bytes): {file}"
        )
    return parse_document(data, file=file, kind=kind, limits=limits)
