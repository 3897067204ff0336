"""Do uploads stall questions? p95 of ``/v1/ask`` while a large document is uploaded, against
the same questions' p95 on an idle server, in one run (issue 19's target: at most 2x).

A real ``sanad serve`` on 127.0.0.1 over the seeds (``bench/_common.SanadServer``). Phase 1
asks ``--questions`` questions one after another on the idle server. Phase 2 starts one
upload of ``--upload-bytes`` of generated, all-distinct text and asks the same questions one
after another until the upload returns; only the asks that ran while the upload was in
flight count. ``--upload-embedder`` picks ``separate`` (the default: the upload indexer has
its own model) or ``shared`` (one model, the old behaviour) for comparison.

    .venv/bin/python bench/upload_stall.py --upload-bytes 200000 --questions 20
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    SanadServer, ask_times, command_line, machine_line, mixed_questions, percentile, table)


def generated_document(size: int) -> str:
    """About ``size`` bytes of distinct English paragraphs (nothing is embedded twice)."""
    lines, total, i = [], 0, 0
    while total < size:
        i += 1
        line = (f"Ledger entry {i}: warehouse {i % 97} shipped {i * 13 % 1000} crates of item {i * 7919 % 100003} "
                f"to depot {i * 31 % 211} on day {i % 365 + 1}, and inspector {i * 17 % 89} signed the record.")
        lines.append(line)
        total += len(line.encode()) + 1
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upload-bytes", type=int, default=1_500_000)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--upload-embedder", choices=["separate", "shared"], default="separate")
    parser.add_argument("--embed-model", default=None, help="SANAD_EMBED_MODEL (default: the real model)")
    args = parser.parse_args(argv)
    questions = mixed_questions(args.questions)
    document = generated_document(args.upload_bytes)
    env = {"SANAD_UPLOAD_EMBEDDER": args.upload_embedder,
           "SANAD_ANSWER_CACHE_SIZE": "0",  # every ask encodes: repeats must not be cache hits
           "SANAD_MAX_UPLOAD_BYTES": str(len(document.encode()) + 1000),
           "SANAD_MAX_FILE_BYTES": str(len(document.encode()) + 1000),
           "SANAD_MAX_BODY_BYTES": str(2 * len(document.encode()) + 10_000)}
    with tempfile.TemporaryDirectory(prefix="sanad-upload-stall-") as tmp, \
            SanadServer(Path(tmp), embed_model=args.embed_model, env=env) as server, \
            httpx.Client(base_url=server.url, timeout=3600) as client:
        ask_times(client, questions[:3])  # warm up
        idle = ask_times(client, questions)
        # the upload indexer's model loads in the background after ready: wait for it to be used once
        client.post("/v1/documents", json={"file": "warm.txt", "text": "A warm-up line for the indexer.\n"})
        done = threading.Event()
        upload: dict[str, float] = {}

        def run_upload() -> None:
            t0 = time.perf_counter()
            r = httpx.post(server.url + "/v1/documents", json={"file": "ledger.txt", "text": document}, timeout=7200)
            upload["status"] = r.status_code
            upload["seconds"] = time.perf_counter() - t0
            done.set()

        thread = threading.Thread(target=run_upload)
        thread.start()
        time.sleep(1.0)  # the upload has reached the server and is being indexed
        during = ask_times(client, questions, until=done)
        thread.join()
    rows = [["idle", len(idle), percentile(idle, 50), percentile(idle, 95)],
            ["during upload", len(during), percentile(during, 50) if during else None,
             percentile(during, 95) if during else None]]
    print(machine_line())
    print(command_line())
    print(f"upload: {len(document.encode()):,} bytes, {document.count(chr(10)):,} paragraphs, status "
          f"{upload.get('status')}, {upload.get('seconds', 0):.1f} s; upload embedder: {args.upload_embedder}")
    print(table(["phase", "asks", "p50 ms", "p95 ms"], rows))
    if during:
        print(f"p95 during upload / idle p95: {percentile(during, 95) / percentile(idle, 95):.2f}x (target <= 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
