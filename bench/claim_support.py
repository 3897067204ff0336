"""Calibrate the support check of generated claims (qa/claims.py) on the seeds gold set.

Input: the JSON report of ``sanad eval --set seeds --answerer llm|both --json REPORT``, which
records every sentence the LLM wrote. A sentence that contains an accepted answer of its
question (evals/metrics.py ``contains_answer``) is a *true claim*; it is supported by the
question's gold paragraph(s) that contain an accepted answer, and *not* by the other
paragraphs of the corpus that contain none (hard negatives: the rest of its article, and the
best-matching paragraphs elsewhere, i.e. the paragraphs a model is likely to cite wrongly).

For each (true claim, gold paragraph, wrong paragraph) the script simulates the evidence
{gold, wrong} and asks: with threshold T and margin M, is the right citation kept, and the
wrong one removed? It prints both rates over a grid of T and M (numbers check on), and how
the markers of the run itself fared.

    python bench/claim_support.py REPORT.json [--data-dir DIR]

``--data-dir`` is an index of seeds/ (default: index a copy into a temp dir first).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evals.metrics import contains_answer  # noqa: E402
from settings import Settings  # noqa: E402
from qa.claims import number_words, numbers  # noqa: E402
from qa.sentences import sentence_spans  # noqa: E402

THRESHOLDS = [0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.65]
MARGINS = [None, 0.12, 0.08, 0.04]
HARD_NEGATIVES = 4  # wrong paragraphs per claim: best-matching non-answer paragraphs


def llm_rows(report: dict) -> list[dict]:
    if report.get("answerer") == "llm":
        return report["rows"]
    return report.get("rows_by_answerer", {}).get("llm", [])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("report", type=Path)
    ap.add_argument("--data-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    report = json.loads(args.report.read_text(encoding="utf-8"))
    rows = llm_rows(report)
    if not rows:
        print("the report has no LLM rows (run sanad eval with --answerer llm or both)")
        return 2

    from index.catalog import Catalog
    from index.embedding import build_embedder

    tmp = None
    data_dir = args.data_dir
    settings = Settings(data_dir=data_dir or Path("/nonexistent"))
    embedder = build_embedder(settings)
    if data_dir is None:
        from index.indexer import Indexer

        tmp = tempfile.TemporaryDirectory(prefix="sanad-calib-")
        data_dir = Path(tmp.name) / "data"
        settings = Settings(data_dir=data_dir)
        indexer = Indexer(settings, embedder=embedder)
        indexer.index([ROOT / "seeds"], progress=None)
        indexer.close()
    catalog = Catalog(data_dir / "catalog.sqlite3")
    paragraphs = [p for d in catalog.documents() for p in catalog.paragraphs_of(d.file) if not p.boilerplate]

    # paragraph vectors: the best of the whole text and its sentences, as SupportChecker does
    units, owner = [], []
    for i, p in enumerate(paragraphs):
        spans = sentence_spans(p.text)
        pieces = [p.text] + ([p.text[s:e] for s, e in spans] if len(spans) > 1 else [])
        units += pieces
        owner += [i] * len(pieces)
    unit_vecs = embedder.embed_documents(units)
    owner = np.asarray(owner)

    def scores(claim: str) -> np.ndarray:
        sims = unit_vecs @ embedder.embed_queries([claim])[0]
        best = np.full(len(paragraphs), -1.0)
        np.maximum.at(best, owner, sims)
        return best

    cases = []  # (claim, s_gold, numbers_ok_gold, [(s_wrong, numbers_ok_wrong)])
    run_kept = {"true": 0, "false": 0}
    run_removed = {"true": 0, "false": 0}
    for row in rows:
        answers, gold = row.get("answers") or [], {(g["file"], g["paragraph"]) for g in row.get("gold", [])}
        for claim in (row.get("llm") or {}).get("claims", []):
            text = claim["text"]
            true_claim = bool(answers) and contains_answer(text, answers)
            evidence = (row.get("llm") or {}).get("evidence", [])
            for ref in claim.get("kept", []) + claim.get("removed", []):
                ev = evidence[ref - 1] if 0 < ref <= len(evidence) else None
                right = true_claim and ev is not None and (ev["file"], ev["paragraph"]) in gold
                (run_kept if ref in claim.get("kept", []) else run_removed)["true" if right else "false"] += 1
            if not true_claim:
                continue
            s = scores(text)
            claim_numbers = numbers(text)
            golds = [i for i, p in enumerate(paragraphs)
                     if (p.file, p.paragraph) in gold and contains_answer(p.text, answers)]
            wrong = [i for i in np.argsort(-s) if (paragraphs[i].file, paragraphs[i].paragraph) not in gold
                     and not contains_answer(paragraphs[i].text, answers)][:HARD_NEGATIVES]
            def nums(i: int) -> set[str]:
                return numbers(paragraphs[i].text) | number_words(paragraphs[i].text)

            for g in golds:
                cases.append((text, float(s[g]), claim_numbers <= nums(g),
                              [(float(s[w]), claim_numbers <= nums(w)) for w in wrong]))
    if tmp is not None:
        tmp.cleanup()
    n_pairs = sum(len(c[3]) for c in cases)
    print(f"{len(rows)} questions; {len({c[0] for c in cases})} true claims; {len(cases)} (claim, gold) pairs; "
          f"{n_pairs} (claim, wrong paragraph) pairs")
    print(f"this run's markers: kept {run_kept['true']} right + {run_kept['false']} other; "
          f"removed {run_removed['true']} right + {run_removed['false']} other "
          "(right = a true claim citing a gold paragraph)")
    print()
    print("T     margin | right kept | wrong removed | (evidence = {gold, wrong}; numbers check on)")
    for t in THRESHOLDS:
        for m in MARGINS:
            kept = total_right = removed = total_wrong = 0
            for _, sg, ng, wrongs in cases:
                for sw, nw in wrongs:
                    top = max(sg, sw)
                    ok_right = sg >= t and ng and (m is None or sg >= top - m)
                    ok_wrong = sw >= t and nw and (m is None or sw >= top - m)
                    kept += ok_right
                    total_right += 1
                    removed += not ok_wrong
                    total_wrong += 1
            label = "-" if m is None else f"{m:.2f}"
            print(f"{t:.2f}  {label:>6} | {kept / max(total_right, 1):10.3f} | {removed / max(total_wrong, 1):13.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
