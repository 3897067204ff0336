"""What the binary-format extractors (PDF, DOCX) hand to index.paragraphs."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Block", "Extraction", "ExtractError"]


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
