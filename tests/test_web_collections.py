"""The web page with collections and scoped keys (issue 31), in a real Chromium against a real
server (hashing embedder): the page asks for the key (kept for the tab only), offers the
collections that key may read, asks the chosen one, shows each source's title with its file
name beside it, and labels everything in the one chosen language."""

from __future__ import annotations

import httpx
import pytest

from api.keys import KeyRing
from tests.api_fixtures import LiveServer, make_settings
from tests.test_web_browser import browser, open_page, ready  # noqa: F401 - fixtures

pytestmark = [pytest.mark.integration, pytest.mark.browser]

AR_DOC = "# دليل الموظفين\n\nتفتح المكاتب في الساعة التاسعة صباحاً من الأحد إلى الخميس."
AR_Q = "تفتح المكاتب في الساعة التاسعة صباحاً من الأحد إلى الخميس."
EN_DOC = "The aardvark ledger keeps the alpha contracts for seven years."


@pytest.fixture(scope="module")
def site(tmp_path_factory):  # noqa: ANN201
    data = tmp_path_factory.mktemp("web-collections") / "data"
    s = make_settings(data, embed_model="hash", api_keys=["root-key"])
    ring = KeyRing.for_settings(s)
    key_ab = ring.create("write", "alpha,bravo")[0]
    server = LiveServer(s).start()
    root = {"Authorization": "Bearer root-key"}
    with httpx.Client(base_url=server.url, timeout=60) as c:
        for name in ("alpha", "bravo", "secret"):
            assert c.post("/v1/collections", json={"name": name}, headers=root).status_code == 201
        assert c.post("/v1/collections/alpha/documents", json={"file": "ledger.txt", "text": EN_DOC},
                      headers=root).status_code == 201
        assert c.post("/v1/collections/bravo/documents", json={"file": "5f3a9c0e11d2.md", "text": AR_DOC},
                      headers=root).status_code == 201
    yield server, key_ab
    server.stop()


def test_key_prompt_picker_titles_and_one_language(site, open_page) -> None:  # noqa: ANN001, F811
    server, key = site
    page = open_page(server.url + "/?lang=en")
    page.wait_for_selector("#key-dialog[open]", timeout=60_000)  # keys are set: the page asks at once
    page.fill("#key-input", key)
    page.click("#key-submit")
    ready(page)
    page.wait_for_selector("body[data-collections='2']")
    assert page.evaluate("sessionStorage.getItem('sanad.apiKey')") == key
    assert page.evaluate("localStorage.getItem('sanad.apiKey')") is None  # the tab only
    options = page.locator("#collection-picker option").all_inner_texts()
    assert options == ["alpha", "bravo"]  # only what the key may read: no default, no secret
    assert page.locator("#collection-field").is_visible()
    page.select_option("#collection-picker", "bravo")
    page.fill("#question", AR_Q)
    page.press("#question", "Enter")
    page.wait_for_selector("body[data-answers='1']", timeout=60_000)
    message = page.locator(".message.assistant").first
    assert message.get_attribute("lang") == "ar"  # the answer's own text: Arabic, right to left
    source = message.locator(".source-link").first
    assert source.locator(".source-title").inner_text() == "دليل الموظفين"  # its title, ...
    assert source.locator(".source-file").inner_text() == "5f3a9c0e11d2.md"  # ... the file name beside it
    assert "Paragraph" in source.inner_text()  # labels in the page's language (English), not the answer's
    assert message.locator(".who").inner_text() == "Sanad"
    source.click()
    page.wait_for_selector("#citation-panel[open] mark")  # the paragraph came from bravo's route
    assert page.locator("#citation-title").inner_text().startswith("Source")
    page.keyboard.press("Escape")
    # switching the language switches every label; the picker keeps the choice for the tab
    page.click("#switch-language")
    assert page.locator("#ask-button").inner_text() == "اسأل"
    assert page.evaluate("sessionStorage.getItem('sanad.collection')") == "bravo"
