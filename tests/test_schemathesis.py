"""Bad input from schemathesis: every operation of /openapi.json, fuzzed, never answers 5xx.

The app runs under a real uvicorn on 127.0.0.1 (tests/api_fixtures.LiveServer) over a small
corpus (two seed articles) indexed with the hashing embedder, with the Slack route on;
rate limiting is off and no API keys are set. Every response is also held to the error
contract (``documented_error``: a 4xx is ``{"error": {"code", "message"}}`` with a code
docs/errors.md documents for that status). Two parts:

- stateless: schemathesis generates requests for every operation (valid and invalid bodies,
  odd path parameters, Unicode file names, wrong content types) and checks
  ``not_a_server_error`` plus the response's status code, content type and body against the
  schema;
- stateful: OpenAPI links (added here to the schema we load) chain ``POST /v1/documents`` to
  ``GET /v1/documents/{file}``, ``GET .../paragraphs/{n}``, ``GET .../text`` and
  ``DELETE /v1/documents/{file}`` with the uploaded name, so sequences upload -> read -> delete -> read again run too.

Bounded by ``max_examples`` (the whole file takes well under three minutes here).
"""

from __future__ import annotations

import copy
import shutil
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.slack.options import SlackOptions
from settings import HarnessSettings
from tests.api_fixtures import SEEDS, LiveServer, make_settings
from tests.error_contract import error_problem

pytestmark = pytest.mark.integration

CORPUS_FILES = ("001_60d84da894ed2980.txt", "003_9157ba4207286d92.txt")


@schemathesis.check
def documented_error(ctx, response, case) -> None:  # noqa: ANN001 - schemathesis' check signature
    """A 4xx is JSON ``{"error": {"code", "message"}}`` with a code docs/errors.md documents for it."""
    content_type = (response.headers.get("content-type") or [""])[0]
    problem = error_problem(response.status_code, content_type, response.content)
    if problem:
        raise AssertionError(problem)


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          documented_error]
STATELESS_EXAMPLES = HarnessSettings().schemathesis_examples
STATEFUL_EXAMPLES = HarnessSettings().schemathesis_stateful_examples
HEALTH = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from index.indexer import Indexer

    root = tmp_path_factory.mktemp("schemathesis")
    corpus = root / "corpus"
    corpus.mkdir()
    for name in CORPUS_FILES:
        shutil.copy(SEEDS / name, corpus / name)
    # the Slack route is on too (its requests are unsigned here, so bolt never reaches Slack)
    cfg = make_settings(root / "data", embed_model="hash", corpus_paths=[corpus],
                        slack_bot_token="xoxb-schemathesis", slack_signing_secret="schemathesis-secret")
    indexer = Indexer(cfg)
    report = indexer.index([corpus], progress=None)
    indexer.close()
    assert sorted(report.added) == sorted(CORPUS_FILES)
    server = LiveServer(cfg, slack=SlackOptions(api_base_url="http://127.0.0.1:9/api/",
                                                token_verification_enabled=False)).start()
    yield server
    server.stop()


def _link(operation_id: str, **parameters: str | int) -> dict:
    return {"operationId": operation_id, "parameters": parameters}


def with_document_links(raw: dict) -> dict:
    """The app's schema plus OpenAPI links from an upload to the routes that take its name."""
    raw = copy.deepcopy(raw)
    ops = {op["operationId"]: (path, method) for path, item in raw["paths"].items() for method, op in item.items()}
    by_route = {(path, method): op_id for op_id, (path, method) in ops.items()}
    get_doc = by_route[("/v1/documents/{file}", "get")]
    delete_doc = by_route[("/v1/documents/{file}", "delete")]
    get_para = by_route[("/v1/documents/{file}/paragraphs/{n}", "get")]
    get_text = by_route[("/v1/documents/{file}/text", "get")]
    links = {
        "GetText": _link(get_text, file="$response.body#/file"),
        "GetDocument": _link(get_doc, file="$response.body#/file"),
        "GetFirstParagraph": _link(get_para, file="$response.body#/file", n=1),
        "DeleteDocument": _link(delete_doc, file="$response.body#/file"),
    }
    upload = raw["paths"]["/v1/documents"]["post"]["responses"]
    for status in ("200", "201"):
        upload[status]["links"] = links
    return raw


@pytest.fixture(scope="module")
def raw_schema(live) -> dict:  # noqa: ANN001
    r = httpx.get(live.url + "/openapi.json", timeout=30)
    assert r.status_code == 200
    return with_document_links(r.json())


def _load(raw: dict, url: str):  # noqa: ANN202 - schemathesis' OpenApiSchema
    schema = schemathesis.openapi.from_dict(raw)
    schema.config.update(base_url=url, request_timeout=60)
    return schema


@pytest.fixture(scope="module")
def api_schema(live, raw_schema):  # noqa: ANN001, ANN201
    return _load(raw_schema, live.url)


def well_formed_uploads(raw: dict) -> dict:
    """For the stateful part: JSON uploads under a plausible name with some text, so that
    sequences get past name validation (which the stateless part fuzzes) to the linked routes."""
    raw = copy.deepcopy(raw)
    body = raw["paths"]["/v1/documents"]["post"]["requestBody"]["content"]
    body.pop("multipart/form-data")
    props = body["application/json"]["schema"]["properties"]
    props["file"].update(pattern=r"^(notes/)?[a-z0-9_-]{1,12}\.(txt|md)$")
    props["text"].update(pattern=r"[A-Za-z\u0621-\u064a]", maxLength=400)
    return raw


