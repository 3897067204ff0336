"""The HTTP API's non-model paths, in-process (FastAPI TestClient) with the hashing embedder:
keys (401), body limits (413), validation (422), rate limit (429), readiness (503),
errors as JSON (404/405/500), CORS, metrics, OpenAPI."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from tests.api_fixtures import make_settings


@contextmanager
def running(settings, *, wait: bool = True, **kwargs):  # noqa: ANN001
    app = create_app(settings, **kwargs)
    with TestClient(app, raise_server_exceptions=False) as client:
        if wait:
            assert app.state.service.wait_ready(30), app.state.service.load_error
        yield client


@pytest.fixture
def settings(tmp_path: Path):  # noqa: ANN201
    return make_settings(tmp_path / "data", embed_model="hash")


def is_error(r, status: int, code: str | None = None) -> dict:  # noqa: ANN001
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


# ------------------------------------------------------------------------------- keys


def test_api_keys_required_on_v1_only(tmp_path):
    s = make_settings(tmp_path / "d", embed_model="hash", api_keys=["k-one", "k-two"])
    with running(s) as c:
        err = is_error(c.post("/v1/ask", json={"question": "hello there"}), 401, "unauthorized")
        assert "Bearer" in err["message"]
        r = c.post("/v1/ask", json={"question": "hello there"})
        assert r.headers["www-authenticate"] == "Bearer"
        is_error(c.post("/v1/ask", json={"question": "hi"}, headers={"Authorization": "Bearer wrong"}), 401)
        is_error(c.post("/v1/ask", json={"question": "hi"}, headers={"Authorization": "Basic k-one"}), 401)
        is_error(c.get("/v1/documents"), 401)
        is_error(c.delete("/v1/documents/x.txt"), 401)
        is_error(c.post("/v1/chat/completions", json={"messages": []}), 401)
        for key in ("k-one", "k-two"):
            r = c.post("/v1/ask", json={"question": "hello there"}, headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 200 and r.json()["answerable"] is False
        for open_path in ("/healthz", "/readyz"):
            assert c.get(open_path).status_code == 200
        # /metrics needs an admin key once keys are set (SANAD_API_KEYS are admin keys)
        is_error(c.get("/metrics"), 401)
        assert c.get("/metrics", headers={"Authorization": "Bearer k-one"}).status_code == 200


def test_unauthenticated_oversized_body_is_401_not_413(tmp_path):
    s = make_settings(tmp_path / "d", embed_model="hash", api_keys=["k"], max_body_bytes=100)
    with running(s) as c:
        is_error(c.post("/v1/ask", json={"question": "x" * 500}), 401)


# ------------------------------------------------------------------------------- sizes


def test_body_too_large_413(tmp_path):
    s = make_settings(tmp_path / "d", embed_model="hash", max_body_bytes=1000, max_upload_bytes=2000)
    with running(s) as c:
        err = is_error(c.post("/v1/ask", json={"question": "q" * 1500}), 413, "payload_too_large")
        assert "1000" in err["message"]

        def chunks():  # no Content-Length: counted as it streams
            for _ in range(20):
                yield b" " * 100

        is_error(c.post("/v1/ask", content=chunks(), headers={"content-type": "application/json"}), 413)
        # uploads have their own, larger limit, then the document limit
        r = c.post("/v1/documents", json={"file": "a.txt", "text": "word " * 300})
        assert r.status_code == 201, r.text
        err = is_error(c.post("/v1/documents", files={"file": ("b.txt", b"x " * 1250)}), 413, "payload_too_large")
        assert "2000" in err["message"]  # under the body limit, over the document limit
        is_error(c.post("/v1/documents", files={"file": ("c.txt", b"y" * 5000)}), 413)


# ------------------------------------------------------------------------------- validation


def test_validation_errors_422(settings):
    with running(settings) as c:
        limit = settings.max_question_chars
        err = is_error(c.post("/v1/ask", json={"question": "a" * (limit + 1)}), 422, "question_too_long")
        assert str(limit) in err["message"] and str(limit + 1) in err["message"]
        is_error(c.post("/v1/ask", json={"question": "   "}), 422, "invalid_question")
        err = is_error(c.post("/v1/ask", json={}), 422, "invalid_request")
        assert "question" in err["message"]
        is_error(c.post("/v1/ask", json={"question": "hi", "top_k": 0}), 422, "invalid_request")
        is_error(c.post("/v1/ask", content=b"{not json", headers={"content-type": "application/json"}),
                 400, "invalid_json")
        is_error(c.post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "x"}]}),
                 422)
        is_error(c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "a" * 5000}]}),
                 422, "question_too_long")
        is_error(c.post("/v1/documents", json={"file": "a.txt"}), 422)
        is_error(c.post("/v1/documents", content=b"plain", headers={"content-type": "text/plain"}), 415)
        is_error(c.post("/v1/documents", json={"file": "a.txt", "text": "   \n  "}), 400, "invalid_document")
        is_error(c.post("/v1/documents", files={"file": ("bad.txt", b"\xff\xfe bad utf8")}), 400,
                 "invalid_document")
        is_error(c.get("/v1/documents/a.txt/paragraphs/abc"), 422)


def test_not_found_and_method_errors_are_json(settings):
    with running(settings) as c:
        is_error(c.get("/no/such/route"), 404, "not_found")
        is_error(c.get("/v1/ask"), 405, "method_not_allowed")
        is_error(c.get("/v1/documents/none.txt"), 404, "not_found")
        is_error(c.delete("/v1/documents/none.txt"), 404, "not_found")
        is_error(c.get("/v1/documents/..%2Fx.txt/paragraphs/1"), 400, "invalid_file_name")


def test_unhandled_exception_is_generic_500(tmp_path, caplog):
    from index.embedding import HashEmbedding

    from qa.answerer import Answerer

    class ExplodingEmbedding(HashEmbedding):
        def embed_queries(self, texts):  # noqa: ANN001, ANN201
            raise RuntimeError("secret internal detail /etc/shadow")

    s = make_settings(tmp_path / "d", embed_model="hash")
    with running(s, answerer=Answerer(s, embedder=ExplodingEmbedding())) as c:
        err = is_error(c.post("/v1/ask", json={"question": "hello"}), 500, "internal_error")
        assert "secret" not in err["message"] and "Traceback" not in err["message"]
    assert any("secret internal detail" in (r.exc_text or "") for r in caplog.records)


# ------------------------------------------------------------------------------- rate limit


def test_rate_limit_429_with_retry_after(tmp_path):
    s = make_settings(tmp_path / "d", embed_model="hash", rate_limit_per_minute=3, api_keys=["a", "b"])
    with running(s) as c:
        ha, hb = {"Authorization": "Bearer a"}, {"Authorization": "Bearer b"}
        for _ in range(3):
            assert c.get("/v1/documents", headers=ha).status_code == 200
        r = c.get("/v1/documents", headers=ha)
        err = is_error(r, 429, "rate_limited")
        assert 1 <= int(r.headers["retry-after"]) <= 60 and "3" in err["message"]
        assert c.post("/v1/ask", json={"question": "x"}, headers=ha).status_code == 429
        assert c.get("/v1/documents", headers=hb).status_code == 200  # per key
        for _ in range(5):
            assert c.get("/healthz").status_code == 200  # not limited


def test_rate_limit_per_ip_without_keys(tmp_path):
    s = make_settings(tmp_path / "d", embed_model="hash", rate_limit_per_minute=2)
    with running(s) as c:
        assert [c.get("/v1/documents").status_code for _ in range(3)] == [200, 200, 429]


def test_rate_limiter_window_slides():
    from api.http.security import RateLimiter

    rl = RateLimiter(2, 60.0)
    assert rl.hit("k", now=0.0) is None and rl.hit("k", now=10.0) is None
    assert rl.hit("k", now=20.0) == pytest.approx(40.0)
    assert rl.hit("other", now=20.0) is None
    assert rl.hit("k", now=60.5) is None          # the hit at 0 left the window
    assert rl.hit("k", now=61.0) == pytest.approx(9.0)
    assert RateLimiter(0).hit("k") is None        # 0 = off


# ------------------------------------------------------------------------------- readiness


def test_readyz_503_until_loaded(settings):
    from qa.answerer import Answerer

    gate = threading.Event()

    def slow_loader(s):  # noqa: ANN001, ANN202
        assert gate.wait(30)
        return Answerer(s)

    with running(settings, wait=False, loader=slow_loader) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        r = c.get("/readyz")
        is_error(r, 503, "not_ready")
        assert r.headers["retry-after"]
        is_error(c.post("/v1/ask", json={"question": "hello"}), 503, "not_ready")
        is_error(c.get("/v1/documents"), 503)
        assert "sanad_ready 0.0" in c.get("/metrics").text
        gate.set()
        deadline = time.monotonic() + 30
        while c.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        body = c.get("/readyz").json()
        assert body["status"] == "ready" and body["documents"] == 0
        assert c.post("/v1/ask", json={"question": "hello"}).json()["answer"] == "No documents are indexed yet."
        assert "sanad_ready 1.0" in c.get("/metrics").text


def test_readyz_reports_load_failure(settings):
    def broken(s):  # noqa: ANN001, ANN202
        raise RuntimeError("model folder missing")

    with running(settings, wait=False, loader=broken) as c:
        deadline = time.monotonic() + 10
        while c.app.state.service.load_error is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        err = is_error(c.get("/readyz"), 503, "load_failed")
        assert "model folder missing" in err["message"]
        is_error(c.post("/v1/ask", json={"question": "hello"}), 503, "load_failed")


# ------------------------------------------------------------------------------- metrics, CORS, docs


def test_metrics_per_app_registry(settings, tmp_path):
    other = make_settings(tmp_path / "other", embed_model="hash")
    with running(settings) as c1, running(other) as c2:
        for _ in range(3):
            c1.post("/v1/ask", json={"question": "hello world"})
        c1.get("/v1/documents/none.txt")
        t1, t2 = c1.get("/metrics").text, c2.get("/metrics").text
        assert 'sanad_http_requests_total{method="POST",route="/v1/ask",status="200"} 3.0' in t1
        assert 'sanad_http_requests_total{method="GET",route="/v1/documents/{file:path}",status="404"} 1.0' in t1
        assert 'route="/v1/ask"' not in t2
        assert 'sanad_http_request_duration_seconds_bucket{le="0.5",method="POST",route="/v1/ask",status="200"}' in t1
        assert 'sanad_ask_stage_seconds_count{stage="total"} 3.0' in t1
        assert 'sanad_answers_total{answerable="false",language="en"} 3.0' in t1
        assert "process_resident_memory_bytes" in t1


def test_metrics_label_requests_refused_before_routing(tmp_path):
    s = make_settings(tmp_path / "d", embed_model="hash", api_keys=["k"])
    with running(s) as c:
        c.post("/v1/ask", json={"question": "x"})
        text = c.get("/metrics", headers={"Authorization": "Bearer k"}).text
        assert 'sanad_http_requests_total{method="POST",route="/v1/ask",status="401"} 1.0' in text


def test_cors(tmp_path):
    s = make_settings(tmp_path / "d", embed_model="hash", cors_origins=["https://ui.example"], api_keys=["k"])
    with running(s) as c:
        r = c.options("/v1/ask", headers={"Origin": "https://ui.example", "Access-Control-Request-Method": "POST",
                                          "Access-Control-Request-Headers": "authorization,content-type"})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://ui.example"
        r = c.post("/v1/ask", json={"question": "x"}, headers={"Origin": "https://ui.example"})
        assert r.status_code == 401 and r.headers["access-control-allow-origin"] == "https://ui.example"
        r = c.options("/v1/ask", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in r.headers


def test_no_cors_by_default(settings):
    with running(settings) as c:
        r = c.get("/healthz", headers={"Origin": "https://ui.example"})
        assert "access-control-allow-origin" not in r.headers


def test_openapi_lists_the_contract_routes(settings):
    with running(settings) as c:
        paths = c.get("/openapi.json").json()["paths"]
    for path in ("/v1/ask", "/v1/chat/completions", "/v1/documents", "/v1/documents/{file}",
                 "/v1/documents/{file}/paragraphs/{n}", "/healthz", "/readyz", "/metrics"):
        assert path in paths, sorted(paths)
    assert "multipart/form-data" in paths["/v1/documents"]["post"]["requestBody"]["content"]


def test_ask_stream_error_before_stream_is_json(settings):
    with running(settings) as c:
        is_error(c.post("/v1/ask", json={"question": "a" * 5000, "stream": True}), 422, "question_too_long")


def test_serve_returns_1_when_port_is_taken(tmp_path):
    import socket

    from api.serving.server import serve

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        s = make_settings(tmp_path / "d", embed_model="hash")
        assert serve(host="127.0.0.1", port=port, settings=s) == 1


# ------------------------------------------------------------------------------- conversation ownership


def test_a_conversation_belongs_to_the_key_that_started_it(tmp_path):
    s = make_settings(tmp_path / "d", embed_model="hash", api_keys=["alice-key", "mallory-key"])
    alice, mallory = {"Authorization": "Bearer alice-key"}, {"Authorization": "Bearer mallory-key"}
    with running(s) as c:
        first = c.post("/v1/ask", json={"question": "Who chaired the council meeting?"}, headers=alice)
        cid = first.json()["conversation_id"]
        attempts = 0
        for question in ("and?", "and who else?", "what about Russia?"):
            r = c.post("/v1/ask", json={"question": question, "conversation_id": cid}, headers=mallory)
            assert r.status_code == 200
            attempts += 1
            # not read: the follow-up is not joined to Alice's question; not extended: a new id
            assert unquote(r.headers["x-sanad-standalone-question"]) == question
            assert r.json()["conversation_id"] != cid
        # Alice's own follow-up still reads only her conversation
        r = c.post("/v1/ask", json={"question": "and?", "conversation_id": cid}, headers=alice)
        assert unquote(r.headers["x-sanad-standalone-question"]) == "Who chaired the council meeting? and?"
        assert r.json()["conversation_id"] == cid
    assert attempts == 3


def test_answer_cache_hits_and_misses_in_metrics(settings):
    with running(settings) as c:
        c.post("/v1/ask", json={"question": "warm up"})
        c.app.state.service.answerer.reload()  # start-up's background work done: the index is settled
        cache = c.app.state.service.answerer.cache
        hits, misses = cache.hits, cache.misses
        for _ in range(3):
            assert c.post("/v1/ask", json={"question": "Who chaired the council meeting?"}).status_code == 200
        text = c.get("/metrics").text
    assert (cache.hits - hits, cache.misses - misses) == (2, 1)
    assert f'sanad_answer_cache_total{{result="hit"}} {float(cache.hits)}' in text
    assert f'sanad_answer_cache_total{{result="miss"}} {float(cache.misses)}' in text


def test_overloaded_is_refused_at_once_with_retry_after(tmp_path):
    s = make_settings(tmp_path / "d", embed_model="hash", max_pending_questions=1)
    with running(s) as c:
        asking = c.app.state.ask_service
        held = asking.start("Who chaired the council meeting?", owner="http")  # one question in flight
        r = c.post("/v1/ask", json={"question": "and another?"})
        err = is_error(r, 503, "overloaded")
        assert r.headers["retry-after"] == "2" and "retry" in err["message"]
        is_error(c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}),
                 503, "overloaded")
        held.answer()  # done: its place is free again
        assert c.post("/v1/ask", json={"question": "and another?"}).status_code == 200
        assert asking.admission.in_flight == 0
