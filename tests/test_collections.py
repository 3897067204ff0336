"""Collections and scoped keys (issue 31), in-process with the hashing embedder: names,
the registry's crash safety (kill -9 during create and delete), a data dir made before
collections existed, and isolation: a key for collection A asking, uploading, deleting,
reading text, voting or deleting a conversation in B gets 404 (B is not revealed), an action
its role lacks gets 403, through /v1/ask (JSON and SSE) and the OpenAI face."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.keys import KeyRing, check_key
from index.collections import (
    DEFAULT_COLLECTION,
    CollectionExists,
    CollectionNameError,
    CollectionNotFound,
    Collections,
    collection_settings,
    validate_collection_name,
)
from tests.api_fixtures import ROOT, make_settings

A_TEXT = "The aardvark ledger keeps the alpha contracts for seven years."
B_TEXT = "The zebra vault stores the bravo salaries in a locked cabinet."
D_TEXT = "The default handbook says the office opens at nine."


@contextmanager
def running(settings):  # noqa: ANN001, ANN201
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert app.state.service.wait_ready(30), app.state.service.load_error
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def err(r, status: int, code: str | None = None) -> dict:  # noqa: ANN001
    assert r.status_code == status, r.text
    body = r.json()["error"]
    if code:
        assert body["code"] == code, body
    return body


# ------------------------------------------------------------------------------- names
@pytest.mark.parametrize("bad", ["", "A", "Legal", "a_b", "-a", "a-", "a b", "a/b", "..", ".", "a.b", "é",
                                 "x" * 49, "a\n", "\u202ea", "legal\x00"])
def test_invalid_collection_names_are_refused(bad: str) -> None:
    with pytest.raises(CollectionNameError):
        validate_collection_name(bad)


@pytest.mark.parametrize("good", ["a", "legal", "support-2", "x" * 48, "0", DEFAULT_COLLECTION])
def test_valid_collection_names(good: str) -> None:
    assert validate_collection_name(good) == good


def test_registry_create_list_delete(hash_settings) -> None:  # noqa: ANN001
    reg = Collections(hash_settings)
    assert reg.names() == [DEFAULT_COLLECTION]
    reg.create("legal")
    reg.create("hr")
    assert reg.names() == [DEFAULT_COLLECTION, "hr", "legal"]
    with pytest.raises(CollectionExists):
        reg.create("legal")
    with pytest.raises(CollectionExists):
        reg.create(DEFAULT_COLLECTION)
    with pytest.raises(CollectionExists):
        reg.delete(DEFAULT_COLLECTION)
    with pytest.raises(CollectionNotFound):
        reg.delete("nope")
    s = reg.settings_for("legal")
    assert s.data_dir == hash_settings.data_dir / "collections" / "legal"
    assert s.chroma_collection == "sanad"  # embedded: the collection's own folder holds its store
    in_server_mode = hash_settings.model_copy(update={"chroma_url": "http://127.0.0.1:1"})
    assert collection_settings(in_server_mode, "legal").chroma_collection == "sanad--legal"
    assert reg.settings_for(DEFAULT_COLLECTION) is hash_settings
    reg.delete("legal")
    assert reg.names() == [DEFAULT_COLLECTION, "hr"]
    assert not (hash_settings.data_dir / "collections" / "legal").exists()
    # a stray folder without the marker is no collection, and is never overwritten
    (hash_settings.data_dir / "collections" / "stray").mkdir()
    assert "stray" not in reg.names()
    with pytest.raises(CollectionExists):
        reg.create("stray")


# ------------------------------------------------------------------------------- kill -9
_CRASH_SCRIPT = """
import sys
from settings import Settings
from index.collections import Collections
reg = Collections(Settings())
getattr(reg, sys.argv[1])(sys.argv[2])
"""


@pytest.mark.parametrize(("action", "point", "exists_after"), [
    ("create", "collection_tmp_ready", False),   # killed before the rename: not there at all
    ("create", "collection_renamed", True),      # killed after it: there, whole
    ("delete", "collection_set_aside", False),   # killed after the rename aside: gone
])
def test_kill_during_create_or_delete_leaves_whole_or_nothing(tmp_path: Path, action: str, point: str,
                                                              exists_after: bool) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANAD_")}
    env.update({"SANAD_DATA_DIR": str(data), "SANAD_EMBED_MODEL": "hash", "PYTHONPATH": str(ROOT),
                "SANAD_TEST_CRASH_AT": point})
    from settings import Settings

    reg = Collections(Settings(data_dir=data, embed_model="hash"))
    if action == "delete":
        reg.create("legal")
        (data / "collections" / "legal" / "catalog.sqlite3").write_bytes(b"x" * 1000)
    proc = subprocess.run([sys.executable, "-c", _CRASH_SCRIPT, action, "legal"], env=env, cwd=ROOT,
                          capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    assert ("legal" in reg.names()) is exists_after
    reg.cleanup()  # what every start does
    leftovers = [p.name for p in (data / "collections").iterdir()]
    assert leftovers == (["legal"] if exists_after else [])
    if exists_after:
        assert json.loads((data / "collections" / "legal" / "collection.json").read_text())["name"] == "legal"
        reg.delete("legal")  # and it is a whole collection: it can be deleted
        assert "legal" not in reg.names()
    else:
        reg.create("legal")  # the name is free again
        assert "legal" in reg.names()


# ------------------------------------------------------------------------------- compatibility
def test_a_data_dir_made_before_collections_is_the_default_collection(index_texts) -> None:  # noqa: ANN001
    """Indexed by the indexer as today (no collections anywhere), then served: every call that
    names no collection works as before, and the data dir is the default collection."""
    settings = index_texts({"handbook.txt": D_TEXT})
    before = sorted(p.name for p in settings.data_dir.iterdir())
    s = make_settings(settings.data_dir, embed_model="hash")
    with running(s) as c:
        r = c.post("/v1/ask", json={"question": D_TEXT})
        assert r.status_code == 200 and r.json()["answerable"], r.text
        cit = r.json()["citations"][0]
        assert cit["file"] == "handbook.txt" and cit["collection"] == DEFAULT_COLLECTION
        assert cit["url"].startswith("/v1/documents/handbook.txt/")
        assert c.get(cit["url"]).status_code == 200
        assert [d["file"] for d in c.get("/v1/documents").json()["documents"]] == ["handbook.txt"]
        assert c.get("/v1/collections").json()["collections"][0]["name"] == DEFAULT_COLLECTION
        assert c.get("/v1/collections/default/documents").json()["count"] == 1
        models = c.get("/v1/models").json()["data"]
        assert [m["id"] for m in models] == ["sanad"]
        r = c.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": D_TEXT}]})
        assert r.status_code == 200 and r.json()["citations"][0]["file"] == "handbook.txt"
    after = sorted(p.name for p in settings.data_dir.iterdir())
    assert set(before) <= set(after)  # nothing of the old layout moved; no collections folder needed


# ------------------------------------------------------------------------------- two teams
@pytest.fixture
def teams(tmp_path: Path):  # noqa: ANN201
    """A server with collections a and b (and the default), and keys of every kind."""
    data = tmp_path / "data"
    s = make_settings(data, embed_model="hash", api_keys=["root-key"])
    ring = KeyRing.for_settings(s)
    keys = {
        "read_a": ring.create("read", "a")[0],
        "write_a": ring.create("write", "a")[0],
        "read_b": ring.create("read", "b")[0],
        "write_b": ring.create("write", "b")[0],
        "admin_a": ring.create("admin", "a")[0],
        "read_ab": ring.create("read", "a,b")[0],
        "metrics": ring.create("metrics", "")[0],
        "root": "root-key",
    }
    with running(s) as c:
        H = {k: bearer(v) for k, v in keys.items()}  # noqa: N806
        for name in ("a", "b"):
            assert c.post("/v1/collections", json={"name": name}, headers=H["root"]).status_code == 201
        for name, text, key in (("a", A_TEXT, "write_a"), ("b", B_TEXT, "write_b")):
            r = c.post(f"/v1/collections/{name}/documents", json={"file": f"{name}.txt", "text": text},
                       headers=H[key])
            assert r.status_code == 201, r.text
        assert c.post("/v1/documents", json={"file": "d.txt", "text": D_TEXT}, headers=H["root"]).status_code == 201
        yield c, H, keys, ring


def test_each_collection_answers_from_its_own_documents(teams) -> None:  # noqa: ANN001
    c, H, _, _ = teams  # noqa: N806
    r = c.post("/v1/ask", json={"question": A_TEXT, "collection": "a"}, headers=H["read_a"])
    body = r.json()
    assert r.status_code == 200 and body["answerable"], r.text
    assert {(x["collection"], x["file"]) for x in body["citations"]} == {("a", "a.txt")}
    url = body["citations"][0]["url"]
    assert url.startswith("/v1/collections/a/documents/a.txt/paragraphs/")
    assert c.get(url, headers=H["read_a"]).json()["text"] == A_TEXT
    # the same question in b finds nothing of a
    r = c.post("/v1/ask", json={"question": A_TEXT, "collection": "b"}, headers=H["read_b"])
    assert all(x["collection"] == "b" for x in r.json()["citations"])
    assert "aardvark" not in r.json()["answer"]
    # no collection named: the default collection, as before
    r = c.post("/v1/ask", json={"question": D_TEXT}, headers=H["root"])
    assert [x["collection"] for x in r.json()["citations"]][:1] == [DEFAULT_COLLECTION]


def test_one_question_over_several_collections_is_ranked_together(teams) -> None:  # noqa: ANN001
    c, H, _, _ = teams  # noqa: N806
    for question, lead in ((A_TEXT, "a"), (B_TEXT, "b")):
        r = c.post("/v1/ask", json={"question": question, "collections": ["a", "b"]}, headers=H["read_ab"])
        body = r.json()
        assert r.status_code == 200 and body["answerable"], r.text
        assert body["citations"][0]["collection"] == lead
        assert [x["ref"] for x in body["citations"]] == list(range(1, len(body["citations"]) + 1))
    # a key that sees only a cannot add b to the list (404: b is not revealed)
    r = c.post("/v1/ask", json={"question": A_TEXT, "collections": ["a", "b"]}, headers=H["read_a"])
    err(r, 404, "not_found")


def test_key_for_a_cannot_see_or_touch_b(teams) -> None:  # noqa: ANN001
    c, H, _, _ = teams  # noqa: N806
    ha = H["write_a"]
    hidden = err(c.post("/v1/ask", json={"question": B_TEXT, "collection": "b"}, headers=ha), 404)
    absent = err(c.post("/v1/ask", json={"question": B_TEXT, "collection": "zz"}, headers=ha), 404)
    assert hidden["message"].replace(" b", " X") == absent["message"].replace(" zz", " X")  # same words
    err(c.post("/v1/ask", json={"question": B_TEXT, "collection": "b", "stream": True}, headers=ha), 404)
    err(c.post("/v1/chat/completions", json={"model": "b", "messages": [{"role": "user", "content": B_TEXT}]},
               headers=ha), 404)
    err(c.post("/v1/chat/completions", json={"model": "b", "stream": True,
                                              "messages": [{"role": "user", "content": B_TEXT}]}, headers=ha), 404)
    err(c.get("/v1/collections/b/documents", headers=ha), 404)
    err(c.get("/v1/collections/b/documents/b.txt", headers=ha), 404)
    err(c.get("/v1/collections/b/documents/b.txt/text", headers=ha), 404)
    err(c.get("/v1/collections/b/documents/b.txt/paragraphs/1", headers=ha), 404)
    err(c.post("/v1/collections/b/documents", json={"file": "x.txt", "text": "planted"}, headers=ha), 404)
    err(c.delete("/v1/collections/b/documents/b.txt", headers=ha), 404)
    err(c.get("/v1/collections/b", headers=ha), 404)
    err(c.delete("/v1/collections/b", headers=ha), 404)
    # nor the default collection, which this key was not given
    err(c.get("/v1/documents", headers=ha), 404)
    err(c.get("/v1/documents/d.txt/text", headers=ha), 404)
    err(c.post("/v1/ask", json={"question": D_TEXT}, headers=ha), 404)
    assert [x["name"] for x in c.get("/v1/collections", headers=ha).json()["collections"]] == ["a"]
    assert [m["id"] for m in c.get("/v1/models", headers=ha).json()["data"]] == ["a"]
    # b is untouched
    assert c.get("/v1/collections/b/documents", headers=H["read_b"]).json()["count"] == 1


def test_roles(teams) -> None:  # noqa: ANN001
    c, H, _, _ = teams  # noqa: N806
    # read: no writes in its own collection (403: it can see a)
    err(c.post("/v1/collections/a/documents", json={"file": "x.txt", "text": "y"}, headers=H["read_a"]), 403,
        "forbidden")
    err(c.delete("/v1/collections/a/documents/a.txt", headers=H["read_a"]), 403, "forbidden")
    # write: uploads and deletes, but no collections
    r = c.post("/v1/collections/a/documents", json={"file": "x.txt", "text": "extra words"}, headers=H["write_a"])
    assert r.status_code == 201
    assert c.delete("/v1/collections/a/documents/x.txt", headers=H["write_a"]).status_code == 204
    err(c.post("/v1/collections", json={"name": "c"}, headers=H["write_a"]), 403)
    err(c.delete("/v1/collections/a", headers=H["write_a"]), 403)
    # an admin scoped to a: collection management needs every collection
    err(c.post("/v1/collections", json={"name": "c"}, headers=H["admin_a"]), 403)
    err(c.post("/v1/collections", json={"name": "Bad_Name"}, headers=H["root"]), 400, "invalid_collection_name")
    err(c.post("/v1/collections", json={"name": "a"}, headers=H["root"]), 409)
    err(c.delete("/v1/collections/default", headers=H["root"]), 409)
    # /metrics: admin or metrics keys only; a metrics key reads nothing else
    err(c.get("/metrics"), 401)
    err(c.get("/metrics", headers=H["read_a"]), 403)
    assert c.get("/metrics", headers=H["metrics"]).status_code == 200
    assert c.get("/metrics", headers=H["root"]).status_code == 200
    err(c.get("/v1/collections/a/documents", headers=H["metrics"]), 403)
    err(c.post("/v1/ask", json={"question": "x"}, headers=H["metrics"]), 403)
    # bad names in a question
    err(c.post("/v1/ask", json={"question": "x", "collection": "../b"}, headers=H["root"]), 400,
        "invalid_collection_name")
    err(c.get("/v1/collections/NOPE/documents", headers=H["root"]), 400, "invalid_collection_name")
    err(c.post("/v1/ask", json={"question": "x", "collections": ["a"] * 21}, headers=H["root"]), 422)
    err(c.post("/v1/ask", json={"question": "x", "collection": "a", "collections": ["a"]}, headers=H["root"]), 422)
    err(c.post("/v1/ask", json={"question": "x", "collections": ["a", "nope"]}, headers=H["root"]), 404)
    err(c.post("/v1/ask", json={"question": "x", "collection": ""}, headers=H["root"]), 400)


def test_votes_and_conversations_stay_in_their_collection(teams) -> None:  # noqa: ANN001
    c, H, _, _ = teams  # noqa: N806
    rb = c.post("/v1/ask", json={"question": B_TEXT, "collection": "b"}, headers=H["read_b"]).json()
    ra = c.post("/v1/ask", json={"question": A_TEXT, "collection": "a"}, headers=H["read_a"]).json()
    # a's key cannot vote on b's answer, nor delete b's conversation
    err(c.post("/v1/feedback", json={"answer_id": rb["answer_id"], "value": "helpful"}, headers=H["read_a"]), 404)
    err(c.delete(f"/v1/conversations/{rb['conversation_id']}", headers=H["read_a"]), 404)
    # even a key that sees b, but is not the asker, cannot (answers belong to their key)
    err(c.post("/v1/feedback", json={"answer_id": rb["answer_id"], "value": "helpful"}, headers=H["read_ab"]), 404)
    # its own: fine
    assert c.post("/v1/feedback", json={"answer_id": ra["answer_id"], "value": "helpful"},
                  headers=H["read_a"]).status_code == 201
    assert c.post("/v1/feedback", json={"answer_id": rb["answer_id"], "value": "not_helpful"},
                  headers=H["read_b"]).status_code == 201
    # each collection's answer log holds its own answers and votes: the export is per collection
    data = c.app.state.settings.data_dir
    for name, value, answer in (("a", "helpful", ra), ("b", "not_helpful", rb)):
        out = subprocess.run([sys.executable, "-m", "cli", "feedback", "export", "--collection", name],
                             cwd=ROOT, capture_output=True, text=True, timeout=120,
                             env={**{k: v for k, v in os.environ.items() if not k.startswith("SANAD_")},
                                  "SANAD_DATA_DIR": str(data), "SANAD_EMBED_MODEL": "hash", "PYTHONPATH": str(ROOT)})
        assert out.returncode == 0, out.stderr
        (line,) = out.stdout.splitlines()
        assert json.loads(line)["feedback"]["value"] == value and answer["answer"][:20] in line
    r = c.delete(f"/v1/conversations/{rb['conversation_id']}", headers=H["read_b"])
    assert r.status_code == 200 and r.json()["deleted_answers"] == 1


def test_keys_are_hashed_and_take_effect_without_restart(teams, tmp_path: Path) -> None:  # noqa: ANN001
    c, H, keys, ring = teams  # noqa: N806
    stored = ring.path.read_text()
    assert all(k not in stored for k in keys.values())
    assert oct(ring.path.stat().st_mode & 0o777) == "0o600"
    token, record = ring.create("read", "b")  # another process (sanad keys create) would do the same
    r = c.post("/v1/ask", json={"question": B_TEXT, "collection": "b"}, headers=bearer(token))
    assert r.status_code == 200 and r.json()["citations"][0]["collection"] == "b"
    ring.revoke(record["id"])
    err(c.post("/v1/ask", json={"question": B_TEXT, "collection": "b"}, headers=bearer(token)), 401)
    err(c.get("/v1/collections", headers=bearer("sk-sanad-guess")), 401)


def test_check_key_is_the_one_public_check(tmp_path: Path) -> None:
    s = make_settings(tmp_path / "d", embed_model="hash")
    assert check_key(s, None).role == "admin"  # no keys anywhere: open, as before
    s = make_settings(tmp_path / "d", embed_model="hash", api_keys=["env-key"])
    token, _ = KeyRing.for_settings(s).create("write", "a,b", label="team")
    g = check_key(s, token)
    assert g is not None and g.role == "write" and g.collections == ("a", "b") and g.sees("a") and not g.sees("c")
    assert g.can("read") and g.can("write") and not g.can("admin") and not g.can("metrics")
    admin = check_key(s, "env-key")
    assert admin is not None and admin.role == "admin" and admin.sees("anything")
    assert check_key(s, "wrong") is None and check_key(s, None) is None


def test_deleting_a_collection_while_it_is_asked(teams) -> None:  # noqa: ANN001
    """Questions in flight when a collection is deleted finish or fail cleanly (no 500), and
    after the delete the collection is gone for every key, data included."""
    import threading

    c, H, _, _ = teams  # noqa: N806
    statuses: list[int] = []

    def asker() -> None:
        for _ in range(15):
            r = c.post("/v1/ask", json={"question": B_TEXT, "collection": "b"}, headers=H["read_b"])
            statuses.append(r.status_code)

    t = threading.Thread(target=asker)
    t.start()
    r = c.delete("/v1/collections/b", headers=H["root"])
    t.join()
    assert r.status_code == 204
    assert set(statuses) <= {200, 404, 503}, statuses
    err(c.post("/v1/ask", json={"question": B_TEXT, "collection": "b"}, headers=H["read_b"]), 404)
    err(c.get("/v1/collections/b", headers=H["root"]), 404)
    # a new b starts empty
    assert c.post("/v1/collections", json={"name": "b"}, headers=H["root"]).status_code == 201
    assert c.get("/v1/collections/b/documents", headers=H["root"]).json()["count"] == 0


def test_deleting_a_collection_while_it_is_being_indexed_is_refused(teams) -> None:  # noqa: ANN001
    """While a writer holds a collection's index lock (a `sanad index --collection` run, an
    upload), deleting it is 503 index_busy and changes nothing; once the writer is done, it goes."""
    from index.indexer import index_lock

    c, H, _, _ = teams  # noqa: N806
    lock = c.app.state.hub.registry.settings_for("a").lock_path
    with index_lock(lock):
        r = c.delete("/v1/collections/a", headers=H["root"])
        err(r, 503, "index_busy")
        assert r.headers["retry-after"] == "10"
    r = c.post("/v1/ask", json={"question": A_TEXT, "collection": "a"}, headers=H["read_a"])
    assert r.status_code == 200 and r.json()["citations"][0]["file"] == "a.txt"
    assert c.delete("/v1/collections/a", headers=H["root"]).status_code == 204
    err(c.get("/v1/collections/a/documents", headers=H["read_a"]), 404)


def test_answers_of_several_collections_are_merged_by_score() -> None:
    from api.service.collections import merge_answers, tag_answer
    from qa.models import Answer, Citation

    def cite(ref: int, file: str, score: float) -> Citation:
        return Citation(ref=ref, file=file, paragraph=1, line_start=1, line_end=1, char_start=0, char_end=4,
                        quote="text", score=score, url=f"/v1/documents/{file}/paragraphs/1")

    a = tag_answer(Answer(answer="From a [1] and [2].", language="en", answerable=True,
                          citations=[cite(1, "a1.txt", 0.80), cite(2, "a2.txt", 0.78)]), "a")
    b = tag_answer(Answer(answer="From b [1].", language="en", answerable=True,
                          citations=[cite(1, "b1.txt", 0.85)]), "b")
    c = tag_answer(Answer(answer="Not in the documents.", language="en", answerable=False), "c")
    merged = merge_answers([a, b, c], max_citations=3, margin=0.1)
    assert merged.answer == "From b [1].\n\nFrom a [2] and [3]."  # the best-scored leads, markers renumbered
    assert [(x.ref, x.collection, x.file) for x in merged.citations] == [(1, "b", "b1.txt"), (2, "a", "a1.txt"),
                                                                       (3, "a", "a2.txt")]
    assert merged.citations[0].url == "/v1/collections/b/documents/b1.txt/paragraphs/1"
    # past the margin, or past max_citations, the others are left out; none answerable: the first abstains
    assert [x.file for x in merge_answers([a, b], max_citations=3, margin=0.01).citations] == ["b1.txt"]
    assert len(merge_answers([a, b], max_citations=2, margin=0.1).citations) == 2
    assert merge_answers([c, c], max_citations=3, margin=0.1) is c
