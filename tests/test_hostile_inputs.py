"""Hostile input against the real app: never a 500, always a documented error, nothing
written outside the data dir.

One real uvicorn server on 127.0.0.1 (tests/api_fixtures.LiveServer) over one seed article
indexed with the hashing embedder, with an API key and the Slack bot configured (its Web
API calls go to tests/test_slack_bot.SlackRecorder, a local fake of Slack). Two parts:

- a regression test for each defect reproduced in issue 19 (items 2-8) and in issue 28
  (items 1-4 and 7: deep nesting, wrong-shaped signed Slack payloads, an upload raced by a
  delete, unknown-answer clicks, ``/docs``; items 5-6, kills, are in tests/test_upload_crash.py);
- property-based tests (Hypothesis, bounded by ``SANAD_HOSTILE_EXAMPLES``) over document
  names, question text, chat messages, Slack headers, signed Slack payloads, and every
  route's JSON body (random nesting, types, sizes, Unicode).

Every response is checked by ``tests.error_contract.assert_handled``: a success, or a 4xx
whose JSON body is ``{"error": {"code", "message"}}`` with a code the error table of docs/errors.md
documents for that status. Rate limiting is off on the shared server; a second server checks the brute-force
limit (item 7).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from api.slack.options import SlackOptions
from settings import HarnessSettings
from tests.api_fixtures import ROOT, SEEDS, LiveServer, make_settings
from tests.error_contract import DOCUMENTED, assert_handled
from tests.test_slack_bot import SlackRecorder

pytestmark = pytest.mark.integration

KEY = "hostile-suite-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
SECRET = "hostile-suite-signing-secret"
SEED = "001_60d84da894ed2980.txt"
EXAMPLES = HarnessSettings().hostile_examples
HEALTH = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]


def as_json(value: Any) -> bytes:
    """JSON as a client may send it: lone surrogates escaped as ``\\ud800`` (ensure_ascii)."""
    return json.dumps(value).encode("ascii")


def url_name(name: str) -> str:
    """A document name in a URL path (lone surrogates become invalid UTF-8 bytes there)."""
    return quote(name.encode("utf-8", "surrogatepass"), safe="")


#: written into the working directory by the test tools themselves, not by the server
TOOL_CACHES = {".hypothesis", ".pytest_cache"}


def snapshot(folder: Path, *, skip: Path | None = None) -> set[str]:
    return {str(p) for p in folder.rglob("*") if skip is None or not p.is_relative_to(skip)}


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def recorder():
    rec = SlackRecorder()
    yield rec
    rec.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory, recorder):  # noqa: ANN001, ANN201
    from index.indexer import Indexer

    root = tmp_path_factory.mktemp("hostile")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / SEED).write_bytes((SEEDS / SEED).read_bytes())
    data = root / "data"
    cfg = make_settings(data, embed_model="hash", corpus_paths=[corpus], api_keys=[KEY],
                        slack_bot_token="xoxb-hostile", slack_signing_secret=SECRET, slack_app_token=None)
    indexer = Indexer(cfg)
    indexer.index([corpus], progress=None)
    indexer.close()
    outside = snapshot(root, skip=data)
    cwd = set(os.listdir(ROOT))
    server = LiveServer(cfg, slack=SlackOptions(api_base_url=recorder.url + "/api/",
                                                token_verification_enabled=False, ready_timeout_s=30)).start()
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as client:
        yield {"client": client, "root": root, "data": data, "uploads": data / "uploads",
               "outside": outside, "cwd": cwd}
    server.stop()


@pytest.fixture(scope="module")
def client(world) -> httpx.Client:  # noqa: ANN001
    return world["client"]


def assert_contained(world: dict[str, Any]) -> None:
    """Nothing was written outside the data dir; no temporary upload file is left behind."""
    assert snapshot(world["root"], skip=world["data"]) == world["outside"]
    assert set(os.listdir(ROOT)) - TOOL_CACHES == world["cwd"] - TOOL_CACHES
    uploads = world["uploads"]
    if uploads.exists():
        assert not [p for p in uploads.rglob("*.part")], list(uploads.rglob("*.part"))
        for path in uploads.rglob("*"):
            assert path.resolve().is_relative_to(uploads.resolve())


def upload(client: httpx.Client, name: str, text: str = "A short note for the hostile suite.\n") -> httpx.Response:
    return client.post("/v1/documents", content=as_json({"file": name, "text": text}),
                       headers={"Content-Type": "application/json"})


def slack_signed(body: bytes, *, ts: str | None = None) -> dict[str, str]:
    """Headers signed as Slack signs: ``v0=`` + hex HMAC-SHA256 of ``v0:{ts}:{body}``."""
    ts = ts or str(int(time.time()))
    sig = "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}


def post_slack(client: httpx.Client, body: str, *, content_type: str) -> httpx.Response:
    """A signed request (text with lone surrogates goes as the invalid UTF-8 it would be)."""
    raw = body.encode("utf-8", "surrogatepass")
    return client.post("/slack/events", content=raw, headers={"Content-Type": content_type, **slack_signed(raw)})


# ------------------------------------------------------------ regressions (issue 19, 2-8)


def test_readme_documents_the_error_codes() -> None:
    assert {"invalid_file_name", "invalid_json", "invalid_body"} <= DOCUMENTED[400]
    assert DOCUMENTED[409] == {"conflict", "already_voted"} and "invalid_request" in DOCUMENTED[422]


@pytest.mark.parametrize("name", ["a" * 228 + ".txt", "ب" * 112 + ".txt", "notes/" + "x" * 240 + ".md",
                                  "ب" * 200 + ".txt", "d" * 256 + "/a.txt"])
def test_long_names_are_refused_not_500(client, world, name: str) -> None:  # noqa: ANN001
    """Item 2: names whose temporary upload file (or themselves) would not fit: 400, no 500."""
    r = upload(client, name)
    assert_handled(r, allowed={400})
    assert r.json()["error"]["code"] == "invalid_file_name"
    assert_handled(client.delete(f"/v1/documents/{url_name(name)}"), allowed={400})
    assert_handled(client.get(f"/v1/documents/{url_name(name)}"), allowed={400, 404})
    assert_contained(world)


def test_longest_allowed_names_upload_and_delete(client, world) -> None:  # noqa: ANN001
    """The limit is exact: a file's own name of 207 UTF-8 bytes is stored, 208 is refused."""
    from api.service.file_names import MAX_FILE_NAME_BYTES

    assert MAX_FILE_NAME_BYTES == 207
    for name in ("a" * 203 + ".txt", "ب" * 101 + "a.txt", "f" * 255 + "/" + "ب" * 100 + ".md"):
        assert len(name.split("/")[-1].encode()) <= MAX_FILE_NAME_BYTES
        r = upload(client, name)
        assert r.status_code == 201, r.text
        assert (world["uploads"] / name).is_file()
        assert client.delete(f"/v1/documents/{url_name(name)}").status_code == 204
    assert upload(client, "a" * 204 + ".txt").status_code == 400
    assert_contained(world)


