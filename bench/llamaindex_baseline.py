"""Sanad beside a plain llama-index retriever over the same Chroma collection and model.

The seeds are indexed once (real model). Then every answerable question of the seeds gold
set (evals/data/seeds_gold.jsonl) goes through

- **llama-index**: ``VectorStoreIndex.from_vector_store(ChromaVectorStore(collection),
  embed_model=<the same EmbeddingGemma embedder>).as_retriever(similarity_top_k=5)``: dense
  only, no LLM;
- **Sanad retrieval**: ``Answerer.retrieve`` (dense + the per-language BM25 bonus);
- **Sanad ask**: the whole ``Answerer.ask`` (retrieval + extractive cited answer), for its
  latency and for where its citations point.

Recall@k: a gold paragraph (``{file, line}`` resolved against the catalog, as ``sanad eval``
does) is among the top k chunks. Latency includes encoding the question in every column.

    .venv/bin/python bench/llamaindex_baseline.py
    .venv/bin/python bench/llamaindex_baseline.py --repeat 3      # each question 3 times (latency)
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SEEDS, command_line, machine_line, percentile, table  # noqa: E402

from settings import Settings  # noqa: E402
from index.embedding import build_embedder  # noqa: E402

K = 5


def covered(chunk_key: tuple[str, tuple[int, ...]], gold: set[tuple[str, int]]) -> bool:
    file, paragraphs = chunk_key
    return any((file, p) in gold for p in paragraphs)


def rank_of(keys: list[tuple[str, tuple[int, ...]]], gold: set[tuple[str, int]]) -> int | None:
    for rank, key in enumerate(keys, 1):
        if covered(key, gold):
            return rank
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, help="ask each question this many times (latency)")
    parser.add_argument("--data-dir", type=Path, default=None, help="a seeds index built with the default model")
    args = parser.parse_args(argv)

    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from evals.sets import load_seeds, resolve_gold
    from index.indexer import Indexer
    from index.vectors import chroma_client
    from qa.answerer import Answerer

    print(f"$ {command_line()}")
    print(machine_line())
    root = Path(tempfile.mkdtemp(prefix="sanad-li-"))
    try:
        embedder = build_embedder(Settings(data_dir=root / "unused"))
        if args.data_dir:
            settings = Settings(data_dir=args.data_dir)
        else:
            corpus = root / "corpus"
            shutil.copytree(SEEDS, corpus)
            settings = Settings(data_dir=root / "data", corpus_paths=[corpus])
            indexer = Indexer(settings, embedder=embedder)
            try:
                indexer.index([corpus], progress=None)
            finally:
                indexer.close()

        answerer = Answerer(settings, embedder=embedder)
        items = [i for i in load_seeds().items if i.answerable]
        gold, problems = resolve_gold(items, answerer.catalog)
        assert not problems, problems

        collection = chroma_client(settings).get_collection(settings.chroma_collection)
        li_index = VectorStoreIndex.from_vector_store(ChromaVectorStore(chroma_collection=collection),
                                                      embed_model=embedder)
        li_retriever = li_index.as_retriever(similarity_top_k=K)

        def li_keys(question: str) -> list[tuple[str, tuple[int, ...]]]:
            nodes = li_retriever.retrieve(question)
            return [(n.node.metadata["file"], tuple(range(int(n.node.metadata["p_start"]),
                                                          int(n.node.metadata["p_end"]) + 1))) for n in nodes]

        def sanad_keys(question: str) -> list[tuple[str, tuple[int, ...]]]:
            nodes = answerer.retrieve(question, top_k=K)
            return [(n.node.metadata["file"], tuple(n.node.metadata["paragraphs"])) for n in nodes]

        def sanad_ask(question: str) -> list[tuple[str, tuple[int, ...]]]:
            answer = answerer.ask(question, top_k=K)
            return [(c.file, (c.paragraph,)) for c in answer.citations]

        systems = {"llama-index retriever (dense)": li_keys, "Sanad retrieve (hybrid)": sanad_keys,
                   "Sanad ask (cited answer)": sanad_ask}
        for fn in systems.values():  # warm-up
            fn(items[0].question)
        latency: dict[str, list[float]] = {name: [] for name in systems}
        ranks: dict[str, dict[str, int | None]] = {name: {} for name in systems}
        for _ in range(args.repeat):
            for item in items:
                for name, fn in systems.items():
                    t0 = time.perf_counter()
                    keys = fn(item.question)
                    latency[name].append((time.perf_counter() - t0) * 1000)
                    ranks[name][item.id] = rank_of(keys, set(gold[item.id]))
        answerer.close()

        def recall(name: str, k: int, lang: str | None = None) -> str:
            chosen = [i for i in items if lang is None or i.lang == lang]
            hits = sum(1 for i in chosen if (r := ranks[name][i.id]) is not None and r <= k)
            return f"{hits}/{len(chosen)}"

        rows = []
        base = statistics.median(latency["llama-index retriever (dense)"])
        for name in systems:
            cited = name.startswith("Sanad ask")
            rows.append([name, recall(name, 1), recall(name, K) + (" *" if cited else ""),
                         recall(name, 1, "ar"), recall(name, 1, "en"),
                         statistics.median(latency[name]), percentile(latency[name], 95),
                         statistics.median(latency[name]) / base])
        print(f"\n{len(items)} answerable gold questions (ar {sum(i.lang == 'ar' for i in items)}, en "
              f"{sum(i.lang == 'en' for i in items)}) x {args.repeat}; same Chroma collection, same model; "
              "latency includes encoding the question")
        print(table(["system", "recall@1", f"recall@{K}", "R@1 ar", "R@1 en", "p50 ms", "p95 ms",
                     "p50 / llama-index p50"], rows))
        print("(for 'Sanad ask', recall@1: its first citation is a gold paragraph; * any of its citations "
              f"(at most {answerer.settings.max_citations}) is)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
