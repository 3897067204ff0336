"""What the MCP tools and resources do, on the services every other face uses.

``ask`` goes through the collection hub's :class:`~api.service.asking.AskService` (the ask
flow of ``/v1/ask``: the same question check, collections, answer and citations; each MCP
question stands alone, like ``sanad ask``), the document reads through the collection's
:class:`~api.service.service.Service`, and ``search`` through its answerer's retriever (the
candidates an answer is composed from, without composing one). Every call carries the
caller's :class:`~api.keys.Grant`: a collection the key may not see is ``not_found``, as on
``/v1``. Everything here blocks (the model, SQLite): the MCP server calls it from a worker
thread. Failures are the services' domain errors (``SanadError``).
"""

from __future__ import annotations

from urllib.parse import quote

from pydantic import BaseModel, Field

from api.keys import Grant
from api.schemas import DocumentInfo, ParagraphOut
from api.service.collections import CollectionHub
from api.service.errors import NotFound
from api.service.service import Service
from index.collections import DEFAULT_COLLECTION
from qa.models import Answer, Citation, Language

#: a document's text as an MCP resource: ``sanad://documents/{file}`` in the default collection,
#: ``sanad://collections/{collection}/documents/{file}`` in another (``file`` URL-encoded, ``/`` kept)
DOCUMENT_URI_PREFIX = "sanad://documents/"
DOCUMENT_URI_TEMPLATE = DOCUMENT_URI_PREFIX + "{+file}"
COLLECTION_DOCUMENT_URI_TEMPLATE = "sanad://collections/{collection}/documents/{+file}"
#: how many paragraphs ``get_passage`` gives on each side at most
MAX_NEIGHBOURS = 5
#: how long a tool waits for the model and index to load (``sanad mcp`` starts loading when it starts)
READY_WAIT_S = 120.0


def document_uri(file: str, collection: str | None = None) -> str:
    if collection in (None, DEFAULT_COLLECTION):
        return DOCUMENT_URI_PREFIX + quote(file, safe="/")
    return f"sanad://collections/{quote(collection, safe='')}/documents/{quote(file, safe='/')}"


class AskResult(BaseModel):
    """The answer of ``ask``: the ``/v1/ask`` answer's fields that matter to a model."""

    answer: str = Field(..., description="the answer; each [n] marker refers to the citation whose ref is n")
    language: Language
    answerable: bool = Field(..., description="false when the documents do not answer the question")
    citations: list[Citation] = Field(default_factory=list, description=(
        "the cited spans: quote is the document's text at [char_start, char_end), verbatim"))
    answer_id: str = ""
    answerer: str = "extractive"
    warnings: list[str] = Field(default_factory=list)
    unsupported_claims: list[str] = Field(default_factory=list)
    collection: str = DEFAULT_COLLECTION


class SearchHit(BaseModel):
    """One paragraph of a retrieved chunk, ranked."""

    rank: int = Field(..., ge=1)
    score: float = Field(..., description="the retrieval score of the chunk the paragraph is in (higher is better)")
    file: str
    paragraph: int
    line_start: int
    line_end: int
    char_start: int
    char_end: int
    page_start: int | None = None
    page_end: int | None = None
    text: str = Field(..., description="the paragraph's text, verbatim")
    resource: str = Field(..., description="the document's text as an MCP resource")


class SearchResult(BaseModel):
    """The paragraphs of the ``top_k`` best chunks, best first (at most ``top_k`` paragraphs)."""

    query: str
    collection: str = DEFAULT_COLLECTION
    hits: list[SearchHit]


class PassageResult(BaseModel):
    file: str
    paragraph: int = Field(..., description="the paragraph asked for")
    paragraphs: list[ParagraphOut] = Field(..., description="it and its neighbours, in reading order")
    document_paragraphs: int = Field(..., description="how many paragraphs the document has")
    resource: str


class ListedDocument(DocumentInfo):
    resource: str = Field(..., description="the document's text as an MCP resource (resources/read)")


class DocumentsResult(BaseModel):
    collection: str = DEFAULT_COLLECTION
    count: int
    documents: list[ListedDocument]


