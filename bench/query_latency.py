"""Warm question latency next to its floor (encoding the question), on the seeds and at scale.

Part 1, seeds (real model): for each gold question (Arabic and English interleaved) it times
the bare ``encode_query`` of the question (the floor: the model, nothing else), then a warm
``Answerer.ask`` in this process, and with ``--http`` a sequential ``POST /v1/ask`` against a
real ``sanad serve`` over the same index. Ratios to the floor survive a noisy machine better
than the milliseconds do.

Part 2, scale (``--scale 10000,100000``): the same questions against synthetic corpora of
that many paragraphs. Embedding 100k paragraphs with the real model would take days here,
so the corpus is built through the real indexer (catalog, Chroma through llama-index, BM25)
with **synthetic vectors**: the five seed articles keep their real vectors, and every
synthetic paragraph (1-3 sentences drawn from the XQuAD Arabic contexts, so BM25 sees real
Arabic vocabulary) gets a real seed paragraph's vector plus Gaussian noise (cosine ~0.6 to
it: topical look-alikes, not random points). Questions are encoded with the real model; what
is timed is everything after the question is encoded: retrieval (Chroma HNSW + BM25 +
fusion + catalog reads) and answer composition, as reported by ``Answerer.ask``'s
``timings_ms``. The 100k corpus is grown from the 10k one incrementally.

    .venv/bin/python bench/query_latency.py                       # seeds, 80 questions
    .venv/bin/python bench/query_latency.py --http --n 80          # + POST /v1/ask
    .venv/bin/python bench/query_latency.py --skip-seeds --scale 10000,100000 --n 40
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from typing import Any

import httpx
import numpy as np
from pydantic import PrivateAttr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    SEEDS,
    SanadServer,
    command_line,
    machine_line,
    mib,
    mixed_questions,
    percentile,
    rss_bytes,
    table,
)

from settings import Settings  # noqa: E402
from index.embedding import SanadEmbedding, build_embedder  # noqa: E402

PARAGRAPHS_PER_FILE = 100
#: noise per dimension of a synthetic vector; with 768 dimensions, cosine to its base ~0.6
NOISE_SIGMA = 0.048


def ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def build_seeds_index(root: Path, embedder: SanadEmbedding) -> tuple[Settings, float]:
    from index.indexer import Indexer

    corpus = root / "corpus"
    shutil.copytree(SEEDS, corpus)
    settings = Settings(data_dir=root / "data", corpus_paths=[corpus])
    t0 = time.perf_counter()
    indexer = Indexer(settings, embedder=embedder)
    try:
        indexer.index([corpus], progress=None)
    finally:
        indexer.close()
    return settings, time.perf_counter() - t0


# --------------------------------------------------------------------------- part 1: seeds


def seeds_latency(args: argparse.Namespace, embedder: SanadEmbedding, settings: Settings) -> list[list]:
    from qa.answerer import Answerer

    answerer = Answerer(settings, embedder=embedder)
    questions = mixed_questions(args.n + args.warmup)
    for q in questions[: args.warmup]:
        answerer.ask(q)
        embedder.embed_queries([q])
    floor, ask, after = [], [], []
    for i, q in enumerate(questions[args.warmup:]):
        # alternate the order so that a noisy spell hits both about equally
        steps = ("floor", "ask") if i % 2 == 0 else ("ask", "floor")
        for step in steps:
            t0 = time.perf_counter()
            if step == "floor":
                embedder.embed_queries([q])
                floor.append(ms(t0))
            else:
                answer = answerer.ask(q)
                ask.append(ms(t0))
                after.append(answer.timings_ms["retrieve"] + answer.timings_ms["answer"])
    answerer.close()
    base = statistics.median(floor)
    rows = [
        ["encode_query alone (the floor)", len(floor), base, percentile(floor, 95), 1.0],
        ["Answerer.ask, warm, in process", len(ask), statistics.median(ask), percentile(ask, 95),
         statistics.median(ask) / base],
        ["  of which after encoding (retrieve + answer)", len(after), statistics.median(after),
         percentile(after, 95), statistics.median(after) / base],
    ]
    if args.http:
        rows += http_latency(args, settings, base)
    return rows


def http_latency(args: argparse.Namespace, settings: Settings, base: float) -> list[list]:
    tmp = Path(tempfile.mkdtemp(prefix="sanad-qlat-"))
    server = SanadServer(tmp, data_dir=settings.data_dir)
    try:
        server.start()
        questions = mixed_questions(args.n + args.warmup)
        wall, encode = [], []
        with httpx.Client(base_url=server.url, timeout=120) as client:
            for q in questions[: args.warmup]:
                client.post("/v1/ask", json={"question": q}).raise_for_status()
            for q in questions[args.warmup:]:
                t0 = time.perf_counter()
                r = client.post("/v1/ask", json={"question": q})
                wall.append(ms(t0))
                r.raise_for_status()
                encode.append(r.json()["timings_ms"]["encode"])
        rss = sum(server.rss().values())
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"(sanad serve RSS after the HTTP run: {mib(rss)})")
    return [
        ["POST /v1/ask, sequential, client wall time", len(wall), statistics.median(wall), percentile(wall, 95),
         statistics.median(wall) / base],
        ["  its encode stage inside the server", len(encode), statistics.median(encode), percentile(encode, 95),
         statistics.median(encode) / base],
    ]


# --------------------------------------------------------------------------- part 2: scale


class SyntheticEmbedding(SanadEmbedding):
    """Document vectors for the scale corpus: real vectors for known texts (the seeds),
    else a real seed vector plus seeded Gaussian noise (deterministic per text)."""

    _known: dict = PrivateAttr(default_factory=dict)
    _base: Any = PrivateAttr(default=None)
    _sigma: float = PrivateAttr(default=NOISE_SIGMA)

    def __init__(self, known: dict[str, np.ndarray], sigma: float = NOISE_SIGMA) -> None:
        super().__init__(model_name="synthetic")
        self._known = known
        self._base = np.stack(list(known.values()))
        self._sigma = sigma

    @classmethod
    def class_name(cls) -> str:
        return "SyntheticEmbedding"

    def embed_documents(self, texts):  # noqa: ANN001, ANN201
        out = np.empty((len(texts), self._base.shape[1]), dtype=np.float32)
        for i, text in enumerate(texts):
            real = self._known.get(text)
            if real is not None:
                out[i] = real
                continue
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            rng = np.random.default_rng(seed)
            v = self._base[rng.integers(len(self._base))] + rng.normal(0.0, self._sigma, self._base.shape[1])
            out[i] = v / np.linalg.norm(v)
        return out

    def embed_queries(self, texts):  # noqa: ANN001, ANN201
        raise RuntimeError("the synthetic embedder embeds documents only; questions use the real model")

    @property
    def dimension(self) -> int:
        return int(self._base.shape[1])


def seed_vectors(settings: Settings) -> dict[str, np.ndarray]:
    """chunk text -> its real vector, read back from the seeds index's Chroma collection."""
    from index.vectors import chroma_client

    collection = chroma_client(settings).get_collection(settings.chroma_collection)
    got = collection.get(include=["embeddings", "documents"])
    return {doc: np.asarray(vec, dtype=np.float32) for doc, vec in zip(got["documents"], got["embeddings"])}


