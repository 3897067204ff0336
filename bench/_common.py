"""Helpers shared by the bench/ scripts and tests/test_load.py (not a benchmark itself).

- the gold questions (evals/data/seeds_gold.jsonl), Arabic and English interleaved;
- nearest-rank percentiles and a plain-text table;
- ``SanadServer``: index a copy of seeds/ into a temp data dir with ``sanad index`` and run a
  real ``sanad serve`` subprocess on 127.0.0.1 (rate limit off, no API keys), wait until it is
  ready (every worker), report its process-tree RSS, stop it;
- ``check_citation``: a citation's quote against the cited file's text at its offsets.

All traffic goes to 127.0.0.1 only, and every wait is bounded.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Sequence
from urllib.parse import quote

import httpx

from settings import apply_runtime_defaults

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/ first: the repo's test helpers (tests.sse) too
    sys.path.insert(1, str(ROOT))
GOLD = ROOT / "evals" / "data" / "seeds_gold.jsonl"
SEEDS = ROOT / "seeds"

apply_runtime_defaults()

from tests.api_fixtures import child_pids  # noqa: E402  (the repository is on the path now)


# --------------------------------------------------------------------------- questions


def load_gold(path: Path = GOLD) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def mixed_questions(n: int | None = None, path: Path = GOLD) -> list[str]:
    """The gold questions, Arabic and English alternating, repeated to ``n`` (all once if None)."""
    items = load_gold(path)
    ar = [i["question"] for i in items if i["lang"] == "ar"]
    en = [i["question"] for i in items if i["lang"] != "ar"]
    mixed = [q for pair in zip(ar, en) for q in pair] + ar[len(en):] + en[len(ar):]
    if n is None:
        return mixed
    return [mixed[i % len(mixed)] for i in range(n)]


# --------------------------------------------------------------------------- figures


def ask_times(client: httpx.Client, questions: list[str], *, until: threading.Event | None = None) -> list[float]:
    """Milliseconds of each ``/v1/ask`` over ``questions`` in turn: once through them, or (with
    ``until``) round and round until the event is set, keeping only the times before it."""
    out: list[float] = []
    k = 0
    while True:
        q = questions[k % len(questions)]
        k += 1
        t0 = time.perf_counter()
        r = client.post("/v1/ask", json={"question": q})
        r.raise_for_status()
        if until is None or not until.is_set():
            out.append((time.perf_counter() - t0) * 1000)
        if until is None and k >= len(questions):
            return out
        if until is not None and until.is_set():
            return out


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (NaN for no values)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table (pastes into docs/ as is)."""
    rows = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    out = [line(list(headers)), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value)


def machine_line() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return (f"machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start; shared with other "
            "work, so figures are noisy upper bounds: compare medians and ratios")


def command_line() -> str:
    return " ".join([Path(sys.executable).name if "python" in sys.executable else sys.executable,
                     *[quote_arg(a) for a in sys.argv]])


def quote_arg(arg: str) -> str:
    return arg if arg and all(c.isalnum() or c in "-_./=:," for c in arg) else repr(arg)


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(child_pids(p))
    return out


def tree_rss(pid: int) -> dict[int, int]:
    """RSS of ``pid`` and of each descendant, by pid."""
    return {p: rss_bytes(p) for p in process_tree(pid)}


def mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:.0f} MiB"


