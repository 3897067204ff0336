"""Folder sync in a real server: a burst of files copied into a watched folder, questions during it,
and how soon a changed file is searchable.

One ``sanad serve`` with ``SANAD_WATCH_DIRS`` set to its corpus (a copy of seeds/), answer cache
off. In one run:

1. idle: the gold questions (Arabic and English alternating) asked one after another: the baseline
   p50/p95;
2. burst: ``--files`` small files copied into the watched folder at once while the same questions
   are asked without pause until every file is indexed: p50/p95 against idle, the burst's wall
   time, and from ``/readyz``'s ``watch`` the files indexed and chunks embedded against the chunks
   the index gained (each file embedded once: equal);
3. change: one file rewritten ``--changes`` times with a new fact; the time from the write to the
   document's new hash being served (``GET /v1/documents/{file}``: retrieval reads that version),
   and that minus the settle span (the target is counted from when the file settles).

    .venv/bin/python bench/folder_sync.py                          # the default model, 500 files
    .venv/bin/python bench/folder_sync.py --embed-model hash --files 500
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import SanadServer, command_line, machine_line, mixed_questions, percentile, table

import httpx  # noqa: E402

SETTLE_S = 1.0


def ask_all(url: str, questions: list[str], stop: threading.Event | None = None) -> list[float]:
    """Ask ``questions`` in turn (over and over while ``stop`` is given and not set): latencies in ms."""
    times: list[float] = []
    with httpx.Client(timeout=120) as client:
        i = 0
        while True:
            if stop is None and i >= len(questions):
                break
            if stop is not None and stop.is_set():
                break
            started = time.perf_counter()
            client.post(url + "/v1/ask", json={"question": questions[i % len(questions)]}).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
            i += 1
    return times


def readyz(url: str) -> dict[str, Any]:
    return httpx.get(url + "/readyz", timeout=30).json()


def wait(condition, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def burst_file(n: int) -> str:
    if n % 2:
        return f"تقرير رقم {n}: اجتمع المجلس في المدينة {n} وناقش خطة المياه والطاقة للعام القادم.\n"
    return f"Report {n}: the council of town {n} met to discuss the water and energy plan for next year.\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500, help="files in the burst (default 500)")
    parser.add_argument("--questions", type=int, default=40, help="idle questions (default 40)")
    parser.add_argument("--changes", type=int, default=5, help="rewrites of one file (default 5)")
    parser.add_argument("--embed-model", default=None, help="SANAD_EMBED_MODEL (default: the default model)")
    args = parser.parse_args(argv)
    print(machine_line())
    print("command:", command_line())
    questions = mixed_questions(args.questions)
    with tempfile.TemporaryDirectory(prefix="sanad-sync-bench-") as tmp:
        work = Path(tmp)
        corpus = work / "corpus"
        env = {"SANAD_WATCH_DIRS": str(corpus), "SANAD_ANSWER_CACHE_SIZE": "0",
               "SANAD_WATCH_SETTLE_S": str(SETTLE_S)}
        with SanadServer(work, embed_model=args.embed_model, env=env) as server:
            url = server.url
            wait(lambda: readyz(url).get("watch", {}).get("status") == "watching", 300, "the folder sync")
            before = readyz(url)
            idle = ask_all(url, questions)

            staging = work / "staging"
            staging.mkdir()
            for n in range(args.files):
                (staging / f"report-{n:04d}.txt").write_text(burst_file(n), encoding="utf-8")
            stop = threading.Event()
            during: list[float] = []
            asker = threading.Thread(target=lambda: during.extend(ask_all(url, questions, stop)))
            asker.start()
            started = time.perf_counter()
            shutil.copytree(staging, corpus / "burst")
            copied_s = time.perf_counter() - started
            wait(lambda: readyz(url)["documents"] == before["documents"] + args.files, 3600, "the burst")
            burst_s = time.perf_counter() - started
            stop.set()
            asker.join()
            after = readyz(url)

            target = corpus / "burst" / "report-0000.txt"
            change_s: list[float] = []
            for k in range(args.changes):
                old = httpx.get(f"{url}/v1/documents/burst/report-0000.txt", timeout=30).json()["sha256"]
                time.sleep(SETTLE_S * 2)
                target.write_text(f"Report 0, revision {k}: the town's new well is {100 + k} metres deep.\n",
                                  encoding="utf-8")
                written = time.perf_counter()
                wait(lambda: httpx.get(f"{url}/v1/documents/burst/report-0000.txt", timeout=30).json()["sha256"]
                     != old, 60, "the change")
                change_s.append(time.perf_counter() - written)
            log_tail = server.log_tail(6000)

    watch0, watch1 = before["watch"], after["watch"]
    indexed = watch1["files_indexed"] - watch0["files_indexed"]
    embedded = watch1["chunks_embedded"] - watch0["chunks_embedded"]
    gained = after["chunks"] - before["chunks"]
    if indexed != args.files or embedded != gained:
        print("watch before:", watch0, "\nwatch after:", watch1, "\nserver log:\n", log_tail)
    idle_p95 = percentile(idle, 95)
    print(table(["phase", "questions", "p50 ms", "p95 ms", "p95 / idle p95"],
                [["idle", len(idle), percentile(idle, 50), idle_p95, 1.0],
                 ["during the burst", len(during), percentile(during, 50), percentile(during, 95),
                  percentile(during, 95) / idle_p95]]))
    print(f"burst: {args.files} files copied in {copied_s:.2f} s, all indexed {burst_s:.1f} s after the copy "
          f"started; files indexed {indexed}, chunks embedded {embedded}, chunks the index gained {gained} "
          f"({'each file embedded once' if indexed == args.files and embedded == gained else 'DUPLICATE WORK'})")
    print(f"change to searchable, from the write: p50 {percentile(change_s, 50):.2f} s, max {max(change_s):.2f} s; "
          f"after the {SETTLE_S:.1f} s settle span: max {max(change_s) - SETTLE_S:.2f} s (target <= 5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
