"""The error contract tests hold every response to (docs/errors.md).

A response is *handled* when it is a success, or a 4xx whose body is JSON
``{"error": {"code": str, "message": str}}`` with a code that the docs' error table
documents for that status. Imported by tests/test_hostile_inputs.py and
tests/test_schemathesis.py.
"""

from __future__ import annotations

import re

import httpx

from tests.api_fixtures import ROOT


def documented_codes() -> dict[int, set[str]]:
    """The error table of docs/errors.md: status -> the codes documented for it."""
    table = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    codes: dict[int, set[str]] = {}
    for status, cell in re.findall(r"^\| (\d{3}) \| (.+?) \|$", table, re.M):
        codes[int(status)] = set(re.findall(r"`([a-z_]+)`", cell))
    return codes


DOCUMENTED = documented_codes()


def error_problem(status: int, content_type: str, body: bytes) -> str | None:
    """Why an error response breaks the contract, or None (successes always pass)."""
    if status >= 500:
        return f"server error {status}: {body[:300]!r}"
    if status < 400:
        return None
    if not content_type.startswith("application/json"):
        return f"{status} error is {content_type!r}, not JSON: {body[:300]!r}"
    try:
        import json

        data = json.loads(body)
    except ValueError:
        return f"{status} error body is not JSON: {body[:300]!r}"
    if not (isinstance(data, dict) and set(data) == {"error"} and isinstance(data["error"], dict)
            and set(data["error"]) == {"code", "message"}
            and all(isinstance(data["error"][k], str) and data["error"][k] for k in ("code", "message"))):
        return f"{status} error body is not {{error: {{code, message}}}}: {data!r}"[:400]
    if data["error"]["code"] not in DOCUMENTED.get(status, set()):
        return f"{status} error code {data['error']['code']!r} is not documented for {status} in docs/errors.md"
    return None


def assert_handled(r: httpx.Response, *, allowed: set[int] | None = None) -> None:
    """A success, or a documented JSON error with a 4xx; never a 5xx (and, given ``allowed``,
    one of those statuses)."""
    problem = error_problem(r.status_code, r.headers.get("content-type", ""), r.content)
    assert problem is None, problem
    if allowed is not None:
        assert r.status_code in allowed, (r.status_code, r.text[:300])
