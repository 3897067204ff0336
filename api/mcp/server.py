"""The MCP server: Sanad's tools and its documents as resources (the official SDK's ``MCPServer``).

Tools: ``ask`` (a cited answer), ``search`` (ranked paragraphs, no answer), ``get_passage``
(a paragraph and its neighbours) and ``list_documents``. Each result is structured content
(with its output schema) and a text rendering of it. Resources: every document's stored text
at ``sanad://documents/{file}`` (listed by ``resources/list``; the text ``GET
/v1/documents/{file}/text`` returns, which every citation's offsets index into).

Errors are MCP errors, never a crash: a tool's failure (an unknown tool, arguments that do not
fit its schema, a question too long, a missing document, an unknown collection, a service
still loading) is a result with ``isError`` and a one-line message ``<code>: <message>``; a
document resource that does not exist is a ``-32602`` error.
"""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any, Callable, Mapping

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer, ResourceSecurity
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp_types import CallToolResult, ListResourcesResult, Resource, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from api.keys import Grant
from api.mcp.tools import (
    COLLECTION_DOCUMENT_URI_TEMPLATE,
    DOCUMENT_URI_TEMPLATE,
    MAX_NEIGHBOURS,
    AskResult,
    DocumentsResult,
    McpTools,
    PassageResult,
    SearchResult,
    document_uri,
    render_ask,
    render_documents,
    render_passage,
    render_search,
)
from api.service.errors import NotFound
from index.collections import DEFAULT_COLLECTION, CollectionNameError, CollectionNotFound
from api.service.file_names import FileNameError
from settings import TOP_K_MAX, TOP_K_MIN
from settings.errors import SanadError

log = logging.getLogger("sanad.mcp")

#: who the caller of a request is, from its (already checked) headers (None on stdio): its key's
#: grant (role, collections; ``owner``: what it starts belongs to)
GrantOf = Callable[[Mapping[str, str] | None], Grant]

INSTRUCTIONS = """Sanad answers questions from a fixed set of Arabic and English documents, with citations.
Use `ask` for a question you want answered: it returns an answer whose [n] markers point to citations,
each with the file, paragraph, lines, characters and a verbatim quote. Use `search` when you want to read
the evidence yourself or compare several passages. Quotes are verbatim text of the documents: repeat them
exactly as given, never translate, correct or paraphrase them inside quotation marks. To check or widen a
citation, call `get_passage` or read the document's resource (sanad://documents/{file})."""

ASK_DESCRIPTION = """Answer a question (Arabic or English) from the indexed documents, with citations.

Returns the answer, in the question's language, whose [n] markers refer to citations. Each citation
gives file, paragraph, line_start/line_end, char_start/char_end, page (for PDFs and scans) and `quote`:
the exact text of the document at those characters. Quotes are verbatim: when you show one, copy it
exactly; do not translate, normalise or fix it. When `answerable` is false the documents do not hold the
answer: say so rather than answering from memory.

Use `ask` when you want an answer to show the user. Use `search` instead when you need to read the
evidence yourself, compare several passages, or look for something that is not a question."""

SEARCH_DESCRIPTION = """Find the paragraphs of the indexed documents that best match a query, ranked, with scores.

Composes no answer: each hit is a whole paragraph (verbatim text, file, paragraph number, lines,
characters, page) with the retrieval score of the passage it is in. Use it to gather evidence, compare
sources or locate a topic; use `ask` when you want a composed, cited answer to a question. Texts are
verbatim document text: quote them exactly."""

PASSAGE_DESCRIPTION = """Read one paragraph of a document and the paragraphs around it (its context).

Give the `file` and `paragraph` number exactly as a citation or search hit gave them. Use it to check a
citation in context or read on past a hit. The texts are verbatim."""

LIST_DESCRIPTION = """List the indexed documents: file name, title, kind, number of paragraphs and the
resource URI of each document's full text. Use it to see what the documents cover before asking."""

TopK = Annotated[int | None, Field(ge=TOP_K_MIN, le=TOP_K_MAX, description=(
    f"how many passages to consider, {TOP_K_MIN} to {TOP_K_MAX} (default: the server's)"))]
Collection = Annotated[str | None, Field(description=(
    "the document collection to use (default: 'default'); `list_documents` of a collection shows what it holds"))]
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


def _result(model: BaseModel, text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)],
                          structured_content=model.model_dump(mode="json"))


async def _run(tools: McpTools, work: Callable[[], Any]) -> Any:
    """``work`` in a worker thread once the service is ready; a domain error becomes a tool error."""
    try:
        await anyio.to_thread.run_sync(tools.wait_ready)
        return await anyio.to_thread.run_sync(work)
    except SanadError as exc:
        raise ToolError(f"{exc.code}: {exc.message}") from None


