"""Errors: one base class with a stable code, and HTTP status codes given only at the HTTP edge.

Every exception class of the project is a ``settings.errors.SanadError``; every code the edge
maps (``api.http.errors.STATUS``) is documented for its status in docs/errors.md; a domain
error raised in a route becomes the documented JSON error, with ``Retry-After`` when it says
when to retry, and one the table does not know becomes a 500 with nothing of it shown.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.http.errors import STATUS, ApiError, install_error_handlers
from api.service.errors import IndexBusy, NotFound, NotReady, Overloaded
from api.service.file_names import FileNameError
from index.vectors import VectorStoreError
from qa.answerer import QuestionError, QuestionTooLong
from settings.errors import SanadError
from tests.error_contract import DOCUMENTED

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("settings", "index", "qa", "evals", "api", "cli")


def _project_modules() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__main__":  # runs the command when imported
                continue
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_every_exception_class_is_a_sanad_error() -> None:
    found, outside = [], []
    for name in _project_modules():
        module = importlib.import_module(name)
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != name or not issubclass(cls, BaseException) or cls_name.startswith("_"):
                continue
            if cls in (SanadError, ApiError):  # the base; the HTTP edge's own (its code is its status's)
                continue
            found.append(cls_name)
            if not issubclass(cls, SanadError):
                outside.append(f"{name}.{cls_name}")
            elif not cls.code or cls.code == SanadError.code:
                outside.append(f"{name}.{cls_name} has no code of its own")
    assert {"IndexerError", "QuestionError", "EvalError", "NotFound", "CliError", "SlackPayloadError"} <= set(found)
    assert outside == []


def test_every_mapped_code_is_documented_for_its_status() -> None:
    undocumented = [f"{code} ({status})" for code, status in STATUS.items() if code not in DOCUMENTED.get(status, set())]
    assert undocumented == []


def _app(exc: Exception) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise exc

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(("exc", "status", "code", "retry_after"), [
    (QuestionError("the question is empty"), 422, "invalid_question", None),
    (QuestionTooLong("the question is 2000 characters; the limit is 1000"), 422, "question_too_long", None),
    (FileNameError("the file name is empty"), 400, "invalid_file_name", None),
    (NotFound("no such document: a.txt"), 404, "not_found", None),
    (NotReady("still loading"), 503, "not_ready", "5"),
    (NotReady("the indexer is loading", retry_after_s=10), 503, "not_ready", "10"),
    (Overloaded("2 questions are already being answered"), 503, "overloaded", "2"),
    (IndexBusy("another `sanad index` is running"), 503, "index_busy", "10"),
])
def test_domain_errors_get_their_status_at_the_edge(exc: SanadError, status: int, code: str,
                                                     retry_after: str | None) -> None:
    r = _app(exc).get("/boom")
    assert r.status_code == status
    assert r.json() == {"error": {"code": code, "message": str(exc)}}
    assert r.headers.get("Retry-After") == retry_after


def test_an_unmapped_domain_error_is_a_500_that_shows_nothing_of_it() -> None:
    r = _app(VectorStoreError("cannot reach http://10.0.0.7:8001 with token s3cret")).get("/boom")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error" and "s3cret" not in r.text
