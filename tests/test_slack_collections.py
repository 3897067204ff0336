"""Slack channels mapped to collections (issue 31), against a real server and a local stand-in
for Slack's Web API: a mapped channel answers from its collections only, a direct message from
``SANAD_SLACK_DM_COLLECTIONS``, an unmapped channel gets a notice, never every document."""

from __future__ import annotations

import time

import httpx
import pytest

from api.slack.channels import ChannelMap, parse_channels
from settings.errors import ConfigError
from tests.api_fixtures import LiveServer
from tests.test_slack_bot import (  # noqa: F401 - recorder is a fixture
    PUBLIC,
    citation_blocks,
    dm,
    mention,
    post_event,
    recorder,
    section_text,
    slack_settings,
    visible,
)

pytestmark = pytest.mark.integration

LEGAL = "The aardvark ledger keeps the alpha contracts for seven years."
HR = "The zebra vault stores the bravo salaries in a locked cabinet."


def test_channel_mapping_parses_and_refuses_bad_entries(tmp_path) -> None:  # noqa: ANN001
    assert parse_channels("C1=a,b; C2=c") == {"C1": ["a", "b"], "C2": ["c"]}
    for bad in ("C1", "C1=", "=a", "C1=Bad_Name"):
        with pytest.raises(ConfigError if "Bad" not in bad else Exception):
            parse_channels(bad)
    file = tmp_path / "channels.json"
    file.write_text('{"C9": ["hr"]}')
    m = ChannelMap(slack_settings(tmp_path / "d", slack_channels="C1=legal", slack_channels_file=file))
    assert m.collections_for("C1", direct=False) == ["legal"]
    assert m.collections_for("C9", direct=False) == ["hr"]
    assert m.collections_for("C7", direct=False) is None
    assert m.collections_for("D1", direct=True) == ["default"]
    file.write_text('{"C7": ["legal", "hr"]}')  # read again when it changes
    assert m.collections_for("C7", direct=False) == ["legal", "hr"]
    unmapped = ChannelMap(slack_settings(tmp_path / "d"))
    assert unmapped.collections_for("Cany", direct=False) == ["default"]  # no mapping at all: as before


@pytest.fixture(scope="module")
def server(tmp_path_factory, recorder):  # noqa: ANN001, ANN201
    root = tmp_path_factory.mktemp("slack-collections")
    settings = slack_settings(root / "data", embed_model="hash", slack_api_url=recorder.url + "/api",
                              slack_channels="C-LEGAL=legal;C-BOTH=legal,hr", slack_dm_collections=["hr"])
    live = LiveServer(settings).start()
    with httpx.Client(base_url=live.url, timeout=30) as c:
        for name, text in (("legal", LEGAL), ("hr", HR)):
            assert c.post("/v1/collections", json={"name": name}).status_code == 201
            assert c.post(f"/v1/collections/{name}/documents",
                          json={"file": f"{name}.txt", "text": text}).status_code == 201
        yield c
    live.stop()


def _answer(client, recorder, event) -> dict:  # noqa: ANN001
    assert post_event(client, event).status_code == 200
    (post,) = recorder.wait(lambda: recorder.posts(event["channel"]))
    return post["body"]


def test_a_mapped_channel_answers_from_its_collections_only(server, recorder) -> None:  # noqa: ANN001
    body = _answer(server, recorder, mention("C-LEGAL", LEGAL))
    links = [b["elements"][0]["text"] for b in citation_blocks(body["blocks"])]
    assert links and all(f"<{PUBLIC}/v1/collections/legal/documents/legal.txt/" in x for x in links)
    body = _answer(server, recorder, mention("C-LEGAL", HR))  # hr's words, asked where only legal is mapped
    assert "zebra" not in visible(section_text(body["blocks"]))
    assert all("/collections/hr/" not in b["elements"][0]["text"] for b in citation_blocks(body["blocks"]))


def test_a_channel_mapped_to_two_collections_ranks_them_together(server, recorder) -> None:  # noqa: ANN001
    body = _answer(server, recorder, mention("C-BOTH", HR))
    links = [b["elements"][0]["text"] for b in citation_blocks(body["blocks"])]
    assert links and "/v1/collections/hr/documents/hr.txt/" in links[0]


def test_a_direct_message_asks_the_dm_collections(server, recorder) -> None:  # noqa: ANN001
    body = _answer(server, recorder, dm("D-HR", HR))
    links = [b["elements"][0]["text"] for b in citation_blocks(body["blocks"])]
    assert links and "/v1/collections/hr/documents/hr.txt/" in links[0]


def test_an_unmapped_channel_gets_a_notice_not_everything(server, recorder) -> None:  # noqa: ANN001
    body = _answer(server, recorder, mention("C-OTHER", LEGAL))
    text = visible(section_text(body["blocks"])) if body.get("blocks") else body.get("text", "")
    assert "not connected to any document collection" in (text + body.get("text", ""))
    assert not citation_blocks(body.get("blocks") or [])
    time.sleep(0.3)
    assert len(recorder.posts("C-OTHER")) == 1
