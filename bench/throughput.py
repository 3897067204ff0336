"""Throughput in one run: bare ``encode_query`` on every core, then the real server, with ratios.

1. **Bare encoder**: the same questions the server gets, through the embedder's
   ``embed_queries`` alone (no HTTP, no retrieval), one at a time and in batches of 4, 16
   and 32, in each layout of the cores: 1 process x 1 thread, 1 process x all cores'
   threads, one 1-thread process per core (run at once, started together; each kept to its core
   as `sanad serve` keeps its workers, `--bare-pin`). The best figure
   is what the encoder can do on this machine.
2. **Cold start and cache**: a fresh ``sanad serve`` (the answer cache on, as by default):
   seconds to ``/readyz`` 200, to the first answer, and one repeated question's server time
   (``timings_ms``) from the cache.
3. **Server under load**: for each ``--configs`` WORKERSxTHREADS, a ``sanad serve`` with the
   answer cache off (every question encoded) at 1, 4, 16 and 32 concurrent clients
   (``bench/load_test.py``'s mixed requests: every status and citation checked): req/s, p50,
   p95, errors, the mean question batch (``sanad_query_batch_size``, every worker's), RSS per worker, the
   load client's own share of the cores (it runs on the same machine), and
   the ratios the targets are written in: req/s against the best bare throughput, p50 at one
   client against one bare encode, p95/p50 at 32 clients.

    .venv/bin/python bench/throughput.py                                 # real model, 1x1,1x2,2x1
    .venv/bin/python bench/throughput.py --configs 1x1 --requests 200 --bare-questions 64
    .venv/bin/python bench/throughput.py --embed-model hash --requests 40 --bare-questions 16   # smoke

Exit status 0 when no request failed and every citation was verbatim; 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SanadServer, command_line, machine_line, mib, mixed_questions, percentile, table  # noqa: E402
from load_test import run_load, warm_up  # noqa: E402

from api.serving.worker_affinity import core_sets, pin_process, usable_cores  # noqa: E402
from settings import Settings  # noqa: E402

CLIENTS = (1, 4, 16, 32)
BATCHES = (1, 4, 16, 32)


# --------------------------------------------------------------------------- 1. bare encoder


def _bare_worker(embed_model: str | None, threads: int, questions: list[str], batches: list[int],
                 barrier: Any, results: Any, cores: tuple[int, ...] | None) -> None:
    """One process: load the model, then (in step with the others) encode ``questions`` at each batch size
    (kept to ``cores`` when given, as ``sanad serve`` keeps its workers)."""
    from index.embedding import build_embedder
    from settings import Settings

    if cores:
        pin_process(cores)

    overrides: dict[str, Any] = {"torch_threads": threads}
    if embed_model:
        overrides["embed_model"] = embed_model
    embedder = build_embedder(Settings(**overrides))
    embedder.embed_queries(questions[:8])  # warm-up
    for batch in batches:
        barrier.wait(timeout=600)
        started = time.perf_counter()
        for i in range(0, len(questions), batch):
            embedder.embed_queries(questions[i:i + batch])
        results.put((batch, time.perf_counter() - started))


def bare_layout(*, processes: int, threads: int, questions: list[str], batches: list[int],
                embed_model: str | None, pinned: bool) -> dict[int, float]:
    """Questions per second at each batch size with ``processes`` x ``threads`` (all processes
    encode their own copy of ``questions`` at once; ``pinned``: each kept to cores of its own
    as ``sanad serve`` keeps its workers, when they fit)."""
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(processes), ctx.Queue()
    sets: list[tuple[int, ...] | None] = list(core_sets(usable_cores(), workers=processes, threads=threads)) if pinned else []
    sets = sets or [None] * processes
    procs = [ctx.Process(target=_bare_worker, args=(embed_model, threads, questions, batches, barrier, results, cores))
             for cores in sets]
    for p in procs:
        p.start()
    elapsed: dict[int, list[float]] = {b: [] for b in batches}
    try:
        for _ in range(processes * len(batches)):
            batch, seconds = results.get(timeout=900)
            elapsed[batch].append(seconds)
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.terminate()
    return {b: processes * len(questions) / max(v) for b, v in elapsed.items()}


# --------------------------------------------------------------------------- 2. cold start, cache


def cold_start(workdir: Path, *, data_dir: Path, embed_model: str | None, workers: int, threads: int,
               question: str) -> dict[str, float]:
    """A fresh server (cache on): seconds to /readyz 200 and to the first answer; a repeat's times."""
    server = SanadServer(workdir, embed_model=embed_model, workers=workers, threads=threads, data_dir=data_dir)
    started = time.perf_counter()
    server.start(ready_timeout=600)
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            first = client.post("/v1/ask", json={"question": question})
            first_s = time.perf_counter() - started
            t0 = time.perf_counter()
            again = client.post("/v1/ask", json={"question": question})
            repeat_client_ms = (time.perf_counter() - t0) * 1000
        first.raise_for_status()
        again.raise_for_status()
        timings = again.json()["timings_ms"]
        return {"ready_s": server.ready_s or float("nan"), "first_answer_s": first_s,
                "first_answer_server_ms": first.json()["timings_ms"].get("total", float("nan")),
                "repeat_cache_ms": timings.get("cache", float("nan")),
                "repeat_server_ms": timings.get("total", float("nan")), "repeat_client_ms": repeat_client_ms,
                "repeat_from_cache": "cache" in timings}
    finally:
        server.stop()


