"""Small charts as inline SVG text, for the HTML eval report (no plotting dependency).

Three kinds, each a function returning one ``<svg>`` element as a string: a line chart
(:func:`line_chart`, recall@k), grouped bars (:func:`grouped_bars`, rates per slice) and a
histogram with marker lines (:func:`histogram`, latency). Values are rates in [0, 1] unless
said otherwise; ``None`` means "not measured" and is drawn as a gap or a hatched stub, never
as 0. Every mark has an SVG ``<title>``, so hovering shows its exact figure.
"""

from __future__ import annotations

import math
from html import escape
from typing import Sequence

FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', 'Noto Sans', sans-serif\""
AXIS = "#6b7280"
GRID = "#e5e7eb"

Series = tuple[str, str, Sequence[float | None]]  # (label, colour, values)


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (f'<svg viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="{escape(title)}" {FONT} font-size="12">'
            f"<title>{escape(title)}</title>" + "".join(body) + "</svg>")


def _legend(series: Sequence[tuple[str, str]], x: float, y: float) -> list[str]:
    out, cx = [], x
    for label, colour in series:
        out.append(f'<rect x="{cx:.1f}" y="{y - 9:.1f}" width="12" height="12" rx="2" fill="{colour}"/>'
                   f'<text x="{cx + 16:.1f}" y="{y + 1:.1f}" fill="#374151">{escape(label)}</text>')
        cx += 16 + 7.0 * len(label) + 18
    return out


def _y_axis(left: float, top: float, plot_w: float, plot_h: float, ticks: Sequence[float],
            scale: float, fmt: str = "{:.1f}") -> list[str]:
    out = []
    for t in ticks:
        y = top + plot_h - t / scale * plot_h
        out.append(f'<line x1="{left:.1f}" x2="{left + plot_w:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
                   f'<text x="{left - 6:.1f}" y="{y + 4:.1f}" text-anchor="end" fill="{AXIS}">'
                   f"{escape(fmt.format(t))}</text>")
    return out


def line_chart(title: str, xs: Sequence[int], series: Sequence[Series], *, width: int = 360, height: int = 240,
               x_label: str = "", y_min: float = 0.0) -> str:
    """One line per series over ``xs`` (y in [``y_min``, 1]); points show their value on hover."""
    left, right, top, bottom = 44, 12, 46, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    span = 1.0 - y_min
    body = [f'<text x="{left}" y="14" font-weight="600" fill="#111827">{escape(title)}</text>']
    steps = 5 if abs(span - 0.5) < 1e-9 else 4
    ticks = [y_min + span * i / steps for i in range(steps + 1)]
    for t in ticks:
        y = top + plot_h - (t - y_min) / span * plot_h
        body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
                    f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{AXIS}">{t:.2f}</text>')

    def px(i: int) -> float:
        return left + (plot_w * i / (len(xs) - 1) if len(xs) > 1 else plot_w / 2)

    def py(v: float) -> float:
        return top + plot_h - (max(v, y_min) - y_min) / span * plot_h

    for i, x in enumerate(xs):
        body.append(f'<text x="{px(i):.1f}" y="{top + plot_h + 15}" text-anchor="middle" fill="{AXIS}">{x}</text>')
    if x_label:
        body.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" '
                    f'fill="{AXIS}">{escape(x_label)}</text>')
    body.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="{AXIS}"/>'
                f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{AXIS}"/>')
    for label, colour, values in series:
        runs: list[list[str]] = [[]]
        for i, v in enumerate(values):
            if v is None:
                runs.append([])
            else:
                runs[-1].append(f"{px(i):.1f},{py(v):.1f}")
        for run in runs:
            if len(run) > 1:
                body.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                            f'stroke-width="2" stroke-linejoin="round"/>')
        for i, v in enumerate(values):
            if v is not None:
                body.append(f'<circle cx="{px(i):.1f}" cy="{py(v):.1f}" r="3" fill="{colour}">'
                            f"<title>{escape(label)} @{xs[i]}: {v:.3f}</title></circle>")
    body += _legend([(label, colour) for label, colour, _ in series], left, 32)
    return _svg(width, height, title, body)


def grouped_bars(title: str, groups: Sequence[str], series: Sequence[Series], *, width: int = 720,
                 height: int = 260, notes: Sequence[str] = ()) -> str:
    """Bars of rates in [0, 1]: one group per ``groups`` entry, one bar per series in each.

    ``notes`` (one per group, optional) is a second label line under the group (e.g. "n=79").
    A ``None`` value is a short grey stub labelled "n/a"."""
    left, right, top, bottom = 44, 12, 54, 42
    plot_w, plot_h = width - left - right, height - top - bottom
    body = [f'<text x="{left}" y="14" font-weight="600" fill="#111827">{escape(title)}</text>']
    body += _y_axis(left, top, plot_w, plot_h, [0, 0.25, 0.5, 0.75, 1.0], 1.0, "{:.2f}")
    n_groups, n_series = max(len(groups), 1), max(len(series), 1)
    group_w = plot_w / n_groups
    bar_w = min(28.0, (group_w - 14) / n_series)
    for g, group in enumerate(groups):
        gx = left + g * group_w + (group_w - bar_w * n_series) / 2
        for s, (label, colour, values) in enumerate(series):
            v = values[g] if g < len(values) else None
            x = gx + s * bar_w
            if v is None:
                body.append(f'<rect x="{x + 1:.1f}" y="{top + plot_h - 3:.1f}" width="{bar_w - 2:.1f}" height="3" '
                            f'fill="#d1d5db"><title>{escape(label)}, {escape(group)}: not measured</title></rect>')
                continue
            h = max(v, 0.0) * plot_h
            body.append(f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 2:.1f}" '
                        f'height="{h:.1f}" fill="{colour}" rx="1.5"><title>{escape(label)}, {escape(group)}: '
                        f"{v:.3f}</title></rect>")
            if bar_w >= 20:
                body.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h - h - 3:.1f}" text-anchor="middle" '
                            f'font-size="9" fill="#374151">{v:.2f}</text>')
        cx = left + g * group_w + group_w / 2
        body.append(f'<text x="{cx:.1f}" y="{top + plot_h + 15}" text-anchor="middle" fill="#374151">'
                    f"{escape(group)}</text>")
        if g < len(notes) and notes[g]:
            body.append(f'<text x="{cx:.1f}" y="{top + plot_h + 28}" text-anchor="middle" font-size="10" '
                        f'fill="{AXIS}">{escape(notes[g])}</text>')
    body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{AXIS}"/>')
    body += _legend([(label, colour) for label, colour, _ in series], left, 34)
    return _svg(width, height, title, body)


