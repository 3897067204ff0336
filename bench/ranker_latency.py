"""What the learned ranking stage adds to a question's latency, against the same retrieval without it.

One process, one index (the seeds, real model), one encoded vector per question: each gold
question is retrieved and answered (``Answerer`` retrieval + composition, the part after
encoding) with the learned ranker and without it, alternating, ``--rounds`` times. Printed:
p50/p95 of both, their difference, and the stage's own time (features + model); the
question's encoding (~100 ms here) is the same either way and is left out.

    .venv/bin/python bench/ranker_latency.py                # seeds, indexed into a temp dir
    .venv/bin/python bench/ranker_latency.py --data-dir .sanad --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SEEDS, command_line, machine_line, mixed_questions, percentile, table  # noqa: E402

from settings import Settings, apply_runtime_defaults  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None, help="an indexed data dir (default: seeds in a temp dir)")
    parser.add_argument("--rounds", type=int, default=3, help="times each question is retrieved each way")
    parser.add_argument("--n", type=int, default=80, help="questions")
    args = parser.parse_args(argv)
    apply_runtime_defaults()
    from index.embedding import build_embedder
    from index.indexer import Indexer
    from qa.answerer import Answerer
    from qa.question import QuestionBundle
    from qa.stages.learned_ranker import LearnedRanker

    print(machine_line())
    print(command_line())
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        base = Settings(data_dir=data_dir, postprocessors=["source_bonus", "sentence_rescore", "learned_ranker"])
        embedder = build_embedder(base)
        if args.data_dir is None:
            indexer = Indexer(base, embedder=embedder)
            indexer.index([SEEDS], progress=None)
            indexer.close()
        with_ranker = Answerer(base, embedder=embedder)
        without = Answerer(base.model_copy(update={"postprocessors": [p for p in base.postprocessors
                                                                      if p != "learned_ranker"]}),
                           embedder=embedder)
        if not with_ranker.ranker_status.active:
            print(f"the learned ranker is not in use: {with_ranker.ranker_status.reason}")
            return 2
        questions = mixed_questions(args.n)
        bundles = []
        for text in questions:
            parsed = with_ranker.parse(text)
            vector = embedder.embed_queries([parsed.search])[0]
            bundles.append(QuestionBundle(query_str=parsed.text, embedding=vector.tolist(), question=parsed))
        times: dict[str, list[float]] = {"without": [], "with": [], "stage": []}
        stage = LearnedRanker(with_ranker.stores, with_ranker.settings, depth=20)
        for _ in range(args.rounds):
            for bundle, text in zip(bundles, questions):
                for label, answerer in (("without", without), ("with", with_ranker)):
                    with answerer.consistent():
                        t0 = time.perf_counter()
                        nodes = answerer.retriever().retrieve(bundle)
                        answerer.composer.compose(text, bundle.question.language, nodes,
                                                  query_vector=np.asarray(bundle.embedding, dtype=np.float32))
                        times[label].append((time.perf_counter() - t0) * 1000)
                with without.consistent():
                    fused = without.retriever(top_k=20).retrieve(bundle)
                    t0 = time.perf_counter()
                    stage.postprocess_nodes(fused, bundle)
                    times["stage"].append((time.perf_counter() - t0) * 1000)
        with_ranker.close()
        without.close()
    rows = [[label, f"{percentile(v, 50):.1f}", f"{percentile(v, 95):.1f}", f"{statistics.mean(v):.1f}", str(len(v))]
            for label, v in (("retrieve + compose, fixed rules", times["without"]),
                             ("retrieve + compose, learned ranker", times["with"]),
                             ("the ranking stage alone (features + model)", times["stage"]))]
    print(table(["what (ms, after encoding)", "p50", "p95", "mean", "n"], rows))
    added = percentile(times["with"], 50) - percentile(times["without"], 50)
    print(f"added at p50: {added:.1f} ms (target: at most 10 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
