"""``sanad eval --answerer both|llm``: the side-by-side report, against a scripted LLM.

The fake LLM copies evidence paragraph [1] and cites it, so every generated answer is
supported; with the hashing embedder (no model load) the run is quick. What is tested is the
eval's machinery: both answerers asked, per-answerer figures, the LLM's traces recorded.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from evals.runner import ANSWERER_METRICS, run_cli
from settings import Settings
from tests.llm_fixtures import FakeOpenAI

DOCS = {
    "alpha.txt": ["The Alpha river flows north for 300 kilometres.", "A bridge over the Alpha was built in 1911."],
    "beta.txt": ["Beta mountain is 4,200 metres high.", "Climbers first reached its summit in 1953."],
}
QUESTIONS = [("How long does the Alpha river flow?", "alpha.txt", 1, "300 kilometres"),
             ("When was the bridge over the Alpha built?", "alpha.txt", 2, "1911"),
             ("How high is Beta mountain?", "beta.txt", 1, "4,200 metres")]


@pytest.fixture
def gold(tmp_path: Path) -> Path:
    corpus = tmp_path / "tiny"
    corpus.mkdir()
    for name, paragraphs in DOCS.items():
        (corpus / name).write_text("\n".join(paragraphs) + "\n", encoding="utf-8")
    path = tmp_path / "tiny_gold.jsonl"
    path.write_text("".join(json.dumps({"id": f"t{i}", "lang": "en", "question": q, "gold": [{"file": f, "line": p}],
                                        "answers": [a], "answerable": True, "kind": "factoid"}) + "\n"
                            for i, (q, f, p, a) in enumerate(QUESTIONS, 1)), encoding="utf-8")
    return path


def copy_first_paragraph(body: dict) -> str:
    user = body["messages"][-1]["content"]
    first = re.search(r"^\[1\] \([^)]*\) (.*)$", user, re.MULTILINE)
    return f"{first.group(1).rstrip('.')} [1]." if first else "nothing"


@pytest.mark.parametrize("mode", ["both", "llm"])
def test_eval_reports_each_answerer_side_by_side(mode: str, gold: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    report_path = tmp_path / "report.json"
    with FakeOpenAI() as fake:
        fake.respond = copy_first_paragraph
        settings = Settings(data_dir=tmp_path / "unused", embed_model="hash", llm_base_url=fake.base_url,
                            llm_model="fake", min_similarity=-1.0)
        args = argparse.Namespace(set=str(gold), limit=None, json_path=str(report_path), gate=False,
                                  baseline=False, answerer=mode)
        assert run_cli(args, settings=settings) == 0
        asked = len(fake.requests)
    out = capsys.readouterr().out
    report = json.loads(report_path.read_text())
    names = ["extractive", "llm"] if mode == "both" else ["llm"]
    assert list(report["answerers"]) == names and report["answerer"] == mode
    assert asked == len(QUESTIONS)
    llm = report["answerers"]["llm"]["all"]
    assert set(ANSWERER_METRICS) <= set(llm)
    assert llm["fallback"] == 0.0 and llm["language_match"] == 1.0 and llm["citation_precision"] is not None
    rows = report["rows_by_answerer"]["llm"] if mode == "both" else report["rows"]
    assert all(r["answerer"] == "llm" and r["llm"]["claims"][0]["kept"] == [1] for r in rows)
    assert "answers by answerer" in out and "language_match" in out
