"""``/readyz`` across the worker processes of ``sanad serve --workers N`` (api.serving.worker_readiness)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.serving.worker_readiness import READY_DIR_ENV, WORKERS_ENV, WorkerReadiness
from index.embedding import HashEmbedding
from qa.answerer import Answerer
from settings import Settings


def test_only_live_workers_that_have_loaded_count(tmp_path: Path) -> None:
    readiness = WorkerReadiness(tmp_path / "run", workers=2)
    assert readiness.ready_workers() == 0 and not readiness.all_ready()  # no folder yet
    readiness.mark_ready()
    assert readiness.ready_workers() == 1 and not readiness.all_ready()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    readiness.mark_ready(dead.pid)  # a worker that died after loading is not ready
    (readiness.folder / "notes.txt").touch()
    assert readiness.ready_workers() == 1
    readiness.mark_ready(os.getppid())
    assert readiness.all_ready()


def test_the_environment_names_the_run_only_for_several_workers(tmp_path: Path) -> None:
    run = WorkerReadiness(tmp_path, workers=3)
    again = WorkerReadiness.from_environ(run.environ())
    assert again is not None and again.folder == tmp_path and again.workers == 3
    assert WorkerReadiness.from_environ({READY_DIR_ENV: str(tmp_path), WORKERS_ENV: "1"}) is None
    assert WorkerReadiness.from_environ({}) is None


def test_readyz_waits_for_every_worker(tmp_path: Path, hash_settings: Settings) -> None:
    readiness = WorkerReadiness(tmp_path / "run", workers=2)
    answerer = Answerer(hash_settings, embedder=HashEmbedding())
    app = create_app(hash_settings, answerer=answerer, workers=readiness)
    with TestClient(app) as client:
        deadline = time.monotonic() + 30
        while readiness.ready_workers() < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        r = client.get("/readyz")  # this worker has loaded, the other has not
        assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready"
        assert "1 of 2 worker processes" in r.json()["error"]["message"] and r.headers["Retry-After"] == "5"
        readiness.mark_ready(os.getppid())  # the other worker
        r = client.get("/readyz")
        assert r.status_code == 200 and r.json()["status"] == "ready"


@pytest.mark.integration
def test_sanad_serve_with_two_workers_is_ready_only_when_both_answer(tmp_path: Path, seeds_copy: Path) -> None:
    from tests.api_fixtures import serve_workers  # noqa: PLC0415

    with serve_workers(tmp_path, seeds_copy) as (url, _):
        # once ready, no worker answers "still loading": a burst reaches both
        statuses = {httpx.post(url + "/v1/ask", json={"question": "من قصف مدينة حلب؟"}, timeout=60).status_code
                    for _ in range(20)}
        assert statuses == {200}
