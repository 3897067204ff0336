"""Indexing throughput next to the bare ``encode_document`` rate; re-index time; server RSS.

1. the bare rate: the corpus's chunk texts (paragraphs parsed and chunked as ``sanad index``
   does) through ``encode_document`` in one call (all of them sorted by length, in batches of
   ``SANAD_EMBED_BATCH_SIZE``): the floor of indexing on this machine, measured before and
   after the indexing runs; and the same with the sentences of multi-sentence chunks added
   to the call (every text ``separate`` encodes, each once: its own floor);
2. a cold ``Indexer.index`` of the same corpus into a fresh data dir with the same loaded
   model (catalog, Chroma through llama-index, BM25), once per way of making sentence
   vectors (``SANAD_SENTENCE_VECTORS``: ``separate`` encodes each sentence of a
   multi-sentence chunk again, ``late`` pools them from the chunk's own pass): paragraphs/s,
   the rate as a share of the chunk floor and of the floor of the texts that way encodes
   (the target: >= 0.8), and the projected time for 100k paragraphs;
3. re-indexing the unchanged corpus, in process and as ``sanad index`` (a new process:
   imports included; the model is not loaded when nothing changed);
4. ``sanad serve`` over the new index: RSS once ready and after 30 questions.

    .venv/bin/python bench/index_throughput.py                      # the seeds (5 articles)
    .venv/bin/python bench/index_throughput.py --corpus xquad --limit 3   # 3 XQuAD articles (long Arabic paragraphs)
    .venv/bin/python bench/index_throughput.py --corpus arcd-train --limit 10 --no-server  # native Arabic Wikipedia
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    ROOT,
    SEEDS,
    SanadServer,
    command_line,
    machine_line,
    mib,
    mixed_questions,
    rss_bytes,
    table,
)

from index.chunks import build_chunks  # noqa: E402
from index.embedding import build_embedder  # noqa: E402
from index.paragraphs import load_document  # noqa: E402
from index.sentences import sentence_spans  # noqa: E402
from settings import Settings  # noqa: E402


def corpus_folder(args: argparse.Namespace, dest: Path) -> Path:
    dest.mkdir(parents=True)
    if args.corpus == "seeds":
        files = sorted(SEEDS.glob("*.txt"))
    else:
        from evals.sets import native_dir, xquad_dir

        folder = xquad_dir() if args.corpus == "xquad" else native_dir(args.corpus)
        files = sorted((folder / "contexts").glob("*.txt"))
    for path in files[: args.limit] if args.limit else files:
        shutil.copy(path, dest / path.name)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", choices=["seeds", "xquad", "arcd-train", "tydiqa-ar"], default="seeds")
    parser.add_argument("--limit", type=int, default=None, help="only the first N files of the corpus")
    parser.add_argument("--batch-size", type=int, default=None, help="SANAD_EMBED_BATCH_SIZE (default: settings)")
    parser.add_argument("--group-size", type=int, default=None, help="SANAD_INDEX_GROUP_SIZE (default: settings)")
    parser.add_argument("--questions", type=int, default=30, help="questions asked before the RSS reading")
    parser.add_argument("--no-server", action="store_true", help="skip the server RSS part")
    args = parser.parse_args(argv)

    print(f"$ {command_line()}")
    print(machine_line())
    root = Path(tempfile.mkdtemp(prefix="sanad-ithr-"))
    try:
        corpus = corpus_folder(args, root / "corpus")
        base = Settings(data_dir=root / "data", corpus_paths=[corpus],
                        **({"embed_batch_size": args.batch_size} if args.batch_size else {}),
                        **({"index_group_size": args.group_size} if args.group_size else {}))
        docs = [load_document(p, root=corpus) for p in sorted(corpus.glob("*.txt"))]
        paragraphs = sum(len(d.paragraphs) for d in docs)
        chunks = [c for d in docs for c in build_chunks(d)]
        chars = sum(len(c.text) for c in chunks)
        print(f"corpus: {args.corpus}, {len(docs)} files, {paragraphs} paragraphs, {len(chunks)} chunks "
              f"({chars} characters embedded); batch size {base.embed_batch_size}; "
              f"index group size {base.index_group_size}; torch threads {base.torch_threads}")

        t0 = time.perf_counter()
        embedder = build_embedder(base)
        load_s = time.perf_counter() - t0
        embedder.embed_documents([chunks[0].text])  # first call pays one-off set-up

        texts = [c.text for c in chunks]
        pieces = [t[a:b] for t in texts for found in [sentence_spans(t)] if len(found) > 1 for a, b in found]
        print(f"{len(pieces)} sentences in multi-sentence chunks (each gets a vector of its own)")

        def bare(batch: list[str]) -> float:
            # one call: sentence-transformers sorts the texts by length and batches them
            # (SANAD_EMBED_BATCH_SIZE), so a batch is padded to lengths like its own
            t0 = time.perf_counter()
            embedder.embed_documents(batch)
            return time.perf_counter() - t0

        from index.indexer import Indexer

        def cold_index(mode: str) -> float:
            settings = base.model_copy(update={"data_dir": root / f"data-{mode}", "sentence_vectors": mode})
            t0 = time.perf_counter()
            indexer = Indexer(settings, embedder=embedder)
            try:
                report = indexer.index([corpus], progress=None)
            finally:
                indexer.close()
            assert report.chunks_embedded == len(chunks), report.summary()
            return time.perf_counter() - t0

        # bare runs before and after the indexing runs: the floor is their mean (load drift shows)
        encode_before, all_before = bare(texts), bare(texts + pieces)
        index_times = {mode: cold_index(mode) for mode in ("separate", "late")}
        encode_after, all_after = bare(texts), bare(texts + pieces)
        encode_s = (encode_before + encode_after) / 2
        all_s = (all_before + all_after) / 2
        own_floor = {"separate": all_s, "late": encode_s}
        base = base.model_copy(update={"data_dir": root / f"data-{base.sentence_vectors}"})

        t0 = time.perf_counter()
        indexer = Indexer(base)  # no embedder: none is loaded unless something changed
        try:
            again = indexer.index([corpus], progress=None)
        finally:
            indexer.close()
        reindex_s = time.perf_counter() - t0
        assert again.chunks_embedded == 0 and len(again.unchanged) == len(docs), again.summary()

        env = {**os.environ, "SANAD_DATA_DIR": str(base.data_dir), "HF_HUB_OFFLINE": "1"}
        t0 = time.perf_counter()
        cli = subprocess.run([sys.executable, "-m", "cli", "index", "--quiet", str(corpus)], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=600, check=True)
        cli_s = time.perf_counter() - t0
        bench_rss = rss_bytes(os.getpid())

        def row(step: str, seconds: float, floor: float | None = None) -> list[object]:
            return [step, seconds, paragraphs / seconds, len(chunks) / seconds, encode_s / seconds,
                    "" if floor is None else f"{floor / seconds:.2f}",
                    f"{100_000 * seconds / paragraphs / 3600:.1f} h"]

        rows = [
            row(f"encode_document, chunks (the floor; {encode_before:.1f} s before, {encode_after:.1f} s after)",
                encode_s, encode_s),
            row(f"encode_document, chunks + sentences ({all_before:.1f} s before, {all_after:.1f} s after)",
                all_s, all_s),
            *(row(f"Indexer.index, cold, sentence vectors {mode}", index_times[mode], own_floor[mode])
              for mode in index_times),
            row("re-index unchanged, in process", reindex_s),
            row("`sanad index` unchanged (new process)", cli_s),
        ]
        print(f"\nmodel load {load_s:.1f} s (not counted below); `sanad index` said: {cli.stdout.strip()}")
        print(table(["step", "seconds", "paragraphs/s", "chunks/s", "rate / chunk floor",
                     "rate / floor of its texts", "100k paragraphs"], rows))
        print("floor of its texts: `separate` encodes the chunks and their sentences, `late` the chunks")
        print(f"this process (model + one index open): RSS {mib(bench_rss)}")

        if not args.no_server:
            del embedder
            server = SanadServer(root / "serve", data_dir=base.data_dir)
            try:
                server.start()
                ready = sum(server.rss().values())
                with httpx.Client(base_url=server.url, timeout=120) as client:
                    for q in mixed_questions(args.questions):
                        client.post("/v1/ask", json={"question": q}).raise_for_status()
                after = sum(server.rss().values())
            finally:
                server.stop()
            print(f"sanad serve: ready in {server.ready_s:.1f} s; RSS {mib(ready)} once ready, "
                  f"{mib(after)} after {args.questions} questions")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
