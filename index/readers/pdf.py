"""PDF (``.pdf``): the text layer, paragraph by paragraph in reading order, with pages
(:mod:`index.pdf_text`, pypdfium2); pages without a usable text layer (scans) are read by OCR
(:mod:`index.ocr`, Tesseract) under the ``SANAD_OCR*`` limits."""

from __future__ import annotations

from index.extracted import Extraction, ExtractLimits
from index.readers.base import ExtractingReader


class PdfReader(ExtractingReader):
    kind = "pdf"
    name = "PDF (text layer; scanned pages by OCR)"
    suffixes = (".pdf",)
    title_from = "the document information's `Title`"
    limits = ("max_file_bytes", "max_pages", "extract_time_limit_s", "ocr_max_pages", "ocr_page_time_limit_s")

    def extract(self, data: bytes, limits: ExtractLimits) -> Extraction:
        from index.pdf_text import extract_pdf

        return extract_pdf(data, max_pages=limits.max_pages, time_limit_s=limits.time_limit_s, ocr=limits)
