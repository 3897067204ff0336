"""Incremental indexing, removal, crash safety and bad input, with the hashing embedder."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.catalog import Catalog
from index.embedding import HashEmbedding
from index.indexer import Indexer, IndexerError, index_lock
from index.lexical import LexicalIndex
from index.vectors import ChunkVectors
from settings import Settings

REPO = Path(__file__).resolve().parents[1]


def snapshot(settings: Settings) -> dict:
    catalog = Catalog(settings.catalog_path)
    lexical = LexicalIndex.load(settings.lexical_path)
    state = {
        "manifest": catalog.manifest(),
        "chunks": sorted(catalog.all_chunk_ids()),
        "chroma": sorted(ChunkVectors(settings).all_ids()),
        "lexical": sorted(lexical.ids),
        "stamp": lexical.stamp,
        "counts": catalog.counts(),
    }
    catalog.close()
    return state


def run_index(settings: Settings, corpus: Path, embedder=None):  # noqa: ANN001, ANN201
    indexer = Indexer(settings, embedder=embedder)
    try:
        return indexer.index([corpus])
    finally:
        indexer.close()


def test_first_run_fills_every_store_consistently(hash_settings: Settings, seeds_copy: Path) -> None:
    report = run_index(hash_settings, seeds_copy)
    assert sorted(report.added) == sorted(p.name for p in seeds_copy.glob("*.txt"))
    assert not report.errors and report.chunks_embedded > 0
    state = snapshot(hash_settings)
    assert state["chunks"] == state["chroma"] == state["lexical"]
    assert len(state["chunks"]) == report.chunks_embedded
    assert state["counts"]["documents"] == 5


def test_unchanged_rerun_embeds_nothing(hash_settings: Settings, seeds_copy: Path) -> None:
    run_index(hash_settings, seeds_copy)
    before = snapshot(hash_settings)
    report = run_index(hash_settings, seeds_copy)
    assert report.chunks_embedded == 0 and len(report.unchanged) == 5
    assert not (report.added or report.changed or report.removed)
    assert snapshot(hash_settings) == before


def test_editing_one_file_reembeds_only_its_new_chunks(hash_settings: Settings, seeds_copy: Path) -> None:
    run_index(hash_settings, seeds_copy)
    before = snapshot(hash_settings)
    target = seeds_copy / "003_9157ba4207286d92.txt"
    target.write_text(target.read_text(encoding="utf-8") + "\nفقرة جديدة تماما أضيفت إلى نهاية الملف لاختبار الفهرسة التزايدية.\n",
                      encoding="utf-8")
    report = run_index(hash_settings, seeds_copy)
    assert report.changed == [target.name] and len(report.unchanged) == 4
    assert report.chunks_embedded == 1  # only the new paragraph; unchanged paragraphs keep their ids
    after = snapshot(hash_settings)
    assert len(after["chunks"]) == len(before["chunks"]) + 1
    assert after["chunks"] == after["chroma"] == after["lexical"]
    assert after["manifest"][target.name] != before["manifest"][target.name]


def test_changing_a_paragraph_replaces_its_chunk(hash_settings: Settings, seeds_copy: Path) -> None:
    run_index(hash_settings, seeds_copy)
    target = seeds_copy / "000_51f39cb05999d58c.txt"
    lines = target.read_text(encoding="utf-8").split("\n")
    lines[0] = lines[0].replace("ستولتنبرغ", "ستولتنبرغ (نص معدل)")
    target.write_text("\n".join(lines), encoding="utf-8")
    before = snapshot(hash_settings)
    report = run_index(hash_settings, seeds_copy)
    assert report.chunks_embedded == 1
    after = snapshot(hash_settings)
    assert len(after["chunks"]) == len(before["chunks"])
    assert set(after["chunks"]) != set(before["chunks"])
    assert after["chunks"] == after["chroma"] == after["lexical"]
    catalog = Catalog(hash_settings.catalog_path)
    assert "نص معدل" in catalog.paragraph(target.name, 1).text
    catalog.close()


def test_removed_file_leaves_no_trace(hash_settings: Settings, seeds_copy: Path) -> None:
    run_index(hash_settings, seeds_copy)
    gone = "002_89118faa34ef236d.txt"
    (seeds_copy / gone).unlink()
    report = run_index(hash_settings, seeds_copy)
    assert report.removed == [gone]
    state = snapshot(hash_settings)
    assert gone not in state["manifest"]
    assert not [c for c in state["chroma"] + state["lexical"] + state["chunks"] if c.startswith(gone)]
    assert state["chunks"] == state["chroma"] == state["lexical"]


class CrashingEmbedder(HashEmbedding):
    """Dies (like a killed process would) on its Nth call."""

    calls_before_crash: int = 0

    def embed_documents(self, texts):  # noqa: ANN001, ANN201
        if self.calls_before_crash <= 0:
            raise SystemExit("simulated crash")
        self.calls_before_crash -= 1
        return super().embed_documents(texts)


@pytest.mark.parametrize("crash_after", [0, 1, 3, 6])
def test_interrupted_run_resumes_to_the_clean_state(tmp_path: Path, seeds_copy: Path, crash_after: int) -> None:
    clean = Settings(data_dir=tmp_path / "clean", embed_model="hash", embed_batch_size=2, index_group_size=2)
    run_index(clean, seeds_copy)
    crashed = Settings(data_dir=tmp_path / "crashed", embed_model="hash", embed_batch_size=2, index_group_size=2)
    with pytest.raises(SystemExit):
        run_index(crashed, seeds_copy, embedder=CrashingEmbedder(calls_before_crash=crash_after))
    report = run_index(crashed, seeds_copy)
    assert not report.errors
    assert snapshot(crashed) == snapshot(clean)


def test_orphan_vectors_from_a_crash_are_removed(hash_settings: Settings, seeds_copy: Path) -> None:
    run_index(hash_settings, seeds_copy)
    from index.chunks import Chunk

    vectors = ChunkVectors(hash_settings)
    orphan = Chunk(id="ghost.txt#1-1#0", file="ghost.txt", paragraphs=(1,), text="orphan")
    vectors.add([orphan], HashEmbedding().embed_documents(["orphan"]))
    report = run_index(hash_settings, seeds_copy)
    assert report.orphans_removed == 1
    assert "ghost.txt#1-1#0" not in ChunkVectors(hash_settings).all_ids()


def test_kill_9_mid_run_then_rerun_matches_clean_run(tmp_path: Path) -> None:
    """A real `sanad index` process killed with SIGKILL at several moments."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(40):
        (corpus / f"doc{i:02d}.txt").write_text(
            "\n".join(f"Paragraph {j} of document {i}: {'word ' * (5 + j)}" for j in range(12)), encoding="utf-8")
    env = {**os.environ, "SANAD_EMBED_MODEL": "hash", "SANAD_EMBED_BATCH_SIZE": "1", "SANAD_INDEX_GROUP_SIZE": "1"}
    cmd = [sys.executable, "-m", "cli", "index", str(corpus), "--quiet"]

    clean_settings = Settings(data_dir=tmp_path / "clean", embed_model="hash")
    run_index(clean_settings, corpus)  # the reference run, in-process (no start-up cost)
    clean = snapshot(clean_settings)

    data = tmp_path / "killed"
    kills = 0
    for target_docs in (3, 15, 30):
        proc = subprocess.Popen(cmd, env={**env, "SANAD_DATA_DIR": str(data)}, cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if _documents(data) >= target_docs:
                proc.send_signal(signal.SIGKILL)
                kills += 1
                break
            time.sleep(0.005)
        proc.wait(timeout=60)
    assert kills >= 2, "the indexer finished before it could be killed; make the corpus bigger"
    settings = Settings(data_dir=data, embed_model="hash")
    assert not run_index(settings, corpus).errors
    assert snapshot(settings) == clean


def _documents(data: Path) -> int:
    db = data / "catalog.sqlite3"
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1)
        try:
            return conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def test_second_indexer_is_refused_while_one_runs(hash_settings: Settings, seeds_copy: Path) -> None:
    indexer = Indexer(hash_settings)
    with index_lock(hash_settings.lock_path):
        with pytest.raises(IndexerError, match="another `sanad index` is running"):
            indexer.index([seeds_copy])
    indexer.close()


