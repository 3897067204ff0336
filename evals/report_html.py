"""``sanad eval --report report.html``: one self-contained HTML file a team can read offline.

Built from the JSON report (``run_eval``'s dict, with ``gate`` and ``compare`` when those
ran). Everything is inline: the CSS, the charts (inline SVG from :mod:`evals.charts`) and a
small script that filters the per-question table; nothing is fetched from anywhere (no
``src``/``href`` to another file or host), so the file works when mailed or archived by CI.

Sections: the headline figures; the metric table per slice (all, each language) with the
baselines beside Sanad, the gate's thresholds and, with ``--compare``, the deltas; charts
(recall@k per slice and system, citation hit / answer hit / abstention per language and
kind, the latency distribution); figures per question kind; the gate; what changed since the
compared run (flipped questions); and every question with its verdict, answer, citations
and gold, filterable to the misses.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any, Mapping, Sequence

from evals.charts import grouped_bars, histogram, line_chart
from evals.metrics import ANSWER_METRICS, LOWER_IS_BETTER, RETRIEVAL_DEPTH, RETRIEVAL_METRICS
from evals.outcome import MISS_LABELS, judge, row_keys

SYSTEM_LABELS = {"sanad": "Sanad", "bm25": "BM25", "dense": "dense"}
SYSTEM_COLOURS = {"sanad": "#2563eb", "bm25": "#d97706", "dense": "#059669"}
LANG_COLOURS = {"ar": "#2563eb", "en": "#f59e0b"}
RATE_SERIES = (("citation_hit", "citation hit", "#2563eb"), ("answer_hit", "answer hit", "#7c3aed"),
               ("abstention", "abstention", "#059669"), ("false_abstention", "false abstention", "#dc2626"))
SHORT = {"recall_at_1": "R@1", "recall_at_5": "R@5", "recall_at_10": "R@10", "mrr": "MRR",
         "citation_hit": "citation hit", "citation_precision": "citation prec.", "answer_hit": "answer hit",
         "false_abstention": "false abst.", "latency_p50_ms": "p50 ms", "latency_p95_ms": "p95 ms"}
HEADLINE = ("recall_at_5", "mrr", "citation_hit", "answer_hit", "abstention", "false_abstention", "latency_p50_ms")

CSS = """
:root { --fg:#111827; --muted:#6b7280; --line:#e5e7eb; --bg:#f9fafb; --hit:#15803d; --miss:#b91c1c;
        --hitbg:#dcfce7; --missbg:#fee2e2; --warnbg:#fef3c7; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI","Noto Sans","Noto Naskh Arabic",sans-serif;
       color:var(--fg); background:#fff; }
main { max-width:1200px; margin:0 auto; padding:20px 24px 60px; }
h1 { font-size:22px; margin:0 0 4px; } h2 { font-size:17px; margin:28px 0 10px; border-bottom:1px solid var(--line);
     padding-bottom:4px; } h3 { font-size:14px; margin:14px 0 6px; }
.muted { color:var(--muted); } .small { font-size:12px; }
.meta { color:var(--muted); font-size:13px; margin-bottom:12px; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; white-space:nowrap; }
.b-hit { background:var(--hitbg); color:var(--hit); } .b-miss { background:var(--missbg); color:var(--miss); }
.b-error, .b-unjudged { background:#e5e7eb; color:#374151; } .b-warn { background:var(--warnbg); color:#92400e; }
.cards { display:flex; flex-wrap:wrap; gap:10px; margin:12px 0; }
.card { border:1px solid var(--line); border-radius:8px; padding:8px 12px; min-width:130px; background:var(--bg); }
.card .v { font-size:22px; font-weight:600; } .card .k { font-size:12px; color:var(--muted); }
table { border-collapse:collapse; }
table.metrics td, table.metrics th { border:1px solid var(--line); padding:4px 8px; text-align:right; }
table.metrics th { background:var(--bg); font-weight:600; }
table.metrics td:first-child, table.metrics th:first-child { text-align:left; }
td.fail { background:var(--missbg); } td.pass { background:#f0fdf4; }
.thr { display:block; font-size:11px; color:var(--muted); } .fail .thr { color:var(--miss); font-weight:600; }
.up { color:var(--hit); font-size:11px; } .down { color:var(--miss); font-size:11px; } .same { color:var(--muted); font-size:11px; }
.charts { display:flex; flex-wrap:wrap; gap:14px; } .charts svg { border:1px solid var(--line); border-radius:6px; background:#fff; }
.warn { background:var(--warnbg); border-radius:6px; padding:6px 10px; margin:6px 0; }
ul.flips { margin:4px 0 10px; padding-left:20px; } ul.flips a { color:inherit; }
.controls { position:sticky; top:0; background:#fff; padding:8px 0; z-index:2; display:flex; gap:10px;
            flex-wrap:wrap; align-items:center; border-bottom:1px solid var(--line); }
.controls select, .controls input { font:inherit; padding:3px 6px; }
table.q { width:100%; table-layout:fixed; }
table.q th, table.q td { border-bottom:1px solid var(--line); padding:6px; vertical-align:top; text-align:start; }
table.q th { background:var(--bg); font-size:12px; position:sticky; top:46px; z-index:1; }
table.q tr.miss td:first-child { box-shadow: inset 3px 0 0 var(--miss); }
table.q tr.hit td:first-child { box-shadow: inset 3px 0 0 var(--hit); }
table.q code { overflow-wrap:anywhere; } table.q .badge { white-space:normal; }
.scroll { max-height:9.5em; overflow:auto; } .quote { color:#374151; font-size:12px; }
ol.cits { margin:0; padding-inline-start:18px; } ol.cits li { margin-bottom:4px; }
.ok { color:var(--hit); font-weight:600; } .no { color:var(--miss); font-weight:600; }
code { font-size:12px; background:var(--bg); padding:0 3px; border-radius:3px; }
details summary { cursor:pointer; color:var(--muted); }
"""

SCRIPT = """
(function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll('table.q tbody tr'));
  var show = document.getElementById('f-show'), lang = document.getElementById('f-lang'),
      kind = document.getElementById('f-kind'), text = document.getElementById('f-text'),
      count = document.getElementById('f-count');
  function apply() {
    var s = show.value, l = lang.value, k = kind.value, t = text.value.trim().toLowerCase(), n = 0;
    rows.forEach(function (r) {
      var ok = (s === 'all' || (s === 'misses' && r.dataset.status === 'miss') ||
                (s === 'hits' && r.dataset.status === 'hit') ||
                (s === 'other' && (r.dataset.status === 'error' || r.dataset.status === 'unjudged')) ||
                (s === 'regressed' && r.dataset.flip === 'regressed') || (s === 'fixed' && r.dataset.flip === 'fixed'))
               && (l === 'all' || r.dataset.lang === l) && (k === 'all' || r.dataset.kind === k)
               && (!t || r.textContent.toLowerCase().indexOf(t) !== -1);
      r.hidden = !ok; if (ok) { n++; }
    });
    count.textContent = 'showing ' + n + ' of ' + rows.length;
  }
  [show, lang, kind].forEach(function (e) { e.addEventListener('change', apply); });
  text.addEventListener('input', apply);
  document.querySelectorAll('a[data-show]').forEach(function (a) {
    a.addEventListener('click', function () { show.value = a.dataset.show; lang.value = 'all'; kind.value = 'all';
      text.value = ''; apply(); });
  });
  if (location.hash === '#misses') { show.value = 'misses'; }
  apply();
})();
"""


# --------------------------------------------------------------------------- helpers
def _fmt(metric: str, value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "–"
    return f"{value:,.0f}" if metric.endswith("_ms") else f"{value:.3f}"


def _delta_html(metric: str, entry: Mapping[str, Any] | None) -> str:
    if not entry or entry.get("delta") is None:
        return ""
    delta = entry["delta"]
    if delta == 0:  # unchanged: no mark (the compare section counts them)
        return ""
    shown = f"{delta:+,.0f}" if metric.endswith("_ms") else f"{delta:+.3f}"
    cls = "up" if entry.get("better") else "down"
    return f' <span class="{cls}" title="previous {_fmt(metric, entry.get("previous"))}">{shown}</span>'


def _e(text: Any) -> str:
    return escape(str(text), quote=True)


def recall_curve(rows: Sequence[Mapping[str, Any]], system: str, depth: int = RETRIEVAL_DEPTH) -> list[float | None]:
    """Recall@k for k = 1..depth over the answerable rows with gold that ``system`` retrieved for
    (the pool of ``evals.metrics.recall_at``), from the rows' ``rank``."""
    pool = [r for r in rows if r.get("answerable") and r.get("gold") and system in (r.get("rank") or {})]
    if not pool:
        return [None] * depth
    ranks = [r["rank"][system] for r in pool]
    return [sum(1 for x in ranks if x is not None and x <= k) / len(pool) for k in range(1, depth + 1)]


def _slices(report: Mapping[str, Any]) -> list[str]:
    return list((report.get("metrics") or {}).get("sanad") or {})


def _slice_rows(rows: Sequence[Mapping[str, Any]], name: str) -> list[Mapping[str, Any]]:
    return list(rows) if name == "all" else [r for r in rows if r.get("lang") == name]


# --------------------------------------------------------------------------- sections
def _header(report: Mapping[str, Any], verdicts: Sequence[Any]) -> str:
    corpus = report.get("corpus") or {}
    secs = report.get("seconds") or {}
    settings = report.get("settings") or {}
    misses = sum(1 for v in verdicts if v.status == "miss")
    parts = [f"finished {_e(report.get('finished_at', '?'))}",
             f"{len(verdicts)} questions ({misses} missed)",
             f"corpus: {_e(corpus.get('documents', '?'))} documents, {_e(corpus.get('paragraphs', '?'))} paragraphs",
             f"answerer: {_e(report.get('answerer', 'extractive'))}",
             f"model: {_e(settings.get('embed_model', '?'))}",
             f"{_e(secs.get('total', '?'))} s (index {_e(secs.get('index', '?'))} s, questions "
             f"{_e(secs.get('questions', '?'))} s)"]
    sample = report.get("sample") or {}
    if sample.get("limit") is not None:
        parts.append(f"sample: {_e(sample['limit'])} of {_e(sample.get('of', '?'))} {_e(sample.get('unit', ''))} "
                     f"(seed {_e(sample.get('seed', '?'))})")
    gate = report.get("gate")
    badge = ""
    if gate:
        checks = gate.get("checks") or []
        failed = sum(1 for c in checks if not c.get("passed"))
        badge = (f' <span class="badge b-miss">gate failed: {failed} of {len(checks)}</span>' if failed
                 else f' <span class="badge b-hit">gate passed: {len(checks)} checks</span>')
    return (f"<h1>Sanad eval: {_e(report.get('set', '?'))}{badge}</h1>"
            f"<div class=\"muted\">{_e(report.get('description', ''))}</div>"
            f"<div class=\"meta\">{' · '.join(parts)}</div>")


def _cards(report: Mapping[str, Any]) -> str:
    figures = ((report.get("metrics") or {}).get("sanad") or {}).get("all") or {}
    deltas = (((report.get("compare") or {}).get("metrics") or {}).get("sanad") or {}).get("all") or {}
    out = []
    for metric in HEADLINE:
        if metric not in figures:
            continue
        out.append(f'<div class="card"><div class="k">{_e(metric)}</div><div class="v">'
                   f"{_fmt(metric, figures[metric])}{_delta_html(metric, deltas.get(metric))}</div></div>")
    return f'<div class="cards">{"".join(out)}</div>'


def _metric_table(report: Mapping[str, Any]) -> str:
    metrics = report.get("metrics") or {}
    systems = [s for s in report.get("systems") or ["sanad"] if s in metrics]
    slices = _slices(report)
    counts = report.get("counts") or {}
    checks = {(c["slice"], c["metric"]): c for c in ((report.get("gate") or {}).get("checks") or [])}
    deltas = (report.get("compare") or {}).get("metrics") or {}
    head1 = ['<th rowspan="2">metric</th>']
    head2 = []
    for name in slices:
        c = counts.get(name) or {}
        head1.append(f'<th colspan="{len(systems)}">{_e(name)}<br><span class="small muted">'
                     f"{_e(c.get('questions', '?'))} q, {_e(c.get('unanswerable', '?'))} unanswerable</span></th>")
        head2 += [f"<th>{_e(SYSTEM_LABELS.get(s, s))}</th>" for s in systems]
    body = []
    for metric in RETRIEVAL_METRICS + ANSWER_METRICS:
        cells = [f"<td><code>{_e(metric)}</code>{' ↓' if metric in LOWER_IS_BETTER else ''}</td>"]
        for name in slices:
            for system in systems:
                figures = (metrics.get(system) or {}).get(name) or {}
                if metric not in figures:
                    cells.append('<td class="muted"></td>')
                    continue
                value = figures[metric]
                cls, thr = "", ""
                check = checks.get((name, metric)) if system == "sanad" else None
                if check is not None:
                    op = "≤" if check.get("direction") == "max" else "≥"
                    cls = ' class="pass"' if check.get("passed") else ' class="fail"'
                    thr = (f'<span class="thr">gate {op} {check["threshold"]:g} '
                           f'{"✓" if check.get("passed") else "✗"}</span>')
                delta = _delta_html(metric, ((deltas.get(system) or {}).get(name) or {}).get(metric))
                cells.append(f"<td{cls}>{_fmt(metric, value)}{delta}{thr}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    note = ("Retrieval: top-10 chunks of each system; answer metrics are Sanad's answers. "
            "↓ lower is better. " + ("Deltas: against the compared run. " if deltas else "")
            + ("Shaded cells are gated (evals/thresholds.toml)." if checks else ""))
    return (f'<table class="metrics"><thead><tr>{"".join(head1)}</tr><tr>{"".join(head2)}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table><p class="small muted">{_e(note)}</p>')


def _charts(report: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> str:
    systems = [s for s in report.get("systems") or ["sanad"]]
    out = []
    curves = {name: [(SYSTEM_LABELS.get(s, s), SYSTEM_COLOURS.get(s, "#6b7280"),
                      recall_curve(_slice_rows(rows, name), s)) for s in systems] for name in _slices(report)}
    lows = [v for series in curves.values() for _, _, vals in series for v in vals if v is not None]
    y_min = 0.0 if not lows or min(lows) < 0.5 else 0.5  # one scale for all slices, so they compare by eye
    for name, series in curves.items():
        out.append(line_chart(f"recall@k, {name}", list(range(1, RETRIEVAL_DEPTH + 1)), series,
                              x_label="k (chunks retrieved)", y_min=y_min))
    sanad = (report.get("metrics") or {}).get("sanad") or {}
    counts = report.get("counts") or {}
    kinds = report.get("by_kind") or {}
    groups = list(sanad) + list(kinds)
    figures = [sanad[g] for g in sanad] + [kinds[k] for k in kinds]
    notes = [f"n={(counts.get(g) or {}).get('questions', '?')}" for g in sanad] + \
            [f"n={kinds[k].get('questions', '?')}" for k in kinds]
    series = [(label, colour, [f.get(metric) for f in figures]) for metric, label, colour in RATE_SERIES]
    width = max(720, 120 * len(groups) + 60)
    out.append(grouped_bars("citation hit, answer hit and abstention per language and question kind",
                            groups, series, notes=notes, width=min(width, 1150)))
    asked = [r for r in rows if r.get("asked") and not r.get("error") and r.get("latency_ms") is not None]
    langs = sorted({r.get("lang") for r in asked})
    stacks = [(str(lang), LANG_COLOURS.get(str(lang), "#6b7280"),
               [float(r["latency_ms"]) for r in asked if r.get("lang") == lang]) for lang in langs]
    all_fig = sanad.get("all") or {}
    markers = [("p50", all_fig.get("latency_p50_ms"), "#111827"), ("p95", all_fig.get("latency_p95_ms"), "#dc2626")]
    out.append(histogram(f"answer latency ({len(asked)} questions)", [float(r["latency_ms"]) for r in asked],
                         markers=markers, series=stacks if len(stacks) > 1 else (), width=1150))
    return f'<div class="charts">{"".join(out)}</div>'


def _kind_table(report: Mapping[str, Any]) -> str:
    kinds = report.get("by_kind") or {}
    if not kinds:
        return ""
    metrics = ("questions",) + RETRIEVAL_METRICS + ANSWER_METRICS
    head = "".join(f'<th title="{_e(m)}">{_e(SHORT.get(m, m))}</th>' for m in ("kind",) + metrics)
    body = []
    for kind, figures in kinds.items():
        cells = "".join(f"<td>{figures.get(m, '') if m == 'questions' else _fmt(m, figures.get(m))}</td>"
                        for m in metrics)
        body.append(f"<tr><td>{_e(kind)}</td>{cells}</tr>")
    return (f"<h2>By question kind (Sanad)</h2><div style=\"overflow-x:auto\"><table class=\"metrics\">"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def _answerers_table(report: Mapping[str, Any]) -> str:
    answerers = report.get("answerers") or {}
    if len(answerers) < 2 and "llm" not in answerers:
        return ""
    names = list(answerers)
    slices = list(next(iter(answerers.values())) or {})
    metrics = list(dict.fromkeys(m for who in names for s in slices for m in (answerers[who].get(s) or {})))
    head = "".join(f"<th>{_e(s)}<br>{_e(who)}</th>" for s in slices for who in names)
    body = []
    for m in metrics:
        cells = "".join(f"<td>{_fmt(m, (answerers[who].get(s) or {}).get(m))}</td>" for s in slices for who in names)
        body.append(f"<tr><td><code>{_e(m)}</code></td>{cells}</tr>")
    return (f"<h2>Answers by answerer</h2><table class=\"metrics\"><thead><tr><th>metric</th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def _gate(report: Mapping[str, Any]) -> str:
    gate = report.get("gate")
    if not gate:
        return ""
    items = []
    for c in gate.get("checks") or []:
        op = "≤" if c.get("direction") == "max" else "≥"
        where = "all" if c["slice"] == "all" else c["slice"]
        value = "not measured" if c.get("value") is None else _fmt(c["metric"], c["value"])
        badge = '<span class="badge b-hit">pass</span>' if c.get("passed") else '<span class="badge b-miss">FAIL</span>'
        items.append(f"<li>{badge} <code>{_e(where)}</code> <code>{_e(c['metric'])}</code> = {value} "
                     f"(threshold {op} {c['threshold']:g})</li>")
    return (f"<h2>Gate</h2><p class=\"small muted\">thresholds: {_e(gate.get('thresholds', ''))}</p>"
            f"<ul>{''.join(items)}</ul>")


def _compare(report: Mapping[str, Any], keys: Mapping[str, str]) -> str:
    cmp = report.get("compare")
    if not cmp:
        return ""
    prev = cmp.get("previous") or {}
    out = [f"<h2 id=\"compare\">What changed since {_e(prev.get('path') or 'the previous run')}</h2>",
           f"<p class=\"small muted\">previous run: {_e(prev.get('set'))}, {_e(prev.get('questions'))} questions, "
           f"finished {_e(prev.get('finished_at'))}</p>"]
    out += [f'<div class="warn">{_e(w)}</div>' for w in cmp.get("warnings") or []]
    better = worse = 0
    worse_rows = []
    for system, per_slice in (cmp.get("metrics") or {}).items():
        for name, per_metric in per_slice.items():
            for metric, entry in per_metric.items():
                if not entry.get("delta"):
                    continue
                if entry.get("better"):
                    better += 1
                    continue
                worse += 1
                worse_rows.append(f"<tr><td>{_e(SYSTEM_LABELS.get(system, system))}</td><td>{_e(name)}</td>"
                                  f"<td><code>{_e(metric)}</code></td><td>{_fmt(metric, entry.get('previous'))}</td>"
                                  f"<td>{_fmt(metric, entry.get('current'))}{_delta_html(metric, entry)}</td></tr>")
    same = sum(1 for per_slice in (cmp.get("metrics") or {}).values() for per_metric in per_slice.values()
               for entry in per_metric.values() if entry.get("delta") == 0)
    out.append(f"<p>{better} figure{'s' if better != 1 else ''} improved, {worse} got worse, {same} unchanged; "
               "each change is shown beside its figure in the tables above (green: better, red: worse).</p>")
    if worse_rows:
        out.append('<table class="metrics"><thead><tr><th>system</th><th>slice</th><th>worse</th><th>previous</th>'
                   f'<th>current</th></tr></thead><tbody>{"".join(worse_rows)}</tbody></table>')
    for title, key, show in (("hit → miss", "regressed", "regressed"), ("miss → hit", "fixed", "fixed")):
        entries = cmp.get(key) or []
        out.append(f'<h3>{title}: {len(entries)} question{"s" if len(entries) != 1 else ""}'
                   + (f' <a href="#questions" data-show="{show}" class="small">show in the table</a>'
                      if entries else "")
                   + "</h3>")
        if entries:
            items = "".join(f'<li><a href="#q-{_e(e.get("key", e.get("id")))}"><code>{_e(e.get("id"))}</code></a> '
                            f'[{_e(e.get("lang"))}] <span dir="auto">{_e(e.get("question"))}</span> '
                            f'<span class="small muted">({_e(e.get("reason"))})</span></li>' for e in entries)
            flips = f'<ul class="flips">{items}</ul>'
            out.append(flips if len(entries) <= 10 else
                       f"<details><summary>the {len(entries)} questions</summary>{flips}</details>")
    other = cmp.get("changed") or []
    if other:
        out.append(f"<p class=\"small\">Other changes (errors, not judged): "
                   f"{', '.join(_e(e.get('id')) for e in other)}</p>")
    if cmp.get("added") or cmp.get("removed"):
        out.append(f"<p class=\"small\">Questions only in this run: {len(cmp.get('added') or [])}; "
                   f"only in the previous run: {len(cmp.get('removed') or [])}.</p>")
    return "".join(out)


def _citations(row: Mapping[str, Any]) -> str:
    cits = row.get("citations") or []
    if not cits:
        return '<span class="muted">none</span>'
    items = []
    for c in cits:
        mark = '<span class="ok" title="a gold paragraph">✓ gold</span>' if c.get("gold") else \
            '<span class="no" title="not a gold paragraph">✗</span>'
        verbatim = "" if c.get("verbatim", True) else ' <span class="badge b-miss">not verbatim</span>'
        items.append(f"<li><code>{_e(c.get('file'))} ¶{_e(c.get('paragraph'))}</code> {mark}{verbatim}"
                     f'<div class="quote" dir="auto">{_e(c.get("quote", ""))}</div></li>')
    return f'<div class="scroll"><ol class="cits">{"".join(items)}</ol></div>'


def _gold(row: Mapping[str, Any]) -> str:
    if not row.get("answerable"):
        return '<span class="badge b-unjudged">unanswerable</span>'
    parts = [f"<div><code>{_e(g.get('file'))} ¶{_e(g.get('paragraph'))}</code></div>" for g in row.get("gold") or []]
    answers = row.get("answers") or []
    if answers:
        hit = row.get("answer_hit")
        mark = "" if hit is None else (' <span class="ok">✓ in answer</span>' if hit
                                       else ' <span class="no">✗ not in answer</span>')
        parts.append(f'<div dir="auto">answer: {" | ".join(_e(a) for a in answers)}{mark}</div>')
    return "".join(parts)


def _ranks(row: Mapping[str, Any], systems: Sequence[str]) -> str:
    if not row.get("answerable"):
        return ""
    ranks = row.get("rank") or {}
    out = []
    for s in systems:
        if s in ranks:
            r = ranks[s]
            out.append(f"<div><span class=\"muted\">{_e(SYSTEM_LABELS.get(s, s))}</span> "
                       f"{r if r is not None else '&gt;' + str(RETRIEVAL_DEPTH)}</div>")
    return "".join(out)


def _questions(report: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], keys: Sequence[str],
               verdicts: Sequence[Any]) -> str:
    cmp = report.get("compare") or {}
    flips = {e.get("key", e.get("id")): "regressed" for e in cmp.get("regressed") or []}
    flips.update({e.get("key", e.get("id")): "fixed" for e in cmp.get("fixed") or []})
    systems = list(report.get("systems") or ["sanad"])
    body = []
    for row, key, verdict in zip(rows, keys, verdicts):
        flip = flips.get(key, "")
        badge = f'<span class="badge b-{verdict.status}" title="{_e(verdict.reason)}">{_e(verdict.label)}</span>'
        if flip:
            badge += (f'<div><span class="badge b-warn">{"was a hit" if flip == "regressed" else "was a miss"}'
                      "</span></div>")
        answer = _e(row.get("answer", ""))
        if row.get("predicted_answerable") is False:
            answer = f'<span class="badge b-unjudged">abstained</span> {answer}'
        extra = ""
        if row.get("answerer") and row.get("answerer") != "extractive":
            extra = f'<div class="small muted">answerer: {_e(row["answerer"])}</div>'
        if row.get("unsupported_claims"):
            extra += f'<div class="small no">unsupported: {_e("; ".join(map(str, row["unsupported_claims"])))}</div>'
        if row.get("error"):
            extra += f'<div class="small no">{_e(row["error"])}</div>'
        latency = row.get("latency_ms")
        body.append(
            f'<tr id="q-{_e(key)}" class="{verdict.status}" data-status="{verdict.status}" '
            f'data-lang="{_e(row.get("lang", ""))}" data-kind="{_e(row.get("kind", ""))}" data-flip="{flip}">'
            f'<td><code>{_e(row.get("id"))}</code><div class="small muted">{_e(row.get("lang", ""))} '
            f'{_e(row.get("kind", ""))}</div></td><td>{badge}</td>'
            f'<td dir="auto">{_e(row.get("question", ""))}</td>'
            f'<td><div class="scroll" dir="auto">{answer}</div>{extra}</td>'
            f"<td>{_citations(row)}</td><td>{_gold(row)}</td><td class=\"small\">{_ranks(row, systems)}</td>"
            f'<td class="small">{"" if latency is None else f"{latency:,.0f}"}</td></tr>')
    langs = sorted({str(r.get("lang", "")) for r in rows})
    kinds = sorted({str(r.get("kind", "")) for r in rows if r.get("kind")})
    misses: dict[str, int] = {}
    for v in verdicts:
        if v.status == "miss":
            misses[v.kind] = misses.get(v.kind, 0) + 1
    summary = (f"{sum(misses.values())} (" + " · ".join(f"{MISS_LABELS.get(k, k)}: {n}" for k, n in sorted(misses.items()))
               + ")") if misses else "none"
    flip_opts = ""
    if cmp:
        flip_opts = ('<option value="regressed">flipped hit → miss</option>'
                     '<option value="fixed">flipped miss → hit</option>')
    controls = (
        '<div class="controls"><label>show <select id="f-show"><option value="all">all questions</option>'
        '<option value="misses">misses only</option><option value="hits">hits only</option>'
        f'<option value="other">errors and not judged</option>{flip_opts}</select></label>'
        '<label>language <select id="f-lang"><option value="all">all</option>'
        + "".join(f'<option value="{_e(x)}">{_e(x)}</option>' for x in langs) + "</select></label>"
        '<label>kind <select id="f-kind"><option value="all">all</option>'
        + "".join(f'<option value="{_e(x)}">{_e(x)}</option>' for x in kinds) + "</select></label>"
        '<input id="f-text" type="search" placeholder="search question, answer, file…" size="28">'
        '<span id="f-count" class="small muted"></span></div>')
    head = ("<thead><tr><th style=\"width:7%\">id</th><th style=\"width:9%\">result</th><th style=\"width:16%\">"
            "question</th><th style=\"width:22%\">answer</th><th style=\"width:24%\">citations</th>"
            "<th style=\"width:12%\">gold</th><th style=\"width:6%\">rank</th><th style=\"width:4%\">ms</th>"
            "</tr></thead>")
    return (f'<h2 id="questions">Questions</h2><p class="small">Misses: {_e(summary)}. A hit cites a gold '
            "paragraph (answerable) or abstains (unanswerable). "
            '<a href="#questions" data-show="misses">show the misses</a></p>'
            f'{controls}<table class="q">{head}<tbody>{"".join(body)}</tbody></table>')


# --------------------------------------------------------------------------- page
def build_html(report: Mapping[str, Any]) -> str:
    """The whole HTML page of ``report`` (see the module docstring)."""
    rows = list(report.get("rows") or [])
    keys = row_keys(rows)
    verdicts = [judge(r) for r in rows]
    key_map = dict(zip(keys, keys))
    settings = json.dumps({"settings": report.get("settings"), "machine": report.get("machine"),
                           "seconds": report.get("seconds"), "sample": report.get("sample")},
                          ensure_ascii=False, indent=1)
    sections = [
        _header(report, verdicts), _cards(report),
        "<h2>Metrics per slice" + (", beside the baselines" if len(report.get("systems") or []) > 1 else "") + "</h2>",
        _metric_table(report),
        "<h2>Charts</h2>", _charts(report, rows),
        _kind_table(report), _answerers_table(report), _gate(report), _compare(report, key_map),
        _questions(report, rows, keys, verdicts),
        f"<h2>Run</h2><details><summary>settings, machine, timings</summary><pre>{_e(settings)}</pre></details>"
        '<p class="small muted">Written by <code>sanad eval --report</code>: one file, no network access needed.</p>',
    ]
    title = f"Sanad eval: {report.get('set', '')}"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
            + "".join(sections) + f"</main><script>{SCRIPT}</script></body></html>\n")


def write_html(report: Mapping[str, Any], path: Path) -> None:
    """Write the HTML report of ``report`` to ``path`` (UTF-8)."""
    Path(path).write_text(build_html(report), encoding="utf-8")
