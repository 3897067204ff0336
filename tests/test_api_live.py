"""The HTTP API against a real uvicorn server with the real embedding model.

One server for the whole module (the model loads once): a copy of seeds/ indexed into a
temp data dir, served on 127.0.0.1 at a free port.
"""

from __future__ import annotations

import json
from urllib.parse import unquote

import httpx
import pytest

from tests.api_fixtures import HTTP_DEFAULTS, LiveServer
from tests.sse import parse_sse

pytestmark = pytest.mark.integration

DOC = "001_60d84da894ed2980.txt"
Q_AR = "من ترأس اجتماع مجلس روسيا والناتو؟"
Q_EN = "Who is the new US ambassador to NATO?"
Q_CHAIR_EN = "Who chaired the NATO-Russia Council meeting?"
FOLLOW_EN = "and who represented Russia?"


@pytest.fixture(scope="module")
def live(seeds_settings, real_embedder):
    """The session's seeds index (tests/conftest.py) served with the session's one model.

    Tests here that add documents remove them again, so the shared index ends as it began."""
    from qa.answerer import Answerer

    settings = seeds_settings.model_copy(update=HTTP_DEFAULTS)
    answerer = Answerer(settings, embedder=real_embedder)
    server = LiveServer(settings, answerer=answerer).start()
    server.root = settings.data_dir.parent
    server.settings = settings
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(live):
    with httpx.Client(base_url=live.url, timeout=60) as c:
        yield c