@pytest.mark.parametrize("first, second", [("c2.txt/inner.txt", "c2.txt"), ("c3.txt", "c3.txt/inner.txt")])
def test_file_and_folder_of_one_name(client, world, first: str, second: str) -> None:  # noqa: ANN001
    """Item 3: the clash is a 409 conflict, indexes nothing, leaves no .part; after the first
    is deleted the second uploads normally (201), and re-uploading it replaces it (200)."""
    assert upload(client, first).status_code == 201
    r = upload(client, second, "This text must not be indexed.\n")
    assert_handled(r, allowed={409})
    assert r.json()["error"]["code"] == "conflict"
    assert client.get(f"/v1/documents/{url_name(second)}").status_code == 404
    names = {d["file"] for d in client.get("/v1/documents").json()["documents"]}
    assert second not in names and first in names
    assert_contained(world)
    assert client.delete(f"/v1/documents/{url_name(first)}").status_code == 204
    assert upload(client, second).status_code == 201
    assert upload(client, second).status_code == 200
    assert client.delete(f"/v1/documents/{url_name(second)}").status_code == 204
    assert not any(world["uploads"].rglob("*"))
    assert_contained(world)


CHAT_SURROGATES = [
    {"messages": [{"role": "user", "content": "\ud800"}]},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": "who? \udfff"}]}]},
    {"messages": [{"role": "user", "content": "first \ud83d"}, {"role": "assistant", "content": "..."},
                  {"role": "user", "content": "and then?"}]},
    {"model": "sanad\ud800", "messages": [{"role": "user", "content": "who chaired the meeting?"}]},
    {"messages": [{"role": "user", "content": "who chaired the meeting?", "name": "\udc80"}]},
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("body", CHAT_SURROGATES, ids=["content", "list-content", "earlier", "model", "extra"])
def test_lone_surrogates_in_chat_are_422(client, body: dict, stream: bool) -> None:  # noqa: ANN001
    """Item 4: text that cannot be UTF-8 anywhere in the request: 422, streaming or not."""
    r = client.post("/v1/chat/completions", content=as_json({**body, "stream": stream}),
                    headers={"Content-Type": "application/json"})
    assert_handled(r, allowed={422})
    assert r.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("body", [{"question": "\ud800"}, {"question": "who? \udfff", "stream": True},
                                  {"question": "who chaired?", "conversation_id": "\ud800"}])
def test_lone_surrogates_in_ask_are_422(client, body: dict) -> None:  # noqa: ANN001
    r = client.post("/v1/ask", content=as_json(body), headers={"Content-Type": "application/json"})
    assert_handled(r, allowed={422})


@pytest.mark.parametrize("timestamp", ["²".encode("latin-1"), "١٢٣".encode(), b"9" * 5000, b"1.5", b"-1"])
def test_slack_timestamp_that_is_no_ascii_number_is_401(client, timestamp: bytes) -> None:  # noqa: ANN001
    """Item 5: ``X-Slack-Request-Timestamp: ²`` (str.isdigit() accepts it) is 401, not 500."""
    r = client.post("/slack/events", content=b"{}", headers={
        "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=" + "0" * 64})
    assert_handled(r, allowed={401})


def test_slack_signature_with_non_ascii_is_401(client) -> None:  # noqa: ANN001
    r = client.post("/slack/events", content=b"{}", headers={
        "X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=\xe9".encode("latin-1")})
    assert_handled(r, allowed={401})


@pytest.mark.parametrize("signed", [False, True])
def test_slack_body_that_is_not_utf8_is_401(client, signed: bool) -> None:  # noqa: ANN001
    """Found by the property below: a well-formed signature header over a body that is not
    UTF-8 made slack_sdk's verifier raise (500)."""
    body = b"\x80{}"
    headers = slack_signed(body) if signed else {
        "X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=" + "0" * 64}
    r = client.post("/slack/events", content=body, headers={"Content-Type": "application/json", **headers})
    assert_handled(r, allowed={401})


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(("body", "content_type", "status", "code"), [
    ("payload={not json", FORM, 400, "invalid_json"),
    ("{not json", "application/json", 400, "invalid_json"),
    ("[1, 2]", "application/json", 400, "invalid_body"),
    ("payload=%5B1%5D", FORM, 400, "invalid_body"),
    ('payload="text"', FORM, 400, "invalid_body"),
    ('{"type": "event_callback", "event": "\\ud800"}', "application/json", 422, "invalid_request"),
    ('{"type": "block_actions", "team": 5, "enterprise": 7}', "application/json", 400, "invalid_body"),
])
def test_signed_slack_bad_payloads(client, body: str, content_type: str, status: int,  # noqa: ANN001
                                   code: str) -> None:
    """Item 6: a signed body that is not what Slack sends: a documented 4xx, not 500."""
    r = post_slack(client, body, content_type=content_type)
    assert_handled(r, allowed={status})
    assert r.json()["error"]["code"] == code


def test_signed_slack_unknown_action_is_documented_404(client) -> None:  # noqa: ANN001
    """Item 6: an ``action_id`` no listener handles: bolt's 404, in the documented error shape."""
    payload = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U1"}, "api_app_id": "A1",
               "token": "t", "container": {"type": "message", "message_ts": "1.1", "channel_id": "C1"},
               "channel": {"id": "C1"}, "trigger_id": "1", "response_url": "",
               "actions": [{"action_id": "no_such_action", "block_id": "b", "type": "button", "value": "x",
                            "action_ts": "1.2"}]}
    r = post_slack(client, urlencode({"payload": json.dumps(payload)}), content_type=FORM)
    assert_handled(r, allowed={404})
    assert r.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("name", ["a\u0085b.txt", "evil\u202egnp.txt", "line\u2028sep.txt", "\ufeffbom.txt",
                                  "zw\u200dj.txt", "para\u2029.md", "dir\u202a/x.txt", "soft\u00adhyphen.txt"])
