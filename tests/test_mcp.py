"""The MCP face end to end, with the official SDK's client: streamable HTTP at ``/mcp`` of a
real ``sanad serve`` app (uvicorn on 127.0.0.1, API keys on) and ``sanad mcp`` over stdio (a
subprocess), in Arabic and English. Citations are checked verbatim against the document text,
``ask`` against ``/v1/ask``, and bad input must come back as MCP errors.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from api.mcp.tools import DOCUMENT_URI_PREFIX, document_uri
from index.embedding import HashEmbedding
from index.indexer import Indexer
from tests.api_fixtures import ROOT, LiveServer, make_settings, serve_env

pytestmark = pytest.mark.integration

KEY = "mcp-test-key"
DOCS = {
    "nile.txt": "The Nile\n\nThe river Nile flows north through Egypt.\nIt reaches the sea at the delta.\n\n"
                "Cairo is the capital of Egypt. It is a very large city.\n\nThe pyramids stand near Giza.\n",
    "عواصم/مصر.txt": "مصر\n\nالقاهرة هي عاصمة مصر وأكبر مدنها.\n\nيجري نهر النيل نحو الشمال حتى البحر.\n\n"
                     "تقع الأهرامات قرب الجيزة.\n",
}
QUESTIONS = {"en": "What is the capital of Egypt?", "ar": "ما هي عاصمة مصر؟"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(corpus folder, data dir): DOCS indexed with the hashing embedder."""
    root = tmp_path_factory.mktemp("mcp")
    corpus = root / "corpus"
    for name, text in DOCS.items():
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        (corpus / name).write_text(text, encoding="utf-8")
    settings = make_settings(root / "data", embed_model="hash")
    indexer = Indexer(settings, embedder=HashEmbedding())
    indexer.index([corpus], progress=None)
    indexer.close()
    return corpus, root / "data"


@pytest.fixture(scope="module")
def server(corpus: tuple[Path, Path]) -> Iterator[LiveServer]:
    settings = make_settings(corpus[1], embed_model="hash", api_keys=[KEY], cors_origins=["https://app.example"])
    live = LiveServer(settings).start()
    yield live
    live.stop()


def http_client(url: str, key: str | None = KEY, **headers: str) -> Client:
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return Client(streamable_http_client(url + "/mcp", http_client=httpx2.AsyncClient(headers=headers, timeout=60)))


def stdio_client(data_dir: Path) -> Client:
    env = serve_env(data_dir)
    env["PYTHONPATH"] = str(ROOT)
    return Client(StdioServerParameters(command=sys.executable, args=["-m", "cli", "mcp"], env=env, cwd=str(ROOT)),
                  read_timeout_seconds=120)


def run(fn: Any) -> Any:
    return anyio.run(fn)


def check_verbatim(citations: list[dict[str, Any]], corpus: Path) -> None:
    assert citations
    for c in citations:
        text = (corpus / c["file"]).read_text(encoding="utf-8")
        assert text[c["char_start"]:c["char_end"]] == c["quote"], c
        assert text.count("\n", 0, c["char_start"]) + 1 == c["line_start"], c


def same_answer(mcp: dict[str, Any], http: dict[str, Any]) -> None:
    for field in ("answer", "language", "answerable", "citations", "answerer", "warnings"):
        assert mcp[field] == http[field], field


# --- streamable HTTP -------------------------------------------------------------------------
@pytest.mark.parametrize("language", ["en", "ar"])
def test_http_ask_is_v1_ask_with_verbatim_citations(server: LiveServer, corpus: tuple[Path, Path],
                                                    language: str) -> None:
    question = QUESTIONS[language]

    async def main() -> dict[str, Any]:
        async with http_client(server.url) as client:
            result = await client.call_tool("ask", {"question": question})
            assert not result.is_error, result.content
            text = result.content[0].text
            assert result.structured_content is not None
            for c in result.structured_content["citations"]:
                assert c["quote"] in text and document_uri(c["file"]) in text  # the text rendering
            return result.structured_content

    answer = run(main)
    assert answer["language"] == language and answer["answerable"]
    check_verbatim(answer["citations"], corpus[0])
    http = httpx.post(server.url + "/v1/ask", json={"question": question},
                      headers={"Authorization": f"Bearer {KEY}"}, timeout=60).json()
    same_answer(answer, http)


