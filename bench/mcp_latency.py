"""What the MCP layer adds: ``ask`` over MCP (streamable HTTP at ``/mcp``) against ``POST /v1/ask``.

One real ``sanad serve`` (its own index of a copy of seeds/, API keys on) answers the same gold
questions, Arabic and English alternating, through both faces, interleaved one by one so load
drift hits both alike. Both clients use the same HTTP library (httpx2, the MCP SDK's) on one
connection each. Two rounds:

- ``cached``: every question asked once through each face first, so the measured asks are
  served from the answer cache: what is left is the transport and each face's own layer (the
  figure the target is about);
- ``answered``: ``SANAD_ANSWER_CACHE_SIZE=0`` on a second server, every ask answered anew.

The baseline is ``/v1/ask`` in the same run; the script prints p50/p95 and the MCP layer's
added p50 (MCP p50 minus /v1/ask p50) and checks that both faces gave the same answer and
citations.

    .venv/bin/python bench/mcp_latency.py                      # the default model, 60 asks per face
    .venv/bin/python bench/mcp_latency.py --embed-model hash -n 200
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import SanadServer, command_line, machine_line, mixed_questions, percentile, table

import httpx2  # noqa: E402  (after _common: the repository is on the path)
from mcp import Client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

KEY = "bench-key"
SAME_FIELDS = ("answer", "language", "answerable", "citations")


async def measure(url: str, questions: list[str], *, warm: bool) -> dict[str, list[float]]:
    headers = {"Authorization": f"Bearer {KEY}"}
    times: dict[str, list[float]] = {"/v1/ask": [], "mcp ask": []}
    async with httpx2.AsyncClient(headers=headers, timeout=120) as http, \
            Client(streamable_http_client(url + "/mcp", http_client=httpx2.AsyncClient(headers=headers, timeout=120))) \
            as mcp:

        async def via_http(q: str) -> dict[str, Any]:
            r = await http.post(url + "/v1/ask", json={"question": q})
            r.raise_for_status()
            return r.json()

        async def via_mcp(q: str) -> dict[str, Any]:
            result = await mcp.call_tool("ask", {"question": q})
            if result.is_error:
                raise RuntimeError(result.content[0].text)
            return result.structured_content or {}

        if warm:
            for q in dict.fromkeys(questions):
                a, b = await via_http(q), await via_mcp(q)
                if any(a[f] != b[f] for f in SAME_FIELDS):
                    raise SystemExit(f"the faces disagree on {q!r}")
        for i, q in enumerate(questions):
            order = [("/v1/ask", via_http), ("mcp ask", via_mcp)]
            if i % 2:
                order.reverse()
            answers = {}
            for name, call in order:
                started = time.perf_counter()
                answers[name] = await call(q)
                times[name].append((time.perf_counter() - started) * 1000)
            if any(answers["/v1/ask"][f] != answers["mcp ask"][f] for f in SAME_FIELDS):
                raise SystemExit(f"the faces disagree on {q!r}")
    return times


def rows(label: str, times: dict[str, list[float]]) -> list[list[Any]]:
    base = percentile(times["/v1/ask"], 50)
    out = []
    for name, values in times.items():
        p50 = percentile(values, 50)
        out.append([label, name, len(values), p50, percentile(values, 95), statistics.mean(values),
                    p50 / base, p50 - base])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=60, help="asks per face and round (default 60)")
    parser.add_argument("--embed-model", default=None, help="SANAD_EMBED_MODEL (default: the default model)")
    parser.add_argument("--skip-answered", action="store_true", help="only the cached round (one server)")
    args = parser.parse_args(argv)
    print(machine_line())
    print("command:", command_line())
    questions = mixed_questions(args.n)
    out: list[list[Any]] = []
    with tempfile.TemporaryDirectory(prefix="sanad-mcp-bench-") as tmp:
        env = {"SANAD_API_KEYS": KEY}
        with SanadServer(Path(tmp) / "a", embed_model=args.embed_model, env=env) as server:
            out += rows("cached", asyncio.run(measure(server.url, questions, warm=True)))
        if not args.skip_answered:
            with SanadServer(Path(tmp) / "b", embed_model=args.embed_model, data_dir=Path(tmp) / "a" / "data",
                             env={**env, "SANAD_ANSWER_CACHE_SIZE": "0"}) as server:
                out += rows("answered", asyncio.run(measure(server.url, questions, warm=False)))
    print(table(["round", "face", "asks", "p50 ms", "p95 ms", "mean ms", "p50 / baseline", "added p50 ms"], out))
    cached = [r for r in out if r[0] == "cached" and r[1] == "mcp ask"][0]
    print(f"MCP layer adds {cached[7]:.2f} ms at p50 over /v1/ask (cached answers; target <= 5 ms): "
          f"{'met' if cached[7] <= 5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
