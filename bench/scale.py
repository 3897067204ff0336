"""How Sanad's costs grow with the corpus: 10k, 100k (and 1M) paragraphs, encoder out of the loop.

Builds synthetic corpora of Arabic and English paragraphs whose sentences are recombined from
the shared eval corpora (their folder comes from the eval settings, ``SANAD_EVALDATA_DIR``:
``evals.sets.evaldata_dir``), 20 paragraphs a file, half the files Arabic, half English.
At each size, in the embedded store and in Chroma server mode (a real ``chroma run`` on
127.0.0.1), with the hash embedder (``SANAD_EMBED_MODEL=hash``: encoding costs next to
nothing, and what it costs is measured and taken out):

- ``index p/s``: paragraphs indexed per second by ``sanad index`` (a subprocess), the hash
  encoding of the same texts subtracted;
- ``disk``: the data dir (and, server mode, the Chroma server's folder);
- ``bm25 load`` / ``bm25 update`` / ``bm25 rebuild``: in-process, loading the saved BM25
  index, adding one 10-paragraph document to it (``LexicalIndex.updated``, median of 5), and
  building it whole from the catalog (what every upload cost before the index was segmented);
- ``cold start``: ``sanad serve`` started until ``/readyz`` is 200;
- ``ask p50/p95``: ``/v1/ask`` wall time less the answer's own ``encode`` timing, one at a time;
- ``RSS``: ``sanad serve``'s process tree after the questions;
- ``upload``: ``POST /v1/documents`` of a small JSON text (5 paragraphs) until it returns,
  which is when it is searchable (then checked: a question on its unique term cites it);
  median of 3;
- ``delete``: ``DELETE /v1/documents/<name>`` of that document, median of 3.

Then each cost's growth is fitted between sizes (the log-log slope: < 0.1 constant, < 0.35
logarithmic, < 1.2 linear, else worse; for the indexing rate, the class of the cost per
paragraph) and projected to 1M paragraphs.

    .venv/bin/python bench/scale.py --sizes 10k,100k
    .venv/bin/python bench/scale.py --sizes 2k --modes embedded --questions 20   # a quick look
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from _common import ROOT, SanadServer, command_line, machine_line, percentile, table, tree_rss

from evals.sets import evaldata_dir
from tests.chroma_fixtures import server_env, start_chroma, stop_chroma

PARAGRAPHS_PER_FILE = 20
SENTENCE_END = re.compile(r"(?<=[.!?؟])\s+")
METRICS = ["index p/s", "disk MiB", "bm25 load s", "bm25 update ms", "bm25 rebuild s", "cold start s",
           "ask p50 ms", "ask p95 ms", "RSS MiB", "upload s", "delete s"]
#: metrics where more is better (their growth is read inverted)
HIGHER_IS_BETTER = {"index p/s"}


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


# --------------------------------------------------------------------------- corpus


def sentence_pools() -> tuple[list[str], list[str]]:
    """(Arabic sentences, English sentences) of the shared eval corpora."""
    base = evaldata_dir()
    arabic: list[str] = []
    for path in sorted(base.glob("*/contexts/*.txt")):
        for para in path.read_text(encoding="utf-8").split("\n"):
            arabic.extend(s.strip() for s in SENTENCE_END.split(para) if len(s.strip()) > 20)
    english: list[str] = []
    en_json = base / "xquad" / "xquad.en.json"
    if en_json.is_file():
        for article in json.loads(en_json.read_text(encoding="utf-8"))["data"]:
            for para in article["paragraphs"]:
                english.extend(s.strip() for s in SENTENCE_END.split(str(para["context"])) if len(s.strip()) > 20)
    if not arabic or not english:
        raise SystemExit(f"no Arabic or English sentences under {base} (SANAD_EVALDATA_DIR)")
    return arabic, english


def build_corpus(folder: Path, paragraphs: int, pools: tuple[list[str], list[str]], seed: int = 32) -> int:
    """Files of ``PARAGRAPHS_PER_FILE`` paragraphs of 2-4 recombined sentences; returns files written."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = math.ceil(paragraphs / PARAGRAPHS_PER_FILE)
    left = paragraphs
    for n in range(files):
        pool = pools[n % 2]
        count = min(PARAGRAPHS_PER_FILE, left)
        left -= count
        paras = [" ".join(rng.choice(pool) for _ in range(rng.randint(2, 4))) + f" [{n}.{p}]"
                 for p in range(count)]
        (folder / f"{'ar' if n % 2 == 0 else 'en'}-{n:07d}.txt").write_text("\n\n".join(paras) + "\n", encoding="utf-8")
    return files