def test_bad_files_are_reported_and_the_rest_indexed(hash_settings: Settings, seeds_copy: Path) -> None:
    (seeds_copy / "empty.txt").write_bytes(b"")
    (seeds_copy / "binary.txt").write_bytes(b"abc\x00def")
    (seeds_copy / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (seeds_copy / "notes.pdf").write_bytes(b"%PDF-1.4")
    (seeds_copy / "page.html").write_text("<html><body><h1>Title</h1><p>Hello &amp; welcome.</p></body></html>",
                                          encoding="utf-8")
    report = run_index(hash_settings, seeds_copy)
    assert "binary" in report.errors["binary.txt"]
    assert "UTF-8" in report.errors["latin1.txt"]
    assert "empty" in report.warnings["empty.txt"]
    assert "notes.pdf" not in report.added  # unsupported types in a folder are skipped quietly
    assert {"page.html", "empty.txt", *(p.name for p in seeds_copy.glob("0*.txt"))} == set(report.added)
    catalog = Catalog(hash_settings.catalog_path)
    assert catalog.paragraph("page.html", 2).text == "Hello & welcome."
    catalog.close()


def test_oversized_file_is_skipped_with_a_message(tmp_path: Path, seeds_copy: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", embed_model="hash", max_file_bytes=4000)
    report = run_index(settings, seeds_copy)
    assert report.errors  # the larger seeds exceed 4000 bytes
    assert all("limit" in msg or "large" in msg for msg in report.errors.values())
    assert report.added  # the smaller ones are indexed


def test_index_built_with_another_model_is_refused(hash_settings: Settings, seeds_copy: Path) -> None:
    run_index(hash_settings, seeds_copy)
    other = hash_settings.model_copy(update={"embed_model": "some-other-model"})
    with pytest.raises(IndexerError, match="built with the embedder"):
        Indexer(other)


def test_missing_path_is_a_clear_error(hash_settings: Settings, tmp_path: Path) -> None:
    indexer = Indexer(hash_settings)
    with pytest.raises(IndexerError, match="no such file or folder"):
        indexer.index([tmp_path / "nope"])
    indexer.close()


# --- bad input: one message per bad file, the rest indexed --------------------------------------
def test_truncated_corrupt_and_blank_files(hash_settings: Settings, seeds_copy: Path, tmp_path: Path) -> None:
    (seeds_copy / "truncated.txt").write_bytes("نص عربي مقطوع".encode()[:-1])  # a UTF-8 sequence cut short
    (seeds_copy / "surrogate.md").write_bytes(b"# T\n\n\xed\xa0\x80 text")  # encoded surrogate: not UTF-8
    (seeds_copy / "blank.txt").write_bytes(b" \n\t\n   \n")
    (seeds_copy / "bom-only.txt").write_bytes(b"\xef\xbb\xbf")
    (seeds_copy / "cut.html").write_bytes(b"<html><body><h1>Cut short</h1><p>The file ends in the <b>midd")
    outside = tmp_path / "outside.txt"
    outside.write_text("secret", encoding="utf-8")
    (seeds_copy / "link.txt").symlink_to(outside)
    report = run_index(hash_settings, seeds_copy)
    assert report.errors["truncated.txt"].startswith("not valid UTF-8 (byte ")
    assert report.errors["surrogate.md"] == "not valid UTF-8 (byte 5)"
    assert "outside the corpus root" in report.errors["link.txt"]
    assert report.warnings["blank.txt"] == report.warnings["bom-only.txt"] == "empty file: no paragraphs to index"
    assert {"cut.html", "blank.txt", "bom-only.txt"} <= set(report.added)
    assert len([f for f in report.added if f.startswith("0")]) == 5
    catalog = Catalog(hash_settings.catalog_path)
    assert [p.text for p in catalog.paragraphs_of("cut.html")] == ["Cut short", "The file ends in the midd"]
    assert catalog.paragraphs_of("blank.txt") == [] and catalog.document("blank.txt") is not None
    catalog.close()


def test_an_unexpected_reader_failure_skips_only_that_file(hash_settings: Settings, seeds_copy: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import index.indexer as indexer_module

    real = indexer_module.load_document

    def flaky(path, **kwargs):  # noqa: ANN001, ANN003, ANN202
        if path.name.startswith("001_"):
            raise RecursionError("maximum recursion depth exceeded")
        return real(path, **kwargs)

    monkeypatch.setattr(indexer_module, "load_document", flaky)
    report = run_index(hash_settings, seeds_copy)
    bad = "001_60d84da894ed2980.txt"
    assert report.errors == {bad: "could not be read (RecursionError: maximum recursion depth exceeded)"}
    assert len(report.added) == 4 and bad not in report.added


def test_a_file_grown_past_the_limit_keeps_its_last_good_version(tmp_path: Path, seeds_copy: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", embed_model="hash", max_file_bytes=20_000)
    run_index(settings, seeds_copy)
    before = snapshot(settings)
    target = seeds_copy / "003_9157ba4207286d92.txt"
    target.write_text(target.read_text(encoding="utf-8") * 10, encoding="utf-8")
    report = run_index(settings, seeds_copy)
    size = target.stat().st_size
    assert report.errors == {target.name: f"file too large: {size} bytes (limit 20000 bytes): {target.name}"}
    assert not report.removed and snapshot(settings) == before


def test_the_cli_prints_one_line_per_bad_file(seeds_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    (seeds_copy / "bad.txt").write_bytes(b"\xff\xfe broken")
    (seeds_copy / "empty.md").write_bytes(b"")
    monkeypatch.setenv("SANAD_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("SANAD_EMBED_MODEL", "hash")
    assert main(["index", str(seeds_copy), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "skipped bad.txt: not valid UTF-8 (byte 0)" in err
    assert "warning empty.md: empty file: no paragraphs to index" in err
    assert out.startswith("6 added, 0 changed, 0 removed, 0 unchanged, 1 skipped with errors")


# --- readers during a re-index ----------------------------------------------------------------------
def test_a_catalog_snapshot_sees_the_old_or_the_new_version_never_both(hash_settings: Settings,
                                                                      seeds_copy: Path) -> None:
    run_index(hash_settings, seeds_copy)
    target = seeds_copy / "000_51f39cb05999d58c.txt"
    old_text = target.read_text(encoding="utf-8")
    reader = Catalog(hash_settings.catalog_path)
    with reader.snapshot():
        first = reader.paragraph(target.name, 1)
        target.write_text("سطر جديد\n" + old_text, encoding="utf-8")
        run_index(hash_settings, seeds_copy)  # commits through another connection meanwhile
        assert reader.paragraph(target.name, 1) == first
        assert reader.document_text(target.name) == old_text
    assert reader.document_text(target.name) == "سطر جديد\n" + old_text
    assert reader.paragraph(target.name, 1).text == "سطر جديد"
    reader.close()


def test_an_answer_reads_one_index_version_while_the_indexer_commits(tmp_path: Path, seeds_copy: Path) -> None:
    """The indexer commits a new version of the cited file in the middle of an answer: every
    catalog read of that answer still sees the version it started with."""
    from qa.answerer import Answerer

    settings = Settings(data_dir=tmp_path / "d", embed_model="hash", min_similarity=0.0)
    run_index(settings, seeds_copy)
    target = seeds_copy / "000_51f39cb05999d58c.txt"
    old_text = target.read_text(encoding="utf-8")
    answerer = Answerer(settings, embedder=HashEmbedding())
    real_paragraph = answerer.catalog.paragraph
    reads: list[tuple[str, str | None]] = []

    def paragraph(file: str, number: int):  # noqa: ANN202
        if not reads:  # first paragraph read of the answer: a new version is committed now
            target.write_text("سطر جديد في الأعلى\n" + old_text.replace("الناتو", "الحلف"), encoding="utf-8")
            assert run_index(settings, seeds_copy).changed == [target.name]
        reads.append((file, answerer.catalog.document_text(target.name)))
        return real_paragraph(file, number)

    answerer.catalog.paragraph = paragraph  # the composer reads through this object
    question = " ".join(old_text.split("\n")[0].split()[:10])
    answer = answerer.ask(question)
    assert reads and all(text == old_text for _, text in reads)
    assert_quotes_in(answer, old_text, target.name)
    answerer.catalog.paragraph = real_paragraph
    # citations follow the fused ranking, whose BM25 part is rebuilt in the background after a
    # commit: wait for it, so the changed file's new chunks compete on equal terms
    answerer.reload()
    new_answer = answerer.ask(question)
    assert_quotes_in(new_answer, target.read_text(encoding="utf-8"), target.name)
    answerer.close()


def assert_quotes_in(answer, text: str, file: str) -> None:  # noqa: ANN001
    cited = [c for c in answer.citations if c.file == file]
    assert cited, answer
    assert all(text[c.char_start:c.char_end] == c.quote for c in cited)


def test_a_guarded_apply_writes_nothing_onto_a_moved_catalog(hash_settings: Settings, seeds_copy: Path) -> None:
    """A replica's sync applies its diff only onto the cache state it computed it from."""
    run_index(hash_settings, seeds_copy)
    catalog = Catalog(hash_settings.catalog_path)
    catalog.set_meta("server_version", "v1")
    gone = "000_51f39cb05999d58c.txt"
    assert not catalog.apply([], [gone], {"server_version": "v3"}, expect=("server_version", "v2"))
    assert catalog.document(gone) is not None and catalog.get_meta("server_version") == "v1"
    assert catalog.apply([], [gone], {"server_version": "v2"}, expect=("server_version", "v1"))
    assert catalog.document(gone) is None and catalog.get_meta("server_version") == "v2"
    catalog.close()


def test_index_written_before_server_mode_existed_is_adopted(hash_settings: Settings, seeds_copy: Path) -> None:
    """A data dir from an older Sanad (catalog with documents, no "source" meta) keeps working."""
    from index.sync import SOURCE_KEY

    indexer = Indexer(hash_settings, embedder=HashEmbedding())
    first = indexer.index([seeds_copy], progress=None)
    indexer.close()
    con = sqlite3.connect(hash_settings.catalog_path)
    with con:
        con.execute("DELETE FROM meta WHERE key = ?", (SOURCE_KEY,))
    con.close()
    indexer = Indexer(hash_settings, embedder=HashEmbedding())  # used to raise "holds a cache of ..."
    again = indexer.index([seeds_copy], progress=None)
    assert indexer.catalog.get_meta(SOURCE_KEY) == "embedded"
    indexer.close()
    assert len(first.added) == 5 and len(again.unchanged) == 5 and not again.errors


class CallCounting(HashEmbedding):
    calls: list[int] = []

    def embed_documents(self, texts, *, title=""):  # noqa: ANN001, ANN201
        self.calls.append(len(texts))
        return super().embed_documents(texts, title=title)


class CountingSink:
    def __init__(self) -> None:
        self.advanced = 0

    def advance(self, n: int) -> None:
        self.advanced += n

    def close(self) -> None:
        pass


@pytest.mark.parametrize("group", [5, 1000])
def test_files_share_model_calls_and_the_index_is_the_same(tmp_path: Path, seeds_copy: Path, group: int) -> None:
    """Chunks of several files go through the model together (index_group_size); each file is
    still stored and committed whole, and the index equals the one built a file at a time."""
    one_by_one = Settings(data_dir=tmp_path / "one", embed_model="hash", index_group_size=1)
    run_index(one_by_one, seeds_copy)
    grouped = Settings(data_dir=tmp_path / "grouped", embed_model="hash", index_group_size=group)
    embedder = CallCounting(calls=[])
    sinks: list[CountingSink] = []
    indexer = Indexer(grouped, embedder=embedder)
    try:
        report = indexer.index([seeds_copy], progress=lambda total: sinks.append(CountingSink()) or sinks[-1])
    finally:
        indexer.close()
    chunks = report.chunks_embedded
    assert sorted(report.added) == sorted(p.name for p in seeds_copy.glob("*.txt"))
    assert sinks[0].advanced == chunks
    calls = len(embedder.calls)
    if group >= chunks:
        assert calls == 1  # every chunk and every sentence in one call
    else:
        assert calls == -(-chunks // group)
    assert snapshot(grouped) == snapshot(one_by_one)
    ids = sorted(ChunkVectors(one_by_one).all_ids())
    left, right = ChunkVectors(one_by_one), ChunkVectors(grouped)
    assert {k: v.tolist() for k, v in left.sentence_vectors(ids).items()} == \
        {k: v.tolist() for k, v in right.sentence_vectors(ids).items()}
    probe = HashEmbedding().embed_queries(["budget"])[0]
    assert left.similarities(probe, ids) == pytest.approx(right.similarities(probe, ids))


def test_passages_of_several_titles_get_each_their_own_prompt() -> None:
    embedder = HashEmbedding()
    texts, titles = ["alpha one", "beta two", "gamma three"], ["Report", "", "Report"]
    got = embedder.embed_passages(texts, titles)
    assert got[0].tolist() == embedder.embed_documents(["alpha one"], title="Report")[0].tolist()
    assert got[1].tolist() == embedder.embed_documents(["beta two"])[0].tolist()
    assert got[2].tolist() == embedder.embed_documents(["gamma three"], title="Report")[0].tolist()
    with pytest.raises(ValueError):
        embedder.embed_passages(texts, ["Report"])
