"""The answer log through a real server that is stopped and started again on the same data dir:
conversations and feedback survive the restart, ownership holds, a conversation can be
deleted, and a not-helpful vote exported by `sanad feedback export` and run by
`sanad eval --set` reproduces the miss. The hashing embedder (no semantics: none are needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from evals.outcome import judge
from tests.api_fixtures import LiveServer, copy_seeds, make_settings
from tests.conftest import REPO
from tests.sse import parse_sse

pytestmark = pytest.mark.integration

ALICE = {"Authorization": "Bearer alice-key"}
BOB = {"Authorization": "Bearer bob-key"}
QUESTION = "Who chaired the NATO-Russia Council meeting?"
FOLLOW_UP = "and who represented Russia?"


@pytest.fixture
def served(tmp_path: Path):  # noqa: ANN201
    """Settings over an indexed copy of seeds/ and a way to start a server on them."""
    from index.indexer import Indexer

    corpus = copy_seeds(tmp_path)
    settings = make_settings(tmp_path / "data", embed_model="hash", corpus_paths=[corpus],
                             api_keys=["alice-key", "bob-key"])
    indexer = Indexer(settings)
    try:
        indexer.index([corpus], progress=None)
    finally:
        indexer.close()
    servers: list[LiveServer] = []

    def start() -> LiveServer:
        server = LiveServer(settings).start()
        servers.append(server)
        return server

    yield settings, start
    for server in servers:
        server.stop()


def _ask(url: str, headers: dict, question: str, **extra) -> httpx.Response:  # noqa: ANN003
    r = httpx.post(url + "/v1/ask", json={"question": question, **extra}, headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    return r


def _vote(url: str, headers: dict, answer_id: str, value: str, **extra) -> httpx.Response:  # noqa: ANN003
    return httpx.post(url + "/v1/feedback", json={"answer_id": answer_id, "value": value, **extra},
                      headers=headers, timeout=30)


def _feedback_count(url: str, value: str) -> float:
    text = httpx.get(url + "/metrics", headers=ALICE, timeout=30).text
    line = next(ln for ln in text.splitlines() if ln.startswith(f'sanad_feedback_total{{value="{value}"}}'))
    return float(line.split()[-1])


def test_restart_keeps_conversations_feedback_and_ownership(served) -> None:  # noqa: ANN001
    settings, start = served
    first = start()
    a1 = _ask(first.url, ALICE, QUESTION).json()
    cid, aid = a1["conversation_id"], a1["answer_id"]
    assert cid and aid.startswith("ans_")
    # every face returns an answer id: SSE's done event and the OpenAI-compatible endpoint
    sse = httpx.post(first.url + "/v1/ask", json={"question": QUESTION, "stream": True}, headers=ALICE,
                     timeout=60)
    done = json.loads([d for e, d in parse_sse(sse.text) if e == "done"][0])
    assert done["answer_id"].startswith("ans_") and done["answer_id"] != aid
    chat = httpx.post(first.url + "/v1/chat/completions", headers=ALICE, timeout=60,
                      json={"messages": [{"role": "user", "content": QUESTION}]}).json()
    assert chat["answer_id"].startswith("ans_")
    chunks = httpx.post(first.url + "/v1/chat/completions", headers=ALICE, timeout=60,
                        json={"messages": [{"role": "user", "content": QUESTION}], "stream": True}).text
    last = json.loads([d for _, d in parse_sse(chunks) if d != "[DONE]"][-1])
    assert last["choices"][0]["finish_reason"] == "stop" and last["answer_id"].startswith("ans_")

    r = _vote(first.url, ALICE, aid, "not_helpful", comment="wrong meeting")
    assert r.status_code == 201 and r.json() == {"answer_id": aid, "value": "not_helpful", "recorded": True}
    again = _vote(first.url, ALICE, aid, "helpful")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_voted"
    foreign = _vote(first.url, BOB, aid, "helpful")  # bob never got this answer
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "not_found"
    bad = _vote(first.url, ALICE, aid, "meh")
    assert bad.status_code == 422
    assert _feedback_count(first.url, "not_helpful") == 1.0 and _feedback_count(first.url, "helpful") == 0.0
    first.stop()

    second = start()  # a new process would see the same: nothing but the data dir carries over
    follow = _ask(second.url, ALICE, FOLLOW_UP, conversation_id=cid)
    assert follow.json()["conversation_id"] == cid
    # the follow-up was read with the question asked before the restart
    assert unquote(follow.headers["X-Sanad-Standalone-Question"]) == f"{QUESTION} {FOLLOW_UP}"
    # bob sending alice's id gets a conversation of his own, without her history
    bobs = _ask(second.url, BOB, FOLLOW_UP, conversation_id=cid)
    assert bobs.json()["conversation_id"] != cid
    assert unquote(bobs.headers["X-Sanad-Standalone-Question"]) == FOLLOW_UP
    # the vote survived the restart: still one per person
    assert _vote(second.url, ALICE, aid, "helpful").status_code == 409

    # deletion: the owner only; afterwards the id starts a new conversation and the answers are gone
    assert httpx.delete(f"{second.url}/v1/conversations/{cid}", headers=BOB, timeout=30).status_code == 404
    gone = httpx.delete(f"{second.url}/v1/conversations/{cid}", headers=ALICE, timeout=30)
    assert gone.status_code == 200 and gone.json() == {"conversation_id": cid, "deleted_answers": 2}
    assert httpx.delete(f"{second.url}/v1/conversations/{cid}", headers=ALICE, timeout=30).status_code == 404
    assert _vote(second.url, ALICE, aid, "helpful").status_code == 404
    fresh = _ask(second.url, ALICE, FOLLOW_UP, conversation_id=cid)
    assert fresh.json()["conversation_id"] != cid


def test_answer_log_off_keeps_nothing(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from api.http.app import create_app

    settings = make_settings(tmp_path / "data", embed_model="hash", answer_log="off")
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert app.state.service.wait_ready(60), app.state.service.load_error
        body = client.post("/v1/ask", json={"question": QUESTION}).json()
        assert body["answer_id"].startswith("ans_")  # an id still, but nothing is kept
        r = client.post("/v1/feedback", json={"answer_id": body["answer_id"], "value": "helpful"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "answer_log_off"
    assert not (tmp_path / "data" / "answers.sqlite3").exists()


def _sanad(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=600)


def test_a_not_helpful_vote_exported_and_evaluated_reproduces_the_miss(served, tmp_path: Path) -> None:  # noqa: ANN001
    settings, start = served
    server = start()
    asked = _ask(server.url, ALICE, QUESTION).json()
    liked = _ask(server.url, ALICE, "Who is the new US ambassador to NATO?").json()
    assert _vote(server.url, ALICE, asked["answer_id"], "not_helpful", comment="not him").status_code == 201
    assert _vote(server.url, ALICE, liked["answer_id"], "helpful").status_code == 201
    server.stop()

    env = {"SANAD_DATA_DIR": str(settings.data_dir), "SANAD_EMBED_MODEL": "hash",
           "SANAD_CORPUS_PATHS": str(settings.corpus_paths[0])}
    exported = tmp_path / "exported.jsonl"
    r = _sanad("feedback", "export", "--value", "not_helpful", "--since", "2020-01-01", "--out", str(exported),
               env=env)
    assert r.returncode == 0, r.stderr
    assert "1 voted answers exported" in r.stderr
    (line,) = [json.loads(x) for x in exported.read_text(encoding="utf-8").splitlines()]
    assert line["question"] == QUESTION and line["needs_review"] is True
    assert line["feedback"]["comments"] == ["not him"] and line["feedback"]["answer_id"] == asked["answer_id"]

    report = tmp_path / "report.json"
    r = _sanad("eval", "--set", str(exported), "--json", str(report), env=env)
    assert r.returncode == 0, r.stderr
    (row,) = json.loads(report.read_text(encoding="utf-8"))["rows"]
    verdict = judge(row)
    assert verdict.status == "miss", verdict  # what the person saw is what the eval sees
    expected = "answered_unanswerable" if asked["answerable"] else "false_abstention"
    assert verdict.kind == expected

    bad = _sanad("feedback", "export", "--since", "last week", env=env)
    assert bad.returncode == 1 and bad.stderr.startswith("error: --since wants") and "Traceback" not in bad.stderr
    none = _sanad("feedback", "export", env={**env, "SANAD_DATA_DIR": str(tmp_path / "empty")})
    assert none.returncode == 1 and "no answer log" in none.stderr


def test_cli_ask_json_gives_an_answer_id_and_logs_nothing(tmp_path: Path) -> None:
    env = {"SANAD_DATA_DIR": str(tmp_path / "d"), "SANAD_EMBED_MODEL": "hash"}
    corpus = copy_seeds(tmp_path)
    assert _sanad("index", str(corpus), "--quiet", env=env).returncode == 0
    r = _sanad("ask", QUESTION, "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["answer_id"].startswith("ans_")
    assert not (tmp_path / "d" / "answers.sqlite3").exists()  # the CLI names its answers, keeps none
