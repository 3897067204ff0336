"""``python -m evals.train_ranker``: retrain the learned ranker from the shared dev data.

1. The rows (``evals.ranker_data``): each set's corpus indexed once and every question's
   leading candidates turned into features; kept in ``--data-dir`` between runs.
2. The articles of the CI gate's samples (``--holdout``) are never trained on: the gate and
   the figures printed for them are measured on articles the model never saw.
3. Cross-validation by article (``--folds``): every figure printed for the dev sets is on
   held-out folds, against the fixed rules (the fused ranking) and dense retrieval alone.
4. The ranking is LightGBM's lambdarank; its held-out scores are calibrated into a probability
   (a logistic fit of the score and its gap to the question's best), and the probability thresholds (abstain below, cite a further candidate from) are set on the
   held-out predictions, then the model is trained on every row outside the holdout and
   written with its manifest (data, features, seed, library version, parameters, metrics,
   thresholds, the settings the candidates were made with) to ``--out``.

    python -m evals.train_ranker                       # the defaults below, into qa/ranker/
    python -m evals.train_ranker --sets arcd-train,xquad:12 --out /tmp/ranker --folds 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from evals.ranker_data import DEPTH, SetData, load_or_extract
from evals.sets import load_set
from qa.ranker_model import DEFAULT_RANKER_DIR, MANIFEST_FILE, MODEL_FILE, file_sha256, settings_fingerprint
from qa.ranking_features import FEATURES, FEATURES_VERSION
from settings import Settings, apply_runtime_defaults

DEFAULT_SETS = "arcd-train,tydiqa-ar:300,xquad,xquad-en"
#: the CI gate's samples (Makefile): their articles are held out of training
DEFAULT_HOLDOUT = "arcd-train:12,tydiqa-ar:40,xquad:12,xquad-en:12"
SEED = 20261207
PARAMS: dict[str, Any] = {
    "objective": "binary", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 20,
    "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
    "deterministic": True, "force_row_wise": True, "num_threads": 2, "verbose": -1,
}
ROUNDS = 300


# --------------------------------------------------------------------------- data
class Rows:
    """Every set's rows joined, with per-row question and per-question metadata."""

    def __init__(self, sets: Sequence[SetData]) -> None:
        xs, ys, qs, self.questions = [], [], [], []
        for data in sets:
            offset = len(self.questions)
            xs.append(data.x)
            ys.append(data.y)
            qs.append(data.question + offset)
            set_name = data.name.rsplit("-", 1)[0]  # "<set>-<limit or all>"
            self.questions.extend({**q, "set": set_name} for q in data.questions)
        self.x = np.concatenate(xs)
        self.y = np.concatenate(ys)
        self.q = np.concatenate(qs)

    def rows_of(self, questions: np.ndarray) -> np.ndarray:
        return np.flatnonzero(np.isin(self.q, questions))


def holdout_articles(specs: str) -> set[str]:
    """``set/file`` of every article in the gate samples ``specs`` (``NAME:LIMIT,...``)."""
    out: set[str] = set()
    for spec in filter(None, (s.strip() for s in specs.split(","))):
        name, _, limit = spec.partition(":")
        eval_set = load_set(name, limit=int(limit) if limit else None)
        for file in eval_set.sample.get("files") or []:
            out.add(f"{name}/{file}")
    return out


def article_key(question: dict[str, Any]) -> str:
    """``set/file`` (the stored article is ``<name>-<limit>/<file>``)."""
    data_name, _, file = question["article"].partition("/")
    return f"{question['set']}/{file}"


def folds_by_article(questions: Sequence[int], articles: Sequence[str], k: int, seed: int) -> list[np.ndarray]:
    """``k`` folds of question indexes, whole articles to a fold (a seeded shuffle)."""
    names = sorted(set(articles))
    random.Random(seed).shuffle(names)
    fold_of = {name: i % k for i, name in enumerate(names)}
    folds: list[list[int]] = [[] for _ in range(k)]
    for qi, article in zip(questions, articles):
        folds[fold_of[article]].append(qi)
    return [np.array(f, dtype=np.int64) for f in folds]


