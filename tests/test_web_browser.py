"""The web page at `/` in a real browser: Debian's Chromium driven by Playwright, against real
uvicorn servers on 127.0.0.1.

One server with the real embedding model over the session's seeds index (tests/conftest.py)
answers the Arabic and English questions; small hash-embedder servers cover the API key
prompt, the loading spinner and the retry after 429. Screenshots and the measured time to the
first answer token are written under reports/web/ (gitignored).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import expect

from settings import HarnessSettings
from tests.api_fixtures import HTTP_DEFAULTS, ROOT, LiveServer, make_settings

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = str(HarnessSettings().test_chromium)
ARTIFACTS = ROOT / "reports" / "web"

DOC = "001_60d84da894ed2980.txt"
Q_AR = "من ترأس اجتماع مجلس روسيا والناتو؟"
FOLLOW_AR = "ومن مثّل روسيا؟"
Q_EN = "Who is the new US ambassador to NATO?"
Q_CHAIR_EN = "Who chaired the NATO-Russia Council meeting?"
FOLLOW_EN = "and who represented Russia?"
Q_ABSENT_AR = "ما عدد سكان بلجيكا؟"
ABSTAIN_AR = "لا تتضمن المستندات المتاحة إجابة عن هذا السؤال."


# ------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium (or set SANAD_TEST_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM)
        yield b
        b.close()


@pytest.fixture
def open_page(browser):  # noqa: ANN001, ANN201
    """open_page(url, lang=...) -> a fresh page (own context: own sessionStorage); fails the
    test on any uncaught script error in the page or any Content-Security-Policy violation."""
    contexts, errors = [], []

    def _open(url: str, *, lang: str = "en", width: int = 1200, height: int = 820):  # noqa: ANN202
        ctx = browser.new_context(viewport={"width": width, "height": height},
                                  locale="ar" if lang == "ar" else "en-US")
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(url)
        return page

    yield _open
    for ctx in contexts:
        ctx.close()
    assert not errors, errors


@pytest.fixture(scope="module")
def live(seeds_settings, real_embedder):  # noqa: ANN001, ANN201
    """The session's seeds index served with the session's one model (as tests/test_api_live.py)."""
    from qa.answerer import Answerer

    settings = seeds_settings.model_copy(update=HTTP_DEFAULTS)
    server = LiveServer(settings, answerer=Answerer(settings, embedder=real_embedder)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(live):  # noqa: ANN001, ANN201
    with httpx.Client(base_url=live.url, timeout=60) as c:
        yield c


def ready(page) -> None:  # noqa: ANN001
    page.wait_for_selector("body[data-ready=true]", timeout=120_000)


def answers(page) -> int:  # noqa: ANN001
    return page.locator(".message.assistant:not(.pending)").count()


def ask(page, question: str):  # noqa: ANN001, ANN201
    """Type the question, press Enter, wait for the answer; returns its message element."""
    before = answers(page)
    page.fill("#question", question)
    page.press("#question", "Enter")
    page.wait_for_selector(f"body[data-answers='{before + 1}']", timeout=60_000)
    return page.locator(".message.assistant").nth(before)


def api_answer(api: httpx.Client, question: str, **extra) -> dict:  # noqa: ANN003
    r = api.post("/v1/ask", json={"question": question, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def check_citations_open_at_their_span(page, message, api: httpx.Client, expected: dict) -> None:  # noqa: ANN001
    """Each [n] of the message: its card shows the quote; clicking it opens the panel with the
    cited paragraph in context and <mark> == quote == stored text[char_start:char_end]; Escape
    closes it and focus returns to the marker."""
    markers = message.locator("button.cite")
    refs = [int(markers.nth(i).get_attribute("data-ref")) for i in range(markers.count())]
    assert refs == [c["ref"] for c in expected["citations"]], (refs, expected["answer"])
    for c in expected["citations"]:
        stored = api.get(f"/v1/documents/{quote(c['file'], safe='')}/text").json()["text"]
        assert stored[c["char_start"]:c["char_end"]] == c["quote"]
        marker = message.locator(f"button.cite[data-ref='{c['ref']}']")
        marker.hover()
        card = page.locator("#cite-card")
        card.wait_for(state="visible")
        assert card.locator("blockquote").text_content() == c["quote"]
        assert c["file"] in card.text_content() and str(c["paragraph"]) in card.text_content()
        marker.click()
        page.wait_for_selector("#citation-panel[open] mark")
        assert page.locator("#citation-panel mark").count() == 1
        assert page.locator("#citation-panel mark").text_content() == c["quote"]
        cited = page.locator("#citation-panel p.cited")
        assert cited.get_attribute("data-paragraph") == str(c["paragraph"])
        assert page.locator("#citation-panel p.para").count() >= 2  # with a paragraph before or after
        page.keyboard.press("Escape")
        page.wait_for_selector("#citation-panel:not([open])", state="attached")
        assert page.evaluate("document.activeElement.dataset.ref") == str(c["ref"])


def shot(page, name: str) -> Path:  # noqa: ANN001
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path


def first_token_ms(page) -> float:  # noqa: ANN001
    return page.evaluate("performance.measure('ttft', 'sanad-ask', 'sanad-first-delta').duration")


# ----------------------------------------------------------------- real model


def test_arabic_question_right_to_left_with_exact_spans(live, api, open_page):
    page = open_page(live.url + "/?lang=ar", lang="ar")
    ready(page)
    assert page.evaluate("document.documentElement.dir") == "rtl"
    message = ask(page, Q_AR)
    ttft = first_token_ms(page)
    expected = api_answer(api, Q_AR)
    assert expected["language"] == "ar" and expected["answerable"]
    body = message.locator(".body")
    assert body.evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert message.get_attribute("lang") == "ar"
    assert body.text_content() == expected["answer"]
    assert any(c["file"] == DOC and c["line_start"] <= 19 <= c["line_end"] for c in expected["citations"])
    # the marker ends the right-to-left line: it sits left of the quote's last word
    last_marker = message.locator("button.cite").last.bounding_box()
    quote_box = message.locator(".body .quote").last.evaluate(
        "e => { const r = e.getClientRects(); const l = r[r.length - 1]; return {x: l.x, y: l.y, w: l.width}; }")
    assert last_marker["x"] + last_marker["width"] <= quote_box["x"] + 1
    check_citations_open_at_their_span(page, message, api, expected)

    # the mirrored layout: the side panel opens on the left of an Arabic page
    message.locator("button.cite").first.click()
    page.wait_for_selector("#citation-panel[open] mark")
    assert page.locator("#citation-panel").bounding_box()["x"] == 0
    assert page.locator("#citation-title").text_content().startswith("المصدر")
    shot(page, "ar-citation.png")
    # the whole document, scrolled to the cited paragraph, the span still exact
    page.click("#citation-whole")
    page.wait_for_selector(".whole-text mark")
    c = expected["citations"][0]
    assert page.locator(".whole-text mark").text_content() == c["quote"]
    mark, panel = page.locator(".whole-text mark").bounding_box(), page.locator("#citation-body").bounding_box()
    assert panel["y"] <= mark["y"] < panel["y"] + panel["height"], (mark, panel)
    assert page.evaluate("document.activeElement.id") == "citation-back"
    shot(page, "ar-whole-document.png")
    page.keyboard.press("Escape")

    follow = ask(page, FOLLOW_AR)
    assert follow.get_attribute("data-conversation-id") == message.get_attribute("data-conversation-id")
    assert follow.locator(".source-link").count() >= 1
    shot(page, "ar-conversation.png")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "first-token-ar.json").write_text(json.dumps({"question": Q_AR, "first_token_ms": ttft}))
    print(f"\nweb page: first answer token {ttft:.0f} ms after Enter (Arabic)")


def test_english_question_and_keyboard(live, api, open_page):
    page = open_page(live.url + "/?lang=en")
    ready(page)
    assert page.evaluate("document.documentElement.dir") == "ltr"
    message = ask(page, Q_EN)
    ttft = first_token_ms(page)
    expected = api_answer(api, Q_EN)
    assert message.locator(".body").evaluate("e => getComputedStyle(e).direction") == "ltr"
    assert expected["language"] == "en" and expected["answerable"]
    assert any(c["file"] == DOC and c["line_start"] == 25 for c in expected["citations"])
    # the Arabic quotes inside the English answer are laid out right to left
    quotes = message.locator(".body .quote")
    assert quotes.count() == len(expected["citations"])
    for i in range(quotes.count()):
        assert quotes.nth(i).evaluate("e => getComputedStyle(e).direction") == "rtl"
    check_citations_open_at_their_span(page, message, api, expected)

    # keyboard only: focus a marker, Enter opens the panel, Tab stays inside it, Escape returns
    marker = message.locator("button.cite").first
    marker.focus()
    assert page.locator("#cite-card").is_visible()
    assert marker.get_attribute("aria-describedby") == "cite-card"
    page.keyboard.press("Enter")
    page.wait_for_selector("#citation-panel[open] mark")
    for _ in range(5):
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('citation-panel').contains(document.activeElement)")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.getElementById('citation-panel').contains(document.activeElement)")
    page.keyboard.press("Escape")
    page.wait_for_selector("#citation-panel:not([open])", state="attached")
    assert page.evaluate("document.activeElement.dataset.ref") == marker.get_attribute("data-ref")
    # every button has a name
    unnamed = page.evaluate("""[...document.querySelectorAll('button')].filter(b =>
        !(b.getAttribute('aria-label') || b.textContent.trim())).length""")
    assert unnamed == 0
    # Shift+Enter makes a new line instead of sending
    page.fill("#question", "line one")
    page.press("#question", "Shift+Enter")
    page.keyboard.type("line two")
    assert page.input_value("#question") == "line one\nline two" and answers(page) == 1
    page.fill("#question", "")
    shot(page, "en-conversation.png")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "first-token-en.json").write_text(json.dumps({"question": Q_EN, "first_token_ms": ttft}))
    print(f"\nweb page: first answer token {ttft:.0f} ms after Enter (English)")


def test_follow_up_uses_the_conversation_and_new_conversation_resets(live, open_page):
    page = open_page(live.url + "/")
    ready(page)
    first = ask(page, Q_CHAIR_EN)
    second = ask(page, FOLLOW_EN)
    cid = first.get_attribute("data-conversation-id")
    assert cid and second.get_attribute("data-conversation-id") == cid
    # read together with the first question, the follow-up finds line 19 (Grushko and Fomin)
    assert any(DOC in s and "Lines 19" in s for s in second.locator(".source-link").all_text_contents())
    page.click("#new-conversation")
    assert page.locator(".message").count() == 0
    alone = ask(page, FOLLOW_EN)
    assert alone.get_attribute("data-conversation-id") != cid
    assert not any(DOC in s and "Lines 19" in s for s in alone.locator(".source-link").all_text_contents())


def test_not_in_the_documents_label_follows_the_page_language(live, open_page):
    """The answer is in the question's language; the page's labels stay in its one chosen language."""
    page = open_page(live.url + "/?lang=en")
    ready(page)
    message = ask(page, Q_ABSENT_AR)
    assert message.get_attribute("data-answerable") == "false"
    assert message.locator(".badge").text_content() == "Not in the documents"
    assert message.locator(".body").text_content() == ABSTAIN_AR
    assert message.locator("button.cite").count() == 0 and message.locator(".sources").count() == 0
    assert message.locator(".body").evaluate("e => getComputedStyle(e).direction") == "rtl"


def test_q_parameter_asks_on_load(live, open_page):
    page = open_page(live.url + "/?q=" + quote(Q_AR))
    ready(page)
    page.wait_for_selector("body[data-answers='1']", timeout=60_000)
    assert page.locator(".message.user .body").text_content() == Q_AR
    assert page.locator(".message.assistant button.cite").count() >= 1


UPLOAD_NAME = "lighthouse_festival.txt"
UPLOAD_TEXT = ("The Kirtonvale Lighthouse Festival\n"
               "The Kirtonvale Lighthouse Festival was founded in 1987 by the marine engineer Mariam Okafor.\n"
               "Tickets for the harbour concerts go on sale in February.\n")
UPLOAD_Q = "Who founded the Kirtonvale Lighthouse Festival?"


def test_upload_by_picker_then_ask_cites_it_then_delete(live, api, open_page):
    page = open_page(live.url + "/")
    ready(page)
    try:
        page.click("#open-documents")
        page.wait_for_selector("#documents-list tr[data-file]")
        page.set_input_files("#upload-input", files=[{"name": UPLOAD_NAME, "mimeType": "text/plain",
                                                      "buffer": UPLOAD_TEXT.encode()}])
        page.wait_for_selector(f"#documents-list tr[data-file='{UPLOAD_NAME}']", timeout=60_000)
        assert "Indexed lighthouse_festival.txt (3 paragraphs)" in page.text_content("#documents-status")
        row = page.locator(f"#documents-list tr[data-file='{UPLOAD_NAME}']")
        assert row.locator("td.num").first.text_content() == "3"
        page.keyboard.press("Escape")
        message = ask(page, UPLOAD_Q)
        assert "Okafor" in message.locator(".body").text_content()
        marker = message.locator("button.cite").first
        assert UPLOAD_NAME in marker.get_attribute("aria-label")
        marker.click()
        page.wait_for_selector("#citation-panel[open] mark")
        assert "Mariam Okafor" in page.locator("#citation-panel mark").text_content()
        page.keyboard.press("Escape")

        page.click("#open-documents")
        page.once("dialog", lambda d: d.accept())
        page.click(f"#documents-list tr[data-file='{UPLOAD_NAME}'] button.delete")
        page.wait_for_selector(f"#documents-list tr[data-file='{UPLOAD_NAME}']", state="detached")
        assert page.text_content("#documents-status") == f"Deleted {UPLOAD_NAME}."
        # a dismissed confirmation deletes nothing
        page.once("dialog", lambda d: d.dismiss())
        page.click(f"#documents-list tr[data-file='{DOC}'] button.delete")
        time.sleep(0.5)
        assert page.locator(f"#documents-list tr[data-file='{DOC}']").count() == 1
    finally:
        api.delete(f"/v1/documents/{UPLOAD_NAME}")


XSS_NAME = "zarquon <img src=x onerror=window.__xss=3>.txt"
XSS_TEXT = ("Zarquon festival notes\n"
            "The Zarquon festival mascot is an otter named Blibbo <script>window.__xss = 1</script> "
            "and drawn as <img src=x onerror=\"window.__xss = 2\"> on every poster.\n")


def test_dropped_document_with_markup_renders_as_text(live, api, open_page):
    page = open_page(live.url + "/")
    ready(page)
    try:
        # drag and drop onto the page
        page.evaluate("""([name, text]) => {
            const dt = new DataTransfer();
            dt.items.add(new File([text], name, {type: 'text/plain'}));
            document.body.dispatchEvent(new DragEvent('dragenter', {dataTransfer: dt, bubbles: true}));
            document.body.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
        }""", [XSS_NAME, XSS_TEXT])
        page.wait_for_selector("#documents-panel[open]")
        # locator waits, not wait_for_function: its polling evaluates a string, which the page's
        # CSP (no unsafe-eval) rightly refuses
        expect(page.locator("#documents-list tr").filter(has_text=XSS_NAME).first).to_be_attached(timeout=60_000)
        assert page.locator("#drop-overlay").is_hidden()
        names = page.locator("#documents-list .file").all_text_contents()
        assert XSS_NAME in names
        page.keyboard.press("Escape")
        message = ask(page, "What is the Zarquon festival mascot called?")
        text = message.locator(".body").text_content()
        assert "<script>window.__xss = 1</script>" in text and "<img src=x" in text
        message.locator("button.cite").first.click()
        page.wait_for_selector("#citation-panel[open] mark")
        assert "<img src=x onerror=" in page.locator("#citation-panel").text_content()
        page.click("#citation-whole")
        page.wait_for_selector(".whole-text mark")
        assert page.locator(".whole-text").text_content() == XSS_TEXT
        assert page.evaluate("window.__xss") is None
        assert page.locator("img").count() == 0
        assert page.locator("body script").count() == 0
    finally:
        api.delete("/v1/documents/" + quote(XSS_NAME, safe=""))


# ------------------------------------------------------- hash-embedder servers


def test_api_key_prompt_keeps_the_key_for_the_tab(tmp_path, open_page):
    server = LiveServer(make_settings(tmp_path / "d", embed_model="hash", api_keys=["the-key"])).start()
    try:
        page = open_page(server.url + "/")
        ready(page)  # the page itself needs no key; with keys set it asks for one at once
        page.wait_for_selector("#key-dialog[open]")
        assert "needs an API key" in page.text_content("#key-message")
        page.fill("#key-input", "wrong")
        page.press("#key-input", "Enter")
        expect(page.locator("#key-message")).to_contain_text("not accepted")
        assert "invalid API key" in page.text_content("#key-message")
        page.fill("#key-input", "the-key")
        page.press("#key-input", "Enter")
        page.wait_for_selector("body[data-collections='1']")
        ask(page, "hello")
        assert page.locator(".message.assistant .body").text_content() == "No documents are indexed yet."
        assert page.evaluate("sessionStorage.getItem('sanad.apiKey')") == "the-key"
        page.reload()
        ready(page)
        ask(page, "hello again")
        assert page.locator("#key-dialog[open]").count() == 0
        # the server's message on failure, not "undefined"
        message = ask(page, "x" * 1001)
        assert message.locator(".error").text_content() == \
            "Error: the question is 1001 characters; the limit is 1000"
    finally:
        server.stop()


def test_spinner_while_loading_then_q_is_asked(tmp_path, open_page):
    from qa.answerer import Answerer

    gate = threading.Event()

    def slow_loader(s):  # noqa: ANN001, ANN202
        assert gate.wait(60)
        return Answerer(s)

    server = LiveServer(make_settings(tmp_path / "d", embed_model="hash"), loader=slow_loader)
    server.thread.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(server.url + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        page = open_page(server.url + "/?q=hello")
        page.wait_for_selector("#status.spinning:not([hidden])")
        assert page.text_content("#status-text") == "Loading the model and the index…"
        assert page.is_disabled("#ask-button")
        gate.set()
        ready(page)
        page.wait_for_selector("body[data-answers='1']", timeout=30_000)
        assert page.locator("#status").is_hidden() and not page.is_disabled("#ask-button")
    finally:
        gate.set()
        server.stop()


def test_rate_limited_ask_is_retried(tmp_path, open_page):
    from api.http.security import GuardMiddleware

    server = LiveServer(make_settings(tmp_path / "d", embed_model="hash", rate_limit_per_minute=2)).start()
    try:
        node = server.app.middleware_stack
        while not isinstance(node, GuardMiddleware):
            node = node.app
        node.limiter.window = 5.0  # the real limiter, with a window short enough for a test
        page = open_page(server.url + "/")
        ready(page)
        ask(page, "one")
        ask(page, "two")
        page.fill("#question", "three")
        page.press("#question", "Enter")
        expect(page.locator("#status-text")).to_contain_text("retrying in")
        page.wait_for_selector("body[data-answers='3']", timeout=30_000)
        assert page.locator(".message .error").count() == 0
        assert page.locator("#status").is_hidden()
    finally:
        server.stop()


def test_swagger_ui_renders_offline_under_the_csp(tmp_path, open_page):  # noqa: ANN001
    """``/docs`` (issue 28): Swagger UI from this server only (no request to another origin),
    started without inline code, under the page's CSP (``open_page`` fails on any violation);
    it lists the API's operations and can run one (``GET /healthz``) from the page."""
    server = LiveServer(make_settings(tmp_path / "data", embed_model="hash")).start()
    requests: list[str] = []
    try:
        page = open_page(server.url + "/docs")
        page.on("request", lambda req: requests.append(req.url))
        page.reload()
        expect(page.locator(".opblock").first).to_be_visible(timeout=30_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert {"/v1/ask", "/v1/documents", "/healthz"} <= {p.replace("\u200b", "") for p in paths}, paths
        health = page.locator(".opblock-get", has=page.locator('[data-path="/healthz"]')).first
        health.locator(".opblock-summary").click()
        health.locator(".try-out__btn").click()
        health.locator(".execute").click()
        expect(health.locator(".live-responses-table .response .response-col_status").first).to_have_text("200",
                                                                                              timeout=30_000)
        shot(page, "swagger-ui.png")
    finally:
        server.stop()
    assert requests and all(url.startswith(server.url + "/") for url in requests), requests
