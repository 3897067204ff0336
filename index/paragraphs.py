"""Documents and their numbered paragraphs: a file in, a :class:`ParsedDocument` out.

:func:`load_document` reads a file under its corpus root and :func:`parse_document` parses
bytes; the file's reader (:mod:`index.readers`, by suffix) makes the text and paragraphs, and
the data model lives in :mod:`index.document_model`. A document's text is its file decoded as
UTF-8 (BOM dropped, ``\\r\\n``/``\\r`` turned into ``\\n``), or for HTML, PDF and DOCX the
extracted text, one block per line. Every :class:`Paragraph` records offsets into that text
such that ``text[char_start:char_end] == paragraph.text`` always holds.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from index.document_model import (
    BOILERPLATE_LINES,
    DocumentError,
    Paragraph,
    ParsedDocument,
    decode_text,
    is_boilerplate,
    paragraphs_from_extraction,
)
from index.extracted import ExtractLimits
from index.readers import SUPPORTED_SUFFIXES, reader_for, reader_of_kind
from index.readers.base import TextReader
from index.readers.html import extract_html_text
from index.readers.markdown import split_markdown
from index.readers.txt import split_txt
from index.titles import reads_as_title
from settings import MAX_FILE_BYTES

__all__ = [
    "BOILERPLATE_LINES",
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

TITLE_MAX_CHARS = 200


def kind_for(file: str) -> str:
    """The stored kind of ``file`` by suffix ("txt", "md", ...); DocumentError if unsupported."""
    return reader_for(file).kind


def split_paragraphs(text: str, *, file: str, kind: str) -> list[Paragraph]:
    """Split the stored ``text`` of a text format (for "html" the extracted text) by kind."""
    reader = reader_of_kind(kind)
    if not isinstance(reader, TextReader):
        raise DocumentError(f"unsupported document kind '{kind}'")
    return reader.split(text, file=file)


def parse_document(data: bytes, *, file: str, kind: str | None = None,
                   limits: ExtractLimits | None = None) -> ParsedDocument:
    """Decode (or, for binary formats, extract text from) ``data`` and split it into numbered paragraphs.

    Args:
        data: the file's bytes.
        file: its name relative to the corpus root (decides the kind when ``kind`` is None).
        kind: one of :data:`index.readers.KINDS` ("txt", "md", "html", "pdf", "docx").
        limits: page, time and unpacked-size limits of the extractors (defaults if None).
    """
    reader = reader_for(file) if kind is None else reader_of_kind(kind)
    reading = reader.read(data, file=file, limits=limits or ExtractLimits())
    stated = reading.title if reads_as_title(reading.title) else ""
    title = stated or next((p.text[:TITLE_MAX_CHARS] for p in reading.paragraphs if not p.boilerplate), "")
    return ParsedDocument(
        file=file,
        kind=reader.kind,
        text=reading.text,
        sha256=hashlib.sha256(data).hexdigest(),
        paragraphs=reading.paragraphs,
        title=title,
        warnings=reading.warnings,
        own_title=stated,
    )


def needs_ocr(data: bytes, *, file: str, limits: ExtractLimits) -> bool:
    """Whether reading ``file`` runs OCR (minutes for a long scan): an image file, or a PDF with
    a page without a usable text layer, while OCR is on (``limits.ocr``). Cheap: no text is
    extracted, no page rendered (an image's header is read). False for a file no reader takes, or
    an image file that is no image (parsing says why)."""
    if not limits.ocr:
        return False
    try:
        kind = reader_for(file).kind
    except DocumentError:
        return False
    if kind == "image":  # one that is no image is refused at once, by its reader
        import io

        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(data)):
                return True
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            return False
    if kind == "pdf":
        from index.pdf_text import looks_like_pdf, pages_for_ocr

        return looks_like_pdf(data) and pages_for_ocr(data, max_pages=limits.max_pages) > 0
    return False


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

    ``limits`` bound the extractors of binary formats (see :func:`parse_document`)."""
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
