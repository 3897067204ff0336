"""``bench/scale.py``: its growth fits and corpus builder (fast), and one tiny end-to-end run
(hash embedder, both stores) that reports every cost."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import scale  # noqa: E402  (bench/scale.py)


def test_growth_fits_name_the_right_class() -> None:
    sizes = [10_000, 100_000]
    assert scale.growth(sizes, [0.1, 0.1])[0] == "constant"
    kind, slope, projected = scale.growth(sizes, [1.0, 10.0])
    assert kind == "linear" and slope == pytest.approx(1.0) and projected == pytest.approx(100.0)
    assert scale.growth(sizes, [1.0, 100.0])[0] == "worse than linear"
    kind, _, projected = scale.growth(sizes, [10.0, 15.0])  # +5 per x10: log
    assert kind == "log" and projected == pytest.approx(20.0)
    assert scale.growth(sizes, [500.0, 50.0], inverted=True)[0] == "per paragraph: linear"  # a rate falling x10
    assert scale.growth(sizes, [500.0, 490.0], inverted=True)[0] == "per paragraph: constant"
    assert scale.growth([10_000], [1.0])[0] == "n/a"
    assert math.isnan(scale.growth(sizes, [float("nan"), 1.0])[1])


def test_sizes_parse() -> None:
    assert [scale.parse_size(s) for s in ("10k", "100K", "1m", "2500")] == [10_000, 100_000, 1_000_000, 2500]


def test_the_corpus_mixes_arabic_and_english_paragraphs_from_the_eval_sentences(tmp_path: Path) -> None:
    pools = (["جملة عربية أولى طويلة بما يكفي للاختبار.", "جملة عربية ثانية طويلة بما يكفي أيضا."],
             ["An English sentence long enough for the test.", "Another English sentence for the test."])
    files = scale.build_corpus(tmp_path / "c", 45, pools)
    texts = {p.name: p.read_text(encoding="utf-8") for p in sorted((tmp_path / "c").iterdir())}
    assert files == 3 == len(texts)
    paragraphs = [p for t in texts.values() for p in t.split("\n\n") if p.strip()]
    assert len(paragraphs) == 45
    assert any(n.startswith("ar-") for n in texts) and any(n.startswith("en-") for n in texts)
    assert scale.build_corpus(tmp_path / "d", 45, pools) == 3
    assert [p.read_text(encoding="utf-8") for p in sorted((tmp_path / "d").iterdir())] == list(texts.values())


@pytest.mark.integration
def test_the_scale_benchmark_runs_and_reports_every_cost(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "bench/scale.py", "--sizes", "200,400", "--questions", "5", "--json", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    figures = json.loads(out.read_text())
    for mode in ("embedded", "server"):
        for size in ("200", "400"):
            assert set(figures[mode][size]) == set(scale.METRICS)
            assert all(v >= 0 for v in figures[mode][size].values())
    assert "projected at 1M" in proc.stdout
