"""The report files of ``sanad eval``: ``--report`` (HTML), ``--junit`` (XML), ``--compare``.

:func:`prepare` runs before the eval (minutes of work), so a bad ``--compare`` file or an
output path that cannot be written stops it at once with a clear message (exit 2).
:func:`finish` runs after the gate: it compares, prints what changed, stores the comparison
in the JSON report (``compare``) and writes the HTML and JUnit files. The gate's verdict is
never changed by these files; a file that cannot be written makes the exit status 2.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.compare import CompareError, compare, load_previous, render_compare
from evals.report_html import write_html
from evals.report_junit import write_junit
from settings.errors import SanadError


class OutputError(SanadError, RuntimeError):
    """An output path cannot be written; the message says which and why."""

    code = "output_failed"


@dataclass(frozen=True)
class Outputs:
    """What the run should write, and the previous report to compare with."""

    html: Path | None = None
    junit: Path | None = None
    previous: dict[str, Any] | None = None
    previous_path: Path | None = None


def _writable(path_text: str | None, flag: str) -> Path | None:
    if not path_text:
        return None
    path = Path(path_text)
    if path.is_dir():
        raise OutputError(f"{flag}: {path} is a folder; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{flag}: cannot create the folder {path.parent}: {exc.strerror or exc}") from exc
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OutputError(f"{flag}: {path} is not writable")
    return path


def prepare(args: argparse.Namespace) -> Outputs:
    """Check ``args.report`` / ``args.junit`` can be written and read ``args.compare``.

    Raises :class:`OutputError` or :class:`evals.compare.CompareError`."""
    previous_path = getattr(args, "compare", None)
    previous = load_previous(Path(previous_path)) if previous_path else None
    return Outputs(html=_writable(getattr(args, "report", None), "--report"),
                   junit=_writable(getattr(args, "junit", None), "--junit"),
                   previous=previous, previous_path=Path(previous_path) if previous_path else None)


def finish(report: dict[str, Any], outputs: Outputs, *, out: Any, err: Any) -> int:
    """Compare (adds ``report["compare"]``), print, and write the files; 0, or 2 when a file
    could not be written."""
    if outputs.previous is not None:
        report["compare"] = compare(outputs.previous, report, previous_path=str(outputs.previous_path))
        render_compare(report["compare"], out)
    status = 0
    for path, writer, what in ((outputs.html, write_html, "HTML report"), (outputs.junit, write_junit, "JUnit XML")):
        if path is None:
            continue
        try:
            writer(report, path)
        except OSError as exc:
            err.print(f"error: could not write the {what} to {path}: {exc.strerror or exc}", highlight=False,
                      markup=False, soft_wrap=True)
            status = 2
            continue
        err.print(f"{what} written to {path}", highlight=False, markup=False, soft_wrap=True)
    return status


__all__ = ["CompareError", "OutputError", "Outputs", "finish", "prepare"]
