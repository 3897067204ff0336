"""The segmented BM25 index: updates, deletions and merges score exactly as a full rebuild."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import bm25s
import numpy as np
import pytest
from bm25s.tokenization import Tokenized

from index.arabic import Analyzer
from index.catalog import Catalog
from index.chunks import build_chunks
from index.lexical import MERGE_FACTOR, MIN_SEGMENT_DOCS, LexicalIndex
from index.live_lexical import LexicalFollower, catch_up, current_lexical, lexical_from_catalog
from index.paragraphs import parse_document

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

QUERIES = ["من ترأس اجتماع مجلس روسيا والناتو", "الناتو", "2019", "Who chaired the NATO meeting?",
           "council meeting energy", "روسيا", "اجتماع اجتماع الناتو", "xyzzy"]


def _lines() -> list[str]:
    lines = [line.strip() for path in sorted(SEEDS.glob("*.txt"))
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) > 50
    return lines


def _corpus(n: int, seed: int = 7) -> dict[str, str]:
    """``n`` paragraphs recombined from the seeds' sentences (ids in random order)."""
    rng = random.Random(seed)
    words = " ".join(_lines()).split()
    out: dict[str, str] = {}
    while len(out) < n:
        start = rng.randrange(len(words))
        out[f"d{rng.randrange(10**9):09d}"] = " ".join(words[start:start + rng.randint(3, 40)])
    return out


def _same(a: LexicalIndex, b: LexicalIndex, queries: list[str] = QUERIES, k: int = 30) -> None:
    assert sorted(a.ids) == sorted(b.ids)
    assert len(a) == len(b)
    assert a.stamp == b.stamp
    for q in queries:
        assert a.search(q, k=k) == b.search(q, k=k), q  # ids, order and scores, bit for bit
        assert a.search(q, k=10_000) == b.search(q, k=10_000), q
        for text in ("الناتو روسيا", "meeting council", ""):
            assert a.coverage(q, text) == b.coverage(q, text)


def test_updates_deletes_and_merges_score_as_a_full_rebuild() -> None:
    corpus = _corpus(1500)
    ids = list(corpus)
    rng = random.Random(3)
    live = dict.fromkeys(ids[:600])
    index = LexicalIndex.build(list(live), [corpus[i] for i in live])
    pending = ids[600:]
    for step in range(25):
        adds = [pending.pop() for _ in range(rng.randint(0, 40)) if pending]
        removes = rng.sample(list(live), rng.randint(0, 25))
        index = index.updated([(i, corpus[i]) for i in adds], removes)
        for i in removes:
            live.pop(i)
        live.update(dict.fromkeys(adds))
        if step % 5 == 4:
            index = index.compacted()
        full = LexicalIndex.build(list(live), [corpus[i] for i in live])
        _same(index, full)
    assert len(index.segments) > 1


def test_readding_a_live_id_or_removing_an_unknown_one_changes_nothing() -> None:
    corpus = _corpus(50)
    ids = list(corpus)
    index = LexicalIndex.build(ids, [corpus[i] for i in ids])
    again = index.updated([(ids[0], corpus[ids[0]])], ["no-such-id"])
    _same(again, index)
    assert again.segments == index.segments
    # removed and re-added in one update: one live copy
    swapped = index.updated([(ids[1], corpus[ids[1]])], [ids[1]])
    _same(swapped, index)


def test_an_update_analyses_only_the_new_texts() -> None:
    """The cost of an update is what it changes: old documents are never analysed again."""

    class Counting(Analyzer):
        calls = 0

        def analyze(self, text: str) -> list[str]:
            Counting.calls += 1
            return super().analyze(text)

    corpus = _corpus(3000)
    ids = list(corpus)
    index = LexicalIndex.build(ids[:-1], [corpus[i] for i in ids[:-1]], analyzer=Counting())
    Counting.calls = 0
    index = index.updated([(ids[-1], corpus[ids[-1]])], ids[:5])
    assert Counting.calls == 1
    assert [d for d, _ in index.segments] == [2999, 1]


