"""Cores of their own for the workers of ``sanad serve --workers N`` (Linux).

Left to the scheduler, the threads of two workers (each a torch thread encoding, an event loop,
Chroma's and anyio's threads) wander over both cores: a worker's encoder is preempted by the
other worker's Python and resumes on the other core, its cache cold. Kept to a core each
(``SANAD_PIN_WORKERS``, on by default), two workers on two cores answered 8-11 % more requests
per second at 16 clients, with less system time (docs/throughput.md).

``sanad serve`` splits the cores it may use into one disjoint set of ``SANAD_TORCH_THREADS``
cores per worker (:func:`core_sets`; nothing is pinned when they do not fit, or when a CPU
quota says the cores are shared with other containers: :func:`cpu_quota`) and tells the
workers through the environment. Every worker has the same arguments, so each claims a set by
locking its slot file in a folder of the run (:meth:`CoreSlots.claim`); the lock lives as long
as the worker, so a worker that dies frees its set for the one uvicorn starts in its place.
(Process wiring, not a setting: the variable names are not ``SANAD_`` ones.)
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

#: the run's slot folder and the core sets, set by ``sanad serve`` for its workers
CORES_DIR_ENV = "_SANAD_SERVE_CORES_DIR"
CORE_SETS_ENV = "_SANAD_SERVE_CORE_SETS"

#: the platform can keep a process's threads to chosen cores
SUPPORTED = hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity")


def usable_cores() -> list[int]:
    """The cores this process may run on, in order."""
    return sorted(os.sched_getaffinity(0)) if SUPPORTED else list(range(os.cpu_count() or 1))


def cpu_quota(cgroup_root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """How many CPUs' time this process's cgroup may use in all (a CFS quota, as a container's CPU
    limit sets), or None when there is none or it cannot be read. Under a quota the cores are
    shared with other cgroups: they are not this server's to divide among its workers."""
    try:
        quota, period = (cgroup_root / "cpu.max").read_text().split()[:2]  # cgroup v2
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    for folder in ("cpu", "cpu,cpuacct"):  # cgroup v1
        try:
            quota_us = int((cgroup_root / folder / "cpu.cfs_quota_us").read_text())
            period_us = int((cgroup_root / folder / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        return None if quota_us <= 0 else quota_us / period_us
    return None


def core_sets(cores: Sequence[int], *, workers: int, threads: int) -> list[tuple[int, ...]]:
    """``workers`` disjoint sets of ``threads`` cores taken in order from ``cores``, or ``[]``
    when there are fewer than two workers or they do not fit (then the OS places them)."""
    if workers < 2 or threads < 1 or workers * threads > len(cores):
        return []
    return [tuple(cores[i * threads:(i + 1) * threads]) for i in range(workers)]


def pin_process(cores: Sequence[int]) -> None:
    """Keep every thread of this process, and the threads it starts later, to ``cores``."""
    wanted = set(cores)
    os.sched_setaffinity(0, wanted)  # this thread, and what it starts from now on
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return
    for tid in tids:  # threads already running (a library's pool)
        try:
            os.sched_setaffinity(tid, wanted)
        except OSError:  # the thread ended meanwhile
            pass


@dataclass
class CoreClaim:
    """A worker's core set, held until the process ends (its slot file stays locked)."""

    slot: int
    cores: tuple[int, ...]
    _lock: IO[bytes] = field(repr=False)


class CoreSlots:
    """The core sets of one ``sanad serve`` run and the folder where workers claim them."""

    def __init__(self, folder: Path, sets: Sequence[Sequence[int]]) -> None:
        self.folder = Path(folder)
        self.sets = [tuple(s) for s in sets]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> "CoreSlots | None":
        """The run this process is a worker of, when it pins its workers; else None."""
        environ = os.environ if environ is None else environ
        folder, encoded = environ.get(CORES_DIR_ENV), environ.get(CORE_SETS_ENV)
        if not folder or not encoded:
            return None
        try:
            sets = [tuple(int(c) for c in part.split(",")) for part in encoded.split(";")]
        except ValueError:
            return None
        return cls(Path(folder), sets)

    def environ(self) -> dict[str, str]:
        """What the workers need in their environment to claim a set."""
        return {CORES_DIR_ENV: str(self.folder), CORE_SETS_ENV: ";".join(",".join(map(str, s)) for s in self.sets)}

    def claim(self) -> CoreClaim | None:
        """The first set no live worker holds (its slot file locked by this process), or None."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for slot, cores in enumerate(self.sets):
            lock = open(self.folder / f"slot-{slot}", "wb")  # noqa: SIM115 - held open for the process's life
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                continue
            return CoreClaim(slot=slot, cores=cores, _lock=lock)
        return None


__all__ = ["CORES_DIR_ENV", "CORE_SETS_ENV", "SUPPORTED", "CoreClaim", "CoreSlots", "core_sets", "cpu_quota",
           "pin_process", "usable_cores"]
