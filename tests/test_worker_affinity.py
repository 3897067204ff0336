"""``sanad serve --workers N``: each worker keeps to cores of its own (api.serving.worker_affinity)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.serving.server import core_slots
from api.serving.worker_affinity import CoreSlots, core_sets, cpu_quota, usable_cores
from settings import Settings
from tests.api_fixtures import child_pids, serve_workers

REPO = Path(__file__).resolve().parents[1]


def test_core_sets_split_the_cores_into_disjoint_sets_of_threads() -> None:
    assert core_sets([0, 1], workers=2, threads=1) == [(0,), (1,)]
    assert core_sets([0, 1, 2, 3], workers=2, threads=2) == [(0, 1), (2, 3)]
    assert core_sets([2, 5, 7, 9], workers=3, threads=1) == [(2,), (5,), (7,)]  # the cores this process may use
    assert core_sets([0, 1], workers=3, threads=1) == []  # more workers than cores: the OS places them
    assert core_sets([0, 1, 2], workers=2, threads=2) == []
    assert core_sets([0, 1], workers=1, threads=1) == []  # one worker: nothing to keep apart


def test_core_slots_follow_the_setting_and_the_fit(tmp_path: Path) -> None:
    cores = usable_cores()
    whole = float(len(cores))  # no CPU quota below the cores (the machine's own is tested below)
    slots = core_slots(Settings(data_dir=tmp_path), len(cores), quota=whole)
    if len(cores) >= 2:
        assert slots is not None and slots.sets == [(c,) for c in cores]
    else:
        assert slots is None
    assert core_slots(Settings(data_dir=tmp_path, pin_workers=False), len(cores), quota=whole) is None
    assert core_slots(Settings(data_dir=tmp_path), len(cores) + 1, quota=whole) is None
    assert core_slots(Settings(data_dir=tmp_path), 1, quota=whole) is None


def test_a_cpu_quota_means_the_cores_are_shared(tmp_path: Path) -> None:
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.max").write_text("150000 100000\n")
    assert cpu_quota(v2) == 1.5
    (v2 / "cpu.max").write_text("max 100000\n")
    assert cpu_quota(v2) is None
    v1 = tmp_path / "v1" / "cpu,cpuacct"
    v1.mkdir(parents=True)
    (v1 / "cpu.cfs_quota_us").write_text("200000\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    assert cpu_quota(tmp_path / "v1") == 2.0
    (v1 / "cpu.cfs_quota_us").write_text("-1\n")
    assert cpu_quota(tmp_path / "v1") is None
    assert cpu_quota(tmp_path / "none") is None
    cores = usable_cores()
    if len(cores) >= 2:  # a container limited to fewer CPUs than it sees: its workers are not pinned
        assert core_slots(Settings(data_dir=tmp_path), 2, quota=len(cores) - 0.5) is None
        assert core_slots(Settings(data_dir=tmp_path), 2, quota=float(len(cores))) is not None


def test_the_environment_carries_the_sets_to_the_workers(tmp_path: Path) -> None:
    slots = CoreSlots(tmp_path, [(0, 1), (2, 3)])
    again = CoreSlots.from_environ(slots.environ())
    assert again is not None and again.folder == tmp_path and again.sets == [(0, 1), (2, 3)]
    assert CoreSlots.from_environ({}) is None
    assert CoreSlots.from_environ({**slots.environ(), "_SANAD_SERVE_CORE_SETS": "0;x"}) is None


_CLAIMER = """
import sys
from api.serving.worker_affinity import CoreSlots
claim = CoreSlots.from_environ().claim()
print(claim.slot if claim else "none", flush=True)
sys.stdin.read()  # hold the claim until told to end
"""


def test_each_process_claims_a_free_set_and_a_dead_one_frees_its_own(tmp_path: Path) -> None:
    env = {**os.environ, **CoreSlots(tmp_path / "slots", [(0,), (1,)]).environ(), "PYTHONPATH": str(REPO)}

    def start() -> tuple[subprocess.Popen[str], str]:
        proc = subprocess.Popen([sys.executable, "-c", _CLAIMER], cwd=REPO, env=env, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        return proc, proc.stdout.readline().strip()

    procs = []
    try:
        first, second, third = start(), start(), start()
        procs += [first[0], second[0], third[0]]
        assert [first[1], second[1], third[1]] == ["0", "1", "none"]
        first[0].kill()  # a worker dies: uvicorn starts another, which takes the freed set
        first[0].wait(timeout=10)
        replacement = start()
        procs.append(replacement[0])
        assert replacement[1] == "0"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.communicate(input="", timeout=10)


def _affinities(pid: int) -> set[str]:
    """The ``Cpus_allowed_list`` of every thread of ``pid``."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
        except OSError:
            continue
        found |= {line.split(":", 1)[1].strip() for line in status.splitlines() if line.startswith("Cpus_allowed_list")}
    return found


def _worker_pids(server_pid: int) -> list[int]:
    """uvicorn's workers among the server's children (multiprocessing's resource tracker is another)."""
    return [pid for pid in child_pids(server_pid)
            if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()]


@pytest.mark.integration
def test_serve_keeps_each_worker_to_a_core_of_its_own(tmp_path: Path, seeds_copy: Path) -> None:
    cores = usable_cores()
    quota = cpu_quota()
    shared = quota is not None and quota < len(cores)  # a container's CPU limit: not pinned
    expected = [] if shared else core_sets(cores, workers=2, threads=1)
    with serve_workers(tmp_path, seeds_copy) as (_, proc):
        workers = _worker_pids(proc.pid)
        assert len(workers) == 2, workers
        seen = [_affinities(pid) for pid in workers]
    if expected:  # every thread of a worker (torch's, Chroma's, the event loop) on that worker's core
        assert sorted(seen, key=sorted) == [{str(c)} for (c,) in expected], seen
    else:  # one core, or cores shared under a quota: the OS places them, on every core the server may use
        own = {line.split(":", 1)[1].strip() for line in Path("/proc/self/status").read_text().splitlines()
               if line.startswith("Cpus_allowed_list")}
        assert seen == [own, own], seen
