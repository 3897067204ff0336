"""How many worker processes ``sanad serve`` starts when ``--workers`` is not given.

The rule (measured with ``bench/throughput.py``, docs/throughput.md):

- **embedded store** (no ``SANAD_CHROMA_URL``): 1 worker. Each worker has its own copy of
  the embedded vector index, so a document uploaded through one worker would not reach the
  other workers' dense search until a restart: more workers would serve stale answers.
- **Chroma server mode**: one worker per ``SANAD_TORCH_THREADS`` cores (on 2 cores, 2 workers x
  1 thread answered 1.7-1.9x the requests of 1 x 1 at 16-32 clients, and more than 1 x 2), as
  many as the available memory holds at :data:`WORKER_BYTES` each, keeping
  :data:`RESERVE_BYTES` free; at least 1.

``--workers N`` always overrides it. Several workers each keep to cores of their own when they
fit (``api.serving.worker_affinity``, ``SANAD_PIN_WORKERS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from api.serving.worker_affinity import usable_cores
from settings import StoreSettings

#: resident memory of one worker (EmbeddingGemma, float32, default settings with the upload
#: model) after 32 concurrent clients: 1659 MiB with two workers (batches of about 14), 2037 MiB
#: with one (batches of about 18, up to ``SANAD_QUERY_BATCH_MAX`` 32) (bench/throughput.py)
WORKER_BYTES = 2_100 * 2**20
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


def default_workers(settings: StoreSettings, *, cores: int | None = None,
                    available_bytes: int | None = None) -> WorkerChoice:
    """The worker count for ``settings`` on this machine (``cores`` / ``available_bytes``:
    the machine's, read here when not given)."""
    if settings.chroma_url is None:
        return WorkerChoice(1, "embedded store: one worker (uploads would not reach other workers' dense search)")
    cores = cores if cores is not None else len(usable_cores())
    by_cores = max(1, cores // settings.torch_threads)
    per_worker = WORKER_BYTES
    available = available_bytes if available_bytes is not None else available_memory_bytes()
    if available is None:
        return WorkerChoice(by_cores, f"{cores} cores / {settings.torch_threads} torch thread(s); memory unknown")
    by_memory = max(1, (available - RESERVE_BYTES) // per_worker)
    workers = int(min(by_cores, by_memory))
    return WorkerChoice(workers, f"{cores} cores / {settings.torch_threads} torch thread(s) = {by_cores}; "
                        f"{available / 2**30:.1f} GiB available / {per_worker / 2**30:.1f} GiB per worker "
                        f"= {by_memory}")


__all__ = ["WorkerChoice", "available_memory_bytes", "default_workers"]
