"""The CI gate: compare a run's figures with ``evals/thresholds.toml``.

The file has one table per set; a key is a metric name (``evals.metrics.ALL_METRICS``) and
applies to the whole set; a sub-table per language (``[xquad.en]``) applies to that slice::

    [seeds]
    citation_hit = 0.85     # a floor: fail when the figure is below it
    false_abstention = 0.1  # lower-is-better metrics: a ceiling, fail when above it

    [xquad.en]
    recall_at_5 = 0.95

A threshold on a metric the run did not measure (e.g. ``abstention`` on a set with no
unanswerable question) fails as "not measured": a gate must not pass by accident.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from evals.metrics import ALL_METRICS, LOWER_IS_BETTER
from settings.errors import SanadError

THRESHOLDS_PATH = Path(__file__).resolve().parent / "thresholds.toml"


class ThresholdsError(SanadError, RuntimeError):
    """The thresholds file is missing, malformed, or has nothing for this set."""

    code = "thresholds_invalid"


@dataclass(frozen=True)
class Check:
    set: str
    slice: str
    metric: str
    threshold: float
    value: float | None

    @property
    def lower_is_better(self) -> bool:
        return self.metric in LOWER_IS_BETTER

    @property
    def passed(self) -> bool:
        if self.value is None:
            return False
        # compare at the precision thresholds are written in, so 0.85 passes 0.8499999
        value = round(self.value, 6)
        return value <= self.threshold if self.lower_is_better else value >= self.threshold

    def describe(self) -> str:
        where = self.set if self.slice == "all" else f"{self.set}.{self.slice}"
        op = "<=" if self.lower_is_better else ">="
        if self.value is None:
            return f"{where} {self.metric}: not measured (threshold {op} {self.threshold:g})"
        shown = f"{self.value:.1f}" if self.metric.endswith("_ms") else f"{self.value:.3f}"
        verdict = "ok" if self.passed else ("above" if self.lower_is_better else "below")
        return f"{where} {self.metric} = {shown} {verdict} threshold ({op} {self.threshold:g})"

    def to_json(self) -> dict[str, Any]:
        return {"set": self.set, "slice": self.slice, "metric": self.metric, "threshold": self.threshold,
                "value": self.value, "passed": self.passed,
                "direction": "max" if self.lower_is_better else "min"}


def load_thresholds(path: Path = THRESHOLDS_PATH) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ThresholdsError(f"no thresholds file at {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ThresholdsError(f"{path}: {exc}") from exc


def thresholds_for(table: Mapping[str, Any], set_name: str) -> dict[str, dict[str, float]]:
    """``{slice: {metric: threshold}}`` for one set; errors on unknown names or values."""
    section = table.get(set_name)
    if not isinstance(section, Mapping) or not section:
        raise ThresholdsError(f"no [{set_name}] thresholds in {THRESHOLDS_PATH.name}: add some to gate this set")
    out: dict[str, dict[str, float]] = {}

    def take(slice_name: str, values: Mapping[str, Any]) -> None:
        for metric, value in values.items():
            if isinstance(value, Mapping):
                if slice_name != "all":
                    raise ThresholdsError(f"[{set_name}.{slice_name}.{metric}]: too deep")
                take(metric, value)
                continue
            if metric not in ALL_METRICS:
                raise ThresholdsError(f"[{set_name}] unknown metric {metric!r}; known: {', '.join(ALL_METRICS)}")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ThresholdsError(f"[{set_name}] {metric} must be a number, not {value!r}")
            out.setdefault(slice_name, {})[metric] = float(value)

    take("all", section)
    return out


def check(figures: Mapping[str, Mapping[str, float | None]], thresholds: Mapping[str, Mapping[str, float]],
          set_name: str) -> list[Check]:
    """Compare Sanad's figures (``{slice: {metric: value}}``) with one set's thresholds."""
    checks = []
    for slice_name, metrics in thresholds.items():
        got = figures.get(slice_name, {})
        for metric, threshold in metrics.items():
            checks.append(Check(set_name, slice_name, metric, threshold, got.get(metric)))
    return checks