def test_control_and_format_characters_in_names_refused(client, world, name: str) -> None:  # noqa: ANN001
    """Item 8: names with Cc, Cf, Zl, Zp characters are refused as docs/http-api.md says."""
    r = upload(client, name)
    assert_handled(r, allowed={400})
    assert r.json()["error"]["code"] == "invalid_file_name"
    assert not world["uploads"].exists() or not any(world["uploads"].rglob("*"))


def test_documents_with_trailing_slash_lists(client) -> None:  # noqa: ANN001
    """Item 8: ``GET /v1/documents/`` lists, as ``GET /v1/documents`` does."""
    r = client.get("/v1/documents/")
    assert r.status_code == 200
    assert r.json() == client.get("/v1/documents").json()
    assert SEED in {d["file"] for d in r.json()["documents"]}


@pytest.mark.parametrize("body, ctype", [
    (b"--xx\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello",
     "multipart/form-data; boundary=xx"),
    (b"garbage", "multipart/form-data"),
    (b"{\"file\": \"a.txt\", \"text\": ", "application/json"),
])
def test_malformed_bodies_give_documented_codes(client, body: bytes, ctype: str) -> None:  # noqa: ANN001
    """Item 8: malformed bodies: a documented 4xx code (no undocumented ``bad_request``)."""
    r = client.post("/v1/documents", content=body, headers={"Content-Type": ctype})
    assert_handled(r)
    assert 400 <= r.status_code < 500 and r.json()["error"]["code"] != "bad_request"


def test_bad_content_length_is_invalid_body() -> None:
    """uvicorn refuses most bad ``Content-Length`` headers itself; the app's own check answers
    with the documented ``invalid_body`` (driven here as the raw ASGI middleware it is)."""
    import asyncio

    from api.http.security import BodySizeLimitMiddleware

    sent: list[dict] = []

    async def app(scope, receive, send) -> None:  # noqa: ANN001 - never reached
        raise AssertionError("the request passed the middleware")

    async def receive() -> dict:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/ask", "headers": [(b"content-length", b"1x")]}
    asyncio.run(BodySizeLimitMiddleware(app, limit_for=lambda scope: 100)(scope, receive, send))
    assert sent[0]["status"] == 400
    body = json.loads(sent[1]["body"])
    assert body["error"]["code"] == "invalid_body" and "invalid_body" in DOCUMENTED[400]


def test_document_text_cannot_inject_citation_markers(client, world) -> None:  # noqa: ANN001
    """Item 8: a quoted "HACKED [1]" does not become a marker in the extractive answer; the
    citation's quote stays verbatim."""
    sentence = "The treasurer of the riverside rowing club approved HACKED [1] and [2, 3] for the boathouse."
    assert upload(client, "inject.txt", sentence + "\n").status_code == 201
    try:
        r = client.post("/v1/ask", json={"question": sentence})
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["answerable"] and answer["citations"][0]["file"] == "inject.txt"
        assert answer["citations"][0]["quote"] == sentence
        assert "HACKED (1) and (2, 3)" in answer["answer"]
        markers = re.findall(r"\[[^\]]*\]", answer["answer"])
        assert markers == [f"[{c['ref']}]" for c in answer["citations"]], answer["answer"]
    finally:
        assert client.delete("/v1/documents/inject.txt").status_code == 204
    assert_contained(world)