def test_segments_stay_few_under_many_small_updates() -> None:
    corpus = _corpus(4000)
    ids = list(corpus)
    index = LexicalIndex.build([], [])
    for start in range(0, len(ids), 10):
        index = index.updated([(i, corpus[i]) for i in ids[start:start + 10]])
        index = index.compacted()
        assert not index.merge_plan()
    tiers = {}
    for docs, _ in index.segments:
        tiers[docs] = tiers.get(docs, 0) + 1
    # at most MERGE_FACTOR - 1 segments per size tier
    assert len(index.segments) <= (MERGE_FACTOR - 1) * 5
    _same(index, LexicalIndex.build(ids, [corpus[i] for i in ids]))


def test_a_mostly_deleted_segment_is_compacted() -> None:
    corpus = _corpus(2 * MIN_SEGMENT_DOCS)
    ids = list(corpus)
    index = LexicalIndex.build(ids, [corpus[i] for i in ids])
    index = index.updated(removes=ids[: len(ids) // 3])
    assert index.merge_plan() == [[0]]
    compacted = index.compacted()
    assert compacted.segments == [(len(ids) - len(ids) // 3,) * 2]
    _same(compacted, index)


def test_scores_agree_with_bm25s_lucene() -> None:
    """The scoring is bm25s's ``lucene`` BM25 (the previous implementation), to float32 precision."""
    corpus = _corpus(800)
    ids, texts = list(corpus), list(corpus.values())
    analyzer = Analyzer()
    vocab: dict[str, int] = {}
    tokens = [[vocab.setdefault(t, len(vocab)) for t in analyzer.analyze(text)] for text in texts]
    reference = bm25s.BM25(k1=1.2, b=0.75, method="lucene", backend="numpy")
    reference.index(Tokenized(ids=tokens, vocab=vocab), create_empty_token=False, show_progress=False)
    index = LexicalIndex.build(ids[:500], texts[:500]).updated(list(zip(ids[500:], texts[500:])))
    for q in QUERIES:
        token_ids = reference.get_tokens_ids(analyzer.analyze(q))
        expected = reference.get_scores_from_ids(token_ids) if token_ids else np.zeros(len(ids))
        got = dict(index.search(q, k=len(ids)))
        for n, doc_id in enumerate(ids):
            assert got.get(doc_id, 0.0) == pytest.approx(float(expected[n]), rel=1e-5, abs=1e-6)


def test_incremental_save_writes_only_what_changed(tmp_path: Path) -> None:
    corpus = _corpus(300)
    ids = list(corpus)
    target = tmp_path / "lexical"
    index = LexicalIndex.build(ids[:200], [corpus[i] for i in ids[:200]])
    index.save(target)
    base_files = {p.name: p.stat().st_mtime_ns for p in target.glob("seg-*.npz")}
    updated = index.updated([(i, corpus[i]) for i in ids[200:]], ids[:7])
    updated.save(target)
    after = {p.name: p.stat().st_mtime_ns for p in target.glob("seg-*.npz")}
    assert len(after) == 2 and all(after[name] == mtime for name, mtime in base_files.items())
    assert len(list(target.glob("*.del-*.npy"))) == 1
    loaded = LexicalIndex.load(target)
    _same(loaded, updated)
    assert loaded.stamp == updated.stamp
    # a merge replaces both files with one; nothing stale is left
    merged = updated.merged([0, 1])
    merged.save(target)
    assert len(list(target.glob("seg-*.npz"))) == 1 and not list(target.glob("*.del-*.npy"))
    _same(LexicalIndex.load(target), updated)


def _doc(name: str, text: str):  # noqa: ANN202
    return parse_document(text.encode("utf-8"), file=name)


def _put(catalog: Catalog, name: str, text: str) -> None:
    doc = _doc(name, text)
    catalog.replace_document(doc, build_chunks(doc), size_bytes=len(text))


def test_the_catalog_logs_chunk_changes_and_an_index_catches_up(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    lines = _lines()
    for n in range(6):
        _put(catalog, f"doc{n}.txt", "\n\n".join(lines[n * 8:(n + 1) * 8]))
    with catalog.snapshot():
        index = lexical_from_catalog(catalog)
    uid, head = catalog.log_position()
    assert index.position is not None and (index.position.uid, index.position.seq) == (uid, head) and head > 0
    assert catalog.changed_since(head) == []
    _put(catalog, "doc1.txt", "\n\n".join(lines[100:110]))  # changed
    catalog.delete_document("doc2.txt")
    _put(catalog, "new.txt", "Jens Stoltenberg chaired the NATO meeting in Brussels.")
    changed = catalog.changed_since(head)
    assert changed and len(changed) == len(set(changed))
    with catalog.snapshot():
        caught = catch_up(index, catalog)
        full = lexical_from_catalog(catalog)
    assert caught is not None and caught.position == full.position
    _same(caught, full)
    assert sorted(caught.ids) == sorted(catalog.all_chunk_ids())
    # an index of another catalog, or further behind than the log reaches, is not caught up
    other = Catalog(tmp_path / "other.sqlite3")
    with other.snapshot():
        assert catch_up(index, other) is None
    other.close()
    conn = sqlite3.connect(tmp_path / "catalog.sqlite3")
    conn.execute("DELETE FROM chunk_log WHERE seq <= ?", (head + 2,))
    conn.commit()
    conn.close()
    assert catalog.changed_since(head) is None
    with catalog.snapshot():
        assert catch_up(index, catalog) is None
    catalog.close()


def test_current_lexical_saves_and_resumes_from_the_log(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    lines = _lines()
    for n in range(4):
        _put(catalog, f"doc{n}.txt", "\n\n".join(lines[n * 6:(n + 1) * 6]))
    saved = current_lexical(catalog, tmp_path / "lexical", save=True)
    _put(catalog, "late.txt", "council meeting energy prices")
    catalog.delete_document("doc0.txt")
    resumed = current_lexical(catalog, tmp_path / "lexical", save=False)
    assert [d for d, _ in resumed.segments][0] == len(saved)  # the saved segment, caught up
    with catalog.snapshot():
        _same(resumed, lexical_from_catalog(catalog))
    catalog.close()


def test_the_follower_updates_in_the_background_and_saves_when_an_indexer_asks(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    lines = _lines()
    _put(catalog, "a.txt", "\n\n".join(lines[:10]))
    built: list[LexicalIndex] = []
    initial = current_lexical(catalog, tmp_path / "lexical", save=False)
    follower = LexicalFollower(catalog.path, on_built=built.append, initial=initial, directory=tmp_path / "lexical")
    try:
        assert follower.rebuild_now(timeout=30)  # current already: nothing built
        assert built == [] and not (tmp_path / "lexical").exists()
        _put(catalog, "b.txt", "Jens Stoltenberg chaired the NATO meeting in Brussels.")
        assert follower.rebuild_now(timeout=30)
        assert built and built[-1].search("Stoltenberg")[0][0].startswith("b.txt#")
        assert not (tmp_path / "lexical").exists()  # a reader never writes
        catalog.delete_document("a.txt")
        index = follower.refresh()  # the indexer's hook: up to date and saved
        assert sorted(index.ids) == sorted(catalog.all_chunk_ids())
        _same(LexicalIndex.load(tmp_path / "lexical"), index)
    finally:
        follower.close()
        catalog.close()


def test_an_upload_through_the_indexer_adds_a_segment_to_the_served_index(hash_settings, seeds_copy: Path) -> None:  # noqa: ANN001
    """`sanad serve`'s wiring: the upload indexer hands BM25 to the answerer's follower, which
    adds the upload as a segment (the base is kept, not rebuilt) and saves it."""
    from index.indexer import Indexer
    from qa.answerer import Answerer

    first = Indexer(hash_settings)
    try:
        first.index([seeds_copy])
    finally:
        first.close()
    answerer = Answerer(hash_settings)
    indexer = Indexer(hash_settings, embedder=answerer.embedder, lexical=answerer.lexical_follower)
    try:
        base = answerer.stores.lexical.segments
        assert len(base) == 1
        doc = _doc("upload.txt", "The Stoltenberg budget line zqxv was revised.\n\nA second paragraph.")
        indexer.add_document(doc, size_bytes=80)
        answerer.reload()
        served = answerer.stores.lexical
        assert served.segments[0] == base[0] and len(served.segments) == 2
        assert served.search("zqxv")[0][0].startswith("upload.txt#")
        assert sorted(served.ids) == sorted(answerer.catalog.all_chunk_ids())
        _same(LexicalIndex.load(hash_settings.lexical_path), served)
        assert indexer.remove("upload.txt")
        answerer.reload()
        assert answerer.stores.lexical.search("zqxv") == []
    finally:
        indexer.close()
        answerer.close()
