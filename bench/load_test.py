"""Bounded load test of a real ``sanad serve`` on 127.0.0.1: errors, citations, latency, throughput.

C concurrent clients (httpx, asyncio) send N requests in all, mixed Arabic/English questions
from evals/data/seeds_gold.jsonl, over four kinds of request: ``POST /v1/ask`` (JSON and
``stream: true`` SSE) and ``POST /v1/chat/completions`` (JSON and ``stream: true``). Every
response is checked: status (no 5xx, no transport error), the streamed pieces add up to the
answer, and every citation's quote equals the cited seeds file's text at
[char_start:char_end] (lines and url too). It stops by itself: after N requests, or when the
wall-clock cap passes (requests in flight then finish; the rest are not sent).

Without ``--url`` it indexes a copy of seeds/ (``sanad index``), starts ``sanad serve``
(``--workers W``, ``SANAD_TORCH_THREADS=T``, rate limit off, no keys) on a free loopback
port, waits until it is ready, runs a short warm-up, measures, and stops it.

    .venv/bin/python bench/load_test.py                                  # 32 clients, 2000 requests, real model
    .venv/bin/python bench/load_test.py --clients 8 --requests 150 --embed-model hash
    .venv/bin/python bench/load_test.py --matrix 1x1,1x2,2x1 --requests 300   # workers x threads
    .venv/bin/python bench/load_test.py --url http://127.0.0.1:8000      # a server already running (seeds index)

Exit status: 0 when there were no 5xx, no transport errors, no wrong citations and every
request was sent; 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    SanadServer,
    check_citation,
    command_line,
    corpus_texts,
    machine_line,
    mib,
    mixed_questions,
    percentile,
    table,
)

KINDS = ("ask", "ask_stream", "chat", "chat_stream")
#: share of each kind in the mix (JSON ask is what most clients send)
DEFAULT_MIX = {"ask": 0.4, "ask_stream": 0.2, "chat": 0.2, "chat_stream": 0.2}


@dataclass
class Outcome:
    kind: str
    status: int | None  # None: transport error or timeout
    latency_ms: float
    first_byte_ms: float | None = None
    citations: int = 0
    problems: list[str] = field(default_factory=list)  # wrong citations
    malformed: list[str] = field(default_factory=list)  # streams that do not add up, bad JSON
    answerable: bool | None = None
    language: str | None = None
    error: str | None = None  # the transport error, if any
    server_ms: dict[str, float] = field(default_factory=dict)  # /v1/ask timings_ms (work inside the server)


@dataclass
class LoadResult:
    outcomes: list[Outcome]
    wall_s: float
    planned: int
    capped: bool
    clients: int

    @property
    def sent(self) -> int:
        return len(self.outcomes)

    @property
    def server_errors(self) -> int:
        return sum(1 for o in self.outcomes if o.status is not None and o.status >= 500)

    @property
    def transport_errors(self) -> int:
        return sum(1 for o in self.outcomes if o.status is None)

    @property
    def non_200(self) -> int:
        return sum(1 for o in self.outcomes if o.status != 200)

    @property
    def citations_checked(self) -> int:
        return sum(o.citations for o in self.outcomes)

    @property
    def wrong(self) -> list[str]:
        return [p for o in self.outcomes for p in o.problems]

    @property
    def malformed(self) -> list[str]:
        return [p for o in self.outcomes for p in o.malformed]

    @property
    def ok(self) -> bool:
        return (self.server_errors == 0 and self.transport_errors == 0 and not self.wrong
                and not self.malformed and self.sent == self.planned and self.non_200 == 0)

    def latencies(self, kind: str | None = None) -> list[float]:
        return [o.latency_ms for o in self.outcomes if o.status == 200 and (kind is None or o.kind == kind)]

    @property
    def throughput(self) -> float:
        return sum(1 for o in self.outcomes if o.status == 200) / self.wall_s if self.wall_s else 0.0

    def summary(self) -> dict[str, Any]:
        lat = self.latencies()
        statuses: dict[str, int] = {}
        for o in self.outcomes:
            key = str(o.status) if o.status is not None else "transport_error"
            statuses[key] = statuses.get(key, 0) + 1
        return {
            "clients": self.clients, "planned": self.planned, "sent": self.sent, "capped": self.capped,
            "wall_s": round(self.wall_s, 2), "throughput_rps": round(self.throughput, 2),
            "statuses": statuses, "server_errors": self.server_errors,
            "transport_errors": self.transport_errors, "citations_checked": self.citations_checked,
            "wrong_citations": len(self.wrong), "wrong_examples": self.wrong[:5],
            "malformed": len(self.malformed), "malformed_examples": self.malformed[:5],
            "answerable": sum(1 for o in self.outcomes if o.answerable),
            "latency_ms": {"p50": percentile(lat, 50), "p95": percentile(lat, 95), "p99": percentile(lat, 99),
                           "max": max(lat, default=float("nan"))},
            "by_kind": {k: {"n": len(self.latencies(k)), "p50": percentile(self.latencies(k), 50),
                            "p95": percentile(self.latencies(k), 95)} for k in KINDS},
            "server_ms_p50": {stage: percentile(self.server_stage(stage), 50)
                              for stage in ("encode", "retrieve", "answer", "total")},
        }

    def server_stage(self, stage: str) -> list[float]:
        """A stage's time inside the server (from /v1/ask's timings_ms), excluding queueing."""
        return [o.server_ms[stage] for o in self.outcomes if stage in o.server_ms]


# --------------------------------------------------------------------------- one request


def _sse_events(raw: str) -> list[tuple[str, str]]:
    from tests.sse import parse_sse

    return parse_sse(raw)


def _check_answer_citations(out: Outcome, answer: dict[str, Any], citations: list[dict[str, Any]],
                            texts: dict[str, str]) -> None:
    out.answerable = bool(answer.get("answerable"))
    out.language = answer.get("language")
    out.server_ms = dict(answer.get("timings_ms") or {})
    for c in citations:
        out.citations += 1
        problem = check_citation(c, texts)
        if problem:
            out.problems.append(f"{out.kind}: {problem}")
        elif f"[{c.get('ref')}]" not in (answer.get("answer") or ""):
            out.problems.append(f"{out.kind}: answer has no [{c.get('ref')}] marker")
    if out.answerable and not citations:
        out.problems.append(f"{out.kind}: answerable but no citations")


async def one_request(client: httpx.AsyncClient, kind: str, question: str, texts: dict[str, str],
                      timeout: float) -> Outcome:
    started = time.perf_counter()
    out = Outcome(kind=kind, status=None, latency_ms=0.0)
    stream = kind.endswith("_stream")
    if kind.startswith("ask"):
        path, payload = "/v1/ask", {"question": question, "stream": stream}
    else:
        path, payload = "/v1/chat/completions", {"model": "sanad", "stream": stream,
                                                 "messages": [{"role": "user", "content": question}]}
    try:
        async with client.stream("POST", path, json=payload, timeout=timeout) as response:
            out.status = response.status_code
            chunks = []
            async for chunk in response.aiter_text():
                if out.first_byte_ms is None:
                    out.first_byte_ms = (time.perf_counter() - started) * 1000
                chunks.append(chunk)
            raw = "".join(chunks)
    except (httpx.TransportError, httpx.TimeoutException) as exc:
        out.status = None
        out.error = f"{exc.__class__.__name__}: {exc}"
        out.latency_ms = (time.perf_counter() - started) * 1000
        return out
    out.latency_ms = (time.perf_counter() - started) * 1000
    if out.status != 200:
        return out
    try:
        if kind == "ask":
            body = json.loads(raw)
            _check_answer_citations(out, body, body.get("citations", []), texts)
        elif kind == "ask_stream":
            events = _sse_events(raw)
            deltas = "".join(json.loads(d)["text"] for e, d in events if e == "delta")
            cites = [json.loads(d) for e, d in events if e == "citations"]
            done = [json.loads(d) for e, d in events if e == "done"]
            if len(done) != 1 or len(cites) != 1:
                out.malformed.append(f"{kind}: expected one citations and one done event, got {[e for e, _ in events][-3:]}")
                return out
            if deltas != done[0]["answer"]:
                out.malformed.append(f"{kind}: deltas do not add up to the answer")
            if cites[0] != done[0]["citations"]:
                out.malformed.append(f"{kind}: citations event differs from done.citations")
            _check_answer_citations(out, done[0], done[0]["citations"], texts)
        elif kind == "chat":
            body = json.loads(raw)
            content = body["choices"][0]["message"]["content"]
            _check_answer_citations(out, {"answer": content, "answerable": body.get("answerable")},
                                    body.get("citations", []), texts)
        else:  # chat_stream
            datas = [d for _, d in _sse_events(raw)]
            if not datas or datas[-1] != "[DONE]":
                out.malformed.append(f"{kind}: stream does not end with [DONE]")
                return out
            chunks = [json.loads(d) for d in datas[:-1]]
            content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
            last = chunks[-1]
            if last["choices"][0].get("finish_reason") != "stop":
                out.malformed.append(f"{kind}: last chunk has no finish_reason stop")
            _check_answer_citations(out, {"answer": content, "answerable": last.get("answerable")},
                                    last.get("citations", []), texts)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        out.malformed.append(f"{kind}: malformed response ({exc.__class__.__name__}: {exc})")
    return out


# --------------------------------------------------------------------------- the run


def plan(n: int, *, seed: int, mix: dict[str, float]) -> list[tuple[str, str]]:
    """(kind, question) for every request: questions cycle through the mixed gold set."""
    rng = random.Random(seed)
    questions = mixed_questions(n)
    kinds, weights = zip(*mix.items())
    return [(rng.choices(kinds, weights)[0], q) for q in questions]


async def run_load(url: str, *, clients: int, requests: int, max_seconds: float, seed: int = 0,
                   mix: dict[str, float] | None = None, texts: dict[str, str] | None = None,
                   request_timeout: float = 120.0, headers: dict[str, str] | None = None) -> LoadResult:
    """Send ``requests`` requests from ``clients`` concurrent clients; stop early at ``max_seconds``."""
    texts = texts if texts is not None else corpus_texts()
    todo = plan(requests, seed=seed, mix=mix or DEFAULT_MIX)
    outcomes: list[Outcome] = []
    next_index = 0
    deadline = time.monotonic() + max_seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=url, limits=limits, headers=headers or {},
                                 timeout=request_timeout) as client:
        async def worker() -> None:
            nonlocal next_index
            while next_index < len(todo) and time.monotonic() < deadline:
                kind, question = todo[next_index]
                next_index += 1
                outcomes.append(await one_request(client, kind, question, texts, request_timeout))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - started
    return LoadResult(outcomes=outcomes, wall_s=wall, planned=requests, capped=len(outcomes) < requests,
                      clients=clients)


async def warm_up(url: str, *, clients: int, rounds: int = 3, max_seconds: float = 300.0) -> int:
    """Concurrent /v1/ask rounds until one round has no 503 (every worker loaded); returns rounds run."""
    questions = mixed_questions()
    deadline = time.monotonic() + max_seconds
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        for n in range(1, 1000):
            statuses = await asyncio.gather(*(
                client.post("/v1/ask", json={"question": questions[(n * clients + i) % len(questions)]})
                for i in range(clients)))
            if all(r.status_code == 200 for r in statuses) and n >= rounds:
                return n
            if time.monotonic() > deadline:
                raise RuntimeError(f"warm-up still sees {[r.status_code for r in statuses]} after {max_seconds} s")
            if any(r.status_code == 503 for r in statuses):
                await asyncio.sleep(1.0)
    return -1


# --------------------------------------------------------------------------- CLI


def run_config(args: argparse.Namespace, *, workers: int, threads: int, requests: int,
               workdir: Path, data_dir: Path | None) -> tuple[LoadResult, dict[str, Any]]:
    info: dict[str, Any] = {"workers": workers, "threads": threads}
    if args.url:
        url, server = args.url.rstrip("/"), None
    else:
        extra = {"SANAD_MIN_SIMILARITY": str(args.min_similarity)} if args.min_similarity is not None else {}
        # the questions repeat: without this most answers would be cache hits (measure the encoder)
        extra["SANAD_ANSWER_CACHE_SIZE"] = str(args.answer_cache)
        server = SanadServer(workdir, embed_model=args.embed_model, workers=workers, threads=threads,
                             data_dir=data_dir, env=extra)
        server.start(ready_timeout=args.ready_timeout)
        url = server.url
        info.update(index_s=server.index_s, ready_s=server.ready_s, rss_ready=sum(server.rss().values()))
    try:
        info["warmup_rounds"] = asyncio.run(warm_up(url, clients=min(args.clients, 8)))
        result = asyncio.run(run_load(url, clients=args.clients, requests=requests,
                                      max_seconds=args.max_seconds, seed=args.seed,
                                      request_timeout=args.request_timeout))
        if server is not None:
            rss = server.rss()
            info["rss_after"] = sum(rss.values())
            info["processes"] = len(rss)
    finally:
        if server is not None:
            server.stop()
    return result, info


def print_result(result: LoadResult, info: dict[str, Any]) -> None:
    s = result.summary()
    lat = s["latency_ms"]
    print(f"{s['sent']}/{s['planned']} requests from {s['clients']} clients in {s['wall_s']:.1f} s"
          f"{' (stopped by the wall-clock cap)' if s['capped'] else ''}: {s['throughput_rps']:.2f} req/s; "
          f"statuses {s['statuses']}")
    print(f"5xx: {s['server_errors']}   transport errors: {s['transport_errors']}   "
          f"citations checked: {s['citations_checked']}   wrong citations: {s['wrong_citations']}   "
          f"malformed responses: {s['malformed']}   answerable: {s['answerable']}")
    for problem in s["wrong_examples"] + s["malformed_examples"]:
        print(f"  problem: {problem}")
    rows = [["all", len(result.latencies()), lat["p50"], lat["p95"], lat["p99"], lat["max"]]]
    for kind in KINDS:
        v = result.latencies(kind)
        rows.append([kind, len(v), percentile(v, 50), percentile(v, 95), percentile(v, 99), max(v, default=float("nan"))])
    print(table(["request", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows))
    work = s["server_ms_p50"]
    if not any(math.isnan(v) for v in work.values()):
        print(f"inside the server (/v1/ask timings_ms, p50): encode {work['encode']:.0f} ms, retrieve "
              f"{work['retrieve']:.0f} ms, answer {work['answer']:.0f} ms, total {work['total']:.0f} ms; "
              f"the rest of the client latency is waiting for the model (one lock per worker) and HTTP")
    ttfb = [o.first_byte_ms for o in result.outcomes if o.kind.endswith("_stream") and o.first_byte_ms]
    if ttfb:
        print(f"streams: time to first byte p50 {statistics.median(ttfb):.0f} ms, p95 {percentile(ttfb, 95):.0f} ms")
    if "rss_ready" in info:
        print(f"server: {info['workers']} worker(s) x {info['threads']} torch thread(s); ready in "
              f"{info['ready_s']:.1f} s; RSS (process tree, {info.get('processes', '?')} processes) "
              f"{mib(info['rss_ready'])} ready, {mib(info.get('rss_after'))} after the load")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--max-seconds", type=float, default=1200.0, help="wall-clock cap of the measured run")
    parser.add_argument("--request-timeout", type=float, default=120.0)
    parser.add_argument("--embed-model", default=None, help="SANAD_EMBED_MODEL (default: the default model; "
                        "`hash` for a quick smoke run)")
    parser.add_argument("--min-similarity", type=float, default=None, help="SANAD_MIN_SIMILARITY for the server")
    parser.add_argument("--answer-cache", type=int, default=0,
                        help="SANAD_ANSWER_CACHE_SIZE for the server (default 0: every question is encoded)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="SANAD_TORCH_THREADS")
    parser.add_argument("--matrix", default=None,
                        help="comma-separated WORKERSxTHREADS configurations run one after another, e.g. 1x1,1x2,2x1")
    parser.add_argument("--data-dir", type=Path, default=None, help="an indexed data dir to reuse (indexed here if empty)")
    parser.add_argument("--url", default=None, help="load this running server (seeds index) instead of starting one")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ready-timeout", type=float, default=600.0)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.requests < 1 or args.max_seconds <= 0:
        parser.error("--clients, --requests and --max-seconds must be positive")

    print(f"$ {command_line()}")
    print(machine_line())
    configs = [(args.workers, args.threads)]
    if args.matrix:
        configs = [tuple(int(x) for x in c.lower().split("x")) for c in args.matrix.split(",") if c.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="sanad-load-"))
    report: list[dict[str, Any]] = []
    all_ok = True
    try:
        data_dir = args.data_dir
        if data_dir is None and not args.url:
            data_dir = tmp / "data"  # indexed once, shared by every configuration
        for workers, threads in configs:
            print(f"\n== {workers} worker(s) x {threads} torch thread(s), {args.clients} clients, "
                  f"{args.requests} requests, model {args.embed_model or 'default'}")
            result, info = run_config(args, workers=workers, threads=threads, requests=args.requests,
                                      workdir=tmp / f"w{workers}t{threads}", data_dir=data_dir)
            print_result(result, info)
            report.append({**info, **result.summary()})
            all_ok &= result.ok
        if len(configs) > 1:
            rows = [[f"{r['workers']}x{r['threads']}", r["sent"], r["throughput_rps"], r["latency_ms"]["p50"],
                     r["latency_ms"]["p95"], r["server_errors"], r["wrong_citations"], mib(r.get("rss_after"))]
                    for r in report]
            print("\n" + table(["workers x threads", "requests", "req/s", "p50 ms", "p95 ms", "5xx",
                                "wrong citations", "RSS after"], rows))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    print("\nOK" if all_ok else "\nFAILED: 5xx, transport errors, wrong citations or requests not sent")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