# --------------------------------------------------------------- regressions (issue 28)


def deep_json(depth: int, opener: str = "[") -> str:
    """``[[[...]]]`` (or ``{"a": {"a": ...}}``) ``depth`` levels deep."""
    if opener == "[":
        return "[" * depth + "]" * depth
    return '{"a": ' * depth + "1" + "}" * depth


#: every route that reads a JSON body (the Slack route is signed: below)
JSON_ROUTES = ["/v1/documents", "/v1/ask", "/v1/chat/completions", "/v1/feedback"]


@pytest.mark.parametrize("path", JSON_ROUTES)
@pytest.mark.parametrize("body", [deep_json(1000), deep_json(3000, "{"), '{"file": "a.txt", "text": "x", "more": '
                                  + deep_json(1000) + "}", deep_json(100_000)], ids=["list", "object", "inside", "huge"])
@pytest.mark.parametrize("content_type", ["application/json", None])
def test_deeply_nested_json_is_400_on_every_route(client, path: str, body: str,  # noqa: ANN001
                                                  content_type: str | None) -> None:
    """Item 1: ``[`` x 1000 then ``]`` x 1000 on ``POST /v1/documents`` was a 500 (RecursionError);
    every JSON route answers 400 ``invalid_json`` before parsing (with or without a content type)."""
    headers = {"Content-Type": content_type} if content_type else {}
    r = client.post(path, content=body.encode(), headers=headers)
    assert_handled(r, allowed={400})
    assert r.json()["error"]["code"] == "invalid_json"
    assert "nested" in r.json()["error"]["message"]


def test_nesting_within_the_limit_still_parses(client) -> None:  # noqa: ANN001
    """The limit refuses depth, not JSON: a question with a 20-deep extra field is answered."""
    body = '{"question": "who chaired the meeting?", "extra": ' + deep_json(20) + "}"
    r = client.post("/v1/ask", content=body.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(("body", "content_type"), [
    ('{"type": "url_verification", "challenge": ' + deep_json(3000) + "}", "application/json"),
    ('{"type": "event_callback", "team_id": "T1", "event": ' + deep_json(3000, "{") + "}", "application/json"),
    ("payload=" + quote('{"type": "block_actions", "actions": ' + deep_json(1000) + "}"), FORM),
    ('{"type": "event_callback", "event": ' + deep_json(3000) + "}", "text/plain"),
], ids=["url_verification", "event_callback", "form-payload", "sniffed-json"])
def test_signed_slack_deep_nesting_is_400(client, body: str, content_type: str) -> None:  # noqa: ANN001
    """Item 2: signed Slack bodies nested 3,000 deep (or a form ``payload=`` 1,000 deep) were 500s."""
    r = post_slack(client, body, content_type=content_type)
    assert_handled(r, allowed={400})
    assert r.json()["error"]["code"] == "invalid_json"


def _signed_action(**changes: Any) -> str:
    payload = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U1", "team_id": "T1"},
               "api_app_id": "A1", "token": "t", "trigger_id": "1", "response_url": "",
               "container": {"type": "message", "message_ts": "1.1", "channel_id": "C1"}, "channel": {"id": "C1"},
               "actions": [{"action_id": "sanad_feedback_up", "block_id": "sanad_feedback", "type": "button",
                            "value": "en", "action_ts": "1.2"}]}
    payload.update(changes)
    return urlencode({"payload": json.dumps(payload)})


def _signed_event(**changes: Any) -> str:
    body = {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": f"Ev{time.monotonic_ns()}",
            "event": {"type": "app_mention", "text": "<@UBOT> hi", "channel": "C-SHAPE", "user": "U1",
                      "ts": "1.1"}}
    body.update(changes)
    return json.dumps(body)


@pytest.mark.parametrize(("body", "content_type"), [
    (_signed_event(event=None), "application/json"),
    (_signed_event(event=[1]), "application/json"),
    (_signed_event(event="x"), "application/json"),
    (_signed_event(event={"type": "app_mention", "channel": ["C1"], "user": "U1", "ts": "1.1"}), "application/json"),
    (_signed_event(team_id=["T1"]), "application/json"),
    (_signed_action(actions=[]), FORM),
    (_signed_action(actions="x"), FORM),
    (_signed_action(actions=[{"value": "x"}]), FORM),
    (_signed_action(actions=[{"action_id": 5, "value": "x"}]), FORM),
    (_signed_action(team={"id": ["T1"]}), FORM),
    (_signed_action(user="U1", channel="C1"), FORM),
], ids=["event-null", "event-list", "event-str", "event-channel-list", "team-id-list", "actions-empty",
        "actions-str", "no-action-id", "action-id-int", "team-id-list-action", "user-str"])
def test_signed_slack_payload_of_the_wrong_shape_is_400(client, body: str, content_type: str) -> None:  # noqa: ANN001
    """Item 3: these were 503 ``not_ready`` with ``Retry-After: 30`` (bolt's middleware failed on
    them), telling Slack to retry a request that can never succeed; item 7: a ``team_id`` sent
    as a list was stored as the owner ``slack:['T1']``."""
    r = post_slack(client, body, content_type=content_type)
    assert_handled(r, allowed={400})
    assert r.json()["error"]["code"] == "invalid_body" and "retry-after" not in r.headers


