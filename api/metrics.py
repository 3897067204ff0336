"""Prometheus metrics on a per-app ``CollectorRegistry`` (tests build many apps)."""

from __future__ import annotations

import time
from typing import Callable, Iterator

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
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from starlette.routing import Match

from api.security import ASGIApp, Message, Receive, Scope, Send
from qa.answer_cache import AnswerCache
from qa.query_batcher import QueryBatcher
from qa.models import Answer

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: upper bounds of ``sanad_query_batch_size``'s buckets (questions per encoder call)
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: the values of ``sanad_feedback_total{value=...}``
FEEDBACK_VALUES = ("helpful", "not_helpful")


class Metrics:
    """The app's counters, histograms and gauges."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
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
        self.documents = Gauge("sanad_documents", "documents in the index", registry=r)
        self.paragraphs = Gauge("sanad_paragraphs", "paragraphs in the index", registry=r)
        self.chunks = Gauge("sanad_chunks", "chunks (embedded units) in the index", registry=r)
        self.ready = Gauge("sanad_ready", "1 once the model and stores are loaded", registry=r)
        self.conversations = Gauge("sanad_conversations", "conversations held in memory", registry=r)
        self.feedback = Counter("sanad_feedback_total", "feedback on answers (Slack buttons) by value",
                                ["value"], registry=r)
        for value in FEEDBACK_VALUES:
            self.feedback.labels(value)  # both series exist (at 0) before the first vote

    def observe_answer(self, answer: Answer) -> None:
        for stage, ms in answer.timings_ms.items():
            self.stages.labels(stage).observe(ms / 1000.0)
        self.answers.labels(answer.language, str(answer.answerable).lower()).inc()

    def observe_feedback(self, value: str) -> None:
        """One vote: ``helpful`` or ``not_helpful``."""
        if value not in FEEDBACK_VALUES:
            raise ValueError(f"unknown feedback value: {value!r}")
        self.feedback.labels(value).inc()

    def watch_answer_cache(self, cache: AnswerCache) -> None:
        """``sanad_answer_cache_total{result="hit"|"miss"}``, read from ``cache`` at each scrape."""
        self.registry.register(_AnswerCacheCollector(cache))

    def watch_query_batcher(self, batcher: QueryBatcher) -> None:
        """``sanad_query_batch_size``: questions per encoder call, read from ``batcher`` at each scrape."""
        self.registry.register(_QueryBatchCollector(batcher))

    def set_counts(self, counts: dict[str, int]) -> None:
        self.documents.set(counts.get("documents", 0))
        self.paragraphs.set(counts.get("paragraphs", 0))
        self.chunks.set(counts.get("chunks", 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _matching_path(routes: list, scope: Scope) -> str | None:
    """The path template of the route ``scope`` would reach (included routers searched too:
    FastAPI resolves those lazily, so they name no path themselves)."""
    for candidate in routes:
        try:
            match, _ = candidate.matches(scope)
        except Exception:  # noqa: BLE001 - a route that cannot match this scope
            continue
        if match == Match.NONE:
            continue
        path = getattr(candidate, "path", None)
        if path:
            return str(path)
        inner = getattr(getattr(candidate, "original_router", None), "routes", None)
        if inner:
            found = _matching_path(list(inner), scope)
            if found:
                return found
    return None


class _AnswerCacheCollector:
    """Reports an :class:`~qa.answer_cache.AnswerCache`'s counts as a Prometheus counter."""

    def __init__(self, cache: AnswerCache) -> None:
        self.cache = cache

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily("sanad_answer_cache", "answers to repeated questions: hits (answered "
                                     "without encoding) and misses", labels=["result"])
        family.add_metric(["hit"], self.cache.hits)
        family.add_metric(["miss"], self.cache.misses)
        yield family


class _QueryBatchCollector:
    """Reports a :class:`~qa.query_batcher.QueryBatcher`'s batch sizes as a Prometheus histogram."""

    def __init__(self, batcher: QueryBatcher) -> None:
        self.batcher = batcher

    def collect(self) -> Iterator[HistogramMetricFamily]:
        sizes = self.batcher.batch_sizes()
        buckets = [(str(float(bound)), sum(n for size, n in sizes.items() if size <= bound))
                   for bound in BATCH_SIZE_BUCKETS]
        buckets.append(("+Inf", sum(sizes.values())))
        yield HistogramMetricFamily("sanad_query_batch_size", "questions encoded together in one call of the "
                                    "model (more than 1 when questions arrive at once)", buckets=buckets,
                                    sum_value=float(sum(size * n for size, n in sizes.items())))


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (not its raw path)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, routes: Callable[[], list]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    def _route_of(self, scope: Scope) -> str:
        route = scope.get("route")
        path = getattr(route, "path", None)
        if path:
            return str(path)
        return _matching_path(self.routes(), scope) or "unmatched"  # answered before routing (401, 413, 429)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def recording_send(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                status["code"] = int(msg["status"])  # type: ignore[arg-type]
            await send(msg)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = self._route_of(scope)
            method = str(scope.get("method", ""))
            code = str(status["code"])
            self.metrics.requests.labels(method, route, code).inc()
            self.metrics.latency.labels(method, route, code).observe(time.perf_counter() - started)
