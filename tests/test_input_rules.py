"""The input rules of issue 19 as units (no server): document names, the UTF-8 text rule,
Slack payload shapes, the auth-failure bucket and marker-like text in quotes.
tests/test_hostile_inputs.py drives the same rules through a live server."""

from __future__ import annotations

import pytest

from api.http.errors import status_of
from api.http.security import RateLimiter
from api.service.file_names import MAX_FILE_NAME_BYTES, FileNameError, validate_filename
from api.slack.payloads import SlackPayloadError, read_payload
from qa.extractive import unmarked
from qa.text_rules import first_unencodable, require_utf8


@pytest.mark.parametrize("name", ["a" * 203 + ".txt", "ب" * 101 + "a.txt", "f" * 255 + "/x.md",
                                  "notes/évé 2024 (final).md", "ملاحظات/تقرير.txt"])
def test_names_that_fit(name: str) -> None:
    assert validate_filename(name) == name


@pytest.mark.parametrize(("name", "why"), [
    ("a" * 204 + ".txt", "207"), ("ب" * 102 + ".txt", "bytes"), ("ف" * 128 + "/x.md", "255 bytes"),
    ("/".join(["ب" * 100] * 6) + "/x.txt", "1024 bytes"),
    ("a\u0085b.txt", "U+0085"), ("evil\u202egnp.txt", "U+202E"), ("a\u2028.txt", "U+2028"),
    ("a\u2029.txt", "U+2029"), ("\ufeffa.txt", "U+FEFF"), ("a\u200db.txt", "U+200D"), ("a\ud800.txt", "U+D800"),
    ("a\x7f.txt", "U+007F"), ("a\tb.txt", "U+0009"),
])
def test_names_refused(name: str, why: str) -> None:
    with pytest.raises(FileNameError, match=why.replace("+", r"\+")):
        validate_filename(name)


def test_the_temporary_file_of_the_longest_name_fits() -> None:
    from pathlib import Path

    from api.service.upload_paths import temp_path

    longest = Path("/x") / ("ب" * (MAX_FILE_NAME_BYTES // 2) + "a")
    assert len(longest.name.encode()) == MAX_FILE_NAME_BYTES
    assert len(temp_path(longest).name.encode()) <= 255


def test_first_unencodable_names_the_place() -> None:
    assert first_unencodable({"a": ["ok", {"b": "x\ud800"}]}) == "a[1].b"
    assert first_unencodable("\udfff") == ""
    assert first_unencodable({"ok": [1, None, True, "نص"]}) is None
    assert first_unencodable({"\ud800": 1}) == "a field name"
    deep: list = []
    cur = deep
    for _ in range(5000):  # no recursion limit
        cur.append([])
        cur = cur[0]
    cur.append("\ud800")
    assert first_unencodable(deep) is not None
    with pytest.raises(ValueError, match="not valid Unicode"):
        require_utf8(None, {"q": "\ud800"})


@pytest.mark.parametrize(("body", "ctype", "expected"), [
    (b"payload={not json", "application/x-www-form-urlencoded", (400, "invalid_json")),
    (b"{not json", "application/json", (400, "invalid_json")),
    (b"[1]", "application/json", (400, "invalid_body")),
    (b"\xff\xfe", "application/json", (422, "invalid_request")),
    (b'{"event": "\\ud800"}', "application/json", (422, "invalid_request")),
    (b'{"type": "url_verification"}', "application/json", (400, "invalid_body")),  # no challenge
    (b'{"type": "url_verification", "challenge": "c"}', "application/json", None),
    (b"command=%2Fask&text=hi", "application/x-www-form-urlencoded", None),
    (b"", None, None),
])
def test_slack_payload_problems(body: bytes, ctype: str | None, expected: tuple[int, str] | None) -> None:
    """What ``POST /slack/events`` answers a signed body with (the status: the HTTP edge's table)."""
    try:
        read_payload(body, ctype)
    except SlackPayloadError as exc:
        assert (status_of(exc), exc.code) == expected
    else:
        assert expected is None


def test_auth_failure_bucket_forgets_after_the_window() -> None:
    bucket = RateLimiter(2, 60.0)
    assert bucket.blocked("ip:a", now=0.0) is None
    assert bucket.hit("ip:a", now=0.0) is None and bucket.hit("ip:a", now=1.0) is None
    assert bucket.blocked("ip:a", now=2.0) == pytest.approx(58.0)
    assert bucket.blocked("ip:b", now=2.0) is None
    assert bucket.blocked("ip:a", now=61.5) is None  # the first failure has left the window
    assert RateLimiter(0).blocked("ip:a") is None  # 0 = off


@pytest.mark.parametrize(("text", "shown"), [
    ("HACKED [1]", "HACKED (1)"), ("see [ 2 ] and [1, 3] and [١]", "see ( 2 ) and (1, 3) and (١)"),
    ("[a] [] [1 2] stay", "[a] [] [1 2] stay"), ("no markers", "no markers"),
])
def test_marker_like_text_in_quotes(text: str, shown: str) -> None:
    assert unmarked(text) == shown
