"""Word (.docx) to paragraphs with python-docx: body paragraphs, headings, list items, table cells.

Order is the document's: body paragraphs (a heading or list item is a paragraph of its own) and
tables (each cell's paragraphs, row by row) as they come. Right-to-left paragraphs (``w:bidi``)
are stored in logical order already and are taken as they are. Line breaks and tabs inside a
paragraph become spaces. Headers and footers are not read.

Before python-docx opens the file, the ZIP directory is checked: not a ZIP, no
``word/document.xml``, or members that would unpack to more than ``max_unpacked_bytes`` in all
(or at a ratio no real document has) are refused with a one-line message.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Iterable

from index.extracted import Block, Extraction, ExtractError

__all__ = ["extract_docx", "check_zip"]

#: a member packed tighter than this (and bigger than BOMB_MIN_BYTES) is a decompression bomb
BOMB_RATIO = 200
BOMB_MIN_BYTES = 10_000_000
_WS_RE = re.compile(r"\s+")


def check_zip(data: bytes, *, max_unpacked_bytes: int) -> None:
    """Refuse what is not a .docx ZIP, or would unpack too large (ExtractError)."""
    if not data.startswith(b"PK"):
        if b"%PDF-" in data[:1024]:
            raise ExtractError("not a Word document: the content is a PDF (a .pdf named .docx?)")
        raise ExtractError("not a Word document: a .docx is a ZIP archive and this is not one")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise ExtractError(f"not a valid Word document (damaged ZIP archive: {exc})") from None
    names = {info.filename for info in infos}
    if "word/document.xml" not in names:
        raise ExtractError("not a Word document: the ZIP archive has no word/document.xml")
    total = sum(info.file_size for info in infos)
    if total > max_unpacked_bytes:
        raise ExtractError(
            f"refused: would unpack to {total} bytes (limit {max_unpacked_bytes}, SANAD_MAX_UNPACKED_BYTES)")
    for info in infos:
        if info.file_size > BOMB_MIN_BYTES and info.file_size > BOMB_RATIO * max(info.compress_size, 1):
            raise ExtractError(
                f"refused: {info.filename} unpacks {info.file_size // max(info.compress_size, 1)}-fold "
                "(a decompression bomb?)")


def _text(paragraph) -> str:  # noqa: ANN001 - docx.text.paragraph.Paragraph
    return _WS_RE.sub(" ", paragraph.text).strip()


def extract_docx(data: bytes, *, max_unpacked_bytes: int) -> Extraction:
    """Paragraph blocks (unpaged) of a .docx.

    Args:
        data: the file's bytes.
        max_unpacked_bytes: refuse archives that would unpack to more than this.
    """
    check_zip(data, max_unpacked_bytes=max_unpacked_bytes)
    try:
        from docx import Document
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        document = Document(io.BytesIO(data))
        blocks: list[Block] = []

        def add(content: Iterable[Paragraph | Table]) -> None:
            """Paragraphs and tables in document order; table cells row by row."""
            for item in content:
                if isinstance(item, Paragraph):
                    if text := _text(item):
                        blocks.append(Block(text=text))
                    continue
                for row in item.rows:
                    seen: set[int] = set()
                    for cell in row.cells:
                        if id(cell._tc) in seen:  # a merged cell repeats across the columns it spans
                            continue
                        seen.add(id(cell._tc))
                        add(cell.iter_inner_content())

        add(document.iter_inner_content())
        title = document.core_properties.title or ""
    except ExtractError:
        raise
    except Exception as exc:  # noqa: BLE001 - python-docx/lxml raise many kinds on damaged files
        raise ExtractError(f"not a valid Word document ({exc.__class__.__name__}: {str(exc)[:120]})") from None
    return Extraction(blocks=tuple(blocks), title=title)
