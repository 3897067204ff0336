"""``sanad eval --junit results.xml``: the run as JUnit XML, for CI systems that show test results.

Two test suites:

- ``<set>.questions``: one test case per question, classname ``sanad.eval.<set>.<lang>``,
  named ``<id>: <question>``; it fails on a miss (a citation miss, an abstention on an
  answerable question, an answer to an unanswerable one: :mod:`evals.outcome`), is an error
  when the question could not be asked, and is skipped when there is nothing to judge. The
  failure text holds the question, the answer, the citations and the gold. ``time`` is the
  answer's latency.
- ``<set>.gate``: with ``--gate``, one test case per threshold of ``evals/thresholds.toml``
  that applies to the set, failed when the figure misses it (or was not measured). Without
  ``--gate`` no threshold applies and the suite is left out.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Mapping

from evals.gate import Check
from evals.outcome import judge

#: characters XML 1.0 cannot hold (control characters other than tab and newlines)
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: Any) -> str:
    return _INVALID_XML.sub("\ufffd", str(text))


def _short(text: str, n: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def question_details(row: Mapping[str, Any]) -> str:
    """The question, answer, citations and gold of a row, as plain text."""
    lines = [f"question ({row.get('lang')}, {row.get('kind') or 'no kind'}): {row.get('question', '')}",
             f"gold: answerable={row.get('answerable')}"]
    for g in row.get("gold") or []:
        lines.append(f"  gold paragraph: {g.get('file')} ¶{g.get('paragraph')}")
    for a in row.get("answers") or []:
        lines.append(f"  accepted answer: {a}")
    lines.append(f"answer (answerable={row.get('predicted_answerable')}): {row.get('answer', '')}")
    for c in row.get("citations") or []:
        mark = "gold" if c.get("gold") else "not gold"
        lines.append(f"  citation {c.get('file')} ¶{c.get('paragraph')} ({mark}): {c.get('quote', '')}")
    rank = (row.get("rank") or {}).get("sanad")
    if row.get("answerable"):
        lines.append(f"retrieval: first gold chunk at rank {rank if rank is not None else '> 10'}")
    return "\n".join(lines)


def _check(entry: Mapping[str, Any]) -> Check:
    return Check(str(entry["set"]), str(entry["slice"]), str(entry["metric"]), float(entry["threshold"]),
                 None if entry.get("value") is None else float(entry["value"]))


def build_junit(report: Mapping[str, Any]) -> ET.ElementTree:
    """The JUnit tree of a report (``run_eval``'s dict, with ``gate`` when ``--gate`` ran)."""
    name = str(report.get("set", "eval"))
    root = ET.Element("testsuites", name=f"sanad eval {name}")
    stamp = str(report.get("finished_at", ""))

    suite = ET.SubElement(root, "testsuite", name=f"{name}.questions", timestamp=stamp)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for row in report.get("rows") or []:
        verdict = judge(row)
        latency = row.get("latency_ms")
        seconds = (latency or 0.0) / 1000.0
        total_time += seconds
        case = ET.SubElement(suite, "testcase", classname=f"sanad.eval.{name}.{row.get('lang', '')}",
                             name=_clean(f"{row.get('id')}: {_short(str(row.get('question', '')))}"),
                             time=f"{seconds:.3f}")
        counts["tests"] += 1
        if verdict.status == "miss":
            counts["failures"] += 1
            failure = ET.SubElement(case, "failure", message=_clean(f"{verdict.label}: {verdict.reason}"),
                                    type=verdict.kind)
            failure.text = _clean(question_details(row))
        elif verdict.status == "error":
            counts["errors"] += 1
            error = ET.SubElement(case, "error", message=_clean(verdict.reason), type="question_error")
            error.text = _clean(question_details(row))
        elif verdict.status == "unjudged":
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=_clean(verdict.reason))
    suite.set("time", f"{total_time:.3f}")
    for key, value in counts.items():
        suite.set(key, str(value))
    totals = dict(counts)

    gate = report.get("gate")
    if gate:
        gsuite = ET.SubElement(root, "testsuite", name=f"{name}.gate", timestamp=stamp, time="0")
        failures = 0
        for entry in gate.get("checks") or []:
            check = _check(entry)
            op = "<=" if check.lower_is_better else ">="
            case = ET.SubElement(gsuite, "testcase", classname=f"sanad.eval.{name}.gate",
                                 name=f"{check.slice} {check.metric} {op} {check.threshold:g}", time="0")
            if not check.passed:
                failures += 1
                ET.SubElement(case, "failure", message=_clean(check.describe()),
                              type="not_measured" if check.value is None else "below_threshold"
                              ).text = f"thresholds: {gate.get('thresholds', '')}"
            else:
                ET.SubElement(case, "system-out").text = check.describe()
        n = len(gate.get("checks") or [])
        for key, value in {"tests": n, "failures": failures, "errors": 0, "skipped": 0}.items():
            gsuite.set(key, str(value))
            totals[key] += value
    for key in ("tests", "failures", "errors"):
        root.set(key, str(totals[key]))
    root.set("time", f"{total_time:.3f}")
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(report: Mapping[str, Any], path: Path) -> None:
    """Write the JUnit XML of ``report`` to ``path`` (UTF-8, with an XML declaration)."""
    build_junit(report).write(path, encoding="utf-8", xml_declaration=True)
