"""What the binary-format extractors (PDF, DOCX) hand to index.paragraphs."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Block", "Extraction", "ExtractError", "ExtractLimits",
           "DEFAULT_MAX_PAGES", "DEFAULT_EXTRACT_TIME_LIMIT_S", "DEFAULT_MAX_UNPACKED_BYTES"]

#: defaults of the Settings fields max_pages, extract_time_limit_s and max_unpacked_bytes
DEFAULT_MAX_PAGES = 2000
DEFAULT_EXTRACT_TIME_LIMIT_S = 120.0
DEFAULT_MAX_UNPACKED_BYTES = 200_000_000


class ExtractError(ValueError):
    """A file the extractor cannot read; str(exc) is a clear one-line message for users."""


@dataclass(frozen=True, slots=True)
class Block:
    """One paragraph of extracted text (one line, no ``\\n``, no surrounding spaces)."""

    text: str
    page_start: int | None = None  # 1-based; None for unpaged formats
    page_end: int | None = None
    boilerplate: bool = False  # a running header, footer or page number


@dataclass(frozen=True, slots=True)
class Extraction:
    blocks: tuple[Block, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ExtractLimits:
    """Bounds on one file's extraction (Settings.extract_limits builds it from SANAD_ variables)."""

    max_pages: int = DEFAULT_MAX_PAGES  # a PDF with more pages is refused
    time_limit_s: float = DEFAULT_EXTRACT_TIME_LIMIT_S  # per file, checked between pages
    max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES  # a .docx unpacking to more is refused
