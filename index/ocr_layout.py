"""The column layout of a page image, found from its ink before OCR.

Tesseract's own page layout reads a two-column Arabic page poorly: it runs lines across the
gutter or drops a column's lines (0.88 character accuracy on a two-column KacstOffice page at
300 dpi, against 0.93-0.96 for single-column pages). :func:`page_regions` finds the gutters
itself, from where the ink is not: a **gutter** is a strip of the page, wider than a word gap
(:data:`GUTTER_EM` of the text's height), that no ink crosses over at least :data:`GUTTER_LINES`
lines of text, with text on both sides of it over most of those lines, away from the text's
outer edges. Word gaps do not line up over several lines; a column gap does. The page is then
cut into **bands** (top to bottom): a band with gutters is split into its columns, a band
without is one region across the page. :mod:`index.ocr` then reads each region on its own (so
Tesseract reads one column at a time) and orders the columns of a band in the script's
direction once the text is read.

A page without a gutter (one column, or a table whose columns are too short) gives one region:
it is read as before, whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["Region", "page_regions"]

#: the narrowest gutter, in text heights (a word gap is under half of one; column gaps are 1.5-3)
GUTTER_EM = 0.9
#: a gutter runs beside at least this many lines (two or three lines' word gaps can line up)
GUTTER_LINES = 4
#: share of a gutter's rows with ink on each side within a few text heights
SIDE_INK = 0.35
#: gutters are looked for this far in from the text's outer edges (a share of its width)
EDGE = 0.15


@dataclass(frozen=True, slots=True)
class Region:
    """A part of the page read on its own: ``band`` counts from the top, ``column`` from the left
    (0 in a band without columns); ``box`` is (left, top, right, bottom) in the image's pixels."""

    band: int
    column: int
    columns: int
    box: tuple[int, int, int, int]


def _ink(image: "Image"):  # noqa: ANN202 - (ink mask at 1/f scale, f)
    import numpy as np

    grey = np.asarray(image.convert("L"))
    height, width = grey.shape
    f = max(1, round(max(height, width) / 900))
    h2, w2 = height // f, width // f
    dark = (grey[:h2 * f, :w2 * f] < 128).reshape(h2, f, w2, f).mean(axis=(1, 3))
    return dark > 0.12, f  # a lone noise pixel in a block is not ink


