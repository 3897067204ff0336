"""``sanad eval --compare previous.json``: what changed since an earlier run of the same set.

Both sides are JSON reports as ``sanad eval --json`` writes them. The comparison holds:

- ``metrics``: for every system, slice and metric measured in either run, the previous
  figure, the current one, the delta, and whether the change is an improvement
  (``better``: True/False, None when unchanged or not comparable);
- ``flipped``: the questions (paired by id) whose verdict (:mod:`evals.outcome`) went from
  hit to miss (``regressed``) or from miss to hit (``fixed``); a question that could not be
  asked on one side is listed under ``changed`` with both statuses;
- ``added`` / ``removed``: ids only in the current / previous run;
- ``warnings``: why the two runs may not be comparable (another set, another sample,
  other settings).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from evals.metrics import LOWER_IS_BETTER
from evals.outcome import judge, row_keys
from settings.errors import SanadError

#: a difference below this is noise from float formatting, not a change
EPSILON = 1e-9


class CompareError(SanadError, RuntimeError):
    """The previous report cannot be read or is not a ``sanad eval --json`` report."""

    code = "compare_failed"


def load_previous(path: Path) -> dict[str, Any]:
    """Read a previous JSON report; :class:`CompareError` with a clear message when it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CompareError(f"--compare: no file at {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CompareError(f"--compare: cannot read {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise CompareError(f"--compare: {path} is not JSON ({exc.msg}, line {exc.lineno})") from exc
    if not (isinstance(data, dict) and isinstance(data.get("metrics"), dict) and isinstance(data.get("rows"), list)):
        raise CompareError(f"--compare: {path} is not a `sanad eval --json` report (no metrics and rows)")
    return data


def _delta(metric: str, before: Any, after: Any) -> dict[str, Any]:
    number = (int, float)
    if not isinstance(before, number) or not isinstance(after, number):
        return {"previous": before, "current": after, "delta": None, "better": None}
    delta = float(after) - float(before)
    if abs(delta) < EPSILON:
        return {"previous": before, "current": after, "delta": 0.0, "better": None}
    better = delta < 0 if metric in LOWER_IS_BETTER else delta > 0
    return {"previous": before, "current": after, "delta": delta, "better": better}


def metric_deltas(previous: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """``{system: {slice: {metric: {previous, current, delta, better}}}}`` over both runs."""
    out: dict[str, Any] = {}
    before_all, after_all = previous.get("metrics") or {}, current.get("metrics") or {}
    for system in list(dict.fromkeys([*after_all, *before_all])):
        before_sys, after_sys = before_all.get(system) or {}, after_all.get(system) or {}
        out[system] = {}
        for slice_name in list(dict.fromkeys([*after_sys, *before_sys])):
            before, after = before_sys.get(slice_name) or {}, after_sys.get(slice_name) or {}
            out[system][slice_name] = {m: _delta(m, before.get(m), after.get(m))
                                       for m in dict.fromkeys([*after, *before])}
    return out


def _brief(row: Mapping[str, Any], status: str, reason: str) -> dict[str, Any]:
    return {"id": row.get("id"), "lang": row.get("lang"), "kind": row.get("kind", ""),
            "question": row.get("question", ""), "status": status, "reason": reason}


def flipped(previous_rows: Sequence[Mapping[str, Any]], current_rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Questions whose verdict changed between the runs, paired by id."""
    before = dict(zip(row_keys(previous_rows), previous_rows))
    after = dict(zip(row_keys(current_rows), current_rows))
    regressed, fixed, changed = [], [], []
    for key, row in after.items():
        old = before.get(key)
        if old is None:
            continue
        was, now = judge(old), judge(row)
        if was.status == now.status:
            continue
        entry = _brief(row, now.status, now.reason) | {"key": key, "previous_status": was.status,
                                                         "previous_reason": was.reason}
        if was.status == "hit" and now.status == "miss":
            regressed.append(entry)
        elif was.status == "miss" and now.status == "hit":
            fixed.append(entry)
        else:
            changed.append(entry)
    return {"regressed": regressed, "fixed": fixed, "changed": changed,
            "added": [k for k in after if k not in before], "removed": [k for k in before if k not in after]}


def _warnings(previous: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    out = []
    if previous.get("set") != current.get("set"):
        out.append(f"different sets: {previous.get('set')!r} before, {current.get('set')!r} now")
    if (previous.get("sample") or {}) != (current.get("sample") or {}):
        out.append("different samples (--limit): only the questions in both runs are paired")
    before_s, after_s = previous.get("settings") or {}, current.get("settings") or {}
    changed = sorted(k for k in set(before_s) | set(after_s) if before_s.get(k) != after_s.get(k))
    if changed:
        out.append("settings changed: " + ", ".join(f"{k} {before_s.get(k)!r} -> {after_s.get(k)!r}" for k in changed))
    if previous.get("answerer", "extractive") != current.get("answerer", "extractive"):
        out.append(f"answerer changed: {previous.get('answerer')!r} -> {current.get('answerer')!r}")
    return out


def compare(previous: Mapping[str, Any], current: Mapping[str, Any], *, previous_path: str = "") -> dict[str, Any]:
    """The comparison of two JSON reports (see the module docstring); JSON-ready."""
    flips = flipped(previous.get("rows") or [], current.get("rows") or [])
    return {
        "previous": {"path": previous_path, "set": previous.get("set"),
                     "finished_at": previous.get("finished_at"), "questions": len(previous.get("rows") or [])},
        "warnings": _warnings(previous, current),
        "metrics": metric_deltas(previous, current),
        **flips,
    }


# --------------------------------------------------------------------------- console
def _fmt(metric: str, value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    return f"{value:,.0f}" if metric.endswith("_ms") else f"{value:.3f}"


def _fmt_delta(metric: str, entry: Mapping[str, Any]) -> str:
    delta = entry.get("delta")
    if delta is None:
        return ""
    if delta == 0:
        return "="
    shown = f"{delta:+,.0f}" if metric.endswith("_ms") else f"{delta:+.3f}"
    colour = "green" if entry.get("better") else "red"
    return f"[{colour}]{shown}[/]"


def render_compare(result: Mapping[str, Any], console: Any, *, limit: int = 30) -> None:
    """Print the comparison: Sanad's metric deltas per slice, then the flipped questions."""
    from rich.markup import escape
    from rich.table import Table

    prev = result["previous"]
    console.print(f"\ncompared with {prev['path'] or 'the previous run'} ({prev['set']}, "
                  f"{prev['questions']} questions, finished {prev['finished_at']})", highlight=False)
    for warning in result["warnings"]:
        console.print(f"[yellow]warning[/]: {escape(warning)}", highlight=False)
    sanad = result["metrics"].get("sanad") or {}
    table = Table(title="what changed (Sanad)", title_justify="left")
    for name, justify in (("slice", "left"), ("metric", "left"), ("previous", "right"), ("current", "right"),
                          ("delta", "right")):
        table.add_column(name, justify=justify)
    same = 0
    for name, per_metric in sanad.items():
        for metric, entry in per_metric.items():
            if entry.get("delta") == 0:
                same += 1
                continue
            if entry.get("previous") is None and entry.get("current") is None:
                continue
            table.add_row(name, metric, _fmt(metric, entry["previous"]), _fmt(metric, entry["current"]),
                          _fmt_delta(metric, entry))
    if table.row_count:
        console.print(table)
    console.print(f"{same} figure{'s' if same != 1 else ''} unchanged", highlight=False)
    for title, key, colour in (("hit -> miss", "regressed", "red"), ("miss -> hit", "fixed", "green")):
        entries = result[key]
        console.print(f"[{colour}]{title}[/]: {len(entries)} question{'s' if len(entries) != 1 else ''}",
                      highlight=False)
        for e in entries[:limit]:
            question = e["question"] if len(e["question"]) <= 90 else e["question"][:89] + "…"
            where = escape(f"[{e['lang']}]")
            console.print(f"  {escape(str(e['id']))} {where} {escape(question)}  ({escape(e['reason'])})",
                          highlight=False)
        if len(entries) > limit:
            console.print(f"  ... {len(entries) - limit} more (see the HTML or JSON report)", highlight=False)
    if result["changed"]:
        console.print(f"other changes (errors, not judged): {len(result['changed'])}", highlight=False)
    if result["added"] or result["removed"]:
        console.print(f"questions only in the current run: {len(result['added'])}; "
                      f"only in the previous run: {len(result['removed'])}", highlight=False)
