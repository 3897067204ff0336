"""The document formats Sanad reads: one reader per format (:mod:`index.readers.base`), and
:data:`READERS`, the only list of them. The indexer, the API's uploads and schema, the web
page's file picker and the docs' format table all read it.

A new format is one new module here with a :class:`~index.readers.base.Reader` subclass, and
its entry in :data:`READERS`.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from index.document_model import DocumentError
from index.readers.base import Reader
from index.readers.docx import DocxReader
from index.readers.html import HtmlReader
from index.readers.image import ImageReader
from index.readers.markdown import MarkdownReader
from index.readers.pdf import PdfReader
from index.readers.txt import TxtReader

__all__ = ["BINARY_SUFFIXES", "KINDS", "READERS", "SUPPORTED_SUFFIXES", "Reader", "reader_for", "reader_of_kind"]

#: every reader, in the order formats are listed
READERS: tuple[Reader, ...] = (
    TxtReader(),
    MarkdownReader(),
    HtmlReader(),
    PdfReader(),
    DocxReader(),
    ImageReader(),
)

_BY_SUFFIX: dict[str, Reader] = {suffix: reader for reader in READERS for suffix in reader.suffixes}
_BY_KIND: dict[str, Reader] = {reader.kind: reader for reader in READERS}

#: the file suffixes read (lower case, with the dot)
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(_BY_SUFFIX)
#: the suffixes of binary formats: uploaded as files (multipart), never as JSON text
BINARY_SUFFIXES: tuple[str, ...] = tuple(s for s, reader in _BY_SUFFIX.items() if reader.binary)
#: the stored kinds (``DocumentInfo.kind``)
KINDS: tuple[str, ...] = tuple(_BY_KIND)


def reader_for(file: str) -> Reader:
    """The reader of ``file`` by its suffix (any case); DocumentError when none reads it."""
    suffix = PurePosixPath(file.replace("\\", "/")).suffix.lower()
    reader = _BY_SUFFIX.get(suffix)
    if reader is None:
        shown = f"'{suffix}'" if suffix else "(none)"
        raise DocumentError(f"unsupported file type {shown}; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    return reader


def reader_of_kind(kind: str) -> Reader:
    """The reader whose documents are stored as ``kind``; DocumentError for an unknown kind."""
    reader = _BY_KIND.get(kind)
    if reader is None:
        raise DocumentError(f"unsupported document kind '{kind}'")
    return reader
