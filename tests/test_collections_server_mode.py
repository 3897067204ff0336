"""Collections in server mode (a real ``chroma run``): each collection is its own Chroma
collections (vectors, catalog, answer log), and the list of collections lives on the server,
so a collection made through one replica is seen, asked and deleted through another."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from tests.chroma_fixtures import chroma_server, server_settings, unique_collection  # noqa: F401 - a fixture

pytestmark = pytest.mark.integration

A_TEXT = "The aardvark ledger keeps the alpha contracts for seven years."
B_TEXT = "The zebra vault stores the bravo salaries in a locked cabinet."


@contextmanager
def replica(settings):  # noqa: ANN001, ANN201
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert app.state.service.wait_ready(60), app.state.service.load_error
        yield client


def test_collections_are_shared_by_replicas_and_kept_apart(chroma_server, tmp_path: Path) -> None:  # noqa: F811
    base = unique_collection()
    one = server_settings(chroma_server, tmp_path / "one", collection=base, upload_embedder="shared")
    two = server_settings(chroma_server, tmp_path / "two", collection=base, upload_embedder="shared")
    with replica(one) as c1, replica(two) as c2:
        for name, text in (("alpha", A_TEXT), ("bravo", B_TEXT)):
            assert c1.post("/v1/collections", json={"name": name}).status_code == 201
            r = c1.post(f"/v1/collections/{name}/documents", json={"file": f"{name}.txt", "text": text})
            assert r.status_code == 201, r.text
        # the other replica sees them (the list is on the server) and answers from each
        assert [c["name"] for c in c2.get("/v1/collections").json()["collections"]] == ["default", "alpha", "bravo"]
        r = c2.post("/v1/ask", json={"question": A_TEXT, "collection": "alpha"})
        body = r.json()
        assert r.status_code == 200 and body["answerable"], r.text
        assert {(c["collection"], c["file"]) for c in body["citations"]} == {("alpha", "alpha.txt")}
        r = c2.post("/v1/ask", json={"question": A_TEXT, "collection": "bravo"})
        assert all(c["collection"] == "bravo" for c in r.json()["citations"])
        assert c2.get("/v1/documents").json()["count"] == 0  # the default collection is empty
        # a delete through one replica is seen by the other, and its Chroma collections are gone
        assert c2.delete("/v1/collections/bravo").status_code == 204
        assert c1.post("/v1/ask", json={"question": B_TEXT, "collection": "bravo"}).status_code == 404
        import chromadb

        client = chromadb.HttpClient(host="127.0.0.1", port=int(chroma_server.url.rsplit(":", 1)[1]))
        names = {c.name if hasattr(c, "name") else str(c) for c in client.list_collections()}
        assert not any(n.startswith(f"{base}--bravo") for n in names), names
        assert f"{base}--alpha" in names and f"{base}--alpha_catalog" in names
