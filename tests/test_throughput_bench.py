"""``bench/throughput.py`` runs end to end (hashing embedder, small sizes): bare encodes per
layout and batch, cold start with a cached repeat, the real server at two client levels, and
the ratios; the figures themselves come from the real model (docs/throughput.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.serving.worker_affinity import core_sets, usable_cores

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.integration
def test_the_throughput_benchmark_runs_and_reports_every_part(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}  # run as docs/throughput.md says (no PYTHONPATH)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "bench/throughput.py", "--embed-model", "hash", "--configs", "1x1", "--clients", "1,4",
         "--requests", "24", "--single-requests", "4", "--bare-questions", "8", "--bare-layouts", "1x1,2x1",
         "--data-dir", str(tmp_path / "data"), "--json", str(report_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(report_path.read_text(encoding="utf-8"))
    two = "2x1 pinned" if core_sets(usable_cores(), workers=2, threads=1) else "2x1"  # as sanad serve keeps them
    assert {(r["layout"], r["batch"]) for r in report["bare"]} == {(l, b) for l in ("1x1", two)
                                                                  for b in (1, 4, 16, 32)}
    assert all(r["qps"] > 0 for r in report["bare"])
    cold = report["cold"]
    assert cold["repeat_from_cache"] and cold["ready_s"] > 0 and cold["first_answer_s"] >= cold["ready_s"]
    assert [(r["clients"], r["sent"], r["errors"], r["wrong_citations"]) for r in report["load"]] == \
        [(1, 4, 0, 0), (4, 24, 0, 0)]
    assert all(r["x_best_bare"] > 0 and r["rss_worker"] > 0 and 0 < r["client_cpu"] <= 1 for r in report["load"])
    assert "| workers x threads | clients |" in proc.stdout and "\nOK" in proc.stdout