# --------------------------------------------------------------------------- model
def train(x: np.ndarray, y: np.ndarray, q: np.ndarray, *, seed: int, objective: str = "binary") -> Any:
    """LightGBM over the questions' candidate lists (``q``: each row's question, rows of one
    question together): ``binary`` (each candidate answers or not) or ``lambdarank``."""
    import lightgbm

    params = {**PARAMS, "seed": seed, "objective": objective}
    _, first, counts = np.unique(q, return_index=True, return_counts=True)
    data = lightgbm.Dataset(x, label=y, group=counts[np.argsort(first)], feature_name=list(FEATURES))
    return lightgbm.train(params, data, num_boost_round=ROUNDS)


def calibration_inputs(scores: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(score, score minus its question's best score) per row: what the calibration reads."""
    best = np.full(q.max() + 1 if len(q) else 0, -np.inf)
    np.maximum.at(best, q, scores)
    return np.column_stack([scores, scores - best[q]])


def calibrate(scores: np.ndarray, q: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """A logistic calibration (scikit-learn) of held-out ranking scores into the probability
    that a candidate answers: ``sigmoid(coef . (score, gap to the best) + intercept)``."""
    from sklearn.linear_model import LogisticRegression

    fit = LogisticRegression(C=10.0).fit(calibration_inputs(scores, q), y)
    return {"coef": [float(c) for c in fit.coef_[0]], "intercept": float(fit.intercept_[0]),
            "inputs": ["score", "gap_to_best"]}


def probabilities(scores: np.ndarray, q: np.ndarray, calibration: dict[str, Any]) -> np.ndarray:
    z = calibration_inputs(scores, q) @ np.asarray(calibration["coef"]) + calibration["intercept"]
    return 1.0 / (1.0 + np.exp(-z))


# --------------------------------------------------------------------------- figures
def per_question(rows: Rows, questions: np.ndarray, scores: np.ndarray) -> list[dict[str, Any]]:
    """For each question: labels and scores of its candidates in the given score's order."""
    out = []
    for qi in questions:
        idx = np.flatnonzero(rows.q == qi)
        out.append({"q": int(qi), "labels": rows.y[idx], "scores": scores[idx], "x": rows.x[idx]})
    return out


def figures(items: Sequence[dict[str, Any]], questions: Sequence[dict[str, Any]], *, ranker: bool,
            abstain_below: float | dict[str, float] = 0.0, cite_from: float = 1.0,
            overrule_from: float | dict[str, float] = 0.0) -> dict[str, Any]:
    """Recall@1 and (with ``ranker``) the thresholds' first-citation hit, citation hit and
    precision (by gold paragraph only), false abstention and abstention. A question is answered
    when its best probability reaches ``abstain_below`` and either reaches ``overrule_from`` or
    the fixed rules answered it (as the composer decides)."""
    rank_col = FEATURES.index("rank")
    dense_col = FEATURES.index("dense_rank")
    def abstains(it: dict[str, Any]) -> bool:
        if len(it["scores"]) == 0:
            return True
        best = float(it["scores"].max())
        fixed_answered = bool((questions[it["q"]].get("today") or {}).get("answered", True))
        lang = questions[it["q"]]["lang"]
        overrule = overrule_from.get(lang, 1.01) if isinstance(overrule_from, dict) else overrule_from
        return best < floor(it) or (best < overrule and not fixed_answered)

    def floor(it: dict[str, Any]) -> float:
        """The abstention threshold for the question's language (one for all, or per language)."""
        if isinstance(abstain_below, dict):
            return abstain_below.get(questions[it["q"]]["lang"], 0.0)
        return abstain_below

    answerable = [it for it in items if questions[it["q"]]["answerable"]]
    absent = [it for it in items if not questions[it["q"]]["answerable"]]
    out: dict[str, Any] = {"questions": len(answerable), "absent": len(absent)}

    def top(key: np.ndarray) -> int:
        return int(np.argmin(key)) if len(key) else -1

    def hit(it: dict[str, Any], k: int) -> bool:
        return k >= 0 and bool(it["labels"][k] > 0)

    n = max(len(answerable), 1)
    out["fused_r1"] = sum(hit(it, top(it["x"][:, rank_col])) for it in answerable) / n
    out["dense_r1"] = sum(hit(it, top(it["x"][:, dense_col])) for it in answerable) / n
    def today(it: dict[str, Any]) -> dict[str, Any]:
        return questions[it["q"]].get("today") or {}

    def gold_cited(t: dict[str, Any]) -> list[bool]:
        wanted = {tuple(g) for g in t.get("gold", [])}
        return [tuple(c) in wanted for c in t.get("cited", [])]

    out["today_first_citation_hit"] = sum(bool(gold_cited(today(it))[:1] == [True]) for it in answerable) / n
    out["today_citation_hit"] = sum(any(gold_cited(today(it))) for it in answerable) / n
    cited_today = [g for it in answerable for g in gold_cited(today(it))]
    out["today_precision_gold"] = sum(cited_today) / len(cited_today) if cited_today else None
    out["today_false_abstention"] = sum(not today(it).get("answered", True) for it in answerable) / n
    out["today_abstention"] = (sum(not today(it).get("answered", True) for it in absent) / len(absent)) if absent else None
    out["r5_candidates"] = sum(bool(np.any(it["labels"][np.argsort(it["x"][:, rank_col])[:5]] > 0))
                               for it in answerable) / n
    if ranker:
        out["ranker_r1"] = sum(hit(it, top(-it["scores"])) for it in answerable) / n
        first = cited_hit = false_abst = cited = cited_gold = 0
        for it in answerable:
            order = np.argsort(-it["scores"], kind="stable")
            if abstains(it):
                false_abst += 1
                continue
            chosen = [order[0]] + [k for k in order[1:3] if it["scores"][k] >= cite_from]
            first += int(it["labels"][order[0]] > 0)
            cited_hit += int(any(it["labels"][k] > 0 for k in chosen))
            cited += len(chosen)
            cited_gold += sum(int(it["labels"][k] > 0) for k in chosen)
        out["first_citation_hit"] = first / n
        out["citation_hit"] = cited_hit / n
        out["citation_precision_gold"] = cited_gold / cited if cited else None
        out["false_abstention"] = false_abst / n
        out["abstention"] = (sum(1 for it in absent if abstains(it))
                             / len(absent)) if absent else None
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


def choose_thresholds(items: Sequence[dict[str, Any]], questions: Sequence[dict[str, Any]],
                      sets: Sequence[str]) -> dict[str, Any]:
    """The composer's thresholds, from held-out predictions only:

    - ``abstain_below`` (one per question language: English questions over Arabic text score
      otherwise than Arabic ones): the lowest probability at which each set's questions in that
      language abstain on absent-article questions at least as often as the whole set does under
      the fixed rules;
    - ``overrule_from`` (per question language): the probability from which the ranker's answer
      stands even when the fixed rules abstain: among the values at which every (set, language)
      slice abstains on its absent-article questions at least as often as the fixed rules do on
      that slice, the one that maximises first-citation hit plus abstention summed over the
      slices (a false abstention and a false answer weigh the same); 1.01: never;
    - ``cite_from``: the lowest probability at which a further citation keeps every set's
      share of gold citations at least at the fixed rules' share."""
    by_set = {s: [it for it in items if questions[it["q"]]["set"] == s] for s in sets}
    today = {s: figures(group, questions, ranker=False) for s, group in by_set.items()}
    grid = np.round(np.arange(0.0, 1.0, 0.01), 3)
    abstain_below: dict[str, float] = {}
    for lang in ("ar", "en"):
        groups = {s: [it for it in group if questions[it["q"]]["lang"] == lang] for s, group in by_set.items()}
        groups = {s: g for s, g in groups.items() if g}
        abstain_below[lang] = float(grid[-1])
        for t in grid:
            measured = {s: figures(g, questions, ranker=True, abstain_below=float(t))["abstention"]
                        for s, g in groups.items()}
            if all(a is None or a >= (today[s]["today_abstention"] or 0.0) for s, a in measured.items()):
                abstain_below[lang] = float(t)
                break
    overrule_from: dict[str, float] = {}
    for lang in ("ar", "en"):
        slices = [[it for it in group if questions[it["q"]]["lang"] == lang] for group in by_set.values()]
        slices = [g for g in slices if g]
        best_score, overrule_from[lang] = -1.0, 1.01
        for t in list(np.round(np.arange(0.1, 1.0, 0.05), 3)) + [1.01]:
            score, keeps = 0.0, True
            for g in slices:
                f = figures(g, questions, ranker=True, abstain_below=abstain_below, overrule_from=float(t))
                if f["abstention"] is not None and f["abstention"] < (f["today_abstention"] or 0.0):
                    keeps = False
                score += f["first_citation_hit"] + (f["abstention"] or 0.0)
            if keeps and score > best_score + 1e-9:
                best_score, overrule_from[lang] = score, float(t)
    cite_from = 1.0
    for t in grid[::-1]:
        ok = True
        for s, group in by_set.items():
            f = figures(group, questions, ranker=True, abstain_below=abstain_below, cite_from=float(t),
                        overrule_from=overrule_from)
            if f["citation_precision_gold"] is not None and f["citation_precision_gold"] < (
                    today[s]["today_precision_gold"] or 0.0):
                ok = False
        if not ok:
            break
        cite_from = float(t)
    return {"abstain_below": abstain_below, "overrule_from": overrule_from,
            "cite_from": max(cite_from, *abstain_below.values())}


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.train_ranker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default=DEFAULT_SETS, help=f"NAME[:LIMIT],... (default {DEFAULT_SETS})")
    parser.add_argument("--holdout", default=DEFAULT_HOLDOUT, help="gate samples never trained on ('' for none)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=DEFAULT_RANKER_DIR, help="where ranker.txt and manifest.json go")
    parser.add_argument("--data-dir", type=Path, default=Path(".ranker-data"), help="rows kept between runs")
    parser.add_argument("--index-dir", type=Path, default=Path(".sweep-index/default"), help="indexes kept between runs")
    parser.add_argument("--refresh", action="store_true", help="make the rows again")
    parser.add_argument("--dry-run", action="store_true", help="print the cross-validated figures; write nothing")
    parser.add_argument("--objective", choices=["binary", "lambdarank"], default="binary")
    parser.add_argument("--sweep", action="store_true", help="also print the held-out figures at each abstain_below")
    args = parser.parse_args(argv)
    if args.folds < 2:
        parser.error("--folds must be at least 2")
    apply_runtime_defaults()
    settings = Settings()
    specs = [s.strip() for s in args.sets.split(",") if s.strip()]
    started = time.perf_counter()
    sets = load_or_extract(specs, settings, data_dir=args.data_dir, index_dir=args.index_dir, refresh=args.refresh)
    extract_s = time.perf_counter() - started
    rows = Rows(sets)
    set_names = sorted({q["set"] for q in rows.questions})
    held = holdout_articles(args.holdout) if args.holdout else set()
    keys = [article_key(q) for q in rows.questions]
    dev = np.array([i for i, k in enumerate(keys) if k not in held], dtype=np.int64)
    gate = np.array([i for i, k in enumerate(keys) if k in held], dtype=np.int64)
    print(f"rows: {len(rows.y)} candidates of {len(rows.questions)} questions ({len(dev)} dev, {len(gate)} held "
          f"out for the gate); positives {int(rows.y.sum())}; extraction {extract_s:.0f} s", file=sys.stderr)

    t0 = time.perf_counter()
    oof = np.zeros(len(rows.y), dtype=np.float64)
    for k, fold in enumerate(folds_by_article(dev, [keys[i] for i in dev], args.folds, args.seed)):
        train_rows = rows.rows_of(np.setdiff1d(dev, fold))
        model = train(rows.x[train_rows], rows.y[train_rows], rows.q[train_rows], seed=args.seed,
                      objective=args.objective)
        idx = rows.rows_of(fold)
        oof[idx] = model.predict(rows.x[idx], num_threads=2)
        print(f"fold {k + 1}/{args.folds}: {len(fold)} questions held out", file=sys.stderr)
    cv_s = time.perf_counter() - t0
    dev_rows = rows.rows_of(dev)
    calibration = calibrate(oof[dev_rows], rows.q[dev_rows], rows.y[dev_rows])
    oof_p = np.zeros(len(rows.y), dtype=np.float64)
    oof_p[dev_rows] = probabilities(oof[dev_rows], rows.q[dev_rows], calibration)
    dev_items = per_question(rows, dev, oof_p)
    thresholds = choose_thresholds(dev_items, rows.questions, set_names)
    if args.sweep:
        for t in np.round(np.arange(0.1, 1.05, 0.1), 2):
            line = []
            for name in set_names:
                f = figures([it for it in dev_items if rows.questions[it["q"]]["set"] == name], rows.questions,
                            ranker=True, abstain_below=thresholds["abstain_below"],
                            overrule_from={"ar": float(t), "en": float(t)})
                line.append(f"{name} {f['first_citation_hit']:.3f}/{f['false_abstention']:.3f}/"
                            f"{(f['abstention'] or 0):.3f}")
            print(f"overrule_from {t:.2f}  (1st cit / false abst / abst)  " + "  ".join(line))

    def table(items: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for s in set_names:
            for lang in ("all", "ar", "en"):
                group = [it for it in items if rows.questions[it["q"]]["set"] == s
                         and (lang == "all" or rows.questions[it["q"]]["lang"] == lang)]
                if group and (lang == "all" or any(rows.questions[it["q"]]["lang"] != lang for it in items
                                                    if rows.questions[it["q"]]["set"] == s)):
                    out[f"{s}/{lang}"] = figures(group, rows.questions, ranker=True, **thresholds)
        return out

    cv_figures = table(dev_items)
    t0 = time.perf_counter()
    final = train(rows.x[dev_rows], rows.y[dev_rows], rows.q[dev_rows], seed=args.seed, objective=args.objective)
    train_s = time.perf_counter() - t0
    gate_scores = np.zeros(len(rows.y), dtype=np.float64)
    if len(gate):
        gate_rows = rows.rows_of(gate)
        gate_scores[gate_rows] = probabilities(final.predict(rows.x[gate_rows], num_threads=2), rows.q[gate_rows],
                                               calibration)
    gate_figures = table(per_question(rows, gate, gate_scores)) if len(gate) else {}
    print("thresholds: abstain below " + ", ".join(f"{v:.2f} ({k})" for k, v in thresholds["abstain_below"].items())
          + "; the fixed rules' abstention overruled from "
          + ", ".join(f"{v:.2f} ({k})" for k, v in thresholds["overrule_from"].items())
          + f"; cite a further candidate from {thresholds['cite_from']:.2f}")
    for title, figs in (("held-out folds (dev articles)", cv_figures), ("gate articles (never trained on)", gate_figures)):
        print(f"\n{title}")
        print("(today = the fixed rules; prec = share of citations that are gold paragraphs)")
        print(f"{'set/slice':<16} {'n':>4} {'dense':>6} {'fused':>6} {'ranker':>6} | {'1st cit':>7} {'cit hit':>7} "
              f"{'prec':>5} {'f.abst':>6} {'abst':>5} | today: {'1st cit':>7} {'cit hit':>7} {'prec':>5} "
              f"{'f.abst':>6} {'abst':>5}")
        for key, f in figs.items():
            def num(v: Any, w: int) -> str:
                return f"{v:>{w}.3f}" if v is not None else " " * (w - 1) + "-"
            print(f"{key:<16} {f['questions']:>4} {num(f['dense_r1'], 6)} {num(f['fused_r1'], 6)} "
                  f"{num(f['ranker_r1'], 6)} | {num(f['first_citation_hit'], 7)} {num(f['citation_hit'], 7)} "
                  f"{num(f['citation_precision_gold'], 5)} {num(f['false_abstention'], 6)} {num(f['abstention'], 5)} | "
                  f"       {num(f['today_first_citation_hit'], 7)} {num(f['today_citation_hit'], 7)} "
                  f"{num(f['today_precision_gold'], 5)} {num(f['today_false_abstention'], 6)} "
                  f"{num(f['today_abstention'], 5)}")
    if args.dry_run:
        return 0
    import lightgbm

    args.out.mkdir(parents=True, exist_ok=True)
    model_path = args.out / MODEL_FILE
    final.save_model(str(model_path))
    importance = dict(zip(FEATURES, (float(v) for v in final.feature_importance(importance_type="gain"))))
    manifest = {
        "model_file": MODEL_FILE, "model_sha256": file_sha256(model_path),
        "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "library": {"lightgbm": lightgbm.__version__, "numpy": np.__version__},
        "features": list(FEATURES), "features_version": FEATURES_VERSION, "depth": DEPTH,
        "seed": args.seed, "params": {**PARAMS, "objective": args.objective}, "rounds": ROUNDS, "folds": args.folds,
        "data": {"sets": specs, "holdout": args.holdout, "rows": int(len(rows.y)),
                 "questions_dev": int(len(dev)), "questions_holdout": int(len(gate)),
                 "articles_dev": len({keys[i] for i in dev}), "positives": int(rows.y.sum())},
        "settings": settings_fingerprint(settings),
        "calibration": calibration,
        "thresholds": thresholds,
        "metrics": {"held_out_folds": cv_figures, "gate_articles": gate_figures},
        "feature_importance_gain": {k: round(v, 1) for k, v in sorted(importance.items(), key=lambda kv: -kv[1])},
        "timings_s": {"rows": round(extract_s, 1), "cross_validation": round(cv_s, 1), "final_model": round(train_s, 1)},
        "command": "python -m evals.train_ranker " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    (args.out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {model_path} ({model_path.stat().st_size // 1024} KiB) and {args.out / MANIFEST_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
