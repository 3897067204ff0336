"""What the binary-format extractors (PDF, DOCX, images) hand to index.paragraphs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from settings import StoreSettings
from settings.errors import SanadError

__all__ = ["Block", "Extraction", "ExtractError", "ExtractLimits"]

#: the limits' defaults are the settings' (written once, in settings/parts.py)
_DEFAULTS = StoreSettings.model_fields


class ExtractError(SanadError, ValueError):
    """A file the extractor cannot read; str(exc) is a clear one-line message for users."""

    code = "invalid_document"


@dataclass(frozen=True, slots=True)
class Block:
    """One paragraph of extracted text (one line, no ``\\n``, no surrounding spaces)."""

    text: str
    page_start: int | None = None  # 1-based; None for unpaged formats
    page_end: int | None = None
    boilerplate: bool = False  # a running header, footer or page number
    ocr: bool = False  # read from the page's image by OCR
    ocr_confidence: float | None = None  # OCR's mean word confidence (0 to 1); None unless ocr


@dataclass(frozen=True, slots=True)
class Extraction:
    blocks: tuple[Block, ...]
    warnings: tuple[str, ...] = ()
    title: str = ""  # the file's metadata title (PDF document information, DOCX core properties), as stored


@dataclass(frozen=True, slots=True)
class ExtractLimits:
    """Bounds on one file's extraction (:meth:`from_settings`: the ``SANAD_`` variables)."""

    max_pages: int = _DEFAULTS["max_pages"].default  # a PDF with more pages is refused
    time_limit_s: float = _DEFAULTS["extract_time_limit_s"].default  # per file (text layer), checked between pages
    max_unpacked_bytes: int = _DEFAULTS["max_unpacked_bytes"].default  # a .docx unpacking to more is refused
    ocr: bool = _DEFAULTS["ocr"].default  # read pages without text and image files with Tesseract
    ocr_languages: str = _DEFAULTS["ocr_languages"].default
    ocr_dpi: int = _DEFAULTS["ocr_dpi"].default
    ocr_page_time_limit_s: float = _DEFAULTS["ocr_page_time_limit_s"].default
    ocr_max_pages: int = _DEFAULTS["ocr_max_pages"].default
    ocr_min_confidence: float = _DEFAULTS["ocr_min_confidence"].default
    #: called with the count of pages OCR has gone through so far, after each (a job's progress)
    ocr_progress: Callable[[int], None] | None = field(default=None, compare=False)

    @classmethod
    def from_settings(cls, settings: StoreSettings) -> "ExtractLimits":
        """The limits ``settings`` set (``SANAD_MAX_PAGES``, ``_EXTRACT_TIME_LIMIT_S``,
        ``_MAX_UNPACKED_BYTES`` and the ``SANAD_OCR*`` variables)."""
        return cls(max_pages=settings.max_pages, time_limit_s=settings.extract_time_limit_s,
                   max_unpacked_bytes=settings.max_unpacked_bytes, ocr=settings.ocr,
                   ocr_languages=settings.ocr_languages, ocr_dpi=settings.ocr_dpi,
                   ocr_page_time_limit_s=settings.ocr_page_time_limit_s, ocr_max_pages=settings.ocr_max_pages,
                   ocr_min_confidence=settings.ocr_min_confidence)
