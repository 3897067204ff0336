"""The answer contract (``POST /v1/ask``, docs/http-api.md), shared by qa/ and api/."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, Field

Language = Literal["ar", "en"]


def paragraph_url(file: str, paragraph: int, *, page: int | None = None) -> str:
    """Where a citation resolves: ``GET /v1/documents/{file}/paragraphs/{n}`` (with
    ``#page=N`` for paged formats, the convention PDF viewers follow)."""
    url = f"/v1/documents/{quote(file, safe='')}/paragraphs/{paragraph}"
    return f"{url}#page={page}" if page is not None else url


class Citation(BaseModel):
    """One cited span: ``document_text[char_start:char_end] == quote``."""

    ref: int = Field(..., ge=1, description="the number used by the [n] marker in the answer")
    file: str = Field(..., description="path relative to the corpus root, POSIX separators")
    paragraph: int = Field(..., ge=1, description="1-based paragraph number in reading order")
    line_start: int = Field(..., ge=1, description="1-based line of the quote's first character")
    line_end: int = Field(..., ge=1, description="1-based line of the quote's last character")
    char_start: int = Field(..., ge=0, description="offset of the quote in the document text")
    char_end: int = Field(..., ge=0)
    quote: str = Field(..., description="verbatim text of the document at [char_start, char_end)")
    score: float = Field(..., description="cosine similarity of the question and the cited chunk")
    url: str = Field(..., description="the API path of the cited paragraph")
    page_start: int | None = Field(
        None, ge=1, description="1-based page where the cited paragraph starts (paged formats: .pdf, image files); null elsewhere")
    page_end: int | None = Field(None, ge=1, description="1-based page where it ends; null for unpaged formats")
    ocr: bool = Field(False, description=(
        "the cited paragraph was read by OCR from a scanned page or an image file: the quote is "
        "verbatim to the OCR text the document text holds, which may differ from the page"))
    ocr_confidence: float | None = Field(
        None, ge=0, le=1, description="OCR's mean word confidence for the cited paragraph, 0 to 1; null unless `ocr`")
    title: str = Field("", description=(
        "the cited document's title (the one it states, else the start of its first paragraph); "
        "shown beside `file`"))
    collection: str | None = Field(None, description=(
        "the collection of the cited document (`default` for the default collection; the API always "
        "sets it)"))

    def page_label(self) -> str:
        """``p. 3`` or ``pp. 3-4`` for paged formats, ``""`` elsewhere."""
        if self.page_start is None:
            return ""
        if self.page_end in (None, self.page_start):
            return f"p. {self.page_start}"
        return f"pp. {self.page_start}-{self.page_end}"


class Answer(BaseModel):
    """What ``POST /v1/ask`` returns and ``sanad ask --json`` prints."""

    answer: str
    language: Language
    answerable: bool
    citations: list[Citation] = Field(default_factory=list)
    conversation_id: str = ""
    answer_id: str = Field("", description="this answer's id in the answer log (for POST /v1/feedback); "
                           "empty where no id was given")
    answerer: str = "extractive"
    timings_ms: dict[str, float] = Field(default_factory=dict)
    unsupported_claims: list[str] = Field(
        default_factory=list,
        description="LLM answers: sentences whose [n] marker was removed (not supported by the cited "
        "paragraph, or naming no evidence) or that cite nothing")
    warnings: list[str] = Field(
        default_factory=list, description="what went wrong on the way, e.g. the LLM fell back to extractive")
