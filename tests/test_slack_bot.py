"""The Slack bot end to end: real signed HTTP requests to a real uvicorn on 127.0.0.1.

No Slack server is reachable, so the bot's Web API client (``slack_sdk.WebClient``) and
every ``response_url`` point at :class:`SlackRecorder`, a small HTTP server in this module
that answers like Slack and records each call. Requests are signed exactly as Slack signs
them (HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the signing secret). The server finds
the recorder through ``SANAD_SLACK_API_URL`` (the ``slack_api_url`` setting) and checks its
token there with ``auth.test`` as it starts; the recorder refuses ``REFUSED_TOKEN`` with
``invalid_auth``, and its ``apps.connections.open`` names a local WebSocket server for the
Socket Mode test.

Most tests use the hashing embedder over seeds/ plus one English document (a question that
copies a sentence is answerable, anything else abstains); one uses the real model.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, quote, unquote, urlencode

import httpx
import pytest

from api.slack.options import SlackOptions
from api.slack.render import FEEDBACK_DOWN, FEEDBACK_UP, quote_snippet, strip_bidi
from qa.extractive import FRAME
from tests.api_fixtures import HTTP_DEFAULTS, LiveServer, copy_seeds, free_port, make_settings

pytestmark = pytest.mark.integration

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-0000-bot-token-never-logged"
#: the token the recorder's auth.test refuses with invalid_auth (every other one is accepted)
REFUSED_TOKEN = "xoxb-revoked-0000"
BOT_USER = "UBOT"
BOT_ID = "BBOT"
TEAM = "T1"
PUBLIC = "https://sanad.example.org"
DOC_AR = "001_60d84da894ed2980.txt"
DOC_EN = "board minutes.md"
#: a sentence of seeds/001 (¶13, line 19): the hashing embedder finds it
Q_AR = "ويترأس الاجتماع أمين عام حلف الناتو ينس ستولتنبرغ"
FOLLOW_AR = "ومن مثّل روسيا؟"
ABSTAIN_AR = "لا تتضمن المستندات المتاحة إجابة عن هذا السؤال."
Q_EN = "The board met on Monday and approved the budget"
ENGLISH_DOC = ("# Board minutes\n\nThe board met on Monday & approved the budget of <two> million dollars "
               "for the new library.\n\nThe next meeting is in March.\n")

_ts = itertools.count(1)


def new_ts() -> str:
    """A fresh Slack message timestamp."""
    return f"{int(time.time())}.{next(_ts):06d}"


# ------------------------------------------------------------------- the fake Slack side


class SlackRecorder:
    """Answers Slack Web API calls (``/api/<method>``) and ``response_url`` posts
    (``/respond/<id>``) like Slack does, and records every call.

    ``auth.test`` refuses ``REFUSED_TOKEN`` with Slack's ``invalid_auth`` and accepts any other;
    ``apps.connections.open`` answers with ``ws_url`` (a local WebSocket server, for Socket Mode)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.ws_url: str | None = None
        self.lock = threading.Lock()
        recorder = self
        counter = itertools.count(1)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype:
                    body: Any = json.loads(raw or b"{}")
                else:
                    body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                call = {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                with recorder.lock:
                    recorder.calls.append(call)
                method = self.path.removeprefix("/api/")
                if method == "auth.test" and call["auth"] == f"Bearer {REFUSED_TOKEN}":
                    reply: dict[str, Any] = {"ok": False, "error": "invalid_auth"}
                elif method == "apps.connections.open":
                    reply = {"ok": True, "url": recorder.ws_url}
                elif method == "auth.test":
                    reply = {"ok": True, "url": "https://t1.slack.com/", "team": "Team",
                                             "user": "sanad", "team_id": TEAM, "user_id": BOT_USER,
                                             "bot_id": BOT_ID, "is_enterprise_install": False}
                elif method == "chat.postMessage":
                    reply = {"ok": True, "channel": body.get("channel"),
                             "ts": f"{int(time.time())}.{next(counter):06d}", "message": body}
                else:
                    reply = {"ok": True}
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def matching(self, pred: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        with self.lock:
            return [c for c in self.calls if pred(c)]

    def posts(self, channel: str) -> list[dict[str, Any]]:
        """``chat.postMessage`` calls to ``channel``."""
        return self.matching(lambda c: c["path"] == "/api/chat.postMessage" and c["body"].get("channel") == channel)

    def api(self, method: str) -> list[dict[str, Any]]:
        """Calls of the Web API ``method`` (e.g. ``auth.test``)."""
        return self.matching(lambda c: c["path"] == f"/api/{method}")

    def responses(self, hook: str) -> list[dict[str, Any]]:
        """Posts to the ``response_url`` ``/respond/<hook>``."""
        return self.matching(lambda c: c["path"] == f"/respond/{hook}")

    def wait(self, fetch: Callable[[], list[dict[str, Any]]], *, count: int = 1,
             timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = fetch()
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"expected {count} call(s) within {timeout} s; got {fetch()}")


def signature(body: str, ts: int | str, secret: str = SECRET) -> str:
    """Slack's request signature: ``v0=`` + hex HMAC-SHA256 of ``v0:{ts}:{body}``."""
    return "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()


def signed_headers(body: str, *, ts: int | None = None, secret: str = SECRET,
                   content_type: str = "application/json", **extra: str) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": signature(body, ts, secret), **extra}


def event_body(event: dict[str, Any], *, event_id: str | None = None) -> str:
    return json.dumps({
        "token": "legacy-verification-token", "team_id": TEAM, "api_app_id": "A1", "type": "event_callback",
        "event_id": event_id or f"Ev{next(_ts):08d}", "event_time": int(time.time()), "event": event,
        "authorizations": [{"enterprise_id": None, "team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    }, ensure_ascii=False)


def mention(channel: str, text: str, *, ts: str | None = None, thread_ts: str | None = None,
            user: str = "U1", **extra: Any) -> dict[str, Any]:
    event = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER}> {text}", "ts": ts or new_ts(),
             "channel": channel, "event_ts": ts or new_ts(), **extra}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def dm(channel: str, text: str, *, user: str = "U1", **extra: Any) -> dict[str, Any]:
    ts = new_ts()
    return {"type": "message", "channel_type": "im", "user": user, "text": text, "ts": ts,
            "channel": channel, "event_ts": ts, **extra}


def command_body(text: str, *, response_url: str, channel: str = "C-CMD", user: str = "U7") -> str:
    """A slash command as Slack posts it (form-encoded)."""
    return urlencode({"token": "legacy", "team_id": TEAM, "team_domain": "t1", "channel_id": channel,
                      "channel_name": "general", "user_id": user, "user_name": "ann", "command": "/ask",
                      "text": text, "api_app_id": "A1", "response_url": response_url,
                      "trigger_id": "13345224609.738474920.8088930838d88f008e0"})


FORM = "application/x-www-form-urlencoded"


def section_text(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")


def visible(mrkdwn: str) -> str:
    """What a reader sees: bidi marks dropped, mrkdwn escapes undone."""
    return strip_bidi(mrkdwn).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def citation_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for b in blocks if b["type"] == "context" and b.get("block_id", "").startswith("sanad_citation_")]


_LINK_RE = re.compile(r"^\[(\d+)\] <([^|>]+)\|([^>]+)>$")


def web_link(blocks: list[dict[str, Any]]) -> tuple[str, str]:
    """The (url, label) of the "open in the web page" link under the citations."""
    (block,) = [b for b in blocks if b.get("block_id") == "sanad_web"]
    m = re.fullmatch(r"<([^|>]+)\|([^>]+)>", block["elements"][0]["text"])
    assert m, block
    return m.group(1), m.group(2)
_FRAMES = [frame.strip("\n") for pair in FRAME.values() for frame in pair]


def quote_of(answer: str, ref: str) -> str:
    """The quote marked [ref] in an extractive answer (its line is FRAME + quote + " [ref]")."""
    for line in answer.split("\n"):
        if line.endswith(f" [{ref}]"):
            body = line[: -len(f" [{ref}]")]
            for frame in _FRAMES:
                if body.startswith(frame):
                    return body[len(frame):]
    raise AssertionError(f"no quote marked [{ref}] in {answer!r}")


def check_citations(client: httpx.Client, blocks: list[dict[str, Any]], expect_file: str) -> list[str]:
    """Each citation is a link to PUBLIC + the paragraph's API path, labelled "file ¶N, line(s)";
    its quote (whole in the answer, its first words under it) is verbatim in the paragraph
    the link resolves to. Returns the cited files, in order."""
    cited = citation_blocks(blocks)
    assert cited, blocks
    answer = visible(section_text(blocks))
    files = []
    for block in cited:
        link, quote_el = block["elements"]
        m = _LINK_RE.match(link["text"])
        assert m, link["text"]
        ref, url, label = m.groups()
        assert url.startswith(PUBLIC + "/v1/documents/")
        para = client.get(url.removeprefix(PUBLIC))
        assert para.status_code == 200, (url, para.text)
        p = para.json()
        lines = f"line {p['line_start']}" if p["line_start"] == p["line_end"] else \
            f"lines {p['line_start']}-{p['line_end']}"
        assert strip_bidi(label) == f"{p['file']} ¶{p['paragraph']}, {lines}"
        quote = quote_of(answer, ref)
        assert quote and quote in p["text"], (quote, p["text"])          # verbatim
        assert visible(quote_el["text"]) == quote_snippet(quote)         # its first words
        files.append(p["file"])
    assert expect_file in files, files
    return files


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def recorder():
    rec = SlackRecorder()
    yield rec
    rec.stop()


def slack_settings(data_dir: Path, **extra: Any):  # noqa: ANN201
    return make_settings(data_dir, slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET,
                         slack_app_token=None, slack_command="/ask", public_url=PUBLIC, **extra)


@pytest.fixture(scope="module")
def live(tmp_path_factory, recorder):
    from index.indexer import Indexer

    root = tmp_path_factory.mktemp("slack")
    corpus = copy_seeds(root)
    (corpus / DOC_EN).write_text(ENGLISH_DOC, encoding="utf-8")
    # the Web API base comes from the setting (SANAD_SLACK_API_URL); the token is checked at start-up
    settings = slack_settings(root / "data", embed_model="hash", corpus_paths=[corpus],
                              slack_api_url=recorder.url + "/api")
    indexer = Indexer(settings)
    indexer.index([corpus], progress=None)
    indexer.close()
    server = LiveServer(settings).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(live):
    with httpx.Client(base_url=live.url, timeout=30) as c:
        yield c


def post_event(client: httpx.Client, event: dict[str, Any], *, event_id: str | None = None,
               **headers: str) -> httpx.Response:
    body = event_body(event, event_id=event_id)
    return client.post("/slack/events", content=body.encode(), headers=signed_headers(body, **headers))


def feedback_count(client: httpx.Client, value: str) -> float:
    m = re.search(rf'^sanad_feedback_total{{value="{value}"}} ([0-9.e+]+)$', client.get("/metrics").text, re.M)
    assert m, "sanad_feedback_total missing from /metrics"
    return float(m.group(1))


# --------------------------------------------------------------------------------- tests


def test_url_verification_challenge(client):
    body = json.dumps({"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                       "type": "url_verification"})
    r = client.post("/slack/events", content=body, headers=signed_headers(body))
    assert r.status_code == 200
    assert r.json()["challenge"] == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    unsigned = client.post("/slack/events", content=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401 and unsigned.json()["error"]["code"] == "unauthorized"


def test_mention_answered_once_in_thread_with_links_and_verbatim_quotes(client, recorder):
    event = mention("C-MENTION", Q_AR)
    started = time.monotonic()
    r = post_event(client, event)
    assert r.status_code == 200 and time.monotonic() - started < 3.0  # acked well within Slack's 3 s
    (post,) = recorder.wait(lambda: recorder.posts("C-MENTION"))
    body = post["body"]
    assert post["auth"] == f"Bearer {BOT_TOKEN}"
    assert body["thread_ts"] == event["ts"]          # in the question's thread
    assert body["unfurl_links"] is False
    answer = visible(section_text(body["blocks"]))
    assert answer.startswith("بحسب المستندات: ") and answer.endswith("[1]")
    check_citations(client, body["blocks"], DOC_AR)
    link = citation_blocks(body["blocks"])[0]["elements"][0]["text"]
    assert link == (f"[1] <{PUBLIC}/v1/documents/{DOC_AR}/paragraphs/13|{DOC_AR} ¶13, line 19>")
    actions = [b for b in body["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions[0]["elements"]] == [FEEDBACK_UP, FEEDBACK_DOWN]
    # beside the citations: the question on the web page (PUBLIC_URL/?q=...)
    url, label = web_link(body["blocks"])
    assert url == f"{PUBLIC}/?q={quote(Q_AR, safe='')}" and label == "افتح في سند"
    assert parse_qs(url.split("?", 1)[1])["q"] == [Q_AR]
    ids = [b.get("block_id") for b in body["blocks"]]
    assert ids.index("sanad_web") == ids.index("sanad_citation_1") + 1
    time.sleep(0.5)
    assert len(recorder.posts("C-MENTION")) == 1


def test_retried_event_is_answered_once(client, recorder):
    event = mention("C-RETRY", Q_AR)
    first = post_event(client, event, event_id="EvRETRY1")
    # Slack re-sends the same event (same event_id), freshly signed, with X-Slack-Retry-Num
    retries = [post_event(client, event, event_id="EvRETRY1", **{"X-Slack-Retry-Num": str(n),
                                                                   "X-Slack-Retry-Reason": "http_timeout"})
               for n in (1, 2)]
    assert first.status_code == 200
    assert all(r.status_code == 200 and r.headers.get("x-slack-no-retry") == "1" for r in retries)
    recorder.wait(lambda: recorder.posts("C-RETRY"))
    time.sleep(1.0)
    assert len(recorder.posts("C-RETRY")) == 1


def test_follow_up_in_thread_uses_the_conversation(client, recorder, live):
    root = mention("C-THREAD", Q_AR)
    post_event(client, root)
    recorder.wait(lambda: recorder.posts("C-THREAD"))
    follow = mention("C-THREAD", FOLLOW_AR, thread_ts=root["ts"])
    post_event(client, follow)
    posts = recorder.wait(lambda: recorder.posts("C-THREAD"), count=2)
    reply = posts[1]["body"]
    assert reply["thread_ts"] == root["ts"]
    assert citation_blocks(reply["blocks"]), visible(section_text(reply["blocks"]))
    check_citations(client, reply["blocks"], DOC_AR)
    # the thread is one conversation: the follow-up was retrieved together with the question
    thread_id = f"slack:{TEAM}:C-THREAD:{root['ts']}"
    turns = live.app.state.ask_service.conversations.open(thread_id, owner=f"slack:{TEAM}", named=True).history
    assert [t.question for t in turns] == [Q_AR, FOLLOW_AR]
    assert turns[1].standalone == f"{Q_AR} {FOLLOW_AR}"
    # the thread's conversation cannot be read or extended over HTTP, even with its id
    r = httpx.post(live.url + "/v1/ask", json={"question": "and?", "conversation_id": thread_id}, timeout=60)
    assert r.status_code == 200 and unquote(r.headers["x-sanad-standalone-question"]) == "and?"
    assert r.json()["conversation_id"] != thread_id
    turns = live.app.state.ask_service.conversations.open(thread_id, owner=f"slack:{TEAM}", named=True).history
    assert [t.question for t in turns] == [Q_AR, FOLLOW_AR]
    # the same words outside the thread find nothing
    post_event(client, mention("C-NOTHREAD", FOLLOW_AR))
    (alone,) = recorder.wait(lambda: recorder.posts("C-NOTHREAD"))
    assert visible(section_text(alone["body"]["blocks"])) == ABSTAIN_AR
    assert not citation_blocks(alone["body"]["blocks"])


def test_direct_message_answered_in_its_thread(client, recorder):
    event = dm("D-DM", Q_EN)
    assert post_event(client, event).status_code == 200
    (post,) = recorder.wait(lambda: recorder.posts("D-DM"))
    body = post["body"]
    assert body["thread_ts"] == event["ts"]
    shown = section_text(body["blocks"])
    assert "&amp; approved the budget of &lt;two&gt; million" in shown  # mrkdwn-escaped, else verbatim
    assert visible(shown).startswith("According to the documents")
    files = check_citations(client, body["blocks"], DOC_EN)
    assert files[0] == DOC_EN
    link = citation_blocks(body["blocks"])[0]["elements"][0]["text"]
    assert f"<{PUBLIC}/v1/documents/board%20minutes.md/paragraphs/2|board minutes.md ¶2, line 3>" in link
    assert web_link(body["blocks"]) == (f"{PUBLIC}/?q=The%20board%20met%20on%20Monday%20and%20approved%20the"
                                        "%20budget", "Open in Sanad")


def test_ignores_bots_edits_own_posts_and_channel_messages(client, recorder):
    ignored = {
        "D-OWN": dm("D-OWN", Q_EN, user=BOT_USER),                                  # the bot itself
        "D-OWNBOT": dm("D-OWNBOT", Q_EN, user="U9", bot_id=BOT_ID),                 # its bot id
        "D-BOT": dm("D-BOT", Q_EN, user="U9", bot_id="B-OTHER"),                     # another bot
        "D-BOTMSG": dm("D-BOTMSG", Q_EN, subtype="bot_message"),
        "D-EDIT": {**dm("D-EDIT", ""), "subtype": "message_changed",
                   "message": {"type": "message", "user": "U1", "text": Q_EN, "ts": new_ts()}},
        "C-CHANNELMSG": {**dm("C-CHANNELMSG", Q_EN), "channel_type": "channel"},    # not a DM
        "C-SELFMENTION": mention("C-SELFMENTION", Q_AR, user=BOT_USER),
    }
    for event in ignored.values():
        r = post_event(client, event)
        assert r.status_code == 200, r.text   # acknowledged, so Slack does not retry
    post_event(client, dm("D-SENTINEL", Q_EN))
    recorder.wait(lambda: recorder.posts("D-SENTINEL"))
    time.sleep(0.5)
    for channel in ignored:
        assert recorder.posts(channel) == [], channel


def test_slash_command_acks_then_posts_to_response_url(client, recorder):
    body = command_body(Q_AR, response_url=f"{recorder.url}/respond/cmd-1")
    started = time.monotonic()
    r = client.post("/slack/events", content=body, headers=signed_headers(body, content_type=FORM))
    assert r.status_code == 200 and time.monotonic() - started < 3.0
    ack = r.json()
    assert ack["response_type"] == "ephemeral"
    assert Q_AR in strip_bidi(ack["text"]) and "جارٍ البحث" in ack["text"]
    (delayed,) = recorder.wait(lambda: recorder.responses("cmd-1"))
    payload = delayed["body"]
    # private by default (SANAD_SLACK_ASK_VISIBILITY=ephemeral): only the asker sees it
    assert payload["response_type"] == "ephemeral" and payload["replace_original"] is False
    question = [b for b in payload["blocks"] if b.get("block_id") == "sanad_question"][0]
    assert visible(question["elements"][0]["text"]) == f"<@U7>: {Q_AR}"
    check_citations(client, payload["blocks"], DOC_AR)
    assert web_link(payload["blocks"]) == (f"{PUBLIC}/?q={quote(Q_AR, safe='')}", "افتح في سند")
    (share,) = [b for b in payload["blocks"] if b.get("block_id") == "sanad_share"]
    (button,) = share["elements"]
    assert button["action_id"] == "sanad_share" and button["text"]["text"] == "شارك مع القناة"
    # an empty command gets the usage hint and nothing is posted later
    empty = command_body("", response_url=f"{recorder.url}/respond/cmd-empty")
    r = client.post("/slack/events", content=empty, headers=signed_headers(empty, content_type=FORM))
    assert r.status_code == 200 and "/ask" in r.json()["text"]
    time.sleep(0.5)
    assert recorder.responses("cmd-empty") == []


def _click(client: httpx.Client, recorder: SlackRecorder, action_id: str, user: str, message_ts: str,
           hook: str, *, value: str = "ar", ephemeral: bool = False) -> httpx.Response:
    payload = {"type": "block_actions", "user": {"id": user, "username": user, "team_id": TEAM},
               "api_app_id": "A1", "token": "legacy", "team": {"id": TEAM, "domain": "t1"},
               "container": {"type": "message", "message_ts": message_ts, "channel_id": "C-FB",
                             "is_ephemeral": ephemeral, "thread_ts": message_ts},
               "trigger_id": "1.2.3", "channel": {"id": "C-FB", "name": "general"},
               "message": {"type": "message", "ts": message_ts, "bot_id": BOT_ID, "text": "..."},
               "response_url": f"{recorder.url}/respond/{hook}",
               "actions": [{"action_id": action_id, "block_id": "sanad_feedback", "value": value,
                            "type": "button", "action_ts": str(time.time()),
                            "text": {"type": "plain_text", "text": "x"}}]}
    body = urlencode({"payload": json.dumps(payload, ensure_ascii=False)})
    return client.post("/slack/events", content=body, headers=signed_headers(body, content_type=FORM))


def test_feedback_buttons_are_counted_in_metrics(client, recorder):
    up0, down0 = feedback_count(client, "helpful"), feedback_count(client, "not_helpful")
    msg = new_ts()
    assert _click(client, recorder, FEEDBACK_UP, "U1", msg, "fb-1").status_code == 200
    (thanks,) = recorder.wait(lambda: recorder.responses("fb-1"))
    assert thanks["body"]["response_type"] == "ephemeral" and "شكراً" in thanks["body"]["text"]
    assert feedback_count(client, "helpful") == up0 + 1
    # the same person clicking again on the same answer is not counted twice
    assert _click(client, recorder, FEEDBACK_UP, "U1", msg, "fb-2").status_code == 200
    recorder.wait(lambda: recorder.responses("fb-2"))
    assert feedback_count(client, "helpful") == up0 + 1
    assert _click(client, recorder, FEEDBACK_DOWN, "U2", msg, "fb-3").status_code == 200
    recorder.wait(lambda: recorder.responses("fb-3"))
    assert feedback_count(client, "not_helpful") == down0 + 1
    assert feedback_count(client, "helpful") == up0 + 1


def test_a_click_on_an_answer_is_a_vote_kept_in_the_answer_log(client, recorder, live):
    assert post_event(client, mention("C-VOTE", Q_AR)).status_code == 200
    (post,) = recorder.wait(lambda: recorder.posts("C-VOTE"))
    actions = [b for b in post["body"]["blocks"] if b["type"] == "actions"][0]
    value = actions["elements"][1]["value"]
    language, _, answer_id = value.partition(":")
    assert language == "ar" and answer_id.startswith("ans_")
    msg = new_ts()
    assert _click(client, recorder, FEEDBACK_DOWN, "U-V1", msg, "vote-1", value=value).status_code == 200
    recorder.wait(lambda: recorder.responses("vote-1"))
    assert _click(client, recorder, FEEDBACK_UP, "U-V1", msg, "vote-2", value=value).status_code == 200
    (again,) = recorder.wait(lambda: recorder.responses("vote-2"))
    assert "شكراً" not in again["body"]["text"]  # already voted: the first vote stands
    votes = [(v.answer_id, v.value) for v in live.app.state.ask_service.log.votes()]
    assert votes == [(answer_id, "not_helpful")]


def test_forged_stale_and_replayed_requests_get_401_and_do_nothing(client, recorder):
    event = mention("C-FORGED", Q_AR)
    body = event_body(event, event_id="EvFORGED")
    wrong = signed_headers(body, secret="not-the-secret")
    r = client.post("/slack/events", content=body, headers=wrong)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    tampered = signed_headers(body)
    r = client.post("/slack/events", content=body.replace("C-FORGED", "C-FORGED2"), headers=tampered)
    assert r.status_code == 401
    stale = signed_headers(body, ts=int(time.time()) - 6 * 60)     # valid HMAC, outside 5 minutes
    assert client.post("/slack/events", content=body, headers=stale).status_code == 401
    future = signed_headers(body, ts=int(time.time()) + 6 * 60)
    assert client.post("/slack/events", content=body, headers=future).status_code == 401
    no_headers = client.post("/slack/events", content=body, headers={"Content-Type": "application/json"})
    assert no_headers.status_code == 401
    bad_ts = {**signed_headers(body), "X-Slack-Request-Timestamp": "yesterday"}
    assert client.post("/slack/events", content=body, headers=bad_ts).status_code == 401
    time.sleep(0.5)
    assert recorder.posts("C-FORGED") == [] and recorder.posts("C-FORGED2") == []
    # nothing was remembered either: the genuine event (same event_id) is then answered
    assert client.post("/slack/events", content=body, headers=signed_headers(body)).status_code == 200
    recorder.wait(lambda: recorder.posts("C-FORGED"))
    # the same signed event again: acked, not answered again
    again = client.post("/slack/events", content=body, headers=signed_headers(body))
    assert again.status_code == 200 and again.headers.get("x-slack-no-retry") == "1"

    # a replay: the exact signed request again (inside the window, then with its old timestamp)
    cmd = command_body(Q_EN, response_url=f"{recorder.url}/respond/cmd-replay")
    headers = signed_headers(cmd, content_type=FORM)
    assert client.post("/slack/events", content=cmd, headers=headers).status_code == 200
    replay = client.post("/slack/events", content=cmd, headers=headers)
    assert replay.status_code == 401 and "replay" in replay.json()["error"]["message"]
    old = signed_headers(cmd, ts=int(time.time()) - 10 * 60, content_type=FORM)
    assert client.post("/slack/events", content=cmd, headers=old).status_code == 401
    recorder.wait(lambda: recorder.responses("cmd-replay"))
    time.sleep(0.5)
    assert len(recorder.responses("cmd-replay")) == 1
    assert len(recorder.posts("C-FORGED")) == 1


def test_tokens_are_never_logged(client, recorder, caplog):
    caplog.set_level(logging.DEBUG)
    post_event(client, mention("C-LOG", Q_AR))
    recorder.wait(lambda: recorder.posts("C-LOG"))
    body = event_body(mention("C-LOG2", Q_AR))
    client.post("/slack/events", content=body, headers=signed_headers(body, secret="forged"))
    time.sleep(0.3)
    assert caplog.records, "expected debug logs from bolt and slack_sdk"
    assert BOT_TOKEN not in caplog.text and SECRET not in caplog.text
    settings = slack_settings(Path("/nonexistent"))
    assert BOT_TOKEN not in repr(settings) and SECRET not in repr(settings) and SECRET not in str(settings)


# ------------------------------------------------- Web API base, token check, /readyz


def test_api_base_from_the_setting_and_token_checked_at_start(client, recorder, live):
    """SANAD_SLACK_API_URL is where every call goes; auth.test ran as the server started."""
    assert live.app.state.slack_bot.api_url == recorder.url + "/api/"
    checks = recorder.api("auth.test")
    assert checks and all(c["auth"] == f"Bearer {BOT_TOKEN}" for c in checks)
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["slack"] == {"status": "ok"}


def test_refused_token_shows_on_readyz_and_in_the_log(tmp_path, recorder, caplog):
    caplog.set_level(logging.INFO, logger="sanad.slack")
    settings = make_settings(tmp_path / "data", embed_model="hash", slack_bot_token=REFUSED_TOKEN,
                             slack_signing_secret=SECRET, public_url=PUBLIC, slack_api_url=recorder.url + "/api/")
    server = LiveServer(settings).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            deadline = time.monotonic() + 10
            while (ready := c.get("/readyz")).json().get("slack", {}).get("status") == "checking":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert ready.status_code == 200 and ready.json()["status"] == "ready"   # the API still serves
            slack = ready.json()["slack"]
            assert slack["status"] == "failed" and slack["error"] == "invalid_auth"
            assert "SANAD_SLACK_BOT_TOKEN" in slack["fix"] and "slack-gov.com" in slack["fix"]
            r = post_event(c, mention("C-REFUSED", Q_AR))
            assert r.status_code == 503 and "invalid_auth" in r.json()["error"]["message"]
            assert r.headers["retry-after"] == "30"
    finally:
        server.stop()
    (line,) = [r for r in caplog.records if "auth.test failed" in r.getMessage()]
    assert line.levelno == logging.ERROR and "invalid_auth" in line.getMessage()
    assert "OAuth & Permissions" in line.getMessage() and REFUSED_TOKEN not in caplog.text
    assert recorder.posts("C-REFUSED") == []


def test_unreachable_slack_says_so(tmp_path, live):
    """Nothing listens at the API base: failed with "unreachable" and the proxy/URL hint."""
    from api.slack.bolt_app import SlackBot
    from api.slack.health import SlackUnavailable

    settings = make_settings(tmp_path / "d", embed_model="hash", slack_bot_token=BOT_TOKEN,
                             slack_signing_secret=SECRET, slack_api_url=f"http://127.0.0.1:{free_port()}/api/")
    bot = SlackBot(live.app.state.ask_service, settings)
    with pytest.raises(SlackUnavailable):
        bot.app()
    status = bot.status()
    assert status["status"] == "failed" and status["error"] == "unreachable" and "HTTPS_PROXY" in status["fix"]


class RecordingProxy:
    """A plain HTTP forward proxy on 127.0.0.1 that records each absolute URL it forwards."""

    def __init__(self) -> None:
        import urllib.request

        self.urls: list[str] = []
        proxy = self
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                proxy.urls.append(self.path)
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "proxy-connection")}
                with direct.open(urllib.request.Request(self.path, data=data, headers=headers, method="POST")) as up:
                    body = up.read()
                    self.send_response(up.status)
                    self.send_header("Content-Type", up.headers.get("Content-Type", "application/json"))
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_outbound_calls_go_through_https_proxy(tmp_path, recorder, live, monkeypatch):
    from api.slack.bolt_app import SlackBot

    proxy = RecordingProxy()
    try:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        settings = make_settings(tmp_path / "d", embed_model="hash", slack_bot_token=BOT_TOKEN,
                                 slack_signing_secret=SECRET, slack_api_url=recorder.url + "/api/")
        bot = SlackBot(live.app.state.ask_service, settings)
        bot.app()
        assert bot.status() == {"status": "ok"}
        assert proxy.urls == [recorder.url + "/api/auth.test"]
    finally:
        proxy.stop()


# ------------------------------------------------------------------ private /ask answers


def test_private_answer_shared_with_the_channel(client, recorder):
    body = command_body(Q_EN, response_url=f"{recorder.url}/respond/cmd-share", user="U8")
    assert client.post("/slack/events", content=body, headers=signed_headers(body, content_type=FORM)).status_code == 200
    (private,) = recorder.wait(lambda: recorder.responses("cmd-share"))
    assert private["body"]["response_type"] == "ephemeral"
    blocks = private["body"]["blocks"]
    (share,) = [b for b in blocks if b.get("block_id") == "sanad_share"]
    value = share["elements"][0]["value"]
    assert share["elements"][0]["text"]["text"] == "Share with channel"
    # the asker clicks "Share with channel" on the private message
    r = _click(client, recorder, "sanad_share", "U8", new_ts(), "share-1", value=value, ephemeral=True)
    assert r.status_code == 200
    shared, removed = recorder.wait(lambda: recorder.responses("share-1"), count=2)
    assert shared["body"]["response_type"] == "in_channel" and shared["body"]["replace_original"] is False
    assert shared["body"]["blocks"] == [b for b in blocks if b.get("block_id") != "sanad_share"]
    check_citations(client, shared["body"]["blocks"], DOC_EN)
    assert removed["body"]["delete_original"] is True and not removed["body"].get("blocks")
    # an unknown (expired, or kept by a server since restarted) answer: said privately, nothing posted
    r = _click(client, recorder, "sanad_share", "U8", new_ts(), "share-2", value="en:gone")
    assert r.status_code == 200
    (expired,) = recorder.wait(lambda: recorder.responses("share-2"))
    assert expired["body"]["response_type"] == "ephemeral" and "no longer be shared" in expired["body"]["text"]
    time.sleep(0.3)
    assert len(recorder.responses("share-2")) == 1


def test_ask_visibility_in_channel(client, recorder, live):
    bot = live.app.state.slack_bot
    original = bot.settings
    bot.settings = original.model_copy(update={"slack_ask_visibility": "in_channel"})
    try:
        body = command_body(Q_AR, response_url=f"{recorder.url}/respond/cmd-public")
        assert client.post("/slack/events", content=body,
                           headers=signed_headers(body, content_type=FORM)).status_code == 200
        (public,) = recorder.wait(lambda: recorder.responses("cmd-public"))
    finally:
        bot.settings = original
    assert public["body"]["response_type"] == "in_channel"
    assert not [b for b in public["body"]["blocks"] if b.get("block_id") == "sanad_share"]
    check_citations(client, public["body"]["blocks"], DOC_AR)


# ------------------------------------------------------------- thread follow-ups in channels


def channel_message(channel: str, text: str, *, thread_ts: str | None = None, user: str = "U1",
                    **extra: Any) -> dict[str, Any]:
    ts = new_ts()
    event = {"type": "message", "channel_type": "channel", "user": user, "text": text, "ts": ts,
             "channel": channel, "event_ts": ts, **extra}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def test_thread_replies_without_mention(client, recorder, live):
    root = mention("C-TR", Q_AR)
    post_event(client, root)
    recorder.wait(lambda: recorder.posts("C-TR"))
    # off by default: a reply in the thread without a mention is not answered
    post_event(client, channel_message("C-TR", FOLLOW_AR, thread_ts=root["ts"]))
    time.sleep(0.5)
    assert len(recorder.posts("C-TR")) == 1

    bot = live.app.state.slack_bot
    original = bot.settings
    bot.settings = original.model_copy(update={"slack_thread_replies": True})
    try:
        follow = channel_message("C-TR", FOLLOW_AR, thread_ts=root["ts"])
        post_event(client, follow)
        posts = recorder.wait(lambda: recorder.posts("C-TR"), count=2)
        reply = posts[1]["body"]
        assert reply["thread_ts"] == root["ts"]
        check_citations(client, reply["blocks"], DOC_AR)
        thread_id = f"slack:{TEAM}:C-TR:{root['ts']}"
        turns = live.app.state.ask_service.conversations.open(thread_id, owner=f"slack:{TEAM}", named=True).history
        assert [t.question for t in turns][-2:] == [Q_AR, FOLLOW_AR]   # read with the earlier question

        # a reply that mentions the bot arrives twice (message + app_mention): answered once
        ts = new_ts()
        both = f"<@{BOT_USER}> {Q_EN}"
        post_event(client, {**channel_message("C-TR", both, thread_ts=root["ts"]), "ts": ts, "event_ts": ts})
        post_event(client, mention("C-TR", Q_EN, ts=ts, thread_ts=root["ts"]))
        recorder.wait(lambda: recorder.posts("C-TR"), count=3)

        ignored = [
            channel_message("C-TR", Q_AR),                                         # not in a thread
            channel_message("C-TR", Q_AR, thread_ts=new_ts()),                     # a thread without Sanad
            channel_message("C-OTHER", Q_AR, thread_ts=root["ts"]),                # another channel
            channel_message("C-TR", Q_AR, thread_ts=root["ts"], bot_id="B-OTHER"),  # a bot
            {**channel_message("C-TR", "", thread_ts=root["ts"]), "subtype": "message_changed",   # an edit
             "message": {"type": "message", "user": "U1", "text": Q_AR, "ts": new_ts(), "thread_ts": root["ts"]}},
        ]
        for event in ignored:
            assert post_event(client, event).status_code == 200
        post_event(client, dm("D-TR-SENTINEL", Q_EN))
        recorder.wait(lambda: recorder.posts("D-TR-SENTINEL"))
        time.sleep(0.5)
    finally:
        bot.settings = original
    assert len(recorder.posts("C-TR")) == 3 and recorder.posts("C-OTHER") == []


# ---------------------------------------------------------------------------- Socket Mode


def test_socket_mode_against_a_local_websocket(live, client, recorder):
    """Socket Mode: apps.connections.open (at SANAD_SLACK_API_URL) names a local WebSocket
    server; an app_mention envelope sent over it is acked on the socket and answered with
    chat.postMessage."""
    from websockets.sync.server import serve

    from api.slack.bolt_app import SlackBot
    from api.slack.socket import socket_handler

    acks: list[dict[str, Any]] = []
    event = mention("C-SOCKET", Q_AR)
    envelope = {"envelope_id": "env-1", "type": "events_api", "accepts_response_payload": False,
                "retry_attempt": 0, "retry_reason": "", "payload": json.loads(event_body(event))}

    def session(ws: Any) -> None:
        ws.send(json.dumps({"type": "hello", "num_connections": 1, "debug_info": {"host": "local"},
                            "connection_info": {"app_id": "A1"}}))
        ws.send(json.dumps(envelope, ensure_ascii=False))
        try:
            for raw in ws:
                acks.append(json.loads(raw))
        except Exception:  # noqa: BLE001 - the client closes the socket at the end
            pass

    port = free_port()
    with serve(session, "127.0.0.1", port) as ws_server:
        threading.Thread(target=ws_server.serve_forever, daemon=True).start()
        recorder.ws_url = f"ws://127.0.0.1:{port}/link/?ticket=t1"
        settings = live.app.state.settings.model_copy(update={"slack_app_token": "xapp-1-local"})
        bot = SlackBot(live.app.state.ask_service, settings)
        handler = socket_handler(bot)
        handler.connect()
        try:
            (post,) = recorder.wait(lambda: recorder.posts("C-SOCKET"))
            assert post["body"]["thread_ts"] == event["ts"]
            check_citations(client, post["body"]["blocks"], DOC_AR)
            deadline = time.monotonic() + 5
            while not acks and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            handler.close()
            ws_server.shutdown()
    assert [a.get("envelope_id") for a in acks] == ["env-1"]   # acked once, on the socket
    (opened,) = recorder.api("apps.connections.open")
    assert opened["auth"] == "Bearer xapp-1-local"


# ------------------------------------------------------------------------ the real model


def test_real_model_arabic_mention_cites_verbatim(seeds_settings, real_answerer, recorder, tmp_path):
    """The Arabic question with the real model: the answer quotes seeds/001 line 19 verbatim."""
    settings = seeds_settings.model_copy(update={
        **HTTP_DEFAULTS, "slack_bot_token": BOT_TOKEN, "slack_signing_secret": SECRET, "public_url": PUBLIC,
        "slack_command": "/ask"})
    server = LiveServer(settings, answerer=real_answerer,
                        slack=SlackOptions(api_base_url=recorder.url + "/api/", token_verification_enabled=False))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            event = mention("C-REAL", "من ترأس اجتماع مجلس روسيا والناتو؟")
            assert post_event(c, event).status_code == 200
            (post,) = recorder.wait(lambda: recorder.posts("C-REAL"), timeout=120)
            message = post["body"]
            assert message["thread_ts"] == event["ts"]
            check_citations(c, message["blocks"], DOC_AR)
            labels = [strip_bidi(b["elements"][0]["text"]) for b in citation_blocks(message["blocks"])]
            assert any(f"{DOC_AR} ¶13, line 19>" in label for label in labels), labels
            payload = {k: message[k] for k in ("channel", "thread_ts", "text", "blocks")}
            print("\nSLACK_PAYLOAD " + json.dumps(payload, ensure_ascii=False, indent=2))
    finally:
        server.stop()