class McpTools:
    """The tools' work on the collections of one app, for a caller's grant."""

    def __init__(self, hub: CollectionHub) -> None:
        self.hub = hub

    def wait_ready(self) -> None:
        """Wait (a while) for the model and index; the service's error if they are not there."""
        self.hub.default.wait_ready(READY_WAIT_S)
        self.hub.default.require_ready()

    def _service(self, grant: Grant, collection: str | None) -> tuple[str, Service]:
        name = collection or DEFAULT_COLLECTION
        return name, self.hub.require(grant, name, "read")  # 404 unseen, 403 a role that cannot read

    def ask(self, question: str, *, grant: Grant, owner: str, collection: str | None = None,
            top_k: int | None = None) -> AskResult:
        names = self.hub.question_collections(grant, collection, None)
        answer: Answer = self.hub.asking(names).start(question, owner=owner, earlier_questions=[],
                                                      top_k=top_k).answer()
        return AskResult(answer=answer.answer, language=answer.language, answerable=answer.answerable,
                         citations=answer.citations, answer_id=answer.answer_id, answerer=answer.answerer,
                         warnings=answer.warnings, unsupported_claims=answer.unsupported_claims, collection=names[0])

    def search(self, query: str, *, grant: Grant, collection: str | None = None, top_k: int | None = None) -> SearchResult:
        name, service = self._service(grant, collection)
        answerer = service.require_answerer()
        text = answerer.validate(query)  # QuestionError, as for ask
        limit = top_k or service.settings.top_k
        nodes = answerer.retrieve(text, top_k=limit)
        hits: list[SearchHit] = []
        seen: set[tuple[str, int]] = set()
        for node in nodes:
            file = str(node.node.metadata["file"])
            for number in node.node.metadata["paragraphs"]:
                if (file, number) in seen or len(hits) >= limit:
                    continue
                seen.add((file, number))
                try:
                    para = service.paragraph(file, int(number))
                except NotFound:  # removed since it was retrieved
                    continue
                hits.append(SearchHit(rank=len(hits) + 1, score=round(float(node.score or 0.0), 4), file=file,
                                      paragraph=para.paragraph, line_start=para.line_start, line_end=para.line_end,
                                      char_start=para.char_start, char_end=para.char_end, page_start=para.page_start,
                                      page_end=para.page_end, text=para.text, resource=document_uri(file, name)))
        return SearchResult(query=text, collection=name, hits=hits)

    def passage(self, file: str, paragraph: int, *, grant: Grant, neighbours: int = 1,
                collection: str | None = None) -> PassageResult:
        name, service = self._service(grant, collection)
        info = service.document(file)  # NotFound / FileNameError
        if not 1 <= paragraph <= info.paragraphs:
            raise NotFound(f"{file} has paragraphs 1 to {info.paragraphs}, not {paragraph}")
        first, last = max(1, paragraph - neighbours), min(info.paragraphs, paragraph + neighbours)
        paragraphs = [service.paragraph(file, n) for n in range(first, last + 1)]
        return PassageResult(file=file, paragraph=paragraph, paragraphs=paragraphs,
                             document_paragraphs=info.paragraphs, resource=document_uri(file, name))

    def documents(self, *, grant: Grant, collection: str | None = None) -> DocumentsResult:
        name, service = self._service(grant, collection)
        docs = [ListedDocument(**d.model_dump(), resource=document_uri(d.file, name))
                for d in service.list_documents()]
        return DocumentsResult(collection=name, count=len(docs), documents=docs)

    def visible(self, grant: Grant) -> list[str]:
        """The collections the caller may read (``resources/list`` lists their documents)."""
        return self.hub.visible(grant) if grant.can("read") else []

    def text(self, file: str, *, grant: Grant, collection: str | None = None) -> str:
        """The document's stored text: ``GET /v1/documents/{file}/text``'s."""
        return self._service(grant, collection)[1].document_text(file).text


# --- the text each tool result carries beside its structured content ------------------------
def _where(file: str, paragraph: int, line_start: int, line_end: int, page_start: int | None,
           page_end: int | None) -> str:
    lines = f"line {line_start}" if line_start == line_end else f"lines {line_start}-{line_end}"
    page = ""
    if page_start is not None:
        page = f", p. {page_start}" if page_end in (None, page_start) else f", pp. {page_start}-{page_end}"
    return f"{file} ¶{paragraph} ({lines}{page})"


def render_ask(result: AskResult) -> str:
    out = [result.answer]
    if result.citations:
        out.append("")
        out.append("Citations (quotes are verbatim from the documents; do not alter them):")
    for c in result.citations:
        out.append(f"[{c.ref}] {_where(c.file, c.paragraph, c.line_start, c.line_end, c.page_start, c.page_end)}"
                   f" chars {c.char_start}-{c.char_end} <{document_uri(c.file, c.collection)}>")
        out.append(f"    \"{c.quote}\"")
    out += [f"warning: {w}" for w in result.warnings]
    return "\n".join(out)


def render_search(result: SearchResult) -> str:
    if not result.hits:
        return f"No paragraphs found for: {result.query}"
    out = []
    for h in result.hits:
        out.append(f"{h.rank}. {_where(h.file, h.paragraph, h.line_start, h.line_end, h.page_start, h.page_end)}"
                   f" score {h.score:.3f}")
        out.append(f"    {h.text}")
    return "\n".join(out)


def render_passage(result: PassageResult) -> str:
    out = [f"{result.file} (paragraphs {result.paragraphs[0].paragraph}-{result.paragraphs[-1].paragraph} "
           f"of {result.document_paragraphs}) <{result.resource}>"]
    for p in result.paragraphs:
        mark = " <- asked" if p.paragraph == result.paragraph else ""
        out.append(f"¶{p.paragraph} (lines {p.line_start}-{p.line_end}){mark}:")
        out.append(p.text)
    return "\n".join(out)


def render_documents(result: DocumentsResult) -> str:
    if not result.documents:
        return "No documents are indexed."
    out = [f"{result.count} documents:"]
    out += [f"- {d.file}: {d.title} ({d.paragraphs} paragraphs, {d.kind}) <{d.resource}>" for d in result.documents]
    return "\n".join(out)