def _nice_step(span: float, target: int) -> float:
    raw = span / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * mag:
            return mult * mag
    return 10 * mag


def histogram(title: str, values: Sequence[float], *, markers: Sequence[tuple[str, float, str]] = (),
              width: int = 720, height: int = 240, unit: str = "ms", bins: int = 24,
              series: Sequence[tuple[str, str, Sequence[float]]] = ()) -> str:
    """A histogram of ``values`` (stacked by ``series`` when given: ``(label, colour, values)``,
    whose values together are ``values``), with a dashed vertical line per marker
    ``(label, value, colour)``. Values past the 99th percentile share the last bin ("≥ x")."""
    left, right, top, bottom = 44, 12, 40, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    body = [f'<text x="{left}" y="14" font-weight="600" fill="#111827">{escape(title)}</text>']
    data = sorted(v for v in values if v is not None)
    if not data:
        body.append(f'<text x="{left}" y="{top + 20}" fill="{AXIS}">no latency measured</text>')
        return _svg(width, height, title, body)
    cap = data[min(len(data) - 1, int(math.ceil(0.99 * len(data))) - 1)]
    hi = max(cap, data[0] + 1e-9)
    step = _nice_step(hi, bins)
    n_bins = max(1, int(math.ceil(hi / step)))
    overflow = data[-1] > n_bins * step
    total_bins = n_bins + (1 if overflow else 0)
    stacks = list(series) or [("all", "#2563eb", data)]
    counts = [[0] * total_bins for _ in stacks]
    for s, (_, _, vals) in enumerate(stacks):
        for v in vals:
            b = int(v // step)
            counts[s][min(b, total_bins - 1)] += 1
    tallest = max(sum(c[b] for c in counts) for b in range(total_bins)) or 1
    y_step = max(1, int(_nice_step(tallest, 4)))
    y_top = y_step * math.ceil(tallest / y_step)
    body += _y_axis(left, top, plot_w, plot_h, list(range(0, y_top + 1, y_step)), y_top, "{:.0f}")
    bw = plot_w / total_bins
    for b in range(total_bins):
        base = 0
        lo, hi_b = b * step, (b + 1) * step
        where = f"≥ {lo:,.0f} {unit}" if overflow and b == total_bins - 1 else f"{lo:,.0f}–{hi_b:,.0f} {unit}"
        for s, (label, colour, _) in enumerate(stacks):
            c = counts[s][b]
            if not c:
                continue
            h = c / y_top * plot_h
            y = top + plot_h - (base + c) / y_top * plot_h
            body.append(f'<rect x="{left + b * bw + 1:.1f}" y="{y:.1f}" width="{bw - 2:.1f}" height="{h:.1f}" '
                        f'fill="{colour}"><title>{escape(label)}: {c} question{"s" if c != 1 else ""}, '
                        f"{escape(where)}</title></rect>")
            base += c
    label_every = max(1, total_bins // 8)
    for b in range(0, total_bins + 1, label_every):
        if overflow and b == total_bins:
            continue
        x = left + b * bw
        body.append(f'<text x="{x:.1f}" y="{top + plot_h + 15}" text-anchor="middle" fill="{AXIS}">'
                    f"{b * step:,.0f}</text>")
    if overflow:
        body.append(f'<text x="{left + (total_bins - 0.5) * bw:.1f}" y="{top + plot_h + 15}" text-anchor="middle" '
                    f'fill="{AXIS}">≥</text>')
    body.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" fill="{AXIS}">'
                f"{escape(unit)}</text>")
    body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{AXIS}"/>')
    span_x = n_bins * step
    for label, value, colour in markers:
        if value is None:
            continue
        x = left + min(value / span_x, 1.0) * (n_bins * bw)
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{top + plot_h}" stroke="{colour}" '
                    f'stroke-width="1.5" stroke-dasharray="4 3"/><text x="{x + 4:.1f}" y="{top + 6}" '
                    f'fill="{colour}" font-size="11">{escape(label)} {value:,.0f}</text>')
    legend = [(label, colour) for label, colour, _ in stacks] if series else []
    body += _legend(legend, left + plot_w - 52 * len(legend), 14) if legend else []
    return _svg(width, height, title, body)
