"""``python -m evals.sweep``: one setting changed at a time, measured on several sets in one run.

Each set's corpus is indexed once (into ``--index-dir``, reused by later runs: the indexer
skips unchanged files), the model is loaded once and query vectors are cached by text, so
a variant that changes only retrieval or answer settings costs retrieval and composition,
not encoding. Every variant is a full :func:`evals.runner.evaluate` pass with an
``Answerer`` built from the base settings plus the variant's overrides; dense and BM25
baselines are measured once per set.

    python -m evals.sweep --set arcd-train --set tydiqa-ar:200 --set xquad:12 --set seeds \\
        --variant "margin0:answer_margin=0" --variant "cm05:citation_margin=0.05"

A set is ``NAME`` or ``NAME:LIMIT`` (as ``sanad eval --set NAME --limit LIMIT``); a variant is
``LABEL:field=value;field=value`` over :class:`settings.Settings` fields (values read as JSON,
else as text). Settings that change what is indexed (the document prompt) need their own
``--index-dir``: give ``--index-tag`` to keep such indexes apart.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from evals.kept_index import KeptIndexError, kept_index
from evals.metrics import summarize
from evals.runner import QueryCachingEmbedding, evaluate
from evals.sets import load_set, resolve_gold
from settings import Settings, apply_runtime_defaults

#: the figures a sweep prints per set and variant (metric, slice)
COLUMNS = ("recall_at_1", "recall_at_5", "first_citation_hit", "citation_hit", "citation_precision",
           "answer_hit", "false_abstention", "abstention")
SHORT = {"recall_at_1": "R@1", "recall_at_5": "R@5", "first_citation_hit": "1st cit",
         "citation_hit": "cit hit", "citation_precision": "cit prec", "answer_hit": "ans hit",
         "false_abstention": "false abst", "abstention": "abst"}


def parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_variant(spec: str) -> tuple[str, dict[str, Any]]:
    label, _, body = spec.partition(":")
    update: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in body.split(";"))):
        key, eq, value = part.partition("=")
        if not eq or key.strip() not in Settings.model_fields:
            raise SystemExit(f"bad variant part {part!r}: expected FIELD=VALUE with a Settings field")
        update[key.strip()] = parse_value(value.strip())
    return label or "base", update


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.sweep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", dest="sets", action="append", required=True, help="NAME or NAME:LIMIT")
    parser.add_argument("--variant", dest="variants", action="append", default=[], help="LABEL:field=value;...")
    parser.add_argument("--index-dir", type=Path, default=Path(".sweep-index"), help="indexes kept between runs")
    parser.add_argument("--index-tag", default="default", help="a name for what the index was built with")
    parser.add_argument("--index-settings", default="", help="field=value;... used when indexing")
    parser.add_argument("--no-baseline", action="store_true", help="skip the dense and BM25 baselines")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    args = parser.parse_args(argv)
    apply_runtime_defaults()
    from index.embedding import build_embedder
    from qa.answerer import Answerer

    base = Settings()
    _, index_update = parse_variant("index:" + args.index_settings)
    variants = [("base", {})] + [parse_variant(v) for v in args.variants]
    embedder = QueryCachingEmbedding(build_embedder(base.model_copy(update=index_update)))
    results: dict[str, Any] = {}
    for spec in args.sets:
        name, _, limit = spec.partition(":")
        eval_set = load_set(name, limit=int(limit) if limit else None)
        data_dir = args.index_dir / args.index_tag / f"{name}-{limit or 'all'}"
        try:
            run = kept_index(eval_set, base, embedder, data_dir, **index_update)
        except KeptIndexError as exc:
            print(exc, file=sys.stderr)
            return 2
        results[spec] = {}
        for n, (label, update) in enumerate(variants):
            answerer = Answerer(run.model_copy(update=update), embedder=embedder)
            try:
                gold, problems = resolve_gold(eval_set.items, answerer.catalog)
                if problems:
                    print(f"{name}: gold problems: {problems[:3]}", file=sys.stderr)
                    return 2
                systems = ("sanad", "dense", "bm25") if n == 0 and not args.no_baseline else ("sanad",)
                rows = evaluate(eval_set.items, gold, answerer, systems=systems)
            finally:
                answerer.close()
            figures = summarize(rows, systems)
            results[spec][label] = figures
            line = "  ".join(f"{SHORT[c]} {fmt(figures['sanad']['all'].get(c))}" for c in COLUMNS)
            print(f"{spec:<16} {label:<22} {line}", flush=True)
            if n == 0 and not args.no_baseline:
                for system in ("dense", "bm25"):
                    f = figures[system]["all"]
                    print(f"{spec:<16} {'(' + system + ')':<22} R@1 {fmt(f['recall_at_1'])}  R@5 {fmt(f['recall_at_5'])}",
                          flush=True)
            if "en" in figures["sanad"] and "ar" in figures["sanad"]:
                for lang in ("ar", "en"):
                    f = figures["sanad"][lang]
                    print(f"{'':<16} {'  ' + lang:<22} R@1 {fmt(f['recall_at_1'])}  1st cit "
                          f"{fmt(f['first_citation_hit'])}  cit hit {fmt(f['citation_hit'])}  false abst "
                          f"{fmt(f['false_abstention'])}", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    return 0


def fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"


if __name__ == "__main__":
    raise SystemExit(main())
