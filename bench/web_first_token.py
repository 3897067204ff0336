"""Time to the first answer token in the web page: from pressing Enter in the question box to
the first streamed text shown, and to the whole answer shown with its citation markers,
measured inside the page (``performance.measure`` between the page's own ``sanad-ask``,
``sanad-first-delta`` and ``sanad-answer-shown`` marks), in Debian's Chromium.

Questions come from evals/data/seeds_gold.jsonl, Arabic and English alternating, each in a
new conversation. Without ``--url`` the script indexes a copy of seeds/ into a temp data dir,
starts ``sanad serve`` on a free port, measures and stops it.

    .venv/bin/python bench/web_first_token.py                    # own server, 20 questions
    .venv/bin/python bench/web_first_token.py --url http://127.0.0.1:8000 -n 40
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SanadServer, command_line, machine_line, mixed_questions, percentile, table  # noqa: E402


def measure(url: str, questions: list[str], *, chromium: str) -> list[tuple[str, float, float]]:
    """(question, first token ms, whole answer ms) for each question."""
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium)
        page = browser.new_page()
        page.goto(url + "/")
        page.wait_for_selector("body[data-ready=true]", timeout=300_000)
        for q in [questions[0], *questions]:  # the first, repeated, warms the page and the server
            page.click("#new-conversation")
            page.fill("#question", q)
            page.press("#question", "Enter")
            page.wait_for_selector("body[data-answers='1']", timeout=120_000)
            first, whole = page.evaluate("""[
                performance.measure('t', 'sanad-ask', 'sanad-first-delta').duration,
                performance.measure('a', 'sanad-ask', 'sanad-answer-shown').duration]""")
            out.append((q, first, whole))
        browser.close()
    return out[1:]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="a running server (default: start one over a copy of seeds/)")
    ap.add_argument("-n", type=int, default=20, help="questions to ask (default 20)")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args(argv)
    questions = mixed_questions(args.n)
    machine = machine_line()
    if args.url:
        rows = measure(args.url.rstrip("/"), questions, chromium=args.chromium)
    else:
        with tempfile.TemporaryDirectory() as tmp, SanadServer(Path(tmp)) as server:
            rows = measure(server.url, questions, chromium=args.chromium)
    first = [r[1] for r in rows]
    whole = [r[2] for r in rows]
    print(command_line())
    print(machine)
    print(table(["", "median ms", "p90 ms", "max ms"], [
        ["Enter -> first token shown", round(statistics.median(first)), round(percentile(first, 90)), round(max(first))],
        ["Enter -> answer with citations", round(statistics.median(whole)), round(percentile(whole, 90)), round(max(whole))],
    ]))
    print(f"{len(rows)} questions, Arabic and English alternating, each in a new conversation")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