def test_upload_raced_by_delete_of_the_same_name(client, world) -> None:  # noqa: ANN001
    """Item 4: a delete of the name being uploaded made the upload a 500 (``assert rec is not
    None``) in 5 of 5 rounds. Now each side gets a success or a clean 404/409, and the end
    state agrees: listed exactly when the uploaded file is there."""
    import threading

    text = "".join(f"Line {i} of the raced note, about the boathouse budget and its {i} oars.\n" for i in range(1500))
    name = "raced.txt"
    for _ in range(5):
        result: dict[str, httpx.Response] = {}
        uploader = threading.Thread(target=lambda: result.__setitem__("upload", upload(client, name, text)))
        uploader.start()
        deadline = time.monotonic() + 60
        while not list(world["uploads"].glob(f".{name}.*.part")) and uploader.is_alive() \
                and time.monotonic() < deadline:
            time.sleep(0.002)
        deleted = client.delete(f"/v1/documents/{name}")
        uploader.join(120)
        assert_handled(result["upload"], allowed={200, 201, 404, 409})
        assert_handled(deleted, allowed={204, 404})
        docs = {d["file"]: d for d in client.get("/v1/documents").json()["documents"]}
        on_disk = (world["uploads"] / name).is_file()
        assert (name in docs) == on_disk, (docs.get(name), on_disk)
        if name in docs:
            assert docs[name]["uploaded"] is True
            assert client.delete(f"/v1/documents/{name}").status_code == 204
        assert_contained(world)


def test_unknown_answer_id_click_is_not_counted(client, recorder) -> None:  # noqa: ANN001
    """Item 7: a signed click whose ``answer_id`` the answer log does not hold was counted in
    ``sanad_feedback_total``; now it is not, and the clicker is told the answer cannot be rated."""
    def helpful() -> float:
        m = re.search(r'^sanad_feedback_total\{value="helpful"\} ([0-9.e+]+)$', client.get("/metrics", headers=AUTH).text, re.M)
        assert m
        return float(m.group(1))

    before = helpful()
    hook = f"unknown-{time.monotonic_ns()}"
    body = _signed_action(response_url=f"{recorder.url}/respond/{hook}", actions=[{
        "action_id": "sanad_feedback_up", "block_id": "sanad_feedback", "type": "button",
        "value": "en:ans_never_issued_0000", "action_ts": "1.2"}])
    r = post_slack(client, body, content_type=FORM)
    assert r.status_code == 200, r.text
    (reply,) = recorder.wait(lambda: recorder.responses(hook))
    assert "Thanks" not in reply["body"]["text"]
    assert helpful() == before


def test_swagger_ui_is_served_from_the_package_under_the_page_csp(client) -> None:  # noqa: ANN001
    """Item 7: ``/docs`` loaded Swagger UI from a public CDN and had no CSP. Its HTML, scripts
    and styles now come from this server, under the web page's Content-Security-Policy."""
    from api.http.web import CONTENT_SECURITY_POLICY

    r = client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    # the page's policy; only images may also be data: URLs (Swagger UI's CSS draws its icons so)
    page_policy = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    docs_policy = dict(d.split(" ", 1) for d in r.headers["content-security-policy"].split("; "))
    assert docs_policy == {**page_policy, "img-src": "'self' data:"}
    assert "<script>" not in r.text and " style=" not in r.text  # no inline code the CSP would block
    assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    for asset in assets:
        got = client.get(asset)
        assert got.status_code == 200 and len(got.content) > 0, asset
        assert got.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    assert client.get("/redoc").status_code == 404  # ReDoc needs inline styles: not served


# ------------------------------------------------------------------- brute-force limit (7)


def test_wrong_keys_are_rate_limited_by_ip(tmp_path: Path) -> None:
    """Item 7: 200 wrong keys at a limit of 30/minute: the first 10 (the failure bucket) get
    401, the rest 429 with Retry-After; while blocked even the right key is 429 from that IP
    (a right guess cannot be told from a wrong one); another client IP is not affected."""
    cfg = make_settings(tmp_path / "data", embed_model="hash", api_keys=[KEY], rate_limit_per_minute=30,
                        auth_failures_per_minute=10)
    server = LiveServer(cfg).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            statuses = []
            for i in range(200):
                r = c.get("/v1/documents", headers={"Authorization": f"Bearer guess-{i}"})
                assert_handled(r, allowed={401, 429})
                statuses.append(r.status_code)
            assert statuses[:10] == [401] * 10 and statuses[10:] == [429] * 190
            assert 1 <= int(r.headers["retry-after"]) <= 60
            assert c.get("/v1/documents", headers=AUTH).status_code == 429
            assert c.get("/v1/documents").status_code == 429  # no key at all: the same bucket
            assert c.get("/healthz").status_code == 200  # only /v1 is guarded
        other = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(base_url=server.url, timeout=30, transport=other) as c2:
            assert c2.get("/v1/documents", headers=AUTH).status_code == 200
    finally:
        server.stop()


# ------------------------------------------------------------------------ properties


def fuzz(check: Callable[..., int], *, max_examples: int = EXAMPLES, examples: Sequence[dict[str, Any]] = (),
         **strategies: st.SearchStrategy) -> set[int]:
    """Run ``check(**drawn)`` on ``examples`` and ``max_examples`` draws of ``strategies``; the
    statuses seen (so a test can also assert that its inputs reached successes and refusals)."""
    seen: set[int] = set()

    @given(**strategies)
    @settings(max_examples=max_examples, deadline=None, suppress_health_check=HEALTH, database=None)
    def run(**drawn: Any) -> None:
        seen.add(check(**drawn))

    for explicit in examples:
        run = example(**explicit)(run)
    run()
    return seen


