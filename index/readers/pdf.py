"""PDF (``.pdf``): the text layer, paragraph by paragraph in reading order, with pages
(:mod:`index.pdf_text`, pypdfium2). Scanned pages without a text layer are reported."""

from __future__ import annotations

from index.extracted import Extraction, ExtractLimits
from index.readers.base import ExtractingReader


class PdfReader(ExtractingReader):
    kind = "pdf"
    name = "PDF (text layer)"
    suffixes = (".pdf",)
    title_from = "the document information's `Title`"
    limits = ("max_file_bytes", "max_pages", "extract_time_limit_s")

    def extract(self, data: bytes, limits: ExtractLimits) -> Extraction:
        from index.pdf_text import extract_pdf

        return extract_pdf(data, max_pages=limits.max_pages, time_limit_s=limits.time_limit_s)
