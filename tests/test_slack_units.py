"""The Slack bot's small parts: inbound text, skip rules, seen-sets, metrics, routes on/off,
the Socket Mode command's configuration errors and the app manifest."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.service.metrics import Metrics
from api.slack.feedback import FeedbackRecorder
from api.slack.inbound import SeenSet, clean_question, conversation_id, skip_reason, thread_of
from api.slack.options import SlackOptions, slack_configured
from api.slack.render import FEEDBACK_DOWN, FEEDBACK_UP
from cli.main import main
from settings import Settings
from tests.api_fixtures import make_settings

MANIFEST = Path(__file__).resolve().parents[1] / "api" / "slack" / "manifest.yml"


# ------------------------------------------------------------------------- inbound


def test_clean_question_strips_the_bot_mention_and_slack_markup():
    assert clean_question("<@UBOT> من ترأس الاجتماع؟", bot_user_id="UBOT") == "من ترأس الاجتماع؟"
    assert clean_question("<@UBOT|sanad>   what about <@U2|ann> and <#C1|general>?", bot_user_id="UBOT") == \
        "what about @ann and #general?"
    assert clean_question("see <https://x.example/a?b=1&amp;c=2|the report> &amp; <mailto:a@b.c>") == \
        "see the report & mailto:a@b.c"
    assert clean_question("<!here> is 1 &lt; 2 &gt; 0?") == "is 1 < 2 > 0?"
    assert clean_question("<@UBOT>", bot_user_id="UBOT") == ""


@pytest.mark.parametrize("event, reason", [
    ({"type": "message", "user": "U1", "text": "hi", "ts": "1.1"}, None),
    ({"type": "message", "user": "U1", "subtype": "file_share", "ts": "1.1"}, None),
    ({"type": "message", "subtype": "message_changed", "message": {"user": "U1"}, "ts": "1.1"}, "subtype"),
    ({"type": "message", "subtype": "bot_message", "bot_id": "B2", "ts": "1.1"}, "subtype"),
    ({"type": "message", "user": "U9", "bot_id": "B2", "ts": "1.1"}, "bot"),
    ({"type": "app_mention", "user": "UBOT", "ts": "1.1"}, "own"),
    ({"type": "message", "ts": "1.1"}, "no user"),
])
def test_skip_reason(event, reason):
    got = skip_reason(event, bot_user_id="UBOT")
    assert (got is None) if reason is None else (got is not None and reason in got)


def test_threads_are_conversations():
    assert thread_of({"ts": "2.0"}) == "2.0"
    assert thread_of({"ts": "2.0", "thread_ts": "1.0"}) == "1.0"
    assert conversation_id(team_id="T1", channel="C1", thread_ts="1.0") == "slack:T1:C1:1.0"
    assert conversation_id(team_id=None, channel="D1", thread_ts="1.0") == "slack:-:D1:1.0"


def test_seen_set_is_bounded_lru_with_optional_ttl():
    seen = SeenSet(max_items=2)
    assert seen.add("a") and seen.add("b") and not seen.add("a")
    assert seen.add("c")                      # evicts b (a was used more recently)
    assert "b" not in seen and "a" in seen and len(seen) == 2
    timed = SeenSet(max_items=10, ttl_s=300)
    assert timed.add("x", now=0.0) and not timed.add("x", now=299.0)
    assert timed.add("x", now=301.0)          # expired: new again


# ------------------------------------------------------------------------- feedback metrics


def test_feedback_counter_counts_first_vote_per_user_and_message():
    metrics = Metrics()
    recorder = FeedbackRecorder(metrics)
    text = metrics.render().decode()
    assert 'sanad_feedback_total{value="helpful"} 0.0' in text
    assert 'sanad_feedback_total{value="not_helpful"} 0.0' in text
    assert recorder.record(action_id=FEEDBACK_UP, user_id="U1", channel="C", message_ts="1.0") == \
        ("helpful", "counted")
    assert recorder.record(action_id=FEEDBACK_DOWN, user_id="U1", channel="C", message_ts="1.0") == \
        ("not_helpful", "repeat")
    assert recorder.record(action_id=FEEDBACK_DOWN, user_id="U2", channel="C", message_ts="1.0").outcome == "counted"
    text = metrics.render().decode()
    assert 'sanad_feedback_total{value="helpful"} 1.0' in text
    assert 'sanad_feedback_total{value="not_helpful"} 1.0' in text
    with pytest.raises(ValueError):
        metrics.observe_feedback("meh")


# ------------------------------------------------------------------------- routes on / off


@pytest.mark.parametrize("token, secret, mounted", [
    (None, None, False), ("xoxb-1", None, False), (None, "s", False), ("xoxb-1", "s", True),
])
def test_slack_routes_only_when_token_and_secret_are_set(tmp_path, token, secret, mounted):
    settings = make_settings(tmp_path / "d", embed_model="hash", slack_bot_token=token, slack_signing_secret=secret)
    assert slack_configured(settings) is mounted
    app = create_app(settings, slack=SlackOptions(api_base_url="http://127.0.0.1:9/api/",
                                                  token_verification_enabled=False))
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/slack/events", content=b"{}", headers={"Content-Type": "application/json"})
        assert r.status_code == (401 if mounted else 404)
        assert ("/slack/events" in client.get("/openapi.json").json()["paths"]) is mounted


def test_production_default_verifies_the_token():
    assert SlackOptions().token_verification_enabled is True
    assert SlackOptions().api_base_url is None


# ------------------------------------------------------------------------- Socket Mode CLI


def test_socket_mode_without_tokens_is_a_one_line_error(monkeypatch, capsys):
    for var in ("SANAD_SLACK_BOT_TOKEN", "SANAD_SLACK_APP_TOKEN", "SANAD_SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(var, raising=False)
    assert main(["slack", "--socket"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: Socket Mode needs SANAD_SLACK_BOT_TOKEN and SANAD_SLACK_APP_TOKEN")

    monkeypatch.setenv("SANAD_SLACK_BOT_TOKEN", "xoxb-secret-value")
    assert main(["slack", "--socket"]) == 1
    err = capsys.readouterr().err
    assert "needs SANAD_SLACK_APP_TOKEN (" in err and "SANAD_SLACK_BOT_TOKEN" not in err
    assert "xoxb-secret-value" not in err


def test_slack_without_socket_points_at_serve(capsys):
    assert main(["slack"]) == 1
    assert "sanad serve" in capsys.readouterr().err


# ------------------------------------------------------------------------- manifest


def test_manifest_matches_the_bot():
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "commands", "im:history", "im:read"} <= scopes
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {"app_mention", "message.im", "message.channels"}
    assert "channels:history" in scopes   # message.channels: thread follow-ups (SANAD_SLACK_THREAD_REPLIES)
    assert settings["interactivity"]["is_enabled"] is True
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == Settings.model_fields["slack_command"].default == "/ask"
    urls = [settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"], command["url"]]
    assert urls == ["https://YOUR-HOST/slack/events"] * 3
    assert manifest["features"]["bot_user"]["display_name"]


# ------------------------------------------------------------------------- issue 17 pieces


def test_new_slack_settings_defaults_and_environment(monkeypatch, tmp_path):
    from api.slack.options import api_url

    fields = Settings.model_fields
    assert fields["slack_api_url"].default == "https://slack.com/api/"
    assert fields["slack_thread_replies"].default is False
    assert fields["slack_ask_visibility"].default == "ephemeral"
    monkeypatch.setenv("SANAD_SLACK_API_URL", "https://slack-gov.com/api")
    monkeypatch.setenv("SANAD_SLACK_THREAD_REPLIES", "true")
    monkeypatch.setenv("SANAD_SLACK_ASK_VISIBILITY", "in_channel")
    settings = Settings(data_dir=tmp_path)
    assert settings.slack_thread_replies is True and settings.slack_ask_visibility == "in_channel"
    assert api_url(settings, SlackOptions()) == "https://slack-gov.com/api/"
    assert api_url(settings, SlackOptions(api_base_url="http://127.0.0.1:9/api/")) == "http://127.0.0.1:9/api/"
    monkeypatch.setenv("SANAD_SLACK_ASK_VISIBILITY", "public")
    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path)


def test_thread_reply_and_mention_helpers():
    from api.slack.inbound import is_thread_reply, mentions

    assert is_thread_reply({"ts": "2.0", "thread_ts": "1.0"})
    assert not is_thread_reply({"ts": "1.0", "thread_ts": "1.0"})   # the thread's first message
    assert not is_thread_reply({"ts": "1.0"})
    assert mentions("hi <@UBOT> there", "UBOT") and mentions("<@UBOT|sanad> x", "UBOT")
    assert not mentions("hi <@UOTHER>", "UBOT") and not mentions("<@UBOT>", None)


def test_share_store_keeps_answers_for_30_minutes_bounded():
    from api.slack.sharing import SHARE_TTL_S, ShareStore

    store = ShareStore(max_items=2)
    a = store.put({"text": "a"}, now=0.0)
    b = store.put({"text": "b"}, now=1.0)
    assert a != b and len(a) >= 20
    assert store.get(a, now=2.0) == {"text": "a"} and store.get("nope", now=2.0) is None
    c = store.put({"text": "c"}, now=3.0)                     # over max_items: the oldest goes
    assert store.get(a, now=4.0) is None and store.get(c, now=4.0) == {"text": "c"}
    assert store.get(b, now=1.0 + SHARE_TTL_S + 1) is None     # expired with the response_url


def test_token_check_fix_names_the_setting_to_change():
    from api.slack.health import fix_for

    assert "SANAD_SLACK_BOT_TOKEN" in fix_for("invalid_auth", api_url="https://slack.com/api/")
    assert "HTTPS_PROXY" in fix_for("unreachable", api_url="https://slack.com/api/")
    assert "ratelimited" in fix_for("ratelimited", api_url="https://slack.com/api/")


def test_web_link_and_share_button_render():
    from api.slack.render import share_block, web_block, web_url

    assert web_url("who & why?", public_url="https://s.example/") == "https://s.example/?q=who%20%26%20why%3F"
    assert web_url("من ترأس؟", public_url="https://s.example") == \
        "https://s.example/?q=%D9%85%D9%86%20%D8%AA%D8%B1%D8%A3%D8%B3%D8%9F"
    block = web_block("a|b<c>", public_url="https://s.example", language="en")
    assert block["elements"][0]["text"] == "<https://s.example/?q=a%7Cb%3Cc%3E|Open in Sanad>"
    (button,) = share_block("en:k", "en")["elements"]
    assert button["action_id"] == "sanad_share" and button["value"] == "en:k"
