"""How many worker processes ``sanad serve`` starts when ``--workers`` is not given.

The rule (measured with ``bench/throughput.py``, README "Throughput"):

- **embedded store** (no ``SANAD_CHROMA_URL``): 1 worker. Each worker has its own copy of
  the embedded vector index, so a document uploaded through one worker would not reach the
  other workers' dense search until a restart: more workers would serve stale answers.
- **Chroma server mode**: one worker per ``SANAD_TORCH_THREADS`` cores, as many as the
  available memory holds at :data:`WORKER_BYTES` each (two models per worker with
  ``SANAD_UPLOAD_EMBEDDER=separate``), keeping :data:`RESERVE_BYTES` free; at least 1.

``--workers N`` always overrides it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from settings import Settings

#: resident memory of one worker after load with one model (EmbeddingGemma, float32), measured
MODEL_WORKER_BYTES = 1_500 * 2**20
#: the second model a worker loads for uploads with SANAD_UPLOAD_EMBEDDER=separate, measured
UPLOAD_MODEL_BYTES = 700 * 2**20
#: memory left to the rest of the machine (the OS, a Chroma server, an indexer)
RESERVE_BYTES = 1 * 2**30


@dataclass(frozen=True)
class WorkerChoice:
    """The number of workers and why (logged at start-up)."""

    workers: int
    reason: str


def available_memory_bytes(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """MemAvailable from ``/proc/meminfo`` (None where there is none, e.g. macOS)."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def default_workers(settings: Settings, *, cores: int | None = None,
                    available_bytes: int | None = None) -> WorkerChoice:
    """The worker count for ``settings`` on this machine (``cores`` / ``available_bytes``:
    the machine's, read here when not given)."""
    if settings.chroma_url is None:
        return WorkerChoice(1, "embedded store: one worker (uploads would not reach other workers' dense search)")
    cores = cores if cores is not None else (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                             else os.cpu_count() or 1)
    by_cores = max(1, cores // settings.torch_threads)
    per_worker = MODEL_WORKER_BYTES + (UPLOAD_MODEL_BYTES if settings.upload_embedder == "separate" else 0)
    available = available_bytes if available_bytes is not None else available_memory_bytes()
    if available is None:
        return WorkerChoice(by_cores, f"{cores} cores / {settings.torch_threads} torch thread(s); memory unknown")
    by_memory = max(1, (available - RESERVE_BYTES) // per_worker)
    workers = int(min(by_cores, by_memory))
    return WorkerChoice(workers, f"{cores} cores / {settings.torch_threads} torch thread(s) = {by_cores}; "
                        f"{available / 2**30:.1f} GiB available / {per_worker / 2**30:.1f} GiB per worker "
                        f"= {by_memory}")


__all__ = ["WorkerChoice", "available_memory_bytes", "default_workers"]
