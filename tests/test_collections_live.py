"""Isolation against a real server (uvicorn on 127.0.0.1, hashing embedder): a property test
over random keys, collections and questions (nothing from a collection a key may not see ever
appears in its answers, through /v1/ask, its SSE stream and the OpenAI face), and a key made by
``sanad keys create`` in another process working on the running server without a restart."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.keys import KeyRing
from tests.api_fixtures import ROOT, LiveServer, make_settings, serve_env

pytestmark = pytest.mark.integration

#: each collection's documents use words no other collection has (its "marker" words)
DOCS = {
    "alpha": {"a1.txt": "Alpha team ledger: aardvark invoices are archived after seven years.",
              "a2.txt": "Alpha policy: the amber badge opens the atrium on weekdays."},
    "bravo": {"b1.txt": "Bravo payroll: zebra salaries are paid on the twentieth of each month.",
              "b2.txt": "Bravo secret: the bronze vault code is rotated every quarter."},
    "charlie": {"c1.txt": "Charlie lab: cobalt samples are stored at minus eighty degrees.",
                "c2.txt": "Charlie rule: the crimson door stays locked after dusk."},
}
MARKERS = {"alpha": ("aardvark", "amber", "atrium", "Alpha"), "bravo": ("zebra", "bronze", "vault", "Bravo"),
           "charlie": ("cobalt", "crimson", "Charlie", "eighty")}
SCOPES = [("alpha",), ("bravo",), ("charlie",), ("alpha", "bravo"), ("charlie", "alpha")]
QUESTIONS = [t for docs in DOCS.values() for t in docs.values()] + [
    "Which code is rotated every quarter?", "When are invoices archived?", "What opens the atrium?",
    "ما هو رمز الخزنة؟", "cobalt zebra aardvark", "Tell me everything about every team."]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    data = tmp_path_factory.mktemp("collections-live") / "data"
    s = make_settings(data, embed_model="hash", api_keys=["root-key"])
    ring = KeyRing.for_settings(s)
    keys = {scope: ring.create("read", ",".join(scope))[0] for scope in SCOPES}
    server = LiveServer(s).start()
    root = {"Authorization": "Bearer root-key"}
    try:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            for name, docs in DOCS.items():
                assert c.post("/v1/collections", json={"name": name}, headers=root).status_code == 201
                for file, text in docs.items():
                    r = c.post(f"/v1/collections/{name}/documents", json={"file": file, "text": text}, headers=root)
                    assert r.status_code == 201, r.text
        yield server, keys, data
    finally:
        server.stop()


def _answer_of(c: httpx.Client, face: str, question: str, names: list[str], key: str) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {key}"}
    if face == "chat":
        r = c.post("/v1/chat/completions", headers=headers,
                   json={"model": ",".join(names), "messages": [{"role": "user", "content": question}]})
        if r.status_code != 200:
            return r.status_code, {}
        body = r.json()
        return 200, {"answer": body["choices"][0]["message"]["content"], "citations": body["citations"]}
    body = {"question": question, "collections": names} if len(names) > 1 else {"question": question,
                                                                                  "collection": names[0]}
    if face == "sse":
        with c.stream("POST", "/v1/ask", headers=headers, json={**body, "stream": True}) as r:
            if r.status_code != 200:
                return r.status_code, {}
            done = [json.loads(line[len("data: "):]) for line in r.iter_lines() if line.startswith("data: ")]
        final = done[-1]
        return 200, final
    r = c.post("/v1/ask", headers=headers, json=body)
    return r.status_code, (r.json() if r.status_code == 200 else {})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scope=st.sampled_from([*SCOPES, None]),
       asked=st.lists(st.sampled_from(sorted(DOCS)), min_size=1, max_size=3, unique=True),
       question=st.sampled_from(QUESTIONS), face=st.sampled_from(["json", "sse", "chat"]))
def test_nothing_from_an_unseen_collection_ever_appears(world, scope, asked, question, face) -> None:  # noqa: ANN001
    server, keys, _ = world
    key = keys[scope] if scope is not None else "sk-sanad-" + question.encode().hex()[:40]  # no key of this server
    with httpx.Client(base_url=server.url, timeout=60) as c:
        status, body = _answer_of(c, face, question, asked, key)
    if scope is None:
        assert status == 401, (asked, face, status)
        return
    if not set(asked) <= set(scope):
        assert status == 404, (scope, asked, face, status)
        return
    assert status == 200, (scope, asked, face, status)
    unseen = [n for n in DOCS if n not in scope]
    for cit in body.get("citations", []):
        assert cit["collection"] in asked, cit
        assert cit["file"] in DOCS[cit["collection"]], cit
    text = body.get("answer", "") + json.dumps(body.get("citations", []), ensure_ascii=False)
    for name in unseen:
        for word in MARKERS[name]:
            assert word not in text, (scope, asked, question, word)


def test_keys_create_prints_the_key_last_and_the_server_takes_it(world) -> None:  # noqa: ANN001
    server, _, data = world
    env = {**serve_env(data), "PYTHONPATH": str(ROOT), "SANAD_API_KEYS": "root-key"}
    out = subprocess.run([sys.executable, "-m", "cli", "keys", "create", "--role", "read", "--collections", "bravo"],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip().splitlines()[-1]
    assert key.startswith("sk-sanad-") and " " not in key
    assert key not in (data / "keys.json").read_text()
    r = httpx.post(server.url + "/v1/ask", headers={"Authorization": f"Bearer {key}"}, timeout=60,
                   json={"question": DOCS["bravo"]["b1.txt"], "collection": "bravo"})
    assert r.status_code == 200 and r.json()["citations"][0]["collection"] == "bravo"
    r = httpx.post(server.url + "/v1/ask", headers={"Authorization": f"Bearer {key}"}, timeout=60,
                   json={"question": "x", "collection": "alpha"})
    assert r.status_code == 404
    key_id = out.stdout.split()[1].rstrip(":")  # "key k_...: role read, ..."
    listed = subprocess.run([sys.executable, "-m", "cli", "keys", "list"], env=env, cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert key_id in listed.stdout and key not in listed.stdout
    gone = subprocess.run([sys.executable, "-m", "cli", "keys", "revoke", key_id], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert gone.returncode == 0, gone.stderr
    r = httpx.post(server.url + "/v1/ask", headers={"Authorization": f"Bearer {key}"}, timeout=60,
                   json={"question": "x", "collection": "bravo"})
    assert r.status_code == 401


def test_the_property_test_asks_answerable_questions(world) -> None:  # noqa: ANN001
    """The questions above do reach their collections' documents (the property is not vacuous)."""
    server, keys, _ = world
    with httpx.Client(base_url=server.url, timeout=60) as c:
        for face in ("json", "sse", "chat"):
            status, body = _answer_of(c, face, DOCS["alpha"]["a2.txt"], ["alpha", "bravo"], keys[("alpha", "bravo")])
            assert status == 200 and body["citations"][0]["file"] == "a2.txt", body
            assert body["citations"][0]["collection"] == "alpha"