@pytest.fixture(scope="module")
def stateful_schema(live, raw_schema):  # noqa: ANN001, ANN201
    return _load(well_formed_uploads(raw_schema), live.url)


#: every operation of the app's schema (test_operations_are_all_covered keeps this honest)
OPERATIONS = [
    ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),
    ("POST", "/v1/ask"), ("POST", "/v1/chat/completions"), ("GET", "/v1/models"),
    ("GET", "/v1/documents"), ("POST", "/v1/documents"), ("GET", "/v1/documents/{file}"),
    ("DELETE", "/v1/documents/{file}"), ("GET", "/v1/documents/{file}/paragraphs/{n}"),
    ("POST", "/slack/events"),
    ("GET", "/v1/documents/{file}/text"), ("GET", "/v1/documents/{file}/upload"),
    ("POST", "/v1/feedback"), ("DELETE", "/v1/conversations/{conversation_id}"),
    ("GET", "/v1/collections"), ("POST", "/v1/collections"), ("GET", "/v1/collections/{name}"),
    ("DELETE", "/v1/collections/{name}"),
    ("GET", "/v1/collections/{collection}/documents"), ("POST", "/v1/collections/{collection}/documents"),
    ("GET", "/v1/collections/{collection}/documents/{file}"),
    ("DELETE", "/v1/collections/{collection}/documents/{file}"),
    ("GET", "/v1/collections/{collection}/documents/{file}/paragraphs/{n}"),
    ("GET", "/v1/collections/{collection}/documents/{file}/upload"),
    ("GET", "/v1/collections/{collection}/documents/{file}/text"),
]


def test_operations_are_all_covered(api_schema) -> None:  # noqa: ANN001
    found = {(method.upper(), path) for path, item in api_schema.raw_schema["paths"].items() for method in item}
    assert found == set(OPERATIONS)


# schemathesis' own pytest plugin (``schema.parametrize()``) does not run under pytest 9
# (it reads ``request.node._nodeid``), so each operation's strategies drive a Hypothesis test
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_server_errors(api_schema, method: str, path: str) -> None:  # noqa: ANN001
    operation = api_schema[path][method]
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))
    seen: list[int] = []

    @given(case=cases)
    @settings(max_examples=STATELESS_EXAMPLES, deadline=None, suppress_health_check=HEALTH, database=None)
    def fuzz(case) -> None:  # noqa: ANN001
        response = case.call_and_validate(checks=CHECKS)
        seen.append(response.status_code)

    fuzz()
    assert seen and all(status < 500 for status in seen)


def remove_uploads(url: str) -> None:
    """Back to the server's first state: the default collection's uploads deleted, and every
    collection a scenario created (with its documents) deleted."""
    docs = httpx.get(url + "/v1/documents", timeout=30).json()["documents"]
    for doc in docs:
        if doc["uploaded"]:
            r = httpx.delete(f"{url}/v1/documents/{quote(doc['file'], safe='')}", timeout=30)
            assert r.status_code == 204, r.text
    for collection in httpx.get(url + "/v1/collections", timeout=30).json()["collections"]:
        if not collection["default"]:
            r = httpx.delete(f"{url}/v1/collections/{collection['name']}", timeout=30)
            assert r.status_code == 204, r.text


def test_stateful_upload_read_delete(stateful_schema, live) -> None:  # noqa: ANN001
    calls: list[tuple[str, str, int]] = []

    class Machine(stateful_schema.as_state_machine()):  # type: ignore[misc]
        def after_call(self, response, case) -> None:  # noqa: ANN001
            calls.append((case.method.upper(), case.operation.path, response.status_code))

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:  # noqa: ANN001
            case.validate_response(response, checks=CHECKS)

        # every scenario starts from the same server state (Hypothesis replays scenarios and
        # needs the same answers: an upload is 201 the first time, 200 after)
        def setup(self) -> None:
            remove_uploads(live.url)

        def teardown(self) -> None:
            remove_uploads(live.url)
            super().teardown()

    Machine.run(settings=settings(max_examples=STATEFUL_EXAMPLES, stateful_step_count=6, deadline=None,
                                  suppress_health_check=HEALTH, database=None))
    assert all(status < 500 for _, _, status in calls), [c for c in calls if c[2] >= 500]
    # sequences really went through the links: an upload, then its name read or deleted
    assert any(m == "POST" and p == "/v1/documents" and s in (200, 201) for m, p, s in calls), calls
    assert any(p.startswith("/v1/documents/{file}") and s in (200, 204) for _, p, s in calls), calls
    # the service is still healthy and serves the corpus it started with
    ready = httpx.get(live.url + "/readyz", timeout=30)
    assert ready.status_code == 200
    files = {d["file"] for d in httpx.get(live.url + "/v1/documents", timeout=30).json()["documents"]}
    assert set(CORPUS_FILES) <= files


def test_links_reach_the_document_routes(live, raw_schema) -> None:  # noqa: ANN001
    """The stateful part only means something if the links are really in the schema we load."""
    links = raw_schema["paths"]["/v1/documents"]["post"]["responses"]["201"]["links"]
    assert set(links) == {"GetDocument", "GetFirstParagraph", "GetText", "DeleteDocument"}
    plain = schemathesis.openapi.from_dict(httpx.get(live.url + "/openapi.json", timeout=30).json())
    linked = schemathesis.openapi.from_dict(raw_schema)
    assert linked.statistic.transitions.total >= plain.statistic.transitions.total + 8
