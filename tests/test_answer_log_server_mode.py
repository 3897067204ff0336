"""Server mode: the answer log lives on the Chroma server, so two replicas (each with its own
data dir) see the same conversations and the same votes. The session's Chroma server and the
hashing embedder (tests/chroma_fixtures.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from api.answer_log.shared import SharedAnswerLog, open_answer_log
from tests.api_fixtures import LiveServer
from tests.chroma_fixtures import (  # noqa: F401 - chroma_server is a fixture
    REPO, chroma_server, sanad, server_env, server_settings, unique_collection,
)

pytestmark = pytest.mark.integration

ALICE = {"Authorization": "Bearer alice-key"}
BOB = {"Authorization": "Bearer bob-key"}
QUESTION = "Who chaired the NATO-Russia Council meeting?"
FOLLOW_UP = "and who represented Russia?"


def test_two_replicas_share_conversations_and_votes(chroma_server, tmp_path: Path) -> None:  # noqa: ANN001, F811
    from index.embedding import HashEmbedding
    from index.indexer import Indexer

    corpus = tmp_path / "corpus"
    shutil.copytree(REPO / "seeds", corpus)
    collection = unique_collection("answers")
    extra = {"api_keys": ["alice-key", "bob-key"], "auth_failures_per_minute": 0, "upload_embedder": "shared"}
    indexer = Indexer(server_settings(chroma_server, tmp_path / "indexer", collection=collection),
                      embedder=HashEmbedding())
    try:
        indexer.index([corpus], progress=None)
    finally:
        indexer.close()
    replicas = [LiveServer(server_settings(chroma_server, tmp_path / f"replica{i}", collection=collection,
                                           **extra)).start() for i in (1, 2)]
    try:
        one, two = replicas
        assert isinstance(one.app.state.ask_service.log, SharedAnswerLog)
        first = httpx.post(one.url + "/v1/ask", json={"question": QUESTION}, headers=ALICE, timeout=60).json()
        cid, aid = first["conversation_id"], first["answer_id"]
        # the follow-up goes to the other replica, which never saw the conversation
        follow = httpx.post(two.url + "/v1/ask", json={"question": FOLLOW_UP, "conversation_id": cid},
                            headers=ALICE, timeout=60)
        assert follow.json()["conversation_id"] == cid
        assert unquote(follow.headers["X-Sanad-Standalone-Question"]) == f"{QUESTION} {FOLLOW_UP}"
        # and back on the first replica, the turn the second one added is there
        back = httpx.post(one.url + "/v1/ask", json={"question": "and when?", "conversation_id": cid},
                          headers=ALICE, timeout=60)
        assert unquote(back.headers["X-Sanad-Standalone-Question"]) == f"{QUESTION} {FOLLOW_UP} and when?"
        foreign = httpx.post(two.url + "/v1/ask", json={"question": FOLLOW_UP, "conversation_id": cid},
                             headers=BOB, timeout=60)
        assert foreign.json()["conversation_id"] != cid  # ownership holds across replicas
        # a vote taken by one replica is the vote the other sees
        vote = {"answer_id": aid, "value": "not_helpful"}
        assert httpx.post(two.url + "/v1/feedback", json=vote, headers=ALICE, timeout=30).status_code == 201
        again = httpx.post(one.url + "/v1/feedback", json=vote, headers=ALICE, timeout=30)
        assert again.status_code == 409
        assert httpx.post(one.url + "/v1/feedback", json=vote, headers=BOB, timeout=30).status_code == 404
        votes = one.app.state.ask_service.log.votes()
        assert [(v.answer_id, v.value, v.question) for v in votes] == [(aid, "not_helpful", QUESTION)]
        # the export reads the server's log from anywhere that reaches the server
        env = server_env(chroma_server, tmp_path / "exporter", collection=collection,
                         SANAD_CORPUS_PATHS=str(corpus))
        out = subprocess.run(sanad("feedback", "export", "--value", "not_helpful"), cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        (line,) = [json.loads(x) for x in out.stdout.splitlines()]
        assert line["feedback"]["answer_id"] == aid and line["question"] == QUESTION
        # deleted on one replica: gone on both
        gone = httpx.delete(f"{one.url}/v1/conversations/{cid}", headers=ALICE, timeout=30)
        assert gone.status_code == 200 and gone.json()["deleted_answers"] == 3
        assert httpx.post(two.url + "/v1/feedback", json=vote, headers=ALICE, timeout=30).status_code == 404
        assert httpx.delete(f"{two.url}/v1/conversations/{cid}", headers=ALICE, timeout=30).status_code == 404
        fresh = httpx.post(two.url + "/v1/ask", json={"question": FOLLOW_UP, "conversation_id": cid},
                           headers=ALICE, timeout=60)
        assert fresh.json()["conversation_id"] != cid
    finally:
        for replica in replicas:
            replica.stop()


def test_server_mode_log_is_off_when_the_settings_say_so(chroma_server, tmp_path: Path) -> None:  # noqa: ANN001, F811
    settings = server_settings(chroma_server, tmp_path, collection=unique_collection("off"), answer_log="off")
    assert open_answer_log(settings) is None