# --------------------------------------------------------------------------- 3. server under load


def batch_histogram(url: str) -> tuple[float, float]:
    """(sum, count) of ``sanad_query_batch_size`` in /metrics (every worker's, summed)."""
    text = httpx.get(url + "/metrics", timeout=10).text
    total = re.search(r"^sanad_query_batch_size_sum ([0-9.e+]+)$", text, re.M)
    count = re.search(r"^sanad_query_batch_size_count ([0-9.e+]+)$", text, re.M)
    return (float(total.group(1)) if total else 0.0, float(count.group(1)) if count else 0.0)


def worker_rss(server: SanadServer, workers: int) -> float:
    """Mean RSS of the ``workers`` largest processes of the server's tree (the workers)."""
    sizes = sorted(server.rss().values(), reverse=True)[:workers]
    return statistics.mean(sizes) if sizes else float("nan")


def load_config(workdir: Path, *, data_dir: Path, embed_model: str | None, workers: int, threads: int,
                window_ms: float, clients: list[int], requests: int, single_requests: int,
                max_seconds: float) -> list[dict[str, Any]]:
    server = SanadServer(workdir, embed_model=embed_model, workers=workers, threads=threads, data_dir=data_dir,
                         env={"SANAD_ANSWER_CACHE_SIZE": "0", "SANAD_QUERY_BATCH_WINDOW_MS": str(window_ms)})
    config = f"{workers}x{threads}" + (f" window {window_ms:g} ms" if window_ms else "")
    server.start(ready_timeout=600)
    rows = []
    try:
        asyncio.run(warm_up(server.url, clients=min(max(clients), 8)))
        for n_clients in clients:
            before = batch_histogram(server.url)
            cpu_before, wall_before = time.process_time(), time.perf_counter()
            result = asyncio.run(run_load(server.url, clients=n_clients,
                                          requests=single_requests if n_clients == 1 else requests,
                                          max_seconds=max_seconds, request_timeout=120))
            # the load client runs on the same cores as the server: its share of them
            client_cpu = (time.process_time() - cpu_before) / ((time.perf_counter() - wall_before) * (os.cpu_count() or 1))
            after = batch_histogram(server.url)
            s = result.summary()
            batches = after[1] - before[1]
            rows.append({"config": config, "window_ms": window_ms, "workers": workers, "threads": threads,
                         "clients": n_clients, "sent": s["sent"], "planned": s["planned"],
                         "rps": result.throughput, "p50": s["latency_ms"]["p50"], "p95": s["latency_ms"]["p95"],
                         "errors": s["sent"] - s["statuses"].get("200", 0) + (s["planned"] - s["sent"]),
                         "wrong_citations": s["wrong_citations"], "malformed": s["malformed"],
                         "citations_checked": s["citations_checked"],
                         "mean_batch": (after[0] - before[0]) / batches if batches else float("nan"),
                         "rss_worker": worker_rss(server, workers), "ok": result.ok,
                         "server_encode_p50": s["server_ms_p50"]["encode"], "client_cpu": client_cpu})
            print(f"  {config} {n_clients:>2} clients: {result.throughput:.2f} req/s, p50 "
                  f"{s['latency_ms']['p50']:.0f} ms, p95 {s['latency_ms']['p95']:.0f} ms, {s['statuses']}", flush=True)
    finally:
        server.stop()
    return rows


