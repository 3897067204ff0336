"""What collections cost: asking within one collection when the server holds 1 collection,
against the same when it holds 20 collections of equal size (issue 31).

One process, one app (``create_app``, in-process through FastAPI's TestClient: the HTTP
routes, the key check and the collection lookup included), one model in memory. Every
collection holds the same documents: the seeds plus ``--filler`` generated documents (indexed
once and copied into each named collection; ``--reindex`` embeds them into each).
Measured, in the same run:

1. baseline: a server (app) whose only collection is the default one;
2. a second server in the same process whose default collection and 20 named collections hold
   the same documents, each asked once (all 21 open at once);

and each question is asked, interleaved, of the baseline, of one named collection of the
second server (``c07``) and of its default collection, so all three share the conditions.

The answer cache is off (every question is retrieved). Printed: p50/p95 of each, their ratio
to the baseline, and the process's RSS before and after the 20 collections were opened.

    .venv/bin/python bench/collections_cost.py                     # hash embedder (retrieval cost only)
    .venv/bin/python bench/collections_cost.py --embed-model embeddinggemma-300m --filler 20
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SEEDS, command_line, machine_line, mixed_questions, percentile, rss_bytes, table  # noqa: E402

from settings import Settings, apply_runtime_defaults  # noqa: E402

WORDS = ("ledger contract salary vault badge atrium cobalt policy invoice archive quarter meeting budget "
         "report river desert market harbour school library station garden bridge tower museum").split()


def filler_corpus(folder: Path, n: int) -> Path:
    """The seeds plus ``n`` generated documents (the same every run)."""
    rng = random.Random(31)
    folder.mkdir(parents=True)
    for src in SEEDS.iterdir():
        (folder / src.name).write_bytes(src.read_bytes())
    for i in range(n):
        paras = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60))).capitalize() + "."
                 for _ in range(rng.randint(2, 6))]
        (folder / f"filler_{i:04d}.txt").write_text("\n\n".join(paras), encoding="utf-8")
    return folder


def timed_asks(client, questions: list[str], collection: str | None, rounds: int) -> list[float]:  # noqa: ANN001
    out = []
    for _ in range(rounds):
        for q in questions:
            body = {"question": q} if collection is None else {"question": q, "collection": collection}
            t0 = time.perf_counter()
            r = client.post("/v1/ask", json=body)
            out.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.text
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--collections", type=int, default=20, help="named collections in the second server state")
    parser.add_argument("--filler", type=int, default=100, help="generated documents per collection, beside the seeds")
    parser.add_argument("--n", type=int, default=40, help="questions")
    parser.add_argument("--rounds", type=int, default=3, help="times each question is asked in each state")
    parser.add_argument("--embed-model", default="hash", help="hash (default: retrieval cost alone) or a model")
    parser.add_argument("--reindex", action="store_true",
                        help="embed the corpus into each collection (default: index it once and copy the index in)")
    args = parser.parse_args(argv)
    apply_runtime_defaults()
    from fastapi.testclient import TestClient

    from api.http.app import create_app
    from index.embedding import build_embedder
    from index.indexer import Indexer
    from qa.answerer import Answerer

    print(machine_line())
    print(command_line())
    questions = mixed_questions(args.n)
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        corpus = filler_corpus(Path(tmp) / "corpus", args.filler)

        built = Path(tmp) / "built"  # the corpus indexed once, copied where it is wanted (--reindex: embedded each time)
        embedder = build_embedder(Settings(embed_model=args.embed_model))
        ix = Indexer(Settings(data_dir=built, embed_model=args.embed_model), embedder=embedder)
        ix.index([corpus], progress=None)
        ix.close()
        rss_start = rss_bytes(os.getpid())  # the model loaded, no server yet

        def copy_index(target_dir: Path) -> None:
            target_dir.mkdir(parents=True, exist_ok=True)
            for part in ("catalog.sqlite3", "chroma", "lexical"):
                src = built / part
                if src.is_dir():
                    shutil.copytree(src, target_dir / part)
                elif src.exists():
                    shutil.copy2(src, target_dir / part)

        def server(name: str):  # noqa: ANN202 - an app over its own data dir, the corpus in its default collection
            settings = Settings(data_dir=Path(tmp) / name, embed_model=args.embed_model, answer_cache_size=0,
                                upload_embedder="shared", api_keys=[], rate_limit_per_minute=0, answer_log="off")
            copy_index(settings.data_dir)
            app = create_app(settings, answerer=Answerer(settings, embedder=embedder))  # the one model
            client = stack.enter_context(TestClient(app))
            assert app.state.service.wait_ready(600), app.state.service.load_error
            return app, client

        many_app, many = server("many")
        t0 = time.perf_counter()
        for i in range(args.collections):
            name = f"c{i:02d}"
            many.post("/v1/collections", json={"name": name})
            if args.reindex:
                ix = Indexer(many_app.state.hub.registry.settings_for(name), embedder=embedder)
                ix.index([corpus], progress=None)
                ix.close()
            else:
                copy_index(many_app.state.hub.registry.settings_for(name).data_dir)
            timed_asks(many, questions[:1], name, 1)  # opened (and warm)
        build_s = time.perf_counter() - t0
        rss_many = rss_bytes(os.getpid())
        _, one = server("one")
        counts = one.get("/readyz").json()
        target = f"c{min(7, args.collections - 1):02d}"
        for client, coll in ((one, None), (many, target), (many, None)):
            timed_asks(client, questions[:5], coll, 1)  # warm
        gc.collect()
        base: list[float] = []
        named: list[float] = []
        default: list[float] = []
        for _ in range(args.rounds):  # interleaved, question by question: the same conditions for all three
            for q in questions:
                base += timed_asks(one, [q], None, 1)
                named += timed_asks(many, [q], target, 1)
                default += timed_asks(many, [q], None, 1)

    def row(label: str, values: list[float]) -> list[str]:
        p50, p95 = percentile(values, 50), percentile(values, 95)
        return [label, f"{p50:.1f}", f"{p95:.1f}", f"{p50 / percentile(base, 50):.2f}",
                f"{p95 / percentile(base, 95):.2f}"]

    print(f"each collection: {counts['documents']} documents, {counts['chunks']} chunks; "
          f"{len(questions)} questions x {args.rounds} rounds; embedder {args.embed_model}")
    print(table(["asking within", "p50 ms", "p95 ms", "p50 / baseline", "p95 / baseline"], [
        row("1 collection (baseline)", base),
        row(f"{target}, of {args.collections + 1} open", named),
        row(f"default, of {args.collections + 1} open", default),
    ]))
    print(f"RSS: {rss_start / 2**20:.0f} MiB with the model loaded and no server; {rss_many / 2**20:.0f} MiB "
          f"with the server of {args.collections + 1} open collections (the same one model): "
          f"+{(rss_many - rss_start) / 2**20 / (args.collections + 1):.1f} MiB per collection at most; "
          f"{args.collections} collections made, filled and opened in {build_s:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