HOSTILE_PIECES = ["\x00", "\x85", "\u202e", "\u2028", "\u2029", "\ufeff", "\u200d", "\\", "..", ".", "/", " ",
                  "%2e", "?", "#", ":", "C:", "~", "\ud800", "\udfff", "ب", "😀", "a", "é", "\t", "\n", "*"]
piece = st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(min_size=1, max_size=6),
                  st.characters(categories=["Cs", "Cc", "Cf", "Zl", "Zp", "Co"]))
component = st.lists(piece, min_size=0, max_size=6).map("".join)
SUFFIXES = [".txt", ".md", ".html", ".htm", ".markdown", ".pdf", ".docx", ".TXT", "", ".txt.exe", ".txt/"]
structured_names = st.builds(lambda parts, suffix: "/".join(parts) + suffix,
                             st.lists(component, min_size=1, max_size=4), st.sampled_from(SUFFIXES))
long_names = st.builds(lambda folder, ch, n, suffix: folder + ch * n + suffix,
                       st.sampled_from(["", "notes/", "ب" * 130 + "/"]),
                       st.sampled_from(["a", "ب", "😀", "\u0301"]),
                       st.integers(50, 300), st.sampled_from([".txt", ".md"]))
plausible_names = st.from_regex(r"(?:[a-z0-9ء-ي][a-z0-9ء-ي _()-]{0,20}/){0,2}"
                                r"[a-z0-9ء-ي][a-z0-9ء-ي _.-]{0,30}\.(?:txt|md)",
                                fullmatch=True)
names = st.one_of(plausible_names, structured_names, long_names, st.text(max_size=40),
                  st.sampled_from(["c2.txt", "c2.txt/inner.txt", "../x.txt", "/etc/x.txt", ".hidden.txt", ""]))


def test_any_document_name(client, world) -> None:  # noqa: ANN001
    """Upload, read and delete under any name: handled; a stored name round-trips exactly."""

    def check(name: str) -> int:
        r = upload(client, name)
        # 415: a .pdf/.docx name sent as a JSON (text) upload: those are multipart only
        assert_handled(r, allowed={200, 201, 400, 404, 409, 415, 422})
        path = f"/v1/documents/{url_name(name)}"
        if r.status_code in (200, 201):
            assert r.json()["file"] == name
            assert (world["uploads"] / name).is_file()
            got = client.get(path)
            assert got.status_code == 200 and got.json()["file"] == name
            assert client.delete(path).status_code == 204
            assert_handled(client.get(path), allowed={404})
        elif name:
            got = client.get(path)
            assert_handled(got, allowed={200, 400, 404})
            if got.status_code == 200:  # "" or "." (httpx drops a "." path segment): the listing
                assert "documents" in got.json(), got.text[:200]
            assert_handled(client.delete(path), allowed={400, 404})
        assert_contained(world)
        return r.status_code

    seen = fuzz(check, name=names)
    assert seen & {200, 201} and 400 in seen, seen


nested = st.sampled_from(["k.txt", "k.txt/a.txt", "k.txt/a.txt/b.md", "k.txt/b.md", "m/k.txt", "m"])


def test_upload_and_delete_sequences_over_clashing_names(client, world) -> None:  # noqa: ANN001
    """Uploads and deletes of names that are files and folders of each other, in any order:
    the index and the uploads folder agree after every step."""

    def check(sequence: list[tuple[str, str]]) -> int:
        statuses = set()
        try:
            for action, name in sequence:
                if action == "upload":
                    r = upload(client, name)
                    assert_handled(r, allowed={200, 201, 400, 409})
                else:
                    r = client.delete(f"/v1/documents/{url_name(name)}")
                    assert_handled(r, allowed={204, 400, 404})
                statuses.add(r.status_code)
                docs = client.get("/v1/documents").json()["documents"]
                on_disk = {p.relative_to(world["uploads"]).as_posix() for p in world["uploads"].rglob("*")
                           if p.is_file()} if world["uploads"].exists() else set()
                assert {d["file"] for d in docs if d["uploaded"]} == on_disk, (sequence, docs, on_disk)
                assert {d["file"] for d in docs} - {SEED} == on_disk
                assert_contained(world)
        finally:
            for doc in client.get("/v1/documents").json()["documents"]:
                if doc["uploaded"]:
                    client.delete(f"/v1/documents/{url_name(doc['file'])}")
        return 409 if 409 in statuses else min(statuses)

    clash = [("upload", "k.txt"), ("upload", "k.txt/a.txt"), ("delete", "k.txt"), ("upload", "k.txt/a.txt"),
             ("upload", "k.txt")]
    seen = fuzz(check, max_examples=max(10, EXAMPLES // 2), examples=[{"sequence": clash}],
                sequence=st.lists(st.tuples(st.sampled_from(["upload", "delete"]), nested), min_size=1, max_size=6))
    assert 409 in seen, seen


any_text = st.text(alphabet=st.one_of(st.characters(), st.characters(categories=["Cs"]),
                                      st.sampled_from(["[", "1", "]", "؟", "م", " ", "\x00", "\u202e"])),
                   max_size=300)
#: sentences of the indexed seed (answerable with the hashing embedder), with hostile additions
SEED_SENTENCES = [line.strip() for line in (SEEDS / SEED).read_text(encoding="utf-8").splitlines() if len(line) > 60]
plausible_questions = st.builds(lambda s, extra: s + extra, st.sampled_from(SEED_SENTENCES[:8]),
                                st.one_of(st.text(max_size=40), any_text))


def test_any_question(client, world) -> None:  # noqa: ANN001
    def check(question: str, stream: bool, conversation: str | None, top_k: int | None) -> int:
        body: dict[str, Any] = {"question": question, "stream": stream}
        if conversation is not None:
            body["conversation_id"] = conversation
        if top_k is not None:
            body["top_k"] = top_k
        r = client.post("/v1/ask", content=as_json(body), headers={"Content-Type": "application/json"})
        assert_handled(r, allowed={200, 400, 422})
        if r.status_code == 200 and stream:
            assert "event: done" in r.text and "internal_error" not in r.text
        assert_contained(world)
        return r.status_code

    seen = fuzz(check, question=st.one_of(plausible_questions, any_text, st.text(min_size=990, max_size=1100)),
                stream=st.booleans(), conversation=st.one_of(st.none(), st.text(max_size=200)),
                top_k=st.one_of(st.none(), st.integers(-5, 60)))
    assert 200 in seen and 422 in seen, seen


json_values = st.recursive(st.none() | st.booleans() | st.integers() | any_text,
                           lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(any_text, inner, max_size=3)),
                           max_leaves=8)
