"""Does reading a scan stall questions, and how long until it is searchable? (issue 30)

A real ``sanad serve`` on 127.0.0.1 over the seeds (``bench/_common.SanadServer``, the real
embedding model unless ``--embed-model hash``). Phase 1 asks ``--questions`` questions one after
another on the idle server (the bare baseline). Phase 2 uploads one ``--pages``-page scan (a
multi-page TIFF, 300 dpi greyscale: the LibreOffice fixture PDFs of ``tests/fixtures/office/``
rendered as ``bench/documents.py`` renders its scans, Arabic and English, one and two columns,
over and over) and asks the same questions one after another until the upload is ``indexed``
(``GET /v1/documents/{file}/upload``); only the asks that ran while it was being read or
indexed count. Printed: the upload's answer time (202), the time until the scan is searchable,
OCR's seconds per page, and the p95 during the scan against the idle p95 (target: at most 2x).

    .venv/bin/python bench/ocr_load.py --pages 100 --questions 30
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    SanadServer, ask_times, command_line, machine_line, mixed_questions, percentile, table)

OFFICE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "office"
SCANNED = ["lo_ar_justified_naskh.pdf", "lo_ar_justified_amiri.pdf", "lo_ar_columns_kacst.pdf",
           "lo_ar_ragged_table.pdf", "lo_en_justified.pdf"]


def scan(pages: int, dpi: int = 300) -> bytes:
    """A ``pages``-page TIFF: the fixtures' pages rendered at ``dpi``, repeated in turn."""
    from tests.fixtures.make_office_docs import scan_images

    frames = [img for name in SCANNED for img in scan_images(OFFICE / name, dpi=dpi)]
    chosen = [frames[k % len(frames)] for k in range(pages)]
    buf = io.BytesIO()
    chosen[0].save(buf, format="TIFF", save_all=True, append_images=chosen[1:], dpi=(dpi, dpi),
                   compression="tiff_lzw")
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--embed-model", default=None, help="SANAD_EMBED_MODEL (default: the real model)")
    parser.add_argument("--max-wait", type=float, default=3600.0,
                        help="stop waiting for the scan after this many seconds and report what it reached")
    args = parser.parse_args(argv)
    questions = mixed_questions(args.questions)
    data = scan(args.pages)
    env = {"SANAD_ANSWER_CACHE_SIZE": "0",  # every ask encodes: repeats must not be cache hits
           "SANAD_MAX_UPLOAD_BYTES": str(len(data) + 1000), "SANAD_MAX_FILE_BYTES": str(len(data) + 1000),
           "SANAD_MAX_BODY_BYTES": str(len(data) + 100_000), "SANAD_OCR_MAX_PAGES": str(max(200, args.pages))}
    with tempfile.TemporaryDirectory(prefix="sanad-ocr-load-") as tmp, \
            SanadServer(Path(tmp), embed_model=args.embed_model, env=env) as server, \
            httpx.Client(base_url=server.url, timeout=600) as client:
        ask_times(client, questions[:3])  # warm up
        idle = ask_times(client, questions)
        # the upload indexer's model loads in the background after ready: have it used once
        client.post("/v1/documents", json={"file": "warm.txt", "text": "A warm-up line for the indexer.\n"})
        done = threading.Event()
        result: dict[str, object] = {}

        def upload_and_wait() -> None:
            t0 = time.perf_counter()
            r = httpx.post(server.url + "/v1/documents", files={"file": ("scan100.tiff", data, "image/tiff")},
                           timeout=600)
            result["status"] = r.status_code
            result["accepted_s"] = time.perf_counter() - t0
            shown = 0.0
            while r.status_code == 202:
                state = httpx.get(server.url + "/v1/documents/scan100.tiff/upload", timeout=60).json()
                result.update(state=state["state"], pages_read=state.get("pages_read", 0))
                if state["state"] in ("indexed", "failed"):
                    result.update(paragraphs=state.get("paragraphs"), warnings=state.get("warnings"),
                                  error=state.get("error"))
                    break
                elapsed = time.perf_counter() - t0
                if elapsed - shown >= 30:
                    shown = elapsed
                    print(f"  {elapsed:.0f} s: {state['state']}, {state.get('pages_read', 0)} pages read",
                          file=sys.stderr, flush=True)
                if elapsed > args.max_wait:
                    break
                time.sleep(0.5)
            result["searchable_s"] = time.perf_counter() - t0
            done.set()

        thread = threading.Thread(target=upload_and_wait)
        thread.start()
        during = ask_times(client, questions, until=done)
        thread.join()
    searchable = float(result.get("searchable_s", 0.0))  # type: ignore[arg-type]
    rows = [["idle", len(idle), percentile(idle, 50), percentile(idle, 95)],
            ["during the scan", len(during), percentile(during, 50) if during else None,
             percentile(during, 95) if during else None]]
    print(machine_line())
    print(command_line())
    if result.get("state") not in ("indexed", "failed"):
        read = int(result.get("pages_read") or 0)  # type: ignore[call-overload]
        print(f"stopped waiting after {searchable:.0f} s (--max-wait): {read} of {args.pages} pages read"
              + (f", {searchable / read:.1f} s a page" if read else ""))
    print(f"scan: {args.pages} pages, {len(data):,} bytes; POST answered {result.get('status')} in "
          f"{float(result.get('accepted_s', 0.0)):.2f} s; {result.get('state')} "  # type: ignore[arg-type]
          + (f"({result.get('paragraphs')} paragraphs) after {searchable:.1f} s = {searchable / args.pages:.2f} s "
             f"per page; " if result.get("state") == "indexed" else f"after {searchable:.1f} s; ")
          + f"{'; '.join(result.get('warnings') or [])}{result.get('error') or ''}")  # type: ignore[arg-type]
    print(table(["phase", "asks", "p50 ms", "p95 ms"], rows))
    if during:
        print(f"p95 during the scan / idle p95: {percentile(during, 95) / percentile(idle, 95):.2f}x (target <= 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
