"""Prometheus metrics on a per-app ``CollectorRegistry`` (tests build many apps): what the service
records (answers, feedback, index size) and the HTTP edge counts (``api.http.metrics_middleware``).

With ``sanad serve --workers N`` every worker process counts its own requests, answers and
batches, and a scrape reaches one worker. The supervisor then names a folder of the run in
``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode, read when the worker
imports it): each worker writes its values there and ``/metrics`` reports all the workers
together (counters and histograms summed; index-size gauges the largest, ``sanad_ready`` the
smallest, conversations summed). Per-process collectors (RSS, CPU, fds) have no meaning summed
and are left out in that mode.
"""

from __future__ import annotations

import os
import threading

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from qa.answer_cache import AnswerCache
from qa.models import Answer
from qa.query_batcher import QueryBatcher

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: upper bounds of ``sanad_query_batch_size``'s buckets (questions per encoder call)
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: the values of ``sanad_feedback_total{value=...}``
FEEDBACK_VALUES = ("helpful", "not_helpful")
#: prometheus-client's multiprocess folder (set by ``sanad serve --workers N`` for its workers)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    """The app's counters, histograms and gauges: this process's, or with ``PROMETHEUS_MULTIPROC_DIR``
    set before prometheus-client was imported (the workers of ``sanad serve --workers N``), those
    of every process writing to that folder."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None
        self.registry = CollectorRegistry(auto_describe=True)
        if not self.multiprocess_dir:
            ProcessCollector(registry=self.registry)   # process_resident_memory_bytes, cpu, fds
            PlatformCollector(registry=self.registry)
        r = self.registry
        self.requests = Counter("sanad_http_requests_total", "HTTP requests by method, route and status",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("sanad_http_request_duration_seconds",
                                 "HTTP request latency (until the last body byte) by method, route and status",
                                 ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=r)
        self.stages = Histogram("sanad_ask_stage_seconds",
                                "answering time by stage: encode (question embedding), retrieve "
                                "(dense + lexical + fusion), answer (compose), total",
                                ["stage"], buckets=STAGE_BUCKETS, registry=r)
        self.answers = Counter("sanad_answers_total", "answers by language and answerability",
                               ["language", "answerable"], registry=r)
        self.documents = Gauge("sanad_documents", "documents in the index", registry=r, multiprocess_mode="max")
        self.paragraphs = Gauge("sanad_paragraphs", "paragraphs in the index", registry=r, multiprocess_mode="max")
        self.chunks = Gauge("sanad_chunks", "chunks (embedded units) in the index", registry=r,
                            multiprocess_mode="max")
        self.ready = Gauge("sanad_ready", "1 once the model and stores are loaded (in every worker)", registry=r,
                           multiprocess_mode="min")
        self.conversations = Gauge("sanad_conversations", "conversations held in memory", registry=r,
                                   multiprocess_mode="sum")
        self.feedback = Counter("sanad_feedback_total", "feedback on answers (Slack buttons) by value",
                                ["value"], registry=r)
        for value in FEEDBACK_VALUES:
            self.feedback.labels(value)  # both series exist (at 0) before the first vote
        self.answer_cache = Counter("sanad_answer_cache", "answers to repeated questions: hits (answered "
                                    "without encoding) and misses", ["result"], registry=r)
        self.batch_size = Histogram("sanad_query_batch_size", "questions encoded together in one call of the "
                                    "model (more than 1 when questions arrive at once)",
                                    buckets=BATCH_SIZE_BUCKETS, registry=r)
        self._cache: AnswerCache | None = None
        self._batcher: QueryBatcher | None = None
        self._seen_cache = (0, 0)
        self._seen_batches: dict[int, int] = {}
        self._sync_lock = threading.Lock()

    def observe_answer(self, answer: Answer) -> None:
        for stage, ms in answer.timings_ms.items():
            self.stages.labels(stage).observe(ms / 1000.0)
        self.answers.labels(answer.language, str(answer.answerable).lower()).inc()
        self.sync()

    def observe_feedback(self, value: str) -> None:
        """One vote: ``helpful`` or ``not_helpful``."""
        if value not in FEEDBACK_VALUES:
            raise ValueError(f"unknown feedback value: {value!r}")
        self.feedback.labels(value).inc()

    def watch_answer_cache(self, cache: AnswerCache) -> None:
        """``sanad_answer_cache_total{result="hit"|"miss"}``: ``cache``'s counts, brought in after each
        answer and at each scrape (:meth:`sync`)."""
        self._cache = cache
        for result in ("hit", "miss"):
            self.answer_cache.labels(result)
        self.sync()

    def watch_query_batcher(self, batcher: QueryBatcher) -> None:
        """``sanad_query_batch_size``: questions per encoder call, from ``batcher`` (:meth:`sync`)."""
        self._batcher = batcher
        self.sync()

    def sync(self) -> None:
        """Bring the watched cache's and batcher's counts into the metrics (their increase since
        the last sync): written where every worker's scrape can read it in multiprocess mode."""
        with self._sync_lock:
            if self._cache is not None:
                hits, misses = self._cache.hits, self._cache.misses
                seen_hits, seen_misses = self._seen_cache
                if hits < seen_hits or misses < seen_misses:  # a cache replaced: count from its zero
                    seen_hits, seen_misses = 0, 0
                if hits > seen_hits:
                    self.answer_cache.labels("hit").inc(hits - seen_hits)
                if misses > seen_misses:
                    self.answer_cache.labels("miss").inc(misses - seen_misses)
                self._seen_cache = (hits, misses)
            if self._batcher is not None:
                sizes = self._batcher.batch_sizes()
                for size, n in sizes.items():
                    for _ in range(n - self._seen_batches.get(size, 0)):
                        self.batch_size.observe(size)
                self._seen_batches = dict(sizes)

    def set_counts(self, counts: dict[str, int]) -> None:
        self.documents.set(counts.get("documents", 0))
        self.paragraphs.set(counts.get("paragraphs", 0))
        self.chunks.set(counts.get("chunks", 0))

    def render(self) -> bytes:
        self.sync()
        if not self.multiprocess_dir:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self.multiprocess_dir)
        return generate_latest(merged)