content = st.one_of(st.none(), any_text, plausible_questions, st.integers(), st.lists(st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["text", "input_text", "image_url", "x"]), "text": any_text}),
    st.dictionaries(any_text, json_values, max_size=2)), max_size=3))
message = st.fixed_dictionaries({"role": st.one_of(st.sampled_from(["user", "assistant", "system", "tool"]), any_text),
                                 "content": content},
                                optional={"name": any_text, "extra": json_values})


def test_any_chat_request(client, world) -> None:  # noqa: ANN001
    def check(messages: Any, model: Any, stream: Any, extra: dict) -> int:
        body = {**extra, "messages": messages, "stream": stream}
        if model is not None:
            body["model"] = model
        r = client.post("/v1/chat/completions", content=as_json(body), headers={"Content-Type": "application/json"})
        assert_handled(r, allowed={200, 400, 422})
        if r.status_code == 200 and stream is True:
            assert r.text.endswith("data: [DONE]\n\n") and "internal_error" not in r.text
        assert_contained(world)
        return r.status_code

    plausible = st.lists(st.fixed_dictionaries({"role": st.just("user"), "content": plausible_questions}),
                         min_size=1, max_size=3)
    seen = fuzz(check, messages=st.one_of(plausible, st.lists(message, min_size=1, max_size=4), json_values),
                model=st.one_of(st.none(), any_text, st.integers()), stream=st.one_of(st.booleans(), st.just("yes")),
                extra=st.dictionaries(st.text(max_size=10), json_values, max_size=2))
    assert 200 in seen and 422 in seen, seen