def test_http_search_passage_documents_and_resources(server: LiveServer, corpus: tuple[Path, Path]) -> None:
    async def main() -> None:
        async with http_client(server.url) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) == {"ask", "search", "get_passage", "list_documents"}
            assert "search" in tools["ask"].description and "verbatim" in tools["ask"].description
            assert tools["ask"].output_schema is not None

            found = await client.call_tool("search", {"query": "عاصمة مصر", "top_k": 3})
            hits = found.structured_content["hits"]
            assert 0 < len(hits) <= 3 and [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
            assert hits[0]["file"] == "عواصم/مصر.txt"
            assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
            for h in hits:
                text = (corpus[0] / h["file"]).read_text(encoding="utf-8")
                assert text[h["char_start"]:h["char_end"]] == h["text"]
            assert "answer" not in found.structured_content

            passage = (await client.call_tool("get_passage", {"file": "nile.txt", "paragraph": 4})).structured_content
            assert [p["paragraph"] for p in passage["paragraphs"]] == [3, 4, 5]
            assert passage["paragraphs"][1]["text"] == "Cairo is the capital of Egypt. It is a very large city."
            edge = (await client.call_tool("get_passage", {"file": "nile.txt", "paragraph": 1, "neighbours": 0}))
            assert [p["paragraph"] for p in edge.structured_content["paragraphs"]] == [1]

            listed = (await client.call_tool("list_documents", {})).structured_content
            assert listed["count"] == 2 and {d["file"] for d in listed["documents"]} == set(DOCS)

            resources = (await client.list_resources()).resources
            assert {str(r.uri) for r in resources} == {document_uri(f) for f in DOCS}
            for file in DOCS:
                read = await client.read_resource(document_uri(file))
                api = httpx.get(f"{server.url}/v1/documents/{file}/text", headers={"Authorization": f"Bearer {KEY}"})
                assert read.contents[0].text == api.json()["text"] == (corpus[0] / file).read_text(encoding="utf-8")

    run(main)


def test_http_bad_input_gives_mcp_errors(server: LiveServer) -> None:
    async def main() -> None:
        async with http_client(server.url) as client:
            async def error(tool: str, args: dict[str, Any]) -> str:
                result = await client.call_tool(tool, args)
                assert result.is_error, (tool, args)
                return result.content[0].text

            assert "Unknown tool" in await error("delete_everything", {})
            assert "question" in await error("ask", {"question": 42})
            assert "top_k" in await error("ask", {"question": "Egypt?", "top_k": 0})
            assert "question_too_long" in await error("ask", {"question": "x" * 5000})
            assert "not_found" in await error("ask", {"question": "Egypt?", "collection": "hr"})
            assert "not_found" in await error("get_passage", {"file": "missing.txt", "paragraph": 1})
            assert "not_found" in await error("get_passage", {"file": "nile.txt", "paragraph": 99})
            assert "invalid_file_name" in await error("get_passage", {"file": "../etc/passwd", "paragraph": 1})
            with pytest.raises(MCPError, match="not_found"):
                await client.read_resource(DOCUMENT_URI_PREFIX + "missing.txt")
            # still serving after all that
            assert not (await client.call_tool("list_documents", {})).is_error

    run(main)


def test_http_keys_and_origin(server: LiveServer) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream"}
    assert httpx.post(server.url + "/mcp", json=body, headers=headers).status_code == 401
    wrong = httpx.post(server.url + "/mcp", json=body, headers={**headers, "Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
    foreign = httpx.post(server.url + "/mcp", json=body, headers={**headers, "Authorization": f"Bearer {KEY}",
                                                                 "Origin": "https://evil.example"})
    assert foreign.status_code == 403

    async def wrong_key() -> None:
        async with http_client(server.url, key="nope") as client:
            await client.list_tools()

    with pytest.raises(BaseException):  # noqa: B017 - the SDK raises the 401 inside its task group
        run(wrong_key)

    async def allowed_origin() -> int:
        async with http_client(server.url, Origin="https://app.example") as client:
            return len((await client.list_tools()).tools)

    assert run(allowed_origin) == 4


def test_http_legacy_handshake_clients(server: LiveServer) -> None:
    """Clients of the 2025 protocol (initialize handshake) are served too, statelessly."""
    async def main() -> dict[str, Any]:
        url = server.url + "/mcp"
        transport = streamable_http_client(url, http_client=httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {KEY}"}, timeout=60))
        async with Client(transport, mode="legacy") as client:
            assert client.protocol_version.startswith("2025")
            return (await client.call_tool("ask", {"question": QUESTIONS["en"]})).structured_content

    answer = run(main)
    assert answer["answerable"] and answer["citations"]


# --- stdio -----------------------------------------------------------------------------------
def test_stdio_end_to_end(corpus: tuple[Path, Path]) -> None:
    async def main() -> None:
        async with stdio_client(corpus[1]) as client:
            for language, question in QUESTIONS.items():
                result = await client.call_tool("ask", {"question": question})
                assert not result.is_error, result.content
                answer = result.structured_content
                assert answer["language"] == language and answer["answerable"]
                check_verbatim(answer["citations"], corpus[0])
            resources = (await client.list_resources()).resources
            assert len(resources) == 2
            text = (await client.read_resource(document_uri("عواصم/مصر.txt"))).contents[0].text
            assert text == DOCS["عواصم/مصر.txt"]
            assert (await client.call_tool("ask", {"question": "x" * 5000})).is_error
            assert (await client.call_tool("nope", {})).is_error
            with pytest.raises(MCPError):
                await client.read_resource(DOCUMENT_URI_PREFIX + "missing.txt")
            hits = (await client.call_tool("search", {"query": "Giza pyramids"})).structured_content["hits"]
            assert hits and hits[0]["file"] == "nile.txt"

    run(main)


def test_http_hostile_bodies_never_get_a_5xx(server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {KEY}", "Accept": "application/json, text/event-stream",
               "Content-Type": "application/json", "MCP-Protocol-Version": "2026-07-28"}
    bodies = [b"{", b"[" * 5000, b"null", b"[]", b'"x"', "{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"\ud800\"}",
              b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "ask", "arguments": "x"}}',
              b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": 5}}',
              b'{"jsonrpc": "2.0", "id": 1, "method": "resources/read", "params": {"uri": "sanad://documents/%00"}}',
              b'{"jsonrpc": "2.0", "id": 1, "method": "nope/nope", "params": {}}',
              b'[{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}]']
    for body in bodies:
        content = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        r = httpx.post(server.url + "/mcp", content=content, headers=headers, timeout=30)
        assert r.status_code < 500, (body[:80], r.status_code, r.text[:300])
    assert httpx.get(server.url + "/readyz", timeout=10).status_code == 200


def test_http_scoped_keys_see_only_their_collections(tmp_path: Path) -> None:
    """A read key for collection `legal` asks and reads `legal` only; the default collection and
    a collection it may not see are `not_found`, as on /v1; a metrics key cannot use MCP at all."""
    from api.keys import keyring_for
    from index.collections import Collections

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "nile.txt").write_text(DOCS["nile.txt"], encoding="utf-8")
    legal_docs = tmp_path / "legal"
    legal_docs.mkdir()
    (legal_docs / "contracts.txt").write_text("Contracts\n\nHow long are contracts kept? Contracts are kept for "
                                              "seven years.\n\nSigned copies go to the archive.\n", encoding="utf-8")
    settings = make_settings(tmp_path / "data", embed_model="hash", api_keys=[KEY])
    for folder, store in ((corpus, settings), (legal_docs, Collections(settings).settings_for(
            Collections(settings).create("legal")))):
        indexer = Indexer(store, embedder=HashEmbedding())
        indexer.index([folder], progress=None)
        indexer.close()
    reader, _ = keyring_for(settings).create("read", ["legal"])
    metrics_key, _ = keyring_for(settings).create("metrics", ["*"])
    live = LiveServer(settings).start()
    try:
        async def main() -> None:
            async with http_client(live.url, key=reader) as client:
                answer = await client.call_tool("ask", {"question": "How long are contracts kept?",
                                                        "collection": "legal"})
                assert not answer.is_error, answer.content
                cited = answer.structured_content["citations"]
                assert cited and {c["collection"] for c in cited} == {"legal"}, answer.structured_content
                check_verbatim(cited, legal_docs)
                for args in ({"question": "What is the capital of Egypt?"},
                             {"question": "Egypt?", "collection": "default"}):
                    refused = await client.call_tool("ask", args)
                    assert refused.is_error and "not_found" in refused.content[0].text
                assert (await client.call_tool("list_documents", {})).is_error
                listed = await client.call_tool("list_documents", {"collection": "legal"})
                assert [d["file"] for d in listed.structured_content["documents"]] == ["contracts.txt"]
                resources = [str(r.uri) for r in (await client.list_resources()).resources]
                assert resources == ["sanad://collections/legal/documents/contracts.txt"]
                text = (await client.read_resource(resources[0])).contents[0].text
                assert text == (legal_docs / "contracts.txt").read_text(encoding="utf-8")
                with pytest.raises(MCPError, match="not_found"):
                    await client.read_resource(document_uri("nile.txt"))

        run(main)
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        r = httpx.post(live.url + "/mcp", json=body, headers={"Authorization": f"Bearer {metrics_key}",
                                                              "Accept": "application/json, text/event-stream"})
        assert r.status_code == 401
    finally:
        live.stop()
