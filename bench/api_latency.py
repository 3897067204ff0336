"""Latency of ``POST /v1/ask`` over N sequential questions against a warm server, and its RSS.

Questions come from evals/data/seeds_gold.jsonl, Arabic and English alternating, repeated
as needed. Without ``--url`` the script indexes a copy of seeds/ into a temp data dir
(``sanad index``), starts ``sanad serve`` on a free port, waits for /readyz, measures, and
stops it. With ``--url`` it measures that server (RSS then comes from its /metrics).

    .venv/bin/python bench/api_latency.py            # own server, 100 questions
    .venv/bin/python bench/api_latency.py --url http://127.0.0.1:8000 --api-key KEY
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "evals" / "data" / "seeds_gold.jsonl"


def questions(n: int, gold: Path) -> list[str]:
    items = [json.loads(line) for line in gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    ar = [i["question"] for i in items if i["lang"] == "ar"]
    en = [i["question"] for i in items if i["lang"] != "ar"]
    mixed = [q for pair in zip(ar, en) for q in pair] + ar[len(en):] + en[len(ar):]
    return [mixed[i % len(mixed)] for i in range(n)]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_from_proc(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def rss_from_metrics(client: httpx.Client) -> int | None:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("process_resident_memory_bytes "):
            return int(float(line.split()[1]))
    return None


def start_server(data_dir: Path, port: int) -> tuple[subprocess.Popen, float]:
    env = {**os.environ, "SANAD_DATA_DIR": str(data_dir), "SANAD_RATE_LIMIT_PER_MINUTE": "0",
           "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    env.pop("SANAD_API_KEYS", None)
    if not (data_dir / "catalog.sqlite3").exists():
        corpus = data_dir.parent / "corpus"
        shutil.copytree(ROOT / "seeds", corpus, dirs_exist_ok=True)
        print(f"indexing a copy of seeds/ into {data_dir} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "cli", "index", "--quiet", str(corpus)], env=env,
                       cwd=ROOT, check=True, stdout=sys.stderr)
    started = time.perf_counter()
    log_path = data_dir.parent / "server.log"
    log = open(log_path, "wb")  # noqa: SIM115 - the server's lifetime
    proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port)], env=env,
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {log_path.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return proc, time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the server was not ready after 300 s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="measure this running server instead of starting one")
    parser.add_argument("--api-key", help="Bearer key for --url")
    parser.add_argument("--n", type=int, default=100, help="questions measured (default 100)")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured questions first (default 5)")
    parser.add_argument("--data-dir", type=Path, help="an indexed data dir to serve (default: index seeds/ anew)")
    parser.add_argument("--gold", type=Path, default=GOLD)
    args = parser.parse_args(argv)

    proc = None
    tmp = None
    load_s = None
    try:
        if args.url:
            url = args.url.rstrip("/")
        else:
            tmp = Path(tempfile.mkdtemp(prefix="sanad-bench-"))
            data_dir = args.data_dir or tmp / "data"
            port = free_port()
            proc, load_s = start_server(data_dir, port)
            url = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            rss_loaded = rss_from_proc(proc.pid) if proc else rss_from_metrics(client)
            qs = questions(args.n + args.warmup, args.gold)
            for q in qs[: args.warmup]:
                client.post("/v1/ask", json={"question": q}).raise_for_status()
            wall, answerable, langs = [], 0, {"ar": 0, "en": 0}
            stages: dict[str, list[float]] = {}
            for q in qs[args.warmup:]:
                t0 = time.perf_counter()
                r = client.post("/v1/ask", json={"question": q})
                wall.append((time.perf_counter() - t0) * 1000)
                r.raise_for_status()
                body = r.json()
                for stage, ms in body["timings_ms"].items():
                    stages.setdefault(stage, []).append(ms)
                answerable += bool(body["answerable"])
                langs[body["language"]] = langs.get(body["language"], 0) + 1
            rss_after = rss_from_proc(proc.pid) if proc else rss_from_metrics(client)
            docs = client.get("/readyz").json()
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    def mb(v: int | None) -> str:
        return "n/a" if v is None else f"{v / 2**20:.0f} MiB"

    print(f"server: {url if args.url else 'sanad serve (own, stopped)'}; index: {docs.get('documents')} documents, "
          f"{docs.get('chunks')} chunks")
    if load_s is not None:
        print(f"start-up until /readyz 200: {load_s:.1f} s")
    print(f"POST /v1/ask, {len(wall)} sequential questions (ar {langs.get('ar', 0)}, en {langs.get('en', 0)}; "
          f"{answerable} answerable), after {args.warmup} warm-up:")
    print(f"  client latency  median {statistics.median(wall):7.1f} ms   p95 {percentile(wall, 95):7.1f} ms   "
          f"mean {statistics.fmean(wall):7.1f} ms   max {max(wall):7.1f} ms")
    for stage, values in stages.items():
        print(f"  server {stage:<8} median {statistics.median(values):7.1f} ms   p95 {percentile(values, 95):7.1f} ms")
    print(f"RSS after load: {mb(rss_loaded)}; after the run: {mb(rss_after)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