class SanadServer:
    """A real ``sanad serve`` subprocess on 127.0.0.1 over an index of a copy of seeds/.

    Parameters
    ----------
    workdir: a folder of its own (corpus copy, data dir unless ``data_dir``, server log).
    embed_model: ``SANAD_EMBED_MODEL`` (None = the default model).
    workers: ``sanad serve --workers``; threads: ``SANAD_TORCH_THREADS``.
    data_dir: reuse an indexed data dir (indexed here when it has no catalog yet).
    env: more environment (e.g. ``SANAD_MIN_SIMILARITY``).
    """

    def __init__(self, workdir: Path, *, embed_model: str | None = None, workers: int = 1,
                 threads: int = 1, data_dir: Path | None = None, env: dict[str, str] | None = None,
                 corpus: Path = SEEDS) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(data_dir) if data_dir else self.workdir / "data"
        self.corpus_src = corpus
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.workdir / f"server-{self.port}.log"
        self.env = {**os.environ, "SANAD_DATA_DIR": str(self.data_dir), "SANAD_RATE_LIMIT_PER_MINUTE": "0",
                    "SANAD_TORCH_THREADS": str(threads), "HF_HUB_OFFLINE": "1",
                    "ANONYMIZED_TELEMETRY": "False", "TOKENIZERS_PARALLELISM": "false"}
        for var in ("SANAD_API_KEYS", "SANAD_CHROMA_URL", "SANAD_CORS_ORIGINS"):
            self.env.pop(var, None)
        if embed_model:
            self.env["SANAD_EMBED_MODEL"] = embed_model
        else:
            self.env.pop("SANAD_EMBED_MODEL", None)
        self.env.update(env or {})
        self.proc: subprocess.Popen | None = None
        self.index_s: float | None = None
        self.ready_s: float | None = None

    def index(self) -> None:
        if (self.data_dir / "catalog.sqlite3").exists():
            return
        corpus = self.workdir / "corpus"
        shutil.copytree(self.corpus_src, corpus, dirs_exist_ok=True)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cli", "index", "--quiet", str(corpus)], env=self.env,
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=1800)
        self.index_s = time.perf_counter() - started

    def start(self, *, ready_timeout: float = 300.0) -> "SanadServer":
        self.index()
        started = time.perf_counter()
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed with the server
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(self.workers)],
            env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            self._wait_ready(ready_timeout)
        except BaseException:
            self.stop()
            raise
        self.ready_s = time.perf_counter() - started
        return self

    def _wait_ready(self, timeout: float) -> None:
        # with several workers one 200 is one worker: ask on fresh connections until enough
        # answers in a row are 200 that every worker has most likely said so
        needed = 1 if self.workers == 1 else 12 * self.workers
        streak = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"sanad serve exited ({self.proc.returncode}): {self.log_tail()}")
            try:
                r = httpx.get(self.url + "/readyz", timeout=5)
                if r.status_code == 200:
                    streak += 1
                    if streak >= needed:
                        return
                    continue
                streak = 0
                if r.json().get("error", {}).get("code") == "load_failed":
                    raise RuntimeError(f"the server failed to load: {r.text}")
            except httpx.TransportError:
                streak = 0
            time.sleep(0.2)
        raise RuntimeError(f"sanad serve not ready after {timeout:.0f} s: {self.log_tail()}")

    def rss(self) -> dict[int, int]:
        return tree_rss(self.proc.pid) if self.proc else {}

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def __enter__(self) -> "SanadServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- citations


def corpus_texts(corpus: Path = SEEDS) -> dict[str, str]:
    """file -> document text (decoded exactly as the indexer does) of every file under ``corpus``."""
    from index.paragraphs import decode_text

    return {p.relative_to(corpus).as_posix(): decode_text(p.read_bytes())
            for p in sorted(corpus.rglob("*")) if p.is_file()}


def check_citation(c: dict[str, Any], texts: dict[str, str]) -> str | None:
    """None when the citation is right: its quote is the file's text at [char_start:char_end],
    its lines are those of that span, and its url names its paragraph; else what is wrong."""
    text = texts.get(c.get("file"))
    if text is None:
        return f"cites an unknown file {c.get('file')!r}"
    start, end = c.get("char_start"), c.get("char_end")
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
        return f"bad offsets {start}..{end} in {c['file']}"
    if text[start:end] != c.get("quote"):
        return f"quote differs from {c['file']}[{start}:{end}]"
    if text.count("\n", 0, start) + 1 != c.get("line_start") or text.count("\n", 0, end - 1) + 1 != c.get("line_end"):
        return f"lines {c.get('line_start')}-{c.get('line_end')} do not hold {c['file']}[{start}:{end}]"
    if c.get("url") != f"/v1/documents/{quote(c['file'], safe='')}/paragraphs/{c.get('paragraph')}":
        return f"url {c.get('url')!r} does not name paragraph {c.get('paragraph')}"
    return None
