"""``sanad serve``'s default worker count (``api.serving.workers``): one with the embedded store,
else by cores and memory; ``--workers`` overrides it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api_fixtures import ROOT, free_port
from api.serving.workers import RESERVE_BYTES, WORKER_BYTES, available_memory_bytes, default_workers
from settings import Settings

GiB = 2**30


def test_the_embedded_store_gets_one_worker_whatever_the_machine() -> None:
    choice = default_workers(Settings(), cores=64, available_bytes=256 * GiB)
    assert choice.workers == 1 and "embedded" in choice.reason


@pytest.mark.parametrize(("cores", "threads", "gib", "upload", "expected"), [
    (2, 1, 22, "separate", 2),       # this machine: cores decide
    (8, 2, 64, "shared", 4),         # two threads per worker
    (16, 1, 6, "separate", 2),       # memory decides
    (16, 1, 8, "shared", 3),
    (4, 1, 1, "separate", 1),        # never fewer than one
    (1, 4, 64, "separate", 1),
])
def test_server_mode_workers_follow_cores_and_memory(cores: int, threads: int, gib: int, upload: str,
                                                     expected: int) -> None:
    settings = Settings(chroma_url="http://127.0.0.1:8001", torch_threads=threads, upload_embedder=upload)
    choice = default_workers(settings, cores=cores, available_bytes=gib * GiB)
    assert choice.workers == expected
    assert choice.workers == max(1, min(cores // threads, (gib * GiB - RESERVE_BYTES) // WORKER_BYTES))
    assert f"{cores} cores" in choice.reason


def test_available_memory_is_read_from_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24000000 kB\nMemAvailable:   2048 kB\n")
    assert available_memory_bytes(meminfo) == 2048 * 1024
    assert available_memory_bytes(tmp_path / "absent") is None
    assert available_memory_bytes() is None or available_memory_bytes() > 0


def _serve(tmp_path: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "SANAD_EMBED_MODEL": "hash", "SANAD_DATA_DIR": str(tmp_path / "data"),
           "PYTHONPATH": str(ROOT)}
    env.pop("SANAD_CHROMA_URL", None)
    return subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(free_port()), *args],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_serve_without_workers_says_what_the_rule_chose(tmp_path: Path) -> None:
    proc = _serve(tmp_path)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # printed before uvicorn starts
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert first.startswith("sanad serve: 1 worker(s) (embedded store") and "--workers N overrides" in first


def test_serve_refuses_zero_workers(tmp_path: Path) -> None:
    proc = _serve(tmp_path, "--workers", "0")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "--workers must be at least 1" in err and "Traceback" not in err