def _runs(flags) -> list[tuple[int, int]]:  # noqa: ANN001 - 1-D bool array: [start, end) of True runs
    import numpy as np

    padded = np.concatenate(([False], flags, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _lines(rows, height: float) -> int:  # noqa: ANN001 - 1-D bool array of rows with ink
    """How many lines of text ``rows`` holds (runs of ink rows at least half a text height)."""
    return sum(1 for a, b in _runs(rows) if b - a >= 0.5 * height)


def _text_height(ink) -> float:  # noqa: ANN001
    """The typical height of a line's ink, from its connected shapes (letters and words)."""
    import numpy as np
    from scipy import ndimage

    labels, count = ndimage.label(ink, structure=np.ones((3, 3)))
    if not count:
        return 0.0
    heights = [s[0].stop - s[0].start for s in ndimage.find_objects(labels) if s is not None]
    tall = [h for h in heights if h >= 3]
    return float(np.percentile(tall, 75)) if tall else 0.0


def page_regions(image: "Image") -> list[Region]:
    """The regions of ``image`` in bands top to bottom, columns left to right (one region, the
    whole text area, when the page has no gutter)."""
    import numpy as np
    from scipy import ndimage

    ink, f = _ink(image)
    full = [Region(0, 0, 1, (0, 0, image.width, image.height))]
    if not ink.any():
        return full
    height = _text_height(ink)
    if height < 2:
        return full
    cols = np.flatnonzero(ink.sum(axis=0) >= 2)
    rows = np.flatnonzero(ink.sum(axis=1) >= 2)
    if not len(cols) or not len(rows):
        return full
    xl, xr, yt, yb = int(cols[0]), int(cols[-1]) + 1, int(rows[0]), int(rows[-1]) + 1
    gap = max(2, int(round(GUTTER_EM * height)))
    # fill every blank run narrower than a gutter: what stays blank is at least a gutter wide
    closed = ndimage.binary_closing(ink, structure=np.ones((1, gap)))
    closed[:, :xl] = False
    closed[:, xr:] = False
    span = GUTTER_LINES * 1.5 * height
    side = int(round(4 * height))
    found: list[tuple[int, int, int]] = []  # x, y0, y1
    for x in range(xl + int(EDGE * (xr - xl)), xr - int(EDGE * (xr - xl))):
        for y0, y1 in _runs(~closed[yt:yb, x]):
            y0, y1 = y0 + yt, y1 + yt
            if y1 - y0 < span:
                continue
            left = closed[y0:y1, max(xl, x - side):x].any(axis=1)
            right = closed[y0:y1, x + 1:min(xr, x + 1 + side)].any(axis=1)
            if (left.mean() >= SIDE_INK and right.mean() >= SIDE_INK
                    and min(_lines(left, height), _lines(right, height)) >= GUTTER_LINES):
                found.append((x, y0, y1))
    if not found:
        return full
    # neighbouring x with overlapping rows are one gutter; gutters overlapping in rows, one band
    gutters: list[list[tuple[int, int, int]]] = []
    for x, y0, y1 in sorted(found):
        for g in gutters:
            gx, gy0, gy1 = g[-1]
            if x - gx <= 1 and min(y1, gy1) - max(y0, gy0) > 0.5 * min(y1 - y0, gy1 - gy0):
                g.append((x, y0, y1))
                break
        else:
            gutters.append([(x, y0, y1)])
    cuts = []
    for g in gutters:
        ys0 = sorted(y0 for _, y0, _ in g)
        ys1 = sorted(y1 for _, _, y1 in g)
        cuts.append(((g[0][0] + g[-1][0]) / 2, ys0[len(ys0) // 2], ys1[len(ys1) // 2]))
    bands: list[list] = []  # [y0, y1, [x...]]
    for x, y0, y1 in sorted(cuts, key=lambda c: c[1]):
        if bands and y0 < bands[-1][1] - 2 * height:
            bands[-1][0] = min(bands[-1][0], y0)
            bands[-1][1] = max(bands[-1][1], y1)
            bands[-1][2].append(x)
        else:
            bands.append([y0, y1, [x]])
    for band in bands:  # the two edges of one gutter (its rows differ a little) are one cut
        merged: list[list[float]] = []
        for x in sorted(band[2]):
            if merged and x - merged[-1][-1] <= 4 * gap:
                merged[-1].append(x)
            else:
                merged.append([x])
        band[2] = [sum(m) / len(m) for m in merged]
    pad = max(1, int(round(0.5 * height)))
    blank_rows = ~ink[:, xl:xr].any(axis=1)
    regions: list[Region] = []

    def between_lines(y: int) -> int:
        """The middle of the widest run of blank rows within two text heights of ``y`` (a band's
        edge is where its gutter starts: a line's descent or a paragraph's gap away)."""
        lo, hi = max(0, y - int(2 * height)), min(len(blank_rows), y + int(2 * height))
        runs = _runs(blank_rows[lo:hi])
        if not runs:
            return y
        a, b = max(runs, key=lambda r: r[1] - r[0])
        return lo + (a + b) // 2

    def add(columns: list[tuple[int, int]], y0: int, y1: int) -> None:
        band = len({r.band for r in regions})
        kept = [(x0, x1) for x0, x1 in columns if ink[y0:y1, x0:x1].sum() >= 4]
        for k, (x0, x1) in enumerate(kept):
            box = (max(0, (x0 - (pad if k == 0 else 0)) * f), y0 * f,
                   min(image.width, (x1 + (pad if k == len(kept) - 1 else 0)) * f), y1 * f)
            regions.append(Region(band, k, len(kept), box))

    cursor = max(0, yt - pad)
    for y0, y1, xs in bands:
        y0, y1 = between_lines(y0), between_lines(y1)
        if y0 > cursor:
            add([(xl, xr)], cursor, y0)
        edges = [xl] + [int(round(x)) for x in sorted(xs)] + [xr]
        add(list(zip(edges, edges[1:])), max(y0, cursor), y1)
        cursor = max(cursor, y1)
    end = min(len(blank_rows), yb + pad)
    if end > cursor:
        add([(xl, xr)], cursor, end)
    if all(r.columns == 1 for r in regions):
        return full
    return regions


def count_lines(image: "Image") -> int:
    """How many lines of text ``image`` (one column) holds, from its rows of ink: runs of inked
    rows at least 0.4 of the typical run's height (a line of dots or marks alone is no line)."""
    import numpy as np

    grey = np.asarray(image.convert("L"))
    rows = (grey < 128).sum(axis=1) >= 2
    runs = [b - a for a, b in _runs(rows)]
    if not runs:
        return 0
    typical = sorted(runs)[len(runs) * 3 // 4]
    return sum(1 for r in runs if r >= 0.4 * typical)
