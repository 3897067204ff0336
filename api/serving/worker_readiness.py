"""Readiness across the processes of ``sanad serve --workers N``.

A request reaches any one of the N worker processes (``api.serving.worker_sockets``), so one
worker's "loaded" says nothing of the others: a client that saw ``/readyz`` 200 could
still be answered ``503 not_ready`` by a worker whose model is loading. ``sanad serve`` makes a
folder for the run and tells every worker of it (and of N) through the environment; a worker
that has loaded writes a marker named by its process id there, and ``/readyz`` is 200 only when
N live workers have. (Process wiring, not a setting: the names are not ``SANAD_`` variables.)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

#: the run's marker folder, set by ``sanad serve`` for its workers
READY_DIR_ENV = "_SANAD_SERVE_READY_DIR"
#: how many workers ``sanad serve`` started
WORKERS_ENV = "_SANAD_SERVE_WORKERS"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


class WorkerReadiness:
    """The markers of one ``sanad serve`` run: ``folder`` holds one file per ready worker."""

    def __init__(self, folder: Path, *, workers: int) -> None:
        self.folder = Path(folder)
        self.workers = workers

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> "WorkerReadiness | None":
        """The run this process is a worker of, or None (a single process: its own readiness is all)."""
        environ = os.environ if environ is None else environ
        folder, workers = environ.get(READY_DIR_ENV), environ.get(WORKERS_ENV)
        if not folder or not workers or not workers.isdigit() or int(workers) < 2:
            return None
        return cls(Path(folder), workers=int(workers))

    def environ(self) -> dict[str, str]:
        """What the workers need in their environment to find this run."""
        return {READY_DIR_ENV: str(self.folder), WORKERS_ENV: str(self.workers)}

    def mark_ready(self, pid: int | None = None) -> None:
        """This process (or ``pid``) has loaded."""
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / str(pid or os.getpid())).touch()

    def ready_workers(self) -> int:
        """Live workers that have loaded (a worker that died and was replaced counts once, anew)."""
        try:
            names = [p.name for p in self.folder.iterdir()]
        except OSError:
            return 0
        return sum(1 for name in names if name.isdigit() and _alive(int(name)))

    def all_ready(self) -> bool:
        return self.ready_workers() >= self.workers