def sentence_pool() -> list[str]:
    from evals.sets import xquad_dir

    pool: list[str] = []
    for path in sorted((xquad_dir() / "contexts").glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            for sentence in line.replace("؟", ".").split(". "):
                sentence = sentence.strip()
                if len(sentence) >= 30:
                    pool.append(sentence.rstrip(".") + ".")
    return pool


def write_synthetic_files(folder: Path, first_file: int, n_files: int, pool: list[str], seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + first_file)
    for k in range(first_file, first_file + n_files):
        lines = []
        for i in range(PARAGRAPHS_PER_FILE):
            parts: list[str] = []
            while sum(len(p) for p in parts) < 80 or (len(parts) < 3 and rng.random() < 0.3):
                parts.append(pool[rng.integers(len(pool))])
            lines.append(" ".join(parts) + f" ({k}-{i})")
        (folder / f"syn{k:05d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def scale_latency(args: argparse.Namespace, embedder: SanadEmbedding, seeds_settings: Settings,
                  root: Path) -> list[list]:
    from index.indexer import Indexer
    from qa.answerer import Answerer

    known = seed_vectors(seeds_settings)
    synthetic = SyntheticEmbedding(known)
    pool = sentence_pool()
    corpus_seeds = root / "scale-corpus" / "seeds"
    shutil.copytree(SEEDS, corpus_seeds)
    syn = root / "scale-corpus" / "synthetic"
    settings = Settings(data_dir=root / "scale-data", corpus_paths=[corpus_seeds, syn], embed_batch_size=1000)
    questions = mixed_questions(args.n + args.warmup)
    rows: list[list] = []
    files_written = 0
    for size in args.scale:
        n_files = max(1, round(size / PARAGRAPHS_PER_FILE))
        write_synthetic_files(syn, files_written, n_files - files_written, pool, args.seed)
        files_written = n_files
        t0 = time.perf_counter()
        indexer = Indexer(settings, embedder=synthetic)
        try:
            report = indexer.index([corpus_seeds, syn], progress=None)
        finally:
            indexer.close()
        build_s = time.perf_counter() - t0
        rss_before = rss_bytes_self()
        t0 = time.perf_counter()
        answerer = Answerer(settings, embedder=embedder)
        load_s = time.perf_counter() - t0
        counts = answerer.catalog.counts()
        vectors = {q: embedder.embed_queries([q])[0] for q in dict.fromkeys(questions)}
        t0 = time.perf_counter()
        answerer.ask(questions[0])
        first_ms = ms(t0)
        for q in questions[1: args.warmup]:
            answerer.ask(q)
        dense, lexical, retrieve, answer, after = [], [], [], [], []
        for q in questions[args.warmup:]:
            t0 = time.perf_counter()
            answerer.vectors.query(vectors[q], settings.candidates)
            dense.append(ms(t0))
            t0 = time.perf_counter()
            answerer.stores.lexical.search(q, settings.candidates)
            lexical.append(ms(t0))
            a = answerer.ask(q)
            retrieve.append(a.timings_ms["retrieve"])
            answer.append(a.timings_ms["answer"])
            after.append(a.timings_ms["retrieve"] + a.timings_ms["answer"])
        rss_after = rss_bytes_self()
        answerer.close()
        print(f"scale {size}: {counts['paragraphs']} paragraphs, {counts['chunks']} chunks; indexed "
              f"{report.chunks_embedded} new chunks in {build_s:.1f} s (synthetic vectors, no model); "
              f"Answerer loaded in {load_s:.1f} s; process RSS {mib(rss_before)} -> {mib(rss_after)}")
        rows.append([counts["paragraphs"], counts["chunks"], build_s, first_ms, statistics.median(dense),
                     statistics.median(lexical), statistics.median(retrieve), statistics.median(answer),
                     statistics.median(after), percentile(after, 95)])
    return rows


def rss_bytes_self() -> int:
    import os

    return rss_bytes(os.getpid())


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=80, help="questions measured (default 80)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--http", action="store_true", help="also POST /v1/ask against a real sanad serve")
    parser.add_argument("--scale", default="", help="comma-separated corpus sizes in paragraphs, e.g. 10000,100000")
    parser.add_argument("--skip-seeds", action="store_true", help="only the scale part (the seeds are still indexed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="build in this folder and keep it")
    args = parser.parse_args(argv)
    args.scale = sorted(int(s) for s in args.scale.split(",") if s.strip())
    if args.n < 1 or any(s < 100 for s in args.scale):
        parser.error("--n must be positive and every --scale at least 100")

    print(f"$ {command_line()}")
    print(machine_line())
    root = args.keep or Path(tempfile.mkdtemp(prefix="sanad-qlat-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        embedder = build_embedder(Settings(data_dir=root / "unused"))
        print(f"model loaded in {time.perf_counter() - t0:.1f} s")
        seeds_settings, index_s = build_seeds_index(root / "seeds", embedder)
        print(f"seeds indexed (real model) in {index_s:.1f} s")
        if not args.skip_seeds:
            rows = seeds_latency(args, embedder, seeds_settings)
            print(f"\nSeeds ({args.n} gold questions, ar/en interleaved, after {args.warmup} warm-up):")
            print(table(["figure", "n", "p50 ms", "p95 ms", "p50 / floor p50"], rows))
        if args.scale:
            rows = scale_latency(args, embedder, seeds_settings, root)
            print(f"\nScale (synthetic vectors; {args.n} real questions; times after the question is encoded):")
            print(table(["paragraphs", "chunks", "index s (no model)", "first ask ms", "Chroma query p50",
                         "BM25 p50", "retrieve p50", "answer p50", "retrieve+answer p50",
                         "retrieve+answer p95"], rows))
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
