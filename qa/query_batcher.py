"""Questions that arrive together are encoded together ("natural batching").

The encoder is the bottleneck of answering: a model encodes a batch of questions in much
less time than the same questions one at a time. :class:`QueryBatcher` gives every caller
its own vector while the model sees batches:

- when the encoder is idle, a question is encoded at once, alone (a lone question never
  waits for a window);
- questions that arrive while a batch is being encoded queue up, and are encoded together
  as the next batch, oldest first, at most ``max_batch`` at a time;
- ``window_ms`` > 0: a batch formed under load waits up to that long for more questions,
  until it holds as many as the batch before it held plus the questions that queued behind
  that batch (at least 2, at most ``max_batch``). Under load means its first question had to
  queue, or found the encoder idle less than ``window_ms`` (or less than that batch took)
  after a batch of several: the callers of that batch, answered, are asking again (composing
  their answers first, one after another), and a question encoded alone there costs nearly
  what a batch of them does. Counting those queued behind merges two groups of callers
  that would otherwise take turns in two smaller batches (5 and 3 where 8 ask) for good;
- when a batch fails, its questions are encoded one by one, so one bad text fails only
  its own caller.

There is no background thread: the first caller that finds the encoder idle encodes the
queued batch in its own thread, the others wait for their vectors. With ``lanes`` > 1 (by
default one per core this process may run on: :func:`default_lanes`) as many batches are
encoded at once, each by one of its callers' threads: questions that queue behind a batch
start the next batch on an idle core instead of waiting (the embedder's forward passes run
in parallel; only its tokenizer is serialised). Batch sizes are counted
(:attr:`QueryBatcher.sizes`) for ``sanad_query_batch_size`` in ``/metrics``.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from typing import Callable, Sequence

import numpy as np

#: encodes a list of texts into one row per text
EncodeFn = Callable[[Sequence[str]], np.ndarray]


class _Pending:
    """One caller's text, and (once done) its vector or its error."""

    __slots__ = ("text", "vector", "error", "done", "queued", "taken")

    def __init__(self, text: str, *, queued: bool) -> None:
        self.text = text
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False
        self.queued = queued  # it arrived while a batch was being encoded
        self.taken = False  # it is in a batch being encoded


class QueryBatcher:
    """Encodes concurrent callers' texts in shared batches; thread-safe.

    Parameters
    ----------
    encode: the model call, ``texts -> array`` with one row per text (e.g. an embedder's
        ``embed_queries``); called by one thread at a time.
    max_batch: at most this many texts per call (1 = no batching).
    window_ms: how long a batch formed under load waits for more texts (0 = not at all).
    lanes: how many batches may be encoded at once, each in its caller's thread (``encode``
        must then be safe to call from several threads at once): questions that queue while
        one batch is encoded start the next on another core instead of waiting for it.
    """

    def __init__(self, encode: EncodeFn, *, max_batch: int, window_ms: float = 0.0, lanes: int = 1) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if lanes < 1:
            raise ValueError("lanes must be at least 1")
        if window_ms < 0:
            raise ValueError("window_ms must not be negative")
        self._encode = encode
        self.max_batch = max_batch
        self.window_s = window_ms / 1000.0
        self.lanes = lanes
        self._queue: list[_Pending] = []
        self._active = 0  # batches being encoded now
        self._last_size = 0  # the size of the last batch, when it ended, and how long it took
        self._last_end = 0.0
        self._last_took = 0.0
        self._cond = threading.Condition()
        #: how many batches of each size were encoded
        self.sizes: Counter[int] = Counter()

    def encode(self, text: str) -> np.ndarray:
        """The vector of ``text`` (the row ``encode([text])`` gives); raises what encoding
        ``text`` alone raises."""
        with self._cond:
            item = _Pending(text, queued=self._active > 0)
            self._queue.append(item)
            self._cond.notify_all()  # a batch gathering companions counts arrivals
        while True:
            with self._cond:
                while not item.done and (item.taken or self._active >= self.lanes):
                    self._cond.wait()
                if item.done:
                    break
                self._active += 1  # this thread encodes the next batch
                # under load: it queued, or the encoder has been idle for less than the window (or than
                # the last batch of several took: its callers compose their answers before asking again)
                waited = self._queue[0].queued or (
                    self._last_size > 1
                    and time.monotonic() - self._last_end < max(self.window_s, self._last_took))
                # the callers of the last batch (answered, they ask again) and those queued behind it
                behind = sum(1 for p in self._queue if p.queued)
                expect = min(self.max_batch, max(self._last_size + behind, 2))
            try:
                if waited and self.window_s > 0 and len(self._queue) < expect:
                    deadline = time.monotonic() + self.window_s  # under load: let more questions join
                    with self._cond:
                        while len(self._queue) < expect and (left := deadline - time.monotonic()) > 0:
                            self._cond.wait(left)
                with self._cond:
                    batch = self._queue[:self.max_batch]
                    del self._queue[:self.max_batch]
                    for pending in batch:
                        pending.taken = True
                if batch:  # (another lane may have taken every queued text meanwhile)
                    self._run(batch)
            finally:
                with self._cond:
                    self._active -= 1
                    self._cond.notify_all()
        if item.error is not None:
            raise item.error
        assert item.vector is not None
        return item.vector

    def batch_sizes(self) -> dict[int, int]:
        """A copy of :attr:`sizes`: how many batches of each size were encoded."""
        with self._cond:
            return dict(self.sizes)

    def _run(self, batch: list[_Pending]) -> None:
        """Encode ``batch``; each item ends done, with its vector or its own error."""
        started = time.monotonic()
        try:
            try:
                vectors = self._checked([p.text for p in batch])
            except Exception:  # noqa: BLE001 - find whose text it was: one by one
                if len(batch) == 1:
                    raise
                for pending in batch:
                    try:
                        pending.vector = self._checked([pending.text])[0]
                    except Exception as exc:  # noqa: BLE001 - this caller's error, raised in its thread
                        pending.error = exc
            else:
                for pending, vector in zip(batch, vectors):
                    pending.vector = vector
        except Exception as exc:  # noqa: BLE001 - a lone text's own error
            batch[0].error = exc
        finally:
            for pending in batch:
                if pending.vector is None and pending.error is None:
                    pending.error = RuntimeError("encoding the question was interrupted")
            with self._cond:
                self.sizes[len(batch)] += 1
                self._last_size, self._last_end = len(batch), time.monotonic()
                self._last_took = self._last_end - started
                for pending in batch:
                    pending.done = True

    def _checked(self, texts: list[str]) -> np.ndarray:
        vectors = np.asarray(self._encode(texts))
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise RuntimeError(f"the encoder returned {vectors.shape} for {len(texts)} texts")
        return vectors


def default_lanes() -> int:
    """One lane per core this process may run on (its CPU affinity)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


__all__ = ["QueryBatcher", "default_lanes"]
