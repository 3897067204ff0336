"""Eval reports: the HTML report, the JUnit XML and ``--compare`` (evals/report_html.py,
evals/report_junit.py, evals/compare.py, evals/outputs.py).

The fast tests build reports from hand-made rows through the real metric code (so the JSON
has exactly the runner's shape) and run ``run_cli`` on a tiny corpus with the hashing
embedder; one integration test runs the real ``sanad eval`` command on a seeds sample.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from cli.main import build_parser
from evals.compare import CompareError, compare, load_previous, render_compare
from evals.gate import check
from evals.metrics import CitedSpan, RetrievedChunk, Row, by_kind, summarize
from evals.outcome import judge, row_keys
from evals.report_html import build_html, recall_curve
from evals.report_junit import build_junit, write_junit
from evals.runner import run_cli
from settings import Settings
from tests.test_evals import _factory, _oracle_pick, _random_pick, tiny_set  # noqa: F401  (tiny_set: a fixture)

REPO = Path(__file__).resolve().parents[1]
F = "a.txt"


# --------------------------------------------------------------------------- synthetic reports
def _rows() -> list[Row]:
    """Six questions, one of each verdict: hit, citation miss, false abstention, right
    abstention, answered an unanswerable one, error."""
    def got(*paragraphs: int) -> list[RetrievedChunk]:
        return [RetrievedChunk(file=F, paragraphs=[p]) for p in paragraphs]

    rows = [
        Row(id="q1", lang="ar", question="من ترأس الاجتماع؟", answerable=True, gold=[(F, 1)],
            answers=["ستولتنبرغ"], kind="factoid", asked=True, predicted_answerable=True, answer="ستولتنبرغ ترأس [1]",
            citations=[CitedSpan(F, 1, "ستولتنبرغ ترأس")], latency_ms=120.0,
            retrieved={"sanad": got(1, 2), "bm25": got(2, 1)}),
        Row(id="q2", lang="ar", question="<script>alert(1)</script> متى؟", answerable=True, gold=[(F, 3)],
            answers=["2002"], kind="factoid", asked=True, predicted_answerable=True, answer="في 2019 \x07[1]",
            citations=[CitedSpan(F, 2, "في 2019")], latency_ms=340.0,
            retrieved={"sanad": got(2, 3), "bm25": got(4, 5)}),
        Row(id="q3", lang="en", question="Who met in Geneva?", answerable=True, gold=[(F, 4)], answers=["Ryabkov"],
            kind="crosslingual", asked=True, predicted_answerable=False, answer="The documents do not say.",
            latency_ms=95.0, retrieved={"sanad": got(4), "bm25": got(1)}),
        Row(id="q4", lang="en", question="What is the capital of Peru?", answerable=False, kind="unanswerable",
            asked=True, predicted_answerable=False, answer="The documents do not say.", latency_ms=80.0,
            retrieved={"sanad": got(1), "bm25": got(1)}),
        Row(id="q5", lang="en", question="Who won the 1998 World Cup?", answerable=False, kind="unanswerable",
            asked=True, predicted_answerable=True, answer="Stoltenberg [1]",
            citations=[CitedSpan(F, 1, "Stoltenberg")], latency_ms=150.0,
            retrieved={"sanad": got(1), "bm25": got(1)}),
        Row(id="q6", lang="ar", question="؟", answerable=True, gold=[(F, 1)], answers=["x"], kind="factoid",
            error="the question is empty"),
    ]
    return rows


def _report(rows: list[Row] | None = None, *, gate: bool = True, name: str = "synth") -> dict[str, Any]:
    rows = _rows() if rows is None else rows
    systems = ["sanad", "bm25"]
    metrics = summarize(rows, systems)
    report: dict[str, Any] = {
        "set": name, "description": "hand-made rows", "sample": {"unit": "questions", "limit": None, "of": 6},
        "corpus": {"root": "/x", "documents": 1, "paragraphs": 5, "chunks": 5}, "systems": systems,
        "settings": {"embed_model": "hash", "top_k": 5}, "machine": {"cpus": 2},
        "finished_at": "2026-12-01T12:00:00+00:00", "seconds": {"total": 1.0, "index": 0.5, "questions": 0.5},
        "counts": metrics.pop("counts"), "metrics": metrics, "by_kind": by_kind(rows), "answerer": "extractive",
        "answerers": {}, "rows": [r.to_json() for r in rows],
    }
    if gate:
        thresholds = {"all": {"citation_hit": 0.9, "recall_at_5": 0.5, "false_abstention": 0.5},
                      "en": {"abstention": 0.4}}
        checks = check(metrics["sanad"], thresholds, name)
        report["gate"] = {"thresholds": "thresholds.toml", "passed": all(c.passed for c in checks),
                          "checks": [c.to_json() for c in checks]}
    return json.loads(json.dumps(report))  # exactly what a JSON file would hold


# --------------------------------------------------------------------------- verdicts
def test_judge_gives_each_row_its_verdict() -> None:
    got = [(judge(r).status, judge(r).kind) for r in _report()["rows"]]
    assert got == [("hit", ""), ("miss", "citation_miss"), ("miss", "false_abstention"), ("hit", ""),
                   ("miss", "answered_unanswerable"), ("error", "")]


def test_answerable_row_without_gold_is_not_judged_and_repeated_ids_get_unique_keys() -> None:
    row = _report()["rows"][0] | {"gold": []}
    assert judge(row).status == "unjudged"
    assert row_keys([{"id": "a"}, {"id": "b"}, {"id": "a"}]) == ["a", "b", "a#2"]


# --------------------------------------------------------------------------- JUnit
def test_junit_one_case_per_question_and_per_gated_metric(tmp_path: Path) -> None:
    report = _report()
    path = tmp_path / "results.xml"
    write_junit(report, path)
    root = ET.parse(path).getroot()  # well-formed, despite the \x07 in an answer
    assert root.tag == "testsuites"
    questions, gate = root.findall("testsuite")
    assert questions.get("name") == "synth.questions"
    assert (questions.get("tests"), questions.get("failures"), questions.get("errors")) == ("6", "3", "1")
    cases = questions.findall("testcase")
    assert [c.get("name").split(":")[0] for c in cases] == ["q1", "q2", "q3", "q4", "q5", "q6"]
    assert cases[0].find("failure") is None and cases[3].find("failure") is None
    assert [cases[i].find("failure").get("type") for i in (1, 2, 4)] == [
        "citation_miss", "false_abstention", "answered_unanswerable"]
    assert cases[5].find("error") is not None
    body = cases[1].find("failure").text
    assert "<script>" in body and f"gold paragraph: {F} ¶3" in body and f"citation {F} ¶2 (not gold)" in body
    assert cases[0].get("time") == "0.120"
    assert cases[0].get("classname") == "sanad.eval.synth.ar"

    checks = report["gate"]["checks"]
    assert gate.get("name") == "synth.gate" and gate.get("tests") == str(len(checks)) == "4"
    failed = {c.get("name"): c.find("failure") for c in gate.findall("testcase")}
    # citation_hit is 1 of 3 (a miss and a false abstention): below 0.9; the others pass
    assert failed["all citation_hit >= 0.9"] is not None
    assert "below threshold" in failed["all citation_hit >= 0.9"].get("message")
    assert failed["all false_abstention <= 0.5"] is None and failed["en abstention >= 0.4"] is None
    assert gate.get("failures") == str(sum(1 for c in checks if not c["passed"])) == "1"
    assert root.get("tests") == "10" and root.get("failures") == "4" and root.get("errors") == "1"


def test_junit_without_the_gate_has_only_the_questions() -> None:
    root = build_junit(_report(gate=False)).getroot()
    assert [s.get("name") for s in root.findall("testsuite")] == ["synth.questions"]


def test_junit_unmeasured_threshold_fails() -> None:
    report = _report()
    report["gate"]["checks"].append({"set": "synth", "slice": "ar", "metric": "abstention", "threshold": 0.8,
                                     "value": None, "passed": False, "direction": "min"})
    gate = build_junit(report).getroot().findall("testsuite")[1]
    case = [c for c in gate.findall("testcase") if c.get("name") == "ar abstention >= 0.8"][0]
    assert case.find("failure").get("type") == "not_measured"


# --------------------------------------------------------------------------- HTML
class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script = ""
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script += data


def _parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    return parser


def test_html_is_self_contained_and_fetches_nothing() -> None:
    page = build_html(_report())
    tags = _parse(page)
    for tag, attrs in tags.tags:
        assert "src" not in attrs, (tag, attrs)
        href = attrs.get("href")
        assert href is None or href.startswith("#"), (tag, attrs)
        assert tag not in ("link", "iframe", "img", "object", "embed", "base"), tag
    for fetch in ("http://", "https://", "url(", "@import", "fetch(", "XMLHttpRequest", "//cdn"):
        assert fetch not in page
    assert [a for t, a in tags.tags if t == "script"] == [{}]  # one inline script, no src
    assert sum(1 for t, _ in tags.tags if t == "svg") == 2 + 3  # recall@k for all/ar/en, bars, latency


def test_html_has_metric_table_gate_and_every_question_with_answer_citations_and_gold() -> None:
    report = _report()
    page = build_html(report)
    tags = _parse(page)
    rows = [a for t, a in tags.tags if t == "tr" and (a.get("id") or "").startswith("q-")]
    assert [r["id"] for r in rows] == ["q-q1", "q-q2", "q-q3", "q-q4", "q-q5", "q-q6"]
    assert [r["data-status"] for r in rows] == ["hit", "miss", "miss", "hit", "miss", "error"]
    assert [r["data-lang"] for r in rows] == ["ar", "ar", "en", "en", "en", "ar"]
    # the question is escaped, never run; answers, citations and gold are shown
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "ستولتنبرغ ترأس" in page and f"{F} ¶3" in page and "✓ gold" in page
    assert 'value="misses"' in page and "gate failed: 1 of 4" in page
    # the metric table: Sanad beside BM25, per slice, with the threshold shown
    assert ">BM25<" in page and "gate ≥ 0.9 ✗" in page
    assert "citation miss" in page and "answered, but unanswerable" in page


def test_recall_curve_from_row_ranks() -> None:
    rows = _report()["rows"]
    # answerable rows with gold and a sanad retrieval: q1 (rank 1), q2 (rank 2), q3 (rank 1); q6 not retrieved
    assert recall_curve(rows, "sanad", depth=3) == [2 / 3, 1.0, 1.0]
    assert recall_curve(rows, "bm25", depth=3) == [0.0, 1 / 3, 1 / 3]
    assert recall_curve(rows, "dense", depth=2) == [None, None]


# --------------------------------------------------------------------------- compare
def _fixed_and_broken() -> tuple[dict[str, Any], dict[str, Any]]:
    """previous: the synthetic run; current: q2 now cites gold (fixed), q1 cites nothing (regressed)."""
    previous = _report()
    rows = _rows()
    rows[1].citations = [CitedSpan(F, 3, "2002")]
    rows[0].citations = []
    return previous, _report(rows)


def test_compare_lists_flipped_questions_and_metric_deltas() -> None:
    previous, current = _fixed_and_broken()
    result = compare(previous, current, previous_path="prev.json")
    assert [e["id"] for e in result["regressed"]] == ["q1"]
    assert [e["id"] for e in result["fixed"]] == ["q2"]
    assert result["changed"] == [] and result["added"] == [] and result["removed"] == []
    assert result["warnings"] == []
    hit = result["metrics"]["sanad"]["all"]["citation_hit"]
    assert hit["previous"] == pytest.approx(1 / 3) and hit["current"] == pytest.approx(1 / 3) and hit["delta"] == 0
    precision = result["metrics"]["sanad"]["ar"]["citation_precision"]
    assert precision["delta"] == pytest.approx(0.5) and precision["better"] is True  # 1/2 -> 1/1
    # lower is better: more false abstentions is worse
    worse = compare(current, _report([_rows()[0]] + [r for r in _rows()[1:] if r.id != "q3"]))
    assert worse["removed"] == ["q3"]
    assert compare(_report(), previous | {"set": "other"})["warnings"][0].startswith("different sets")


def test_compare_false_abstention_up_is_worse() -> None:
    rows = _rows()
    rows[0].predicted_answerable = False  # q1 now abstains
    result = compare(_report(), _report(rows))
    entry = result["metrics"]["sanad"]["all"]["false_abstention"]
    assert entry["delta"] > 0 and entry["better"] is False
    assert result["regressed"][0]["reason"] == "abstained on a question the corpus answers"


def test_compare_console_and_html_show_the_flips() -> None:
    from rich.console import Console

    previous, current = _fixed_and_broken()
    current["compare"] = compare(previous, current, previous_path="prev.json")
    console = Console(record=True, width=120)
    render_compare(current["compare"], console)
    text = console.export_text()
    assert "hit -> miss: 1 question" in text and "q1 [ar]" in text and "miss -> hit: 1 question" in text
    page = build_html(current)
    assert "What changed since prev.json" in page and "hit → miss: 1 question" in page
    assert 'href="#q-q1"' in page and 'data-flip="regressed"' in page and 'data-flip="fixed"' in page


def test_load_previous_rejects_what_is_not_a_report(tmp_path: Path) -> None:
    with pytest.raises(CompareError, match="no file at"):
        load_previous(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CompareError, match="is not JSON"):
        load_previous(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"a": 1}', encoding="utf-8")
    with pytest.raises(CompareError, match="not a `sanad eval --json` report"):
        load_previous(tmp_path / "other.json")


# --------------------------------------------------------------------------- run_cli end to end (hash embedder)
def _args(gold: Path, **kw: Any) -> argparse.Namespace:
    base = {"set": str(gold), "limit": None, "json_path": None, "gate": True, "baseline": True,
            "report": None, "junit": None, "compare": None}
    base.update(kw)
    return argparse.Namespace(**base)


def test_cli_flags_parse() -> None:
    args = build_parser().parse_args(["eval", "--set", "seeds", "--report", "r.html", "--junit", "j.xml",
                                      "--compare", "p.json"])
    assert (args.report, args.junit, args.compare) == ("r.html", "j.xml", "p.json")


def test_run_cli_writes_report_junit_and_compares(tiny_set: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001, F811
    settings = Settings(data_dir=tmp_path / "unused", embed_model="hash")
    thresholds = tmp_path / "thresholds.toml"
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    assert run_cli(_args(tiny_set, json_path=str(good)), settings=settings,
                   answerer_factory=_factory(_oracle_pick), thresholds_path=thresholds) == 0
    capsys.readouterr()
    out = tmp_path / "out"
    status = run_cli(_args(tiny_set, json_path=str(bad), report=str(out / "r.html"), junit=str(out / "j.xml"),
                           compare=str(good)),
                     settings=settings, answerer_factory=_factory(_random_pick), thresholds_path=thresholds)
    captured = capsys.readouterr()
    assert status == 1  # the gate fails as before: the report files do not change its verdict
    report = json.loads(bad.read_text(encoding="utf-8"))
    misses = [r["id"] for r in report["rows"] if judge(r).status == "miss"]
    assert misses and [e["id"] for e in report["compare"]["regressed"]] == misses
    assert f"hit -> miss: {len(misses)} question" in captured.out
    assert f"HTML report written to {out / 'r.html'}" in captured.err

    root = ET.parse(out / "j.xml").getroot()
    questions, gate = root.findall("testsuite")
    assert questions.get("tests") == str(len(report["rows"])) and questions.get("failures") == str(len(misses))
    assert gate.get("tests") == str(len(report["gate"]["checks"]))
    assert gate.get("failures") == str(sum(1 for c in report["gate"]["checks"] if not c["passed"]))
    page = (out / "r.html").read_text(encoding="utf-8")
    assert page.count('data-status="miss"') == len(misses) and "hit → miss" in page
    assert "http://" not in page and "https://" not in page


def test_run_cli_stops_before_running_on_a_bad_compare_file_or_report_path(tiny_set: Path, tmp_path: Path,  # noqa: F811
                                                                           capsys) -> None:  # noqa: ANN001
    settings = Settings(data_dir=tmp_path / "unused", embed_model="hash")
    thresholds = tmp_path / "thresholds.toml"
    status = run_cli(_args(tiny_set, compare=str(tmp_path / "nope.json")), settings=settings,
                     thresholds_path=thresholds)
    assert status == 2 and "--compare: no file at" in capsys.readouterr().err
    status = run_cli(_args(tiny_set, report=str(tmp_path)), settings=settings, thresholds_path=thresholds)
    err = capsys.readouterr().err
    assert status == 2 and "--report: " in err and "is a folder" in err
    assert not (tmp_path / "unused").exists()


# --------------------------------------------------------------------------- the real command
@pytest.mark.integration
def test_real_sanad_eval_on_a_seeds_sample_writes_report_junit_and_compare(tmp_path: Path) -> None:
    """``sanad eval --set seeds --limit 12``: first with the hashing embedder (a poor
    previous run), then with the real model, compared with it."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "ANONYMIZED_TELEMETRY": "False",
           "PYTHONPATH": str(REPO), "SANAD_DATA_DIR": str(tmp_path / "unused")}
    cmd = [sys.executable, "-m", "cli", "eval", "--set", "seeds", "--limit", "12"]
    prev = tmp_path / "prev.json"
    first = subprocess.run([*cmd, "--json", str(prev)], env={**env, "SANAD_EMBED_MODEL": "hash"},
                           capture_output=True, text=True, timeout=300, cwd=REPO)
    assert first.returncode == 0, first.stderr
    files = {"report": tmp_path / "r" / "seeds.html", "junit": tmp_path / "r" / "seeds.junit.xml",
             "json": tmp_path / "r" / "seeds.json"}
    run = subprocess.run([*cmd, "--gate", "--baseline", "--report", str(files["report"]), "--junit",
                          str(files["junit"]), "--json", str(files["json"]), "--compare", str(prev)],
                         env=env, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert run.returncode in (0, 1), run.stderr  # a 12-question sample may miss the full set's floors
    report = json.loads(files["json"].read_text(encoding="utf-8"))
    assert len(report["rows"]) == 12
    fixed = report["compare"]["fixed"]
    assert fixed, "the real model should fix some of the hashing embedder's misses"
    assert "miss -> hit:" in run.stdout and "embed_model 'hash' -> " in run.stdout
    root = ET.parse(files["junit"]).getroot()
    questions, gate = root.findall("testsuite")
    misses = sum(1 for r in report["rows"] if judge(r).status == "miss")
    assert (questions.get("tests"), questions.get("failures")) == ("12", str(misses))
    assert gate.get("failures") == str(sum(1 for c in report["gate"]["checks"] if not c["passed"]))
    page = files["report"].read_text(encoding="utf-8")
    assert page.count('<tr id="q-') == 12 and page.count("<svg") == 5
    assert "https://" not in page and "http://" not in page
    assert all(f'href="#q-{e["key"]}"' in page for e in fixed[:3])
    # a previous run whose JSON was copied: nothing flips
    same = copy.deepcopy(report)
    assert compare(same, report)["regressed"] == [] and compare(same, report)["fixed"] == []
