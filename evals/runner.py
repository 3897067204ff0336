"""``sanad eval``: index a set's corpus into a temp dir, ask every question, report, gate.

The user's data dir is never touched: the corpus is indexed into a fresh temporary data
dir (embedded Chroma, even when ``SANAD_CHROMA_URL`` is set). The embedding model is
loaded once and shared by the indexer and the answerer. For each question:

1. ``Answerer.ask`` (what a user gets; its ``timings_ms["total"]`` is the latency);
2. ``Answerer.retrieve(top_k=10)`` (hybrid) for Sanad's retrieval metrics;
3. with ``--baseline``, the same with ``RetrievalMode.LEXICAL`` (plain BM25) and ``DENSE``.

A question asked against a corpus that lacks its document (XQuAD's absent-article
questions) leaves those files out with a retrieval filter (``qa.retrieval.exclude_files``).

Query vectors are cached by text, so steps 2-3 reuse the vector step 1 computed (the
encode in step 1 is real, so latency is honest); passages are never cached.

Exit status of :func:`run_cli`: 0 done (and the gate passed), 1 the gate failed,
2 the eval could not run (missing data, bad gold set, bad thresholds file).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np
from llama_index.core.vector_stores.types import MetadataFilters
from pydantic import PrivateAttr

from evals.gate import THRESHOLDS_PATH, Check, check, load_thresholds, thresholds_for
from evals.metrics import (
    ANSWER_METRICS,
    RETRIEVAL_DEPTH,
    RETRIEVAL_METRICS,
    CitedSpan,
    RetrievedChunk,
    Row,
    by_kind,
    summarize,
)
from evals.sets import EvalSet, GoldItem, load_set, resolve_gold
from index.catalog import Catalog
from index.embedding import SanadEmbedding, build_embedder
from qa.language import detect_language
from qa.retrieval import RetrievalMode, exclude_files
from settings import Settings
from settings.errors import SanadError

#: retrieval systems compared: report key -> ``Answerer.retrieve`` mode
SYSTEMS = {"sanad": RetrievalMode.HYBRID, "bm25": RetrievalMode.LEXICAL, "dense": RetrievalMode.DENSE}
SYSTEM_LABELS = {"sanad": "Sanad (hybrid)", "bm25": "BM25", "dense": "dense"}


class EvalError(SanadError, RuntimeError):
    """The eval cannot run or its inputs are inconsistent; the message says why."""

    code = "eval_failed"


class AnswererLike(Protocol):
    catalog: Catalog

    def ask(self, question: str, *, top_k: int | None = None,
            filters: MetadataFilters | None = None) -> Any: ...

    def retrieve(self, question: str, *, top_k: int | None = None, mode: RetrievalMode = RetrievalMode.HYBRID,
                 filters: MetadataFilters | None = None) -> list[Any]: ...

    def close(self) -> None: ...


AnswererFactory = Callable[[Settings, SanadEmbedding], AnswererLike]


# --------------------------------------------------------------------------- embedder
class QueryCachingEmbedding(SanadEmbedding):
    """Wraps an embedder; remembers query vectors by text (passages pass straight through)."""

    _inner: Any = PrivateAttr()
    _cache: Any = PrivateAttr()
    _max: int = PrivateAttr(default=8192)

    def __init__(self, inner: SanadEmbedding, *, max_entries: int = 8192) -> None:
        super().__init__(model_name=inner.model_name, embed_batch_size=inner.embed_batch_size)
        self._inner = inner
        self._cache = OrderedDict()
        self._max = max_entries

    @classmethod
    def class_name(cls) -> str:
        return "QueryCachingEmbedding"

    @property
    def inner(self) -> SanadEmbedding:
        return self._inner

    def embed_documents(self, texts: Sequence[str], *, title: str = "") -> np.ndarray:
        return self._inner.embed_documents(texts, title=title) if title else self._inner.embed_documents(texts)

    def embed_passages(self, texts: Sequence[str], titles: Sequence[str] | None = None) -> np.ndarray:
        return self._inner.embed_passages(texts, titles)

    def embed_documents_and_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], *,
                                  titles: Sequence[str] | None = None, late: bool = False
                                  ) -> tuple[np.ndarray, list[np.ndarray]]:
        return self._inner.embed_documents_and_spans(texts, spans, titles=titles, late=late)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for text, vec in zip(missing, self._inner.embed_queries(missing), strict=True):
                self._cache[text] = np.asarray(vec, dtype=np.float32)
                if len(self._cache) > self._max:
                    self._cache.popitem(last=False)
        if not texts:
            return self._inner.embed_queries(texts)
        vectors = []
        for text in texts:
            vec = self._cache.get(text)
            if vec is None:  # evicted within this very call (huge batch): encode again
                vec = np.asarray(self._inner.embed_queries([text])[0], dtype=np.float32)
            vectors.append(vec)
        return np.stack(vectors)

    @property
    def dimension(self) -> int:
        return self._inner.dimension


# --------------------------------------------------------------------------- progress
class _Progress:
    """A rich progress display on stderr (no-op when ``console`` is None)."""

    def __init__(self, console: Any | None) -> None:
        self.bar = None
        self.console = console
        if console is not None:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            self.bar = Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                                console=console, transient=False)

    def __enter__(self) -> "_Progress":
        if self.bar is not None and self.console.is_terminal:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None and self.console.is_terminal:
            self.bar.stop()

    def task(self, description: str, total: int) -> Callable[[int], None]:
        if self.bar is None:
            return lambda n: None
        if not self.console.is_terminal:  # CI logs: a plain line at every 10%, not a live bar
            return self._log_lines(description, total)
        task_id = self.bar.add_task(description, total=total)
        return lambda n: self.bar.advance(task_id, n)

    def _log_lines(self, description: str, total: int) -> Callable[[int], None]:
        state = {"done": 0, "next": 0.1, "t0": time.perf_counter()}

        def advance(n: int) -> None:
            state["done"] += n
            if total and (state["done"] / total >= state["next"] or state["done"] >= total):
                while state["next"] <= state["done"] / total:
                    state["next"] += 0.1
                elapsed = time.perf_counter() - state["t0"]
                self.console.print(f"{description}: {state['done']}/{total} ({elapsed:.0f}s)", highlight=False)

        return advance

    def index_sink_factory(self) -> Callable[[int], Any] | None:
        if self.bar is None:
            return None
        from index.indexer import ProgressSink

        progress = self

        class Sink(ProgressSink):
            def __init__(self, total: int) -> None:
                self._advance = progress.task("indexing", total)

            def advance(self, n: int) -> None:
                self._advance(n)

            def close(self) -> None:
                pass

        return Sink


# --------------------------------------------------------------------------- evaluation
def _chunks(nodes: Sequence[Any]) -> list[RetrievedChunk]:
    out = []
    for n in nodes:
        meta = n.node.metadata
        out.append(RetrievedChunk(file=meta["file"], paragraphs=[int(p) for p in meta["paragraphs"]],
                                  dense=meta.get("dense"), lexical=meta.get("lexical")))
    return out


def evaluate(items: Sequence[GoldItem], gold: dict[str, list[tuple[str, int]]], answerer: AnswererLike,
             *, systems: Sequence[str] = ("sanad",), ask: bool = True,
             advance: Callable[[int], None] = lambda n: None) -> list[Row]:
    """Ask every item and retrieve for each system; one :class:`Row` per item."""
    from qa.answerer import QuestionError

    texts: dict[str, str | None] = {}

    def document_text(file: str) -> str | None:
        if file not in texts:
            texts[file] = answerer.catalog.document_text(file)
        return texts[file]

    rows = []
    for item in items:
        question = item.question.strip()
        row = Row(id=item.id, lang=item.lang, question=question, answerable=item.answerable,
                  gold=list(gold.get(item.id, [])), answers=list(item.answers), kind=item.kind)
        try:
            extra = {"filters": exclude_files(item.exclude_files)} if item.exclude_files else {}
            if ask:
                answer = answerer.ask(question, **extra)
                row.asked = True
                row.predicted_answerable = bool(answer.answerable)
                row.answer = answer.answer
                row.latency_ms = float(answer.timings_ms.get("total")) if answer.timings_ms.get("total") is not None else None
                for c in answer.citations:
                    text = document_text(c.file)
                    row.citations.append(CitedSpan(
                        file=c.file, paragraph=c.paragraph, quote=c.quote, char_start=c.char_start,
                        char_end=c.char_end,
                        verbatim=text is not None and text[c.char_start:c.char_end] == c.quote))
            for system in systems:
                row.retrieved[system] = _chunks(answerer.retrieve(question, top_k=RETRIEVAL_DEPTH,
                                                                  mode=SYSTEMS[system], **extra))
        except QuestionError as exc:
            row.error = str(exc)
            row.asked = False
        rows.append(row)
        advance(1)
    return rows


def _settings_summary(settings: Settings) -> dict[str, Any]:
    keys = ("embed_model", "top_k", "candidates", "lexical_weight_ar", "lexical_weight_en",
            "min_similarity", "max_citations", "torch_threads", "embed_batch_size")
    return {k: getattr(settings, k) for k in keys}


# --------------------------------------------------------------------------- answerers
#: ``--answerer`` choices -> the answerers asked, in report order (the first one is gated)
ANSWERER_MODES = {"extractive": ("extractive",), "llm": ("llm",), "both": ("extractive", "llm")}
#: the side-by-side figures per answerer
ANSWERER_METRICS = ("answer_hit", "citation_precision", "citation_hit", "language_match", "abstention",
                    "false_abstention", "fallback", "flagged", "latency_p50_ms")


class _Recording:
    """Wraps an answerer: records, per question, what the metrics rows do not keep (which
    answerer answered, its language, flags, and the LLM's claim checks)."""

    def __init__(self, inner: Any, *, extractive_only: bool = False) -> None:
        self.inner = inner
        self.catalog = inner.catalog
        self.extractive_only = extractive_only
        self.records: dict[str, dict[str, Any]] = {}

    def ask(self, question: str, *, top_k: int | None = None, **options: Any) -> Any:
        writer = getattr(self.inner, "writer", None)
        if self.extractive_only and writer is not None:
            answer = self.inner.ask(question, top_k=top_k, use_writer=False, **options)
        else:
            if writer is not None:
                writer.last_trace = None
            answer = self.inner.ask(question, top_k=top_k, **options)
        record: dict[str, Any] = {
            "answerer": getattr(answer, "answerer", "extractive"), "language": answer.language,
            "answer_language": detect_language(answer.answer) if answer.answer.strip() else answer.language,
            "unsupported_claims": list(getattr(answer, "unsupported_claims", []) or []),
            "warnings": list(getattr(answer, "warnings", []) or []),
        }
        trace = None if self.extractive_only or writer is None else writer.last_trace
        if trace is not None:
            record["llm"] = {
                "raw": trace.raw, "seconds": round(trace.seconds, 2), "fallback": trace.fallback,
                "first_token_s": None if trace.first_token_s is None else round(trace.first_token_s, 2),
                "evidence": [{"file": f, "paragraph": p} for f, p in trace.evidence],
                "claims": [{"text": v.claim.text, "refs": v.claim.refs, "kept": v.kept, "removed": v.removed,
                            "invalid": v.invalid, "uncited": v.uncited, "abstains": v.abstains,
                            "scores": list(v.supports[0].all_scores) if v.supports else None,
                            "supports": [{"ref": x.ref, "cosine": x.cosine, "numbers_ok": x.numbers_ok,
                                          "supported": x.supported} for x in v.supports]}
                           for v in trace.verdicts],
            }
        self.records[question.strip()] = record
        return answer

    def retrieve(self, question: str, *, top_k: int | None = None, mode: RetrievalMode = RetrievalMode.HYBRID,
                 **options: Any) -> list[Any]:
        return self.inner.retrieve(question, top_k=top_k, mode=mode, **options)

    def close(self) -> None:
        pass


def answerer_metrics(rows: Sequence[Row], records: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """Per answerer: the answer metrics, plus ``language_match`` (share of answers whose text
    reads as the question's language), ``fallback`` (share answered by another answerer than
    the one asked, e.g. the LLM falling back to extractive) and ``flagged`` (share with
    unsupported claims listed)."""
    from evals.metrics import answer_metrics as _answer_metrics

    figures = _answer_metrics(rows)
    asked = [r for r in rows if r.asked and r.error is None]
    recs = [records.get(r.question, {}) for r in asked]
    n = len(asked)
    figures["language_match"] = (sum(1 for r, rec in zip(asked, recs) if rec.get("answer_language") == r.lang) / n
                                 if n else None)
    return figures


def _answerer_summary(rows: Sequence[Row], records: dict[str, dict[str, Any]], requested: str) -> dict[str, Any]:
    from evals.metrics import slices

    out = {}
    for name, part in slices(rows).items():
        figures = answerer_metrics(part, records)
        asked = [r for r in part if r.asked and r.error is None]
        recs = [records.get(r.question, {}) for r in asked]
        figures["fallback"] = (sum(1 for rec in recs if rec.get("answerer", requested) != requested) / len(asked)
                               if asked else None)
        figures["flagged"] = (sum(1 for rec in recs if rec.get("unsupported_claims")) / len(asked)
                              if asked else None)
        out[name] = {k: figures.get(k) for k in ANSWERER_METRICS}
    return out


def run_eval(eval_set: EvalSet, settings: Settings, *, baseline: bool = False,
             embedder: SanadEmbedding | None = None, answerer_factory: AnswererFactory | None = None,
             console: Any | None = None, answerer_mode: str = "extractive",
             index_settings: Settings | None = None) -> dict[str, Any]:
    """Index ``eval_set``'s corpus into a temp data dir, run it, and return the full report.

    ``index_settings``: ask an existing index instead (a collection's, ``sanad eval
    --collection``): nothing is indexed, and the gold set must match what that index holds.

    ``answerer_mode``: ``extractive`` (default), ``llm`` (``qa.generative``, configured by the
    ``SANAD_LLM_*`` settings) or ``both`` (each question asked of both; the extractive one
    is the report's main figures and the gate)."""
    from index.indexer import Indexer
    from qa.answerer import Answerer

    if answerer_mode not in ANSWERER_MODES:
        raise EvalError(f"unknown answerer {answerer_mode!r}: choose one of {', '.join(ANSWERER_MODES)}")
    names = ANSWERER_MODES[answerer_mode]

    systems = ["sanad", "bm25", "dense"] if baseline else ["sanad"]
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sanad-eval-") as tmp, _Progress(console) as progress:
        run_settings = index_settings or settings.model_copy(update={
            "data_dir": Path(tmp) / "data", "chroma_url": None, "chroma_collection": "sanad_eval"})
        t0 = time.perf_counter()
        base = embedder if embedder is not None else build_embedder(run_settings)
        shared = base if isinstance(base, QueryCachingEmbedding) else QueryCachingEmbedding(base)
        timings["load_model"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        if index_settings is not None:  # a collection's index, as it is
            from index.catalog import Catalog

            catalog = Catalog(index_settings.catalog_path)
            try:
                counts = catalog.counts()
            finally:
                catalog.close()
        else:
            indexer = Indexer(run_settings, embedder=shared)
            try:
                report = indexer.index(eval_set.corpus_paths, progress=progress.index_sink_factory())
                counts = indexer.catalog.counts()
            finally:
                indexer.close()
            if report.errors:
                raise EvalError("could not index the corpus: "
                                + "; ".join(f"{f}: {m}" for f, m in report.errors.items()))
        timings["index"] = time.perf_counter() - t0

        if answerer_factory is not None:
            factory = answerer_factory
        elif "llm" in names:
            factory = lambda s, e: Answerer(s.model_copy(update={"answerer": "llm"}), embedder=e)  # noqa: E731
        else:
            factory = lambda s, e: Answerer(s, embedder=e)  # noqa: E731
        answerer = factory(run_settings, shared)
        recorders = {name: _Recording(answerer, extractive_only=name == "extractive") for name in names}
        extra_rows: dict[str, list[Row]] = {}
        try:
            gold, problems = resolve_gold(eval_set.items, answerer.catalog)
            if problems:
                shown = "; ".join(problems[:5]) + (f"; ... {len(problems) - 5} more" if len(problems) > 5 else "")
                raise EvalError(f"the gold set does not match the indexed corpus: {shown}")
            t0 = time.perf_counter()
            rows = evaluate(eval_set.items, gold, recorders[names[0]], systems=systems,
                            advance=progress.task("questions", len(eval_set.items)))
            for name in names[1:]:
                extra_rows[name] = evaluate(eval_set.items, gold, recorders[name], systems=(),
                                            advance=progress.task(name, len(eval_set.items)))
            timings["questions"] = time.perf_counter() - t0
        finally:
            answerer.close()
    timings["total"] = time.perf_counter() - started

    metrics = summarize(rows, systems)
    all_rows = {names[0]: rows, **extra_rows}
    answerers = {name: _answerer_summary(all_rows[name], recorders[name].records, name) for name in names}
    row_json = []
    for r in rows:
        out = r.to_json()
        out.update(recorders[names[0]].records.get(r.question, {}))
        row_json.append(out)
    extra_json = {}
    for name, part in extra_rows.items():
        extra_json[name] = []
        for r in part:
            out = r.to_json()
            out.pop("retrieved", None)
            out.update(recorders[name].records.get(r.question, {}))
            extra_json[name].append(out)
    return {
        "set": eval_set.name,
        "description": eval_set.description,
        "sample": eval_set.sample,
        "corpus": {"root": str(eval_set.corpus_root), **counts},
        "systems": systems,
        "settings": _settings_summary(settings),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": {k: round(v, 1) for k, v in timings.items()},
        "counts": metrics.pop("counts"),
        "metrics": metrics,
        "by_kind": by_kind(rows) if len({r.kind for r in rows}) > 1 else {},
        "answerer": answerer_mode,
        "answerers": answerers,
        "rows": row_json,
        **({"rows_by_answerer": extra_json} if extra_json else {}),
    }


# --------------------------------------------------------------------------- output
def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric.endswith("_ms"):
        return f"{value:,.0f}"
    return f"{value:.3f}"


def render(report: dict[str, Any], console: Any) -> None:
    """The readable tables: Sanad per slice; with baselines, retrieval side by side."""
    from rich.table import Table

    metrics = report["metrics"]
    slices = list(metrics["sanad"])
    counts = report["counts"]
    title = f"sanad eval: {report['set']} ({report['description']})"
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    for name in slices:
        c = counts[name]
        table.add_column(f"{name}\n{c['questions']} q ({c['unanswerable']} unans.)", justify="right")
    for metric in RETRIEVAL_METRICS + ANSWER_METRICS:
        table.add_row(metric, *(_fmt(metric, metrics["sanad"][s].get(metric)) for s in slices))
    console.print(table)

    if len(report["systems"]) > 1:
        comp = Table(title=f"retrieval, top {RETRIEVAL_DEPTH} chunks: Sanad vs baselines", title_justify="left")
        comp.add_column("slice")
        comp.add_column("system")
        for metric in RETRIEVAL_METRICS:
            comp.add_column(metric, justify="right")
        for name in slices:
            for system in report["systems"]:
                comp.add_row(name, SYSTEM_LABELS[system],
                             *(_fmt(m, metrics[system][name].get(m)) for m in RETRIEVAL_METRICS),
                             end_section=system == report["systems"][-1])
        console.print(comp)
    answerers = report.get("answerers") or {}
    if len(answerers) > 1 or "llm" in answerers:
        side = Table(title="answers by answerer (language_match: answer in the question's language; fallback: "
                     "answered by another answerer; flagged: unsupported claims listed)", title_justify="left")
        side.add_column("metric")
        names = list(answerers)
        columns = [(name, who) for name in slices for who in names]
        for name, who in columns:
            side.add_column(f"{name}\n{who}", justify="right")
        for metric in ANSWERER_METRICS:
            side.add_row(metric, *(_fmt(metric, answerers[who].get(name, {}).get(metric)) for name, who in columns))
        console.print(side)
    secs = report["seconds"]
    console.print(f"model {secs.get('load_model', 0):.0f}s, index {secs.get('index', 0):.0f}s "
                  f"({report['corpus']['paragraphs']} paragraphs), questions {secs.get('questions', 0):.0f}s, "
                  f"total {secs.get('total', 0):.0f}s", highlight=False)


def render_gate(checks: Sequence[Check], console: Any) -> None:
    failed = [c for c in checks if not c.passed]
    for c in checks:
        mark = "[green]pass[/]" if c.passed else "[red]FAIL[/]"
        console.print(f"gate {mark} {c.describe()}", highlight=False)
    if failed:
        console.print(f"[red]gate failed[/]: {len(failed)} of {len(checks)} checks: "
                      + ", ".join(sorted({c.metric for c in failed})), highlight=False)
    else:
        console.print(f"[green]gate passed[/]: {len(checks)} checks", highlight=False)


# --------------------------------------------------------------------------- CLI
def run_cli(args: argparse.Namespace, *, settings: Settings, embedder: SanadEmbedding | None = None,
            answerer_factory: AnswererFactory | None = None, thresholds_path: Path | None = None) -> int:
    """``sanad eval``: ``args`` has ``set``, ``limit``, ``json_path``, ``gate``, ``baseline``
    and optionally ``report``, ``junit``, ``compare`` (paths; see ``evals/outputs.py``).

    ``embedder``, ``answerer_factory`` and ``thresholds_path`` are for tests.
    """
    from rich.console import Console

    from evals.outputs import finish, prepare

    out = Console(soft_wrap=False)
    err = Console(stderr=True)
    spec = getattr(args, "set", "seeds") or "seeds"
    limit = getattr(args, "limit", None)
    try:
        corpus = getattr(args, "corpus", None)
        eval_set = load_set(spec, limit=limit, corpus=Path(corpus) if corpus else None)
        thresholds = None
        if getattr(args, "gate", False):
            thresholds = thresholds_for(load_thresholds(thresholds_path or THRESHOLDS_PATH), eval_set.name)
        outputs = prepare(args)  # --report / --junit / --compare: checked before the long run
        index_settings = None
        if getattr(args, "collection", None):  # ask that collection's index as it is
            from index.collections import Collections

            index_settings = Collections(settings).settings_for(args.collection)
        report = run_eval(eval_set, settings, baseline=bool(getattr(args, "baseline", False)),
                          embedder=embedder, answerer_factory=answerer_factory, console=err,
                          answerer_mode=getattr(args, "answerer", None) or "extractive",
                          index_settings=index_settings)
        if index_settings is not None:
            report["collection"] = args.collection
    except SanadError as exc:  # a set, thresholds file, output path, model or store that cannot be used
        err.print(f"error: {exc}", highlight=False, markup=False)
        return 2

    render(report, out)
    status = 0
    if thresholds is not None:
        checks = check(report["metrics"]["sanad"], thresholds, eval_set.name)
        report["gate"] = {"thresholds": str(thresholds_path or THRESHOLDS_PATH),
                          "passed": all(c.passed for c in checks), "checks": [c.to_json() for c in checks]}
        render_gate(checks, out)
        failed = [c for c in checks if not c.passed]
        if failed:
            for c in failed:
                err.print(f"gate failed: {c.describe()}", highlight=False, markup=False)
            status = 1
    status = max(status, finish(report, outputs, out=out, err=err))  # compare, HTML, JUnit (evals/outputs.py)
    json_path = getattr(args, "json_path", None)
    if json_path:
        path = Path(json_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        err.print(f"report written to {path}", highlight=False)
    return status