def questions_of(pools: tuple[list[str], list[str]], n: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        words = rng.choice(pools[i % 2]).split()
        start = rng.randrange(max(1, len(words) - 6))
        out.append(" ".join(words[start:start + 6]) + ("؟" if i % 2 == 0 else "?"))
    return out


# --------------------------------------------------------------------------- measurements


def du(*paths: Path) -> int:
    return sum(f.stat().st_size for p in paths if p.exists() for f in p.rglob("*") if f.is_file())


def hash_encode_seconds(corpus: Path, sample: int = 2000) -> float:
    """Seconds per paragraph the hash embedder takes (chunk and sentence vectors), from a sample."""
    from index.chunks import build_chunks
    from index.embedding import HashEmbedding
    from index.indexer import embed_chunks
    from index.paragraphs import load_document

    chunks = []
    for path in sorted(corpus.iterdir())[: max(1, sample // PARAGRAPHS_PER_FILE)]:
        chunks.extend(build_chunks(load_document(path, root=corpus)))
    t0 = time.perf_counter()
    embed_chunks(HashEmbedding(), chunks)
    return (time.perf_counter() - t0) / max(1, len(chunks))


def bm25_figures(data_dir: Path) -> dict[str, float]:
    from index.catalog import Catalog
    from index.lexical import LexicalIndex
    from index.live_lexical import lexical_from_catalog

    t0 = time.perf_counter()
    index = LexicalIndex.load(data_dir / "lexical")
    load_s = time.perf_counter() - t0
    updates = []
    for k in range(5):
        adds = [(f"bench-{k}-{p}", f"Paragraph {p} of an uploaded note about budget line {k}-{p} فقرة جديدة")
                for p in range(10)]
        t0 = time.perf_counter()
        index.updated(adds)
        updates.append((time.perf_counter() - t0) * 1000)
    catalog = Catalog(data_dir / "catalog.sqlite3")
    try:
        t0 = time.perf_counter()
        with catalog.snapshot():
            lexical_from_catalog(catalog)
        rebuild_s = time.perf_counter() - t0
    finally:
        catalog.close()
    return {"bm25 load s": load_s, "bm25 update ms": statistics.median(updates), "bm25 rebuild s": rebuild_s}


def ask(client: httpx.Client, url: str, question: str) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    r = client.post(url + "/v1/ask", json={"question": question}, timeout=120)
    wall = (time.perf_counter() - t0) * 1000
    r.raise_for_status()
    body = r.json()
    return wall - float(body.get("timings_ms", {}).get("encode", 0.0)), body


def serve_figures(server: SanadServer, questions: list[str]) -> dict[str, float]:
    out: dict[str, float] = {"cold start s": server.ready_s or float("nan")}
    with httpx.Client() as client:
        for q in questions[:5]:
            ask(client, server.url, q)
        latencies = [ask(client, server.url, q)[0] for q in questions]
        out["ask p50 ms"] = percentile(latencies, 50)
        out["ask p95 ms"] = percentile(latencies, 95)
        out["RSS MiB"] = sum(server.rss().values()) / 2**20
        uploads, deletes = [], []
        for k in range(3):
            token = f"zq{uuid.uuid4().hex[:10]}"
            name = f"scale-upload-{k}-{token}.txt"
            text = "\n\n".join(f"Upload note {p}: the quarterly figure {token} was revised in paragraph {p}."
                               for p in range(5))
            t0 = time.perf_counter()
            r = client.post(server.url + "/v1/documents", json={"file": name, "text": text}, timeout=600)
            uploads.append(time.perf_counter() - t0)
            r.raise_for_status()
            _, body = ask(client, server.url, f"What was revised about {token}?")
            cited = {c.get("file") for c in body.get("citations", [])}
            if name not in cited:
                raise RuntimeError(f"the upload {name} was not cited right after it returned: {sorted(cited)}")
            t0 = time.perf_counter()
            r = client.delete(server.url + f"/v1/documents/{quote(name, safe='')}", timeout=600)
            deletes.append(time.perf_counter() - t0)
            r.raise_for_status()
        out["upload s"] = statistics.median(uploads)
        out["delete s"] = statistics.median(deletes)
    return out


def run_one(size: int, mode: str, corpus: Path, work: Path, questions: list[str],
            encode_s_per_para: float) -> dict[str, float]:
    data_dir = work / f"data-{mode}-{size}"
    chroma = start_chroma(work / f"chroma-{size}") if mode == "server" else None
    try:
        env = server_env(chroma, data_dir, collection=f"scale_{size}")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cli", "index", "--quiet", str(corpus)], env=env, cwd=ROOT,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=6 * 3600)
        index_s = time.perf_counter() - t0
        out: dict[str, float] = {
            "index p/s": size / max(1e-9, index_s - encode_s_per_para * size),
            "disk MiB": du(data_dir, *( [chroma.path / "db"] if chroma else [])) / 2**20,
        }
        out.update(bm25_figures(data_dir))
        server = SanadServer(work / f"serve-{mode}-{size}", embed_model="hash", data_dir=data_dir,
                             env={k: v for k, v in env.items() if k.startswith("SANAD_")})
        server.start(ready_timeout=1800)
        try:
            out.update(serve_figures(server, questions))
        finally:
            server.stop()
        return out
    finally:
        if chroma is not None:
            stop_chroma(chroma)


# --------------------------------------------------------------------------- growth


def growth(sizes: list[int], values: list[float], *, inverted: bool = False) -> tuple[str, float, float]:
    """(class, log-log slope, projection to 1M) of a cost measured at ``sizes``."""
    pairs = [(n, v) for n, v in zip(sizes, values) if v and v > 0 and not math.isnan(v)]
    if len(pairs) < 2:
        return "n/a", float("nan"), float("nan")
    (n1, v1), (n2, v2) = pairs[0], pairs[-1]
    slope = math.log(v2 / v1) / math.log(n2 / n1)
    cost_slope = -slope if inverted else slope  # a rate that falls is a per-item cost that grows
    kind = ("constant" if cost_slope < 0.1 else "log" if cost_slope < 0.35 else
            "linear" if cost_slope < 1.2 else "worse than linear")
    if inverted:  # a rate: the class is that of the cost per item (constant: the total is linear)
        kind = f"per paragraph: {kind}"
    if kind.endswith("constant"):
        projected = v2
    elif kind.endswith("log"):  # v = a + b ln n through the two points
        b_ = (v2 - v1) / math.log(n2 / n1)
        projected = v2 + b_ * math.log(1_000_000 / n2)
    else:
        projected = v2 * (1_000_000 / n2) ** slope
    return kind, slope, projected


def report(results: dict[str, dict[int, dict[str, float]]]) -> None:
    """Print each mode's table and, with two sizes or more, each cost's growth fit."""
    for mode, by_size in results.items():
        sizes = sorted(by_size)
        if not sizes:
            continue
        print(f"\n### {mode}\n")
        rows = [[f"{size:,}", *[by_size[size].get(m, float("nan")) for m in METRICS]] for size in sizes]
        print(table(["paragraphs", *METRICS], rows))
        if len(sizes) > 1:
            fits = []
            for m in METRICS:
                kind, slope, projected = growth(sizes, [by_size[s].get(m, float("nan")) for s in sizes],
                                                inverted=m in HIGHER_IS_BETTER)
                fits.append([m, kind, slope, projected])
            print()
            print(table(["cost", "growth", "log-log slope", "projected at 1M"], fits))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10k,100k", help="paragraph counts, e.g. 10k,100k,1m")
    parser.add_argument("--modes", default="embedded,server")
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--keep", type=Path, default=None, help="a folder to work in and keep (else a temp dir)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here too")
    parser.add_argument("--from-json", type=Path, nargs="+", default=None,
                        help="measure nothing: print the tables of figures --json wrote (runs merged)")
    args = parser.parse_args()
    if args.from_json:
        merged: dict[str, dict[int, dict[str, float]]] = {}
        for path in args.from_json:
            for mode, by_size in json.loads(path.read_text()).items():
                merged.setdefault(mode, {}).update({int(n): v for n, v in by_size.items()})
        report(merged)
        return
    sizes = sorted(parse_size(s) for s in args.sizes.split(","))
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    print(command_line())
    print(machine_line())
    pools = sentence_pools()
    print(f"sentences: {len(pools[0]):,} Arabic, {len(pools[1]):,} English (from {evaldata_dir().name}/)")
    questions = questions_of(pools, args.questions)
    work = args.keep or Path(tempfile.mkdtemp(prefix="sanad-scale-"))
    results: dict[str, dict[int, dict[str, float]]] = {m: {} for m in modes}
    try:
        for size in sizes:
            corpus = work / f"corpus-{size}"
            if not corpus.exists():
                build_corpus(corpus, size, pools)
            encode_s = hash_encode_seconds(corpus)
            for mode in modes:
                t0 = time.perf_counter()
                results[mode][size] = run_one(size, mode, corpus, work, questions, encode_s)
                print(f"{mode} {size:,}: done in {time.perf_counter() - t0:.0f} s: "
                      + ", ".join(f"{k} {v:.3g}" for k, v in results[mode][size].items()), flush=True)
                if args.json:
                    args.json.write_text(json.dumps(results, indent=1))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    report(results)

if __name__ == "__main__":
    main()
