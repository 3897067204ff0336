"""Word (``.docx``): body paragraphs, headings, list items and table cells in document order
(:mod:`index.docx_text`, python-docx)."""

from __future__ import annotations

from index.extracted import Extraction, ExtractLimits
from index.readers.base import ExtractingReader


class DocxReader(ExtractingReader):
    kind = "docx"
    name = "Word"
    suffixes = (".docx",)
    title_from = "the core properties' `title`"
    limits = ("max_file_bytes", "max_unpacked_bytes")

    def extract(self, data: bytes, limits: ExtractLimits) -> Extraction:
        from index.docx_text import extract_docx

        return extract_docx(data, max_unpacked_bytes=limits.max_unpacked_bytes)
