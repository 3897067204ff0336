"""The web page's server side: `/` and its static files, their headers, and `/v1/documents/{file}/text`.

In-process (TestClient, hash embedder); the page in a real browser is tests/test_web_browser.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.http.web import STATIC_DIR, STATIC_TYPES
from tests.api_fixtures import make_settings


@pytest.fixture
def client(tmp_path: Path):  # noqa: ANN201
    app = create_app(make_settings(tmp_path / "data", embed_model="hash", api_keys=["k"]))
    with TestClient(app, raise_server_exceptions=False) as c:
        assert app.state.service.wait_ready(30), app.state.service.load_error
        yield c


AUTH = {"Authorization": "Bearer k"}


def csp_directives(value: str) -> dict[str, list[str]]:
    out = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def test_page_loads_without_a_key_with_a_strict_csp(client):
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    csp = csp_directives(r.headers["content-security-policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"] and csp["frame-ancestors"] == ["'none'"]
    assert "unsafe" not in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/static/app.js"></script>' in r.text
    # the upload picker accepts exactly the formats the indexer reads
    from index.paragraphs import SUPPORTED_SUFFIXES

    assert f'accept="{",".join(SUPPORTED_SUFFIXES)}"' in r.text and "{{" not in r.text
    assert ".pdf" in SUPPORTED_SUFFIXES and ".docx" in SUPPORTED_SUFFIXES
    # the API itself still needs the key
    assert client.get("/v1/documents").status_code == 401
    assert client.get("/v1/documents", headers=AUTH).status_code == 200


def test_no_inline_code_and_nothing_from_another_origin():
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    for name in ("index.html", "docs.html"):  # the chat page and Swagger UI's (/docs)
        html = (STATIC_DIR / name).read_text(encoding="utf-8")
        assert re.search(r"<script(?![^>]*\bsrc=)", html) is None, f"inline script in {name}"
        assert "<style" not in html and " style=" not in html and re.search(r"\son[a-z]+=", html) is None, name
        assert re.search(r"(?:src|href)=\"(?!/static/)", html) is None, f"{name} loads from elsewhere"
    for name in [*STATIC_TYPES, "index.html"]:
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        assert re.search(r"https?://(?!www\.w3\.org/2000/svg)", text) is None, name
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text and "document.write" not in text, name
    # every file the page and its modules reference is served
    referenced = set(re.findall(r'/static/([\w.]+)', page))
    for name in STATIC_TYPES:
        if name.endswith(".js"):
            referenced |= set(re.findall(r'from "\./([\w.]+)"', (STATIC_DIR / name).read_text(encoding="utf-8")))
    assert referenced <= set(STATIC_TYPES), referenced - set(STATIC_TYPES)
    assert set(STATIC_TYPES) <= {p.name for p in STATIC_DIR.iterdir()}


def test_static_files_have_their_types_and_unknown_names_404(client):
    for name, media_type in STATIC_TYPES.items():
        r = client.get(f"/static/{name}")
        assert r.status_code == 200, name
        assert r.headers["content-type"] == media_type
        assert r.content == (STATIC_DIR / name).read_bytes()
        assert r.headers["content-security-policy"]
    for bad in ("nope.js", "index.html", "..%2Fweb.py", "%2E%2E%2Fapp.py"):
        r = client.get(f"/static/{bad}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", bad
    assert client.get("/static/../api/web.py").status_code == 404
    assert client.post("/").status_code == 405
    assert "/" not in client.get("/openapi.json").json()["paths"]


def test_document_text_is_what_offsets_index_into(client):
    text = "Title line\r\n\r\nThe first paragraph 😀 with an emoji.\nThe second one, in Arabic: مرحبا.\n"
    r = client.post("/v1/documents", json={"file": "notes/text.txt", "text": text}, headers=AUTH)
    assert r.status_code == 201, r.text
    r = client.get("/v1/documents/notes/text.txt/text", headers=AUTH)
    assert r.status_code == 200
    body = r.json()
    assert body == {"file": "notes/text.txt", "text": text.replace("\r\n", "\n")}
    paragraphs = client.get("/v1/documents/notes/text.txt", headers=AUTH).json()["paragraphs"]
    assert paragraphs >= 2  # and the document info route still answers for the same name
    for n in range(1, paragraphs + 1):
        para = client.get(f"/v1/documents/notes%2Ftext.txt/paragraphs/{n}", headers=AUTH).json()
        assert body["text"][para["char_start"]:para["char_end"]] == para["text"]


def test_document_text_errors(client):
    r = client.get("/v1/documents/missing.txt/text", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"] == {"code": "not_found", "message": "no such document: missing.txt"}
    r = client.get("/v1/documents/..%2Fx.txt/text", headers=AUTH)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_file_name"
    assert client.get("/v1/documents/missing.txt/text").status_code == 401