def header_bytes(text: str) -> bytes:
    """A header value as a client may send it (latin-1 where it can be, else UTF-8 bytes)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


header_text = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=80),
    st.sampled_from(["²", "١٢٣", "9" * 5000, "v0=" + "a" * 64, "v1=abc", "v0=\xe9"]),
    st.builds(lambda: str(int(time.time()))))


def test_unsigned_slack_requests_are_401(client) -> None:  # noqa: ANN001
    def check(timestamp: str | None, signature: str | None, body: bytes) -> int:
        headers = {}
        if timestamp is not None:
            headers["X-Slack-Request-Timestamp"] = header_bytes(timestamp)
        if signature is not None:
            headers["X-Slack-Signature"] = header_bytes(signature)
        r = client.post("/slack/events", content=body, headers=headers)
        assert_handled(r, allowed={401})
        return r.status_code

    assert fuzz(check, timestamp=st.one_of(st.none(), header_text), signature=st.one_of(st.none(), header_text),
                body=st.binary(max_size=200)) == {401}


def _event(kind: str, text: Any, extra: dict) -> dict:
    return {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": f"Ev{time.monotonic_ns()}",
            "event": {"type": kind, "text": text, "channel": "C1", "user": "U1", "ts": "1.1", "channel_type": "im",
                      **extra}}


def _action(action_id: Any, value: Any) -> str:
    return urlencode({"payload": json.dumps({
        "type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U1"}, "api_app_id": "A1", "token": "t",
        "container": {"type": "message", "message_ts": "1.1", "channel_id": "C1"}, "channel": {"id": "C1"},
        "actions": [{"action_id": action_id, "type": "button", "value": value, "action_ts": "1.2"}]})})


slack_bodies = st.one_of(
    json_values.map(json.dumps),
    st.builds(_event, st.sampled_from(["app_mention", "message", "reaction_added", "x"]), any_text,
              st.dictionaries(st.sampled_from(["thread_ts", "bot_id", "subtype", "blocks"]), json_values, max_size=2))
    .map(json.dumps),
    st.builds(_action, st.one_of(st.sampled_from(["sanad_feedback_up", "sanad_feedback_down"]), any_text,
                                 st.integers()), json_values),
    any_text.map(lambda t: "payload=" + t),
    st.builds(lambda cmd, text: urlencode({"command": cmd, "text": text, "user_id": "U1", "channel_id": "C1",
                                           "team_id": "T1", "response_url": "", "trigger_id": "1"}),
              st.sampled_from(["/ask", "/other"]), st.text(max_size=50)),
)


def test_any_signed_slack_payload(client, world) -> None:  # noqa: ANN001
    def check(body: str, content_type: str) -> int:
        r = post_slack(client, body, content_type=content_type)
        assert_handled(r, allowed={200, 400, 401, 404, 422})
        assert_contained(world)
        return r.status_code

    seen = fuzz(check, body=slack_bodies, content_type=st.sampled_from(["application/json", FORM, "text/plain", ""]))
    assert 200 in seen and seen & {400, 422}, seen


def json_body_routes(client: httpx.Client) -> list[str]:
    """Every operation of ``/openapi.json`` that reads a JSON body, and the signed Slack route."""
    spec = client.get("/openapi.json").json()
    routes = [path for path, ops in spec["paths"].items() for method, op in ops.items()
              if method == "post" and "application/json" in op.get("requestBody", {}).get("content", {})]
    return sorted(routes) + ["/slack/events"]


def nest(depth: int, pattern: str, leaf: str) -> str:
    """``leaf`` inside ``depth`` arrays / objects, in the order ``pattern`` repeats."""
    openers = (pattern * (depth // len(pattern) + 1))[:depth]
    head = "".join("[" if o == "[" else '{"k": ' for o in openers)
    return head + leaf + "".join("]" if o == "[" else "}" for o in reversed(openers))


wide_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | any_text
    | st.builds(lambda ch, n: ch * n, st.sampled_from(["a", "ب", "😀", "\\", '"', "["]), st.integers(0, 100_000)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(any_text, inner, max_size=4)),
    max_leaves=12)
deep_bodies = st.builds(nest, st.one_of(st.integers(0, 80), st.integers(50, 5000)),
                        st.sampled_from(["[", "{", "[{", "{{[", "[[{"]), wide_values.map(json.dumps))
#: bodies shaped like each route's, with something hostile inside
shaped_bodies = st.builds(
    lambda base, key, value: json.dumps({**base, key: "\0hole"}).replace('"\\u0000hole"', value),
    st.sampled_from([{"file": "fuzzed.txt", "text": "A fuzzed note.\n"}, {"question": "who chaired the meeting?"},
                     {"messages": [{"role": "user", "content": "who chaired the meeting?"}]},
                     {"answer_id": "ans_x", "value": "helpful"}, {"type": "event_callback", "team_id": "T1"},
                     {"type": "block_actions", "actions": [{"action_id": "sanad_feedback_up"}]},
                     {"type": "url_verification", "challenge": "c"}]),
    st.sampled_from(["file", "text", "question", "messages", "top_k", "stream", "answer_id", "value", "event",
                     "actions", "team", "user", "challenge", "extra"]),
    st.one_of(wide_values.map(json.dumps), deep_bodies))
json_bodies = st.one_of(wide_values.map(json.dumps), deep_bodies, shaped_bodies,
                        any_text.map(lambda t: t.encode("utf-8", "surrogatepass").decode("latin-1")))


def test_any_json_body_on_every_route(client, world) -> None:  # noqa: ANN001
    """The fuzz pass of issue 28: random nesting (up to 5,000 deep, arrays and objects mixed),
    types, sizes and Unicode, as the body of every route that reads JSON (the Slack route
    signed, as JSON and as a form's ``payload``): never a 5xx other than 503 ``overloaded``,
    always the JSON error body."""
    import itertools

    routes = json_body_routes(client)
    assert {"/v1/ask", "/v1/chat/completions", "/v1/documents", "/v1/feedback", "/slack/events"} <= set(routes)
    ages = itertools.cycle(range(240))  # a distinct signature per request: a re-run is no replay

    def check(route: str, body: str, content_type: str) -> int:
        raw = body.encode("utf-8", "surrogatepass")
        headers = {"Content-Type": content_type} if content_type else {}
        if route == "/slack/events":
            if content_type == FORM:
                raw = ("payload=" + quote(raw)).encode()
            headers.update(slack_signed(raw, ts=str(int(time.time()) - next(ages))))
        r = client.post(route, content=raw, headers=headers)
        if r.status_code == 503 and r.json()["error"]["code"] == "overloaded":
            return 503
        assert_handled(r)
        if route == "/v1/documents" and r.status_code in (200, 201):
            assert client.delete(f"/v1/documents/{url_name(r.json()['file'])}").status_code == 204
        assert_contained(world)
        return r.status_code

    seen = fuzz(check, max_examples=EXAMPLES * 3, route=st.sampled_from(routes), body=json_bodies,
                content_type=st.sampled_from(["application/json", "", "text/plain", FORM]))
    assert 400 in seen and 422 in seen, seen


def test_nothing_was_written_outside_the_data_dir(world) -> None:  # noqa: ANN001
    assert_contained(world)
    assert world["client"].get("/readyz").status_code == 200


@pytest.mark.parametrize("path", ["/v1/documents/%0A", "/healthz%0A", "/v1/documents%0A"])
def test_a_path_ending_in_a_line_break_is_not_another_route(client, path: str) -> None:  # noqa: ANN001
    """Starlette's route patterns end in ``$``, which matches before a final newline: without a
    check, ``/v1/documents/%0A`` answered with the document list (found by schemathesis)."""
    r = client.get(path)
    assert_handled(r, allowed={404})
    assert r.json()["error"]["code"] == "not_found"