def ask(client: httpx.Client, question: str, **extra) -> dict:
    r = client.post("/v1/ask", json={"question": question, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def cites(body: dict, file: str, line: int) -> bool:
    return any(c["file"] == file and c["line_start"] <= line <= c["line_end"] for c in body["citations"])


def check_citations_verbatim(client: httpx.Client, body: dict) -> None:
    """Every citation resolves through its url, and its quote sits in the paragraph at its offsets."""
    assert body["citations"], "expected citations"
    for c in body["citations"]:
        r = client.get(c["url"])
        assert r.status_code == 200, (c["url"], r.text)
        para = r.json()
        assert para["file"] == c["file"] and para["paragraph"] == c["paragraph"]
        assert para["char_start"] <= c["char_start"] < c["char_end"] <= para["char_end"]
        inner = para["text"][c["char_start"] - para["char_start"]: c["char_end"] - para["char_start"]]
        assert inner == c["quote"]
        assert para["line_start"] <= c["line_start"] <= c["line_end"] <= para["line_end"]
        assert f"[{c['ref']}]" in body["answer"]
        assert c["quote"] in body["answer"]


def test_healthz_and_readyz_counts(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["documents"] >= 5 and r.json()["chunks"] > 5


def test_ask_arabic_cites_line_19(client):
    body = ask(client, Q_AR)
    assert body["language"] == "ar" and body["answerable"] is True
    assert cites(body, DOC, 19), body["citations"]
    assert len(body["conversation_id"]) >= 24  # issued by the server, unguessable
    assert set(body["timings_ms"]) >= {"encode", "retrieve", "answer", "total"}
    check_citations_verbatim(client, body)


def test_ask_english_cites_line_25(client):
    body = ask(client, Q_EN)
    assert body["language"] == "en" and body["answerable"] is True
    assert cites(body, DOC, 25), body["citations"]
    check_citations_verbatim(client, body)


def test_citation_url_with_encoded_name_resolves(client):
    body = ask(client, Q_AR)
    c = body["citations"][0]
    assert client.get(f"/v1/documents/{c['file']}/paragraphs/{c['paragraph']}").json()["text"]
    r = client.get(f"/v1/documents/{c['file']}/paragraphs/9999")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.get("/v1/documents/nope.txt/paragraphs/1")
    assert r.status_code == 404 and "nope.txt" in r.json()["error"]["message"]


def test_two_turn_conversation_english(client):
    first = ask(client, Q_CHAIR_EN)
    cid = first["conversation_id"]
    r = client.post("/v1/ask", json={"question": FOLLOW_EN, "conversation_id": cid})
    assert r.status_code == 200
    second = r.json()
    assert second["conversation_id"] == cid
    standalone = unquote(r.headers["x-sanad-standalone-question"])
    assert standalone == f"{Q_CHAIR_EN} {FOLLOW_EN}"
    assert second["language"] == "en" and second["answerable"] is True
    assert cites(second, DOC, 19), second["citations"]  # Grushko and Fomin are named on line 19
    check_citations_verbatim(client, second)
    # the same words without history are not rewritten and do not find that paragraph
    r = client.post("/v1/ask", json={"question": FOLLOW_EN})
    assert unquote(r.headers["x-sanad-standalone-question"]) == FOLLOW_EN
    assert r.json()["conversation_id"] != cid
    assert not cites(r.json(), DOC, 19)


def test_two_turn_conversation_arabic(client):
    first = ask(client, Q_AR)
    second = ask(client, "ومن مثّل روسيا؟", conversation_id=first["conversation_id"])
    assert second["conversation_id"] == first["conversation_id"]
    assert second["language"] == "ar" and cites(second, DOC, 19)


def test_an_unknown_conversation_id_starts_a_new_conversation(client):
    body = ask(client, Q_EN, conversation_id="my-chat-1")
    assert body["conversation_id"] != "my-chat-1" and len(body["conversation_id"]) >= 24


def test_sse_stream_matches_non_streaming(client):
    plain = ask(client, Q_AR)
    with client.stream("POST", "/v1/ask", json={"question": Q_AR, "stream": True}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = "".join(r.iter_text())
    events = parse_sse(raw)
    names = [e for e, _ in events]
    assert names[-2:] == ["citations", "done"] and set(names[:-2]) == {"delta"} and len(names) > 3
    deltas = "".join(json.loads(d)["text"] for e, d in events if e == "delta")
    done = json.loads(events[-1][1])
    assert deltas == done["answer"]
    assert json.loads(events[-2][1]) == done["citations"]
    assert plain["answer_id"] and done["answer_id"] and plain["answer_id"] != done["answer_id"]  # two answers
    for key in ("timings_ms", "conversation_id", "answer_id"):
        plain.pop(key)
        done.pop(key)
    assert done == plain


def test_openai_client_non_streaming(live):
    from openai import OpenAI

    oai = OpenAI(base_url=f"{live.url}/v1", api_key="unused", max_retries=0)
    resp = oai.chat.completions.create(model="anything", messages=[
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": Q_AR}])
    assert resp.model == "anything"
    content = resp.choices[0].message.content
    assert "[1]" in content and "Sources:" in content
    assert f"{DOC} ¶" in content.split("Sources:")[1]
    citations = resp.model_extra["citations"]
    assert any(c["file"] == DOC and c["line_start"] <= 19 <= c["line_end"] for c in citations)
    assert resp.choices[0].finish_reason == "stop"


def test_openai_client_streaming_and_history(live):
    from openai import OpenAI

    oai = OpenAI(base_url=f"{live.url}/v1", api_key="unused", max_retries=0)
    messages = [{"role": "user", "content": Q_CHAIR_EN},
                {"role": "assistant", "content": "Jens Stoltenberg [1]"},
                {"role": "user", "content": FOLLOW_EN}]
    plain = oai.chat.completions.create(model="sanad", messages=messages)
    assert any(c["file"] == DOC and c["line_start"] <= 19 <= c["line_end"]
               for c in plain.model_extra["citations"])
    stream = oai.chat.completions.create(model="sanad", messages=messages, stream=True)
    pieces, last = [], None
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        last = chunk
    assert "".join(pieces) == plain.choices[0].message.content
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["citations"] == plain.model_extra["citations"]


def test_openai_raw_stream_ends_with_done(client):
    with client.stream("POST", "/v1/chat/completions",
                       json={"messages": [{"role": "user", "content": Q_EN}], "stream": True}) as r:
        raw = "".join(r.iter_text())
    datas = [d for _, d in parse_sse(raw)]
    assert datas[-1] == "[DONE]"
    assert json.loads(datas[0])["choices"][0]["delta"]["role"] == "assistant"


UPLOAD_NAME = "notes/lighthouse_festival.txt"
UPLOAD_TEXT = ("The Kirtonvale Lighthouse Festival\n"
               "The Kirtonvale Lighthouse Festival was founded in 1987 by the marine engineer Mariam Okafor.\n"
               "Tickets for the harbour concerts go on sale in February.\n")
UPLOAD_Q = "Who founded the Kirtonvale Lighthouse Festival?"


def test_upload_ask_delete_ask(client, live):
    before = client.get("/v1/documents").json()["count"]
    r = client.post("/v1/documents", json={"file": UPLOAD_NAME, "text": UPLOAD_TEXT})
    try:
        assert r.status_code == 201, r.text
        info = r.json()
        assert info["file"] == UPLOAD_NAME and info["paragraphs"] == 3 and info["kind"] == "txt"
        assert info["uploaded"] is True and info["size"] == len(UPLOAD_TEXT.encode())
        stored = live.settings.data_dir / "uploads" / "notes" / "lighthouse_festival.txt"
        assert stored.read_text(encoding="utf-8") == UPLOAD_TEXT
        listed = client.get("/v1/documents").json()
        assert listed["count"] == before + 1 and UPLOAD_NAME in [d["file"] for d in listed["documents"]]

        body = ask(client, UPLOAD_Q)
        assert body["answerable"] and any(c["file"] == UPLOAD_NAME and c["line_start"] == 2
                                          for c in body["citations"]), body
        assert "Okafor" in body["answer"]
        check_citations_verbatim(client, body)

        r = client.delete(f"/v1/documents/{UPLOAD_NAME}")
        assert r.status_code == 204 and r.content == b""
        assert not stored.exists() and not stored.parent.exists()
    finally:
        client.delete(f"/v1/documents/{UPLOAD_NAME}")  # leave the shared index as it was
    assert client.delete(f"/v1/documents/{UPLOAD_NAME}").status_code == 404
    assert client.get(f"/v1/documents/{UPLOAD_NAME}/paragraphs/2").status_code == 404
    assert client.get("/v1/documents").json()["count"] == before
    after = ask(client, UPLOAD_Q)
    assert all(c["file"] != UPLOAD_NAME for c in after["citations"])
    assert "Okafor" not in after["answer"]


def test_multipart_upload_then_delete(client):
    files = {"file": ("agenda.md", "# Agenda\n\nThe quarterly review of the Ostrava depot is on Friday.\n".encode())}
    r = client.post("/v1/documents", files=files)
    try:
        assert r.status_code == 201, r.text
        assert r.json()["kind"] == "md" and r.json()["paragraphs"] == 2
        # a second upload of the same name replaces it (200)
        r = client.post("/v1/documents", files={"file": ("agenda.md", b"# Agenda\n\nMoved to Monday.\n")})
        assert r.status_code == 200 and r.json()["paragraphs"] == 2
        assert client.get("/v1/documents/agenda.md/paragraphs/2").json()["text"] == "Moved to Monday."
    finally:
        assert client.delete("/v1/documents/agenda.md").status_code == 204


@pytest.mark.parametrize("name", ["../evil.txt", "../../etc/passwd.txt", "/etc/evil.txt", "a\\..\\b.txt",
                                  "a\x00b.txt", "", "evil.exe", "notes/../../x.txt", ".hidden.txt"])
def test_upload_rejects_bad_names(client, live, name):
    r = client.post("/v1/documents", json={"file": name, "text": "hello there"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_file_name"
    leaked = [p for p in live.root.rglob("*") if p.name in ("evil.txt", "x.txt", "b.txt", "evil.exe")]
    assert leaked == []


def test_multipart_traversal_filename_rejected(client):
    r = client.post("/v1/documents", files={"file": ("../../evil.txt", b"hello")})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_file_name"


@pytest.mark.parametrize("path", ["..%2F..%2Fetc%2Fpasswd.txt", "%2Fetc%2Fpasswd.txt", "a%5Cb.txt"])
def test_delete_rejects_bad_names(client, path):
    r = client.delete(f"/v1/documents/{path}")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_file_name"


def test_corpus_document_cannot_be_overwritten_by_upload(client):
    r = client.post("/v1/documents", json={"file": DOC, "text": "replaced"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"


def test_question_too_long_on_live_server(client, live):
    r = client.post("/v1/ask", json={"question": "س" * (live.settings.max_question_chars + 1)})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "question_too_long"
    assert str(live.settings.max_question_chars) in r.json()["error"]["message"]


def test_metrics_after_requests(client):
    ask(client, Q_EN)
    text = client.get("/metrics").text
    line = next(l for l in text.splitlines()
                if l.startswith('sanad_http_requests_total{method="POST",route="/v1/ask",status="200"}'))
    assert float(line.rsplit(" ", 1)[1]) >= 1
    assert 'route="/v1/documents/{file:path}/paragraphs/{n}"' in text
    assert "sanad_ask_stage_seconds_count{stage=\"retrieve\"}" in text
    documents = client.get("/readyz").json()["documents"]
    assert f"sanad_documents {float(documents)}" in text
    rss = next(l for l in text.splitlines() if l.startswith("process_resident_memory_bytes"))
    assert float(rss.split()[1]) > 100e6
