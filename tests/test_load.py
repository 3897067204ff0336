"""A small bounded load test (bench/load_test.py) against a real ``sanad serve`` subprocess.

8 concurrent clients send 150 requests (Arabic and English gold questions; /v1/ask and
/v1/chat/completions, streaming and not) to a uvicorn server on 127.0.0.1 serving a copy of
seeds/ indexed with the hashing embedder (no semantics, fast) and the abstention threshold
off, so that every answer cites and every citation is checked against the seeds files. The
full run with the real model is ``bench/load_test.py`` (figures in docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _load(name: str):  # noqa: ANN202 - a bench/ module
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


common = _load("_common")
load_test = _load("load_test")


def test_check_citation_catches_wrong_quotes() -> None:
    """The checker the load test relies on accepts a right citation and flags each kind of wrong one."""
    texts = {"a.txt": "first line\nsecond line here\n"}
    good = {"file": "a.txt", "paragraph": 2, "char_start": 11, "char_end": 27, "quote": "second line here",
            "line_start": 2, "line_end": 2, "url": "/v1/documents/a.txt/paragraphs/2"}
    assert common.check_citation(good, texts) is None
    bad = [
        {**good, "quote": "second line her"},
        {**good, "char_start": 12},
        {**good, "char_end": 99},
        {**good, "line_start": 1},
        {**good, "file": "b.txt"},
        {**good, "url": "/v1/documents/a.txt/paragraphs/3"},
    ]
    for citation in bad:
        assert common.check_citation(citation, texts) is not None, citation


def test_plan_mixes_kinds_and_languages() -> None:
    todo = load_test.plan(400, seed=0, mix=load_test.DEFAULT_MIX)
    assert len(todo) == 400
    assert {k for k, _ in todo} == set(load_test.KINDS)
    arabic = sum(1 for _, q in todo if any("\u0600" <= ch <= "\u06ff" for ch in q))
    assert 100 < arabic < 300  # both languages well represented


@pytest.mark.integration
def test_bounded_load_no_5xx_no_wrong_citations(tmp_path: Path) -> None:
    clients, requests = 8, 150
    server = common.SanadServer(tmp_path / "load", embed_model="hash", env={"SANAD_MIN_SIMILARITY": "-1"})
    with server:
        asyncio.run(load_test.warm_up(server.url, clients=4, rounds=1, max_seconds=60))
        result = asyncio.run(load_test.run_load(server.url, clients=clients, requests=requests,
                                                max_seconds=90, request_timeout=30))
        rss = server.rss()
        assert server.proc is not None and server.proc.poll() is None, server.log_tail()
    summary = result.summary()
    assert result.sent == requests and not result.capped, summary
    assert result.server_errors == 0, summary
    assert result.transport_errors == 0, summary
    assert summary["statuses"] == {"200": requests}, summary
    assert result.wrong == [], result.wrong[:5]
    assert result.malformed == [], result.malformed[:5]
    # the threshold is off: every answer cites, so hundreds of citations were really checked
    assert result.citations_checked >= requests, summary
    assert {o.kind for o in result.outcomes} == set(load_test.KINDS)
    assert {o.language for o in result.outcomes if o.kind.startswith("ask")} == {"ar", "en"}
    assert result.ok
    assert sum(rss.values()) > 0


@pytest.mark.integration
def test_serve_with_two_workers(tmp_path: Path) -> None:
    """`sanad serve --workers 2`: two worker processes behind one port, both answering."""
    server = common.SanadServer(tmp_path / "workers", embed_model="hash", workers=2,
                                env={"SANAD_MIN_SIMILARITY": "-1"})
    with server:
        assert server.proc is not None
        workers = [p for p in common.process_tree(server.proc.pid)[1:] if "spawn_main" in _cmdline(p)]
        asyncio.run(load_test.warm_up(server.url, clients=4, rounds=2, max_seconds=60))
        result = asyncio.run(load_test.run_load(server.url, clients=6, requests=60, max_seconds=60,
                                                request_timeout=30))
        assert server.proc.poll() is None, server.log_tail()
        log = server.log_tail(20000)
    assert result.ok, result.summary()
    assert len(workers) == 2, (workers, log)
    assert log.count("Application startup complete") >= 2, log


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