# --------------------------------------------------------------------------- report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embed-model", default=None, help="SANAD_EMBED_MODEL (default: the default model)")
    parser.add_argument("--configs", default="1x1,1x2,2x1", help="server WORKERSxTHREADS, comma-separated")
    parser.add_argument("--windows", default=None, help="SANAD_QUERY_BATCH_WINDOW_MS values, comma-separated "
                        "(each config is run with each; default: the setting's default)")
    parser.add_argument("--clients", default=",".join(map(str, CLIENTS)), help="concurrent clients, comma-separated")
    parser.add_argument("--requests", type=int, default=200, help="requests per client level (above 1 client)")
    parser.add_argument("--single-requests", type=int, default=40, help="requests at 1 client")
    parser.add_argument("--bare-questions", type=int, default=64, help="questions each bare process encodes per batch size")
    parser.add_argument("--bare-layouts", default=None,
                        help="PROCESSESxTHREADS for the bare encoder (default: 1x1, 1xCORES, CORESx1)")
    parser.add_argument("--bare-pin", choices=["server", "on", "off", "both"], default="server",
                        help="keep each bare process of a several-process layout to cores of its own: as the server "
                        "does (SANAD_PIN_WORKERS), always, never, or both ways (the best counts)")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="wall-clock cap of each client level")
    parser.add_argument("--skip-bare", action="store_true")
    parser.add_argument("--skip-cold", action="store_true")
    parser.add_argument("--data-dir", type=Path, default=None, help="an indexed data dir to reuse (indexed here if empty)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)

    print(f"$ {command_line()}")
    print(machine_line())
    cores = len(usable_cores())
    questions = mixed_questions(args.bare_questions)
    configs = [tuple(int(x) for x in c.lower().split("x")) for c in args.configs.split(",") if c.strip()]
    clients = [int(c) for c in args.clients.split(",") if c.strip()]
    windows = ([float(w) for w in args.windows.split(",") if w.strip()] if args.windows
               else [Settings().query_batch_window_ms])
    layouts = ([tuple(int(x) for x in c.lower().split("x")) for c in args.bare_layouts.split(",")]
               if args.bare_layouts else sorted({(1, 1), (1, cores), (cores, 1)}))
    report: dict[str, Any] = {"command": command_line(), "cores": cores, "bare": [], "cold": None, "load": []}

    # 1. bare encoder
    if not args.skip_bare:
        print(f"\n== bare encode_query: {len(questions)} questions per process, batches {list(BATCHES)}", flush=True)
        pin_ways = {"server": [Settings().pin_workers], "on": [True], "off": [False], "both": [True, False]}[args.bare_pin]
        for processes, threads in layouts:
            fits = bool(core_sets(usable_cores(), workers=processes, threads=threads))
            for pinned in (pin_ways if fits else [False]):
                qps = bare_layout(processes=processes, threads=threads, questions=questions, batches=list(BATCHES),
                                  embed_model=args.embed_model, pinned=pinned)
                name = f"{processes}x{threads}" + (" pinned" if pinned else "")
                for batch, rate in qps.items():
                    report["bare"].append({"layout": name, "processes": processes, "threads": threads, "pinned": pinned,
                                           "batch": batch, "qps": rate, "ms_per_question": 1000 * processes / rate})
                print(f"  {processes} process(es) x {threads} thread(s){', pinned' if pinned else ''}: "
                      + ", ".join(f"batch {b}: {r:.2f} q/s" for b, r in qps.items()), flush=True)
        print("\n" + table(["processes x threads", "batch", "questions/s", "ms per question (per process)"],
                           [[r["layout"], r["batch"], r["qps"], r["ms_per_question"]] for r in report["bare"]]))
    best = max(report["bare"], key=lambda r: r["qps"]) if report["bare"] else None

    tmp = Path(tempfile.mkdtemp(prefix="sanad-throughput-"))
    all_ok = True
    try:
        data_dir = args.data_dir or tmp / "data"
        # 2. cold start (also indexes the seeds copy once, outside the timing)
        if not args.skip_cold:
            workers, threads = configs[0]
            SanadServer(tmp / "index", embed_model=args.embed_model, data_dir=data_dir).index()
            report["cold"] = cold_start(tmp / "cold", data_dir=data_dir, embed_model=args.embed_model,
                                        workers=workers, threads=threads, question=questions[0])
            c = report["cold"]
            print(f"\n== cold start ({workers}x{threads}): /readyz 200 after {c['ready_s']:.1f} s, first answer after "
                  f"{c['first_answer_s']:.1f} s; a repeat: {'from the cache' if c['repeat_from_cache'] else 'NOT cached'}"
                  f", server {c['repeat_server_ms']:.2f} ms (lookup {c['repeat_cache_ms']:.2f} ms), client "
                  f"{c['repeat_client_ms']:.1f} ms", flush=True)
        # 3. the server under load
        for (workers, threads), window in [(c, w) for c in configs for w in windows]:
            print(f"\n== server {workers} worker(s) x {threads} thread(s), batch window {window:g} ms, "
                  "answer cache off", flush=True)
            rows = load_config(tmp / f"w{workers}t{threads}b{window:g}", data_dir=data_dir,
                               embed_model=args.embed_model, workers=workers, threads=threads, window_ms=window,
                               clients=clients, requests=args.requests, single_requests=args.single_requests,
                               max_seconds=args.max_seconds)
            for row in rows:
                row["x_best_bare"] = row["rps"] / best["qps"] if best else float("nan")
                all_ok &= row["ok"]
            report["load"].extend(rows)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    rows = [[r["config"], r["clients"], f"{r['sent']}/{r['planned']}", r["rps"], r["x_best_bare"], r["p50"], r["p95"],
             r["p95"] / r["p50"] if r["p50"] else float("nan"), r["errors"] + r["wrong_citations"] + r["malformed"],
             r["mean_batch"], mib(r["rss_worker"]), f"{100 * r['client_cpu']:.0f} %"] for r in report["load"]]
    if rows:
        print("\n" + table(["workers x threads", "clients", "requests", "req/s", "x best bare", "p50 ms", "p95 ms",
                            "p95/p50", "errors", "mean batch", "RSS per worker", "load client CPU"], rows))
    if best:
        print(f"\nbest bare encode_query: {best['qps']:.2f} questions/s ({best['layout']}, batch {best['batch']})")
        for r in report["load"]:
            if r["clients"] == 1:
                single = next((b for b in report["bare"] if b["batch"] == 1 and b["processes"] == 1
                               and b["threads"] == r["threads"]), None)
                if single:
                    r["p50_minus_bare_single_ms"] = r["p50"] - single["ms_per_question"]
                    print(f"{r['config']}: p50 at 1 client {r['p50']:.0f} ms = bare single encode "
                          f"{single['ms_per_question']:.0f} ms + {r['p50_minus_bare_single_ms']:.0f} ms (target: + 30 ms)")
            if r["clients"] in (16, 32):
                print(f"{r['config']}: {r['clients']} clients at {r['x_best_bare']:.2f}x the best bare throughput "
                      f"(target 0.8x)" + (f", p95/p50 {r['p95'] / r['p50']:.2f} (target <= 3)" if r["clients"] == 32 else ""))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    print("\nOK" if all_ok else "\nFAILED: errors, wrong citations or requests not sent")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