def build_server(tools: McpTools, *, grant_of: GrantOf, version: str = "",
                 lifespan: Callable[[MCPServer], AbstractAsyncContextManager[Any]] | None = None) -> MCPServer:
    """The MCP server over ``tools``; ``grant_of`` is the caller's grant; ``lifespan``
    runs around the server's run (``sanad mcp`` starts loading the model there)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    mcp = MCPServer("sanad", title="Sanad", version=version, instructions=INSTRUCTIONS,
                    description="Cited answers over Arabic and English documents",
                    log_level="WARNING", middleware=[_DocumentList(tools, grant_of)], lifespan=lifespan)
    root.handlers[:], root.level = handlers, level  # the SDK configures the root logger: the server's own stays

    @mcp.tool(description=ASK_DESCRIPTION, annotations=READ_ONLY)
    async def ask(ctx: Context,
                  question: Annotated[str, Field(min_length=1, description="the question, Arabic or English")],
                  collection: Collection = None, top_k: TopK = None) -> Annotated[CallToolResult, AskResult]:
        grant = grant_of(ctx.headers)
        result = await _run(tools, lambda: tools.ask(question, grant=grant, owner=grant.owner, collection=collection,
                                                     top_k=top_k))
        return _result(result, render_ask(result))

    @mcp.tool(description=SEARCH_DESCRIPTION, annotations=READ_ONLY)
    async def search(ctx: Context,
                     query: Annotated[str, Field(min_length=1, description="what to look for, Arabic or English")],
                     collection: Collection = None, top_k: TopK = None) -> Annotated[CallToolResult, SearchResult]:
        grant = grant_of(ctx.headers)
        result = await _run(tools, lambda: tools.search(query, grant=grant, collection=collection, top_k=top_k))
        return _result(result, render_search(result))

    @mcp.tool(description=PASSAGE_DESCRIPTION, annotations=READ_ONLY)
    async def get_passage(
            ctx: Context,
            file: Annotated[str, Field(min_length=1, description="the document, as citations and hits name it")],
            paragraph: Annotated[int, Field(ge=1, description="the 1-based paragraph number")],
            neighbours: Annotated[int, Field(ge=0, le=MAX_NEIGHBOURS, description=(
                "paragraphs to include on each side"))] = 1,
            collection: Collection = None) -> Annotated[CallToolResult, PassageResult]:
        grant = grant_of(ctx.headers)
        result = await _run(tools, lambda: tools.passage(file, paragraph, grant=grant, neighbours=neighbours,
                                                         collection=collection))
        return _result(result, render_passage(result))

    @mcp.tool(description=LIST_DESCRIPTION, annotations=READ_ONLY)
    async def list_documents(ctx: Context, collection: Collection = None) -> Annotated[CallToolResult, DocumentsResult]:
        grant = grant_of(ctx.headers)
        result = await _run(tools, lambda: tools.documents(grant=grant, collection=collection))
        return _result(result, render_documents(result))

    async def read(ctx: Context, file: str, collection: str | None) -> str:
        grant = grant_of(ctx.headers)
        try:
            await anyio.to_thread.run_sync(tools.wait_ready)
            return await anyio.to_thread.run_sync(lambda: tools.text(file, grant=grant, collection=collection))
        except (NotFound, FileNameError, CollectionNotFound, CollectionNameError) as exc:
            raise ResourceNotFoundError(f"{exc.code}: {exc.message}") from None
        except SanadError as exc:  # not ready, failed to load, a role that cannot read: -32603 with the reason
            raise ResourceError(f"{exc.code}: {exc.message}") from None

    names = frozenset({"file"})  # the service checks document names itself

    @mcp.resource(DOCUMENT_URI_TEMPLATE, name="document", title="Document text", mime_type="text/plain",
                  description="A document's stored text; citation offsets (char_start, char_end) index into it.",
                  security=ResourceSecurity(exempt_params=names))
    async def document(file: str, ctx: Context) -> str:
        return await read(ctx, file, None)

    @mcp.resource(COLLECTION_DOCUMENT_URI_TEMPLATE, name="collection-document", title="Document text",
                  mime_type="text/plain", security=ResourceSecurity(exempt_params=names),
                  description="A document's stored text in a named collection; citation offsets index into it.")
    async def collection_document(collection: str, file: str, ctx: Context) -> str:
        return await read(ctx, file, collection)

    return mcp


class _DocumentList:
    """``resources/list``: every document of the collections the caller may read (the SDK's list
    holds only fixed resources; the documents change as they are indexed)."""

    def __init__(self, tools: McpTools, grant_of: GrantOf) -> None:
        self.tools = tools
        self.grant_of = grant_of

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "resources/list":
            return await call_next(ctx)
        grant = self.grant_of(getattr(ctx.request, "headers", None))

        def listing() -> list[Resource]:
            out = []
            for name in self.tools.visible(grant):
                for d in self.tools.documents(grant=grant, collection=name).documents:
                    label = d.file if name == DEFAULT_COLLECTION else f"{name}/{d.file}"
                    out.append(Resource(uri=document_uri(d.file, name), name=label, title=d.title or d.file,
                                        mime_type="text/plain", description=f"{d.kind}, {d.paragraphs} paragraphs"))
            return out

        try:
            await anyio.to_thread.run_sync(self.tools.wait_ready)
            return ListResourcesResult(resources=await anyio.to_thread.run_sync(listing))
        except SanadError as exc:
            log.info("resources/list failed: %s", exc)
            return ListResourcesResult(resources=[])


__all__ = ["INSTRUCTIONS", "GrantOf", "build_server"]
