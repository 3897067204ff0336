"""The request and response bodies of the HTTP API (the answer contract itself, ``Answer``
and ``Citation``, lives in ``qa.models``: the CLI and the evals share it)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from index.paragraphs import Paragraph
from index.readers import KINDS
from qa.text_rules import require_utf8
from settings import TOP_K_MAX, TOP_K_MIN

#: the model name ``/v1/models`` lists (any name is accepted by ``/v1/chat/completions``)
MODEL_NAME = "sanad"


class AskRequest(BaseModel):
    question: str = Field(..., min_length=1, description="the question, Arabic or English")
    top_k: int | None = Field(None, ge=TOP_K_MIN, le=TOP_K_MAX, description="how many paragraphs to consider")
    conversation_id: str | None = Field(
        None, max_length=128, description="continue a conversation this caller started (the id a previous "
        "answer returned); an unknown id starts a new conversation")
    stream: bool = False
    collection: str | None = Field(None, max_length=64, description=(
        "the collection to ask (default: the default collection)"))
    collections: list[str] | None = Field(None, max_length=20, description=(
        "several collections to ask at once, ranked together (instead of `collection`)"))

    _utf8 = model_validator(mode="before")(require_utf8)  # 422 for text that is not UTF-8

    @model_validator(mode="after")
    def _one_way_to_name_collections(self) -> "AskRequest":
        if self.collection is not None and self.collections is not None:
            raise ValueError("give `collection` or `collections`, not both")
        return self


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(str(p.get("text", "")) for p in self.content if p.get("type") in ("text", "input_text"))


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = MODEL_NAME
    messages: list[ChatMessage] = Field(..., min_length=1)
    stream: bool = False
    top_k: int | None = Field(None, ge=TOP_K_MIN, le=TOP_K_MAX, description="Sanad extension: paragraphs to consider")

    _utf8 = model_validator(mode="before")(require_utf8)  # 422 for text that is not UTF-8, anywhere


class DocumentInfo(BaseModel):
    file: str = Field(..., description="path relative to its corpus root (or to the uploads folder)")
    paragraphs: int = Field(..., description="number of paragraphs")
    sha256: str
    kind: str = Field(..., description=" | ".join(KINDS))
    title: str
    size: int = Field(..., description="bytes of the source file")
    indexed_at: float = Field(..., description="Unix time it was (re)indexed")
    uploaded: bool = Field(..., description="true for documents added through the API")


class UploadStatus(BaseModel):
    """An upload read by OCR in the background (``POST /v1/documents`` answered 202)."""

    job: str = Field(..., description="the upload's id")
    file: str
    state: Literal["queued", "reading", "indexed", "failed"] = Field(..., description=(
        "queued, reading (OCR, then embedding), indexed (searchable, listed), or failed (see error)"))
    size: int = Field(..., description="bytes uploaded")
    created_at: float = Field(..., description="Unix time it was accepted")
    updated_at: float = Field(..., description="Unix time its state last changed")
    pages_read: int = Field(0, description="pages OCR has gone through so far")
    paragraphs: int | None = Field(None, description="paragraphs indexed, once indexed")
    warnings: list[str] = Field(default_factory=list, description="what OCR reported (pages read, confidence, limits)")
    error: str | None = Field(None, description="why it failed (or, while queued, why the last try waited)")
    status_url: str = Field(..., description="where to ask again: GET /v1/documents/{file}/upload")


class DocumentList(BaseModel):
    documents: list[DocumentInfo]
    count: int


class ParagraphOut(Paragraph):
    """A paragraph as the indexer records it, field for field."""

    __pydantic_config__ = ConfigDict(json_schema_serialization_defaults_required=True)  # every field is sent


class DocumentText(BaseModel):
    file: str
    text: str = Field(..., description="the stored text every char_start/char_end offset indexes into")


class UploadJson(BaseModel):
    file: str = Field(..., description="the document's name, e.g. notes/report.txt")
    text: str = Field(..., description="its full text (UTF-8)")

    _utf8 = model_validator(mode="before")(require_utf8)


class FeedbackRequest(BaseModel):
    answer_id: str = Field(..., min_length=1, max_length=128, description="the `answer_id` an answer returned")
    value: Literal["helpful", "not_helpful"]
    comment: str = Field("", max_length=2000, description="what was wrong (or right), optional")

    _utf8 = model_validator(mode="before")(require_utf8)


class FeedbackOut(BaseModel):
    answer_id: str
    value: Literal["helpful", "not_helpful"]
    recorded: bool = Field(True, description="the vote is stored with the answer")


class ConversationDeleted(BaseModel):
    conversation_id: str
    deleted_answers: int = Field(..., description="answers removed from the answer log (with their feedback)")


class CollectionIn(BaseModel):
    name: str = Field(..., min_length=1, max_length=64, description="lowercase letters, digits and inner hyphens")


class CollectionOut(BaseModel):
    name: str
    default: bool = Field(..., description="true for the default collection (`/v1/documents`)")
    created_at: float | None = None


class CollectionList(BaseModel):
    collections: list[CollectionOut]
    count: int
