"""Folder sync with real file operations (watchfiles on the real file system, the hashing embedder):
new, changed, renamed, moved-in and deleted files; hidden and temporary files; a file written
slowly; a 500-file burst with each file embedded once; a vanished folder that pauses instead of
wiping the index; `sanad index --watch` killed with SIGKILL mid-burst and restarted ending as a
clean run; and `SANAD_WATCH_DIRS` in a real server, with `/readyz` saying when sync is paused.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest

from index.catalog import Catalog
from index.embedding import HashEmbedding
from index.indexer import Indexer, ignored_name
from index.vectors import ChunkVectors
from index.watch import FolderSync, IndexerTarget, WatchOptions
from settings import Settings
from tests.api_fixtures import ROOT, LiveServer, make_settings, serve_env

FAST = WatchOptions(settle_s=0.3, reconcile_s=0, max_removed_share=0.5)


def text_of(n: int) -> str:
    return f"Document number {n}.\n\nIt mentions the word token{n} and the city of Cairo.\n"


def write_files(folder: Path, count: int, start: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(start, start + count):
        (folder / f"doc{n:04d}.txt").write_text(text_of(n), encoding="utf-8")


def manifest(settings: Settings) -> dict[str, str]:
    catalog = Catalog(settings.catalog_path)
    try:
        return catalog.manifest()
    finally:
        catalog.close()


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


class Synced:
    """A FolderSync over ``root`` with an Indexer (hashing embedder) in this process."""

    def __init__(self, root: Path, data: Path, options: WatchOptions = FAST) -> None:
        self.settings = Settings(data_dir=data, embed_model="hash")
        self.indexer = Indexer(self.settings, embedder=HashEmbedding())
        self.sync = FolderSync([root], IndexerTarget(self.indexer), options=options,
                               lock_path=data / "watch.lock").start()
        assert self.sync.wait_idle(60), "the first reconciliation did not finish"
        time.sleep(0.3)  # let the watcher settle on its folders

    def idle(self, timeout: float = 60.0) -> None:
        assert self.sync.wait_idle(timeout, quiet_s=FAST.settle_s * 3), self.sync.status()

    def files(self) -> dict[str, str]:
        return manifest(self.settings)

    def close(self) -> None:
        self.sync.stop()
        self.indexer.close()


@pytest.fixture
def synced(tmp_path: Path) -> Iterator[tuple[Path, Synced]]:
    root = tmp_path / "watched"
    write_files(root, 3)
    s = Synced(root, tmp_path / "data")
    yield root, s
    s.close()


def test_ignored_names() -> None:
    assert all(ignored_name(n) for n in [".hidden.txt", "~$report.docx", "notes.txt~", "a.txt.tmp", "x.part",
                                         ".a.txt.swp", "#draft.md#", ".~lock.x.docx#", "dl.pdf.crdownload"])
    assert not any(ignored_name(n) for n in ["report.docx", "ملاحظات.txt", "a.b.md", "x.pdf"])


def test_new_changed_renamed_moved_and_deleted_files(synced: tuple[Path, Synced], tmp_path: Path) -> None:
    root, s = synced
    assert set(s.files()) == {"doc0000.txt", "doc0001.txt", "doc0002.txt"}

    (root / "new.txt").write_text("A new file about Giza.\n", encoding="utf-8")
    (root / "sub").mkdir()
    (root / "sub" / "عربي.md").write_text("# عنوان\n\nالقاهرة عاصمة مصر.\n", encoding="utf-8")
    assert wait_for(lambda: {"new.txt", "sub/عربي.md"} <= set(s.files()), 10)

    before = s.files()["doc0001.txt"]
    (root / "doc0001.txt").write_text("Changed text.\n", encoding="utf-8")
    assert wait_for(lambda: s.files().get("doc0001.txt") not in (None, before), 10)

    (root / "new.txt").rename(root / "renamed.txt")
    assert wait_for(lambda: "renamed.txt" in s.files() and "new.txt" not in s.files(), 10)

    outside = tmp_path / "outside"
    write_files(outside, 2, start=100)
    shutil.move(str(outside), str(root / "moved-in"))  # one event for a whole folder
    assert wait_for(lambda: {"moved-in/doc0100.txt", "moved-in/doc0101.txt"} <= set(s.files()), 10)

    (root / "doc0000.txt").unlink()
    assert wait_for(lambda: "doc0000.txt" not in s.files(), 10)

    # hidden and temporary files never reach the index
    (root / ".hidden.txt").write_text("secret\n", encoding="utf-8")
    (root / "~$draft.docx").write_bytes(b"lock")
    (root / "notes.txt~").write_text("backup\n", encoding="utf-8")
    (root / "doc.txt.tmp").write_text("temp\n", encoding="utf-8")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD.txt").write_text("ref\n", encoding="utf-8")
    s.idle()
    assert set(s.files()) == {"doc0001.txt", "doc0002.txt", "renamed.txt", "sub/عربي.md",
                              "moved-in/doc0100.txt", "moved-in/doc0101.txt"}
    assert s.sync.status()["status"] == "watching"


def test_an_editors_save_dance_reindexes_once_and_never_removes(synced: tuple[Path, Synced]) -> None:
    root, s = synced
    s.idle()
    indexed, removed = s.sync.stats.files_indexed, s.sync.stats.files_removed
    target = root / "doc0002.txt"
    tmp = root / ".doc0002.txt.swp"
    tmp.write_text("The saved version.\n", encoding="utf-8")
    target.rename(root / "doc0002.txt~")      # backup
    tmp.rename(target)                         # the new version takes the name
    (root / "doc0002.txt~").unlink()
    assert wait_for(lambda: s.sync.stats.files_indexed == indexed + 1, 10)
    s.idle()
    assert s.sync.stats.files_removed == removed
    assert s.sync.stats.files_indexed == indexed + 1
    assert "doc0002.txt" in s.files()


def test_a_file_still_being_written_waits_until_it_settles(synced: tuple[Path, Synced]) -> None:
    root, s = synced
    s.idle()
    indexed = s.sync.stats.files_indexed
    lines = [f"Line {n} of a slowly written report about the Nile.\n\n" for n in range(12)]
    with open(root / "slow.txt", "w", encoding="utf-8") as out:
        for line in lines:  # a write every 0.15 s, for about 2 s (settle span 0.3 s)
            out.write(line)
            out.flush()
            time.sleep(0.15)
            assert "slow.txt" not in s.files()
    s.idle()
    assert s.sync.stats.files_indexed == indexed + 1  # read once, whole
    catalog = Catalog(s.settings.catalog_path)
    try:
        assert catalog.document_text("slow.txt") == "".join(lines)
    finally:
        catalog.close()


def test_a_burst_of_500_files_is_indexed_with_each_file_embedded_once(tmp_path: Path) -> None:
    root = tmp_path / "watched"
    root.mkdir()
    s = Synced(root, tmp_path / "data")
    try:
        staging = tmp_path / "staging"
        write_files(staging, 500)
        for path in sorted(staging.iterdir()):  # copied in one by one, as a file manager does
            shutil.copy(path, root / path.name)
        assert wait_for(lambda: len(s.files()) == 500, 120), len(s.files())
        s.idle()
        catalog = Catalog(s.settings.catalog_path)
        try:
            chunks = catalog.counts()["chunks"]
        finally:
            catalog.close()
        assert s.sync.stats.files_indexed == 500
        assert s.sync.stats.chunks_embedded == chunks
        assert s.sync.stats.batches <= 40  # coalesced, not one write per event
    finally:
        s.close()


def test_a_vanished_folder_pauses_instead_of_wiping_the_index(tmp_path: Path) -> None:
    root = tmp_path / "watched"
    write_files(root / "share", 10)
    (root / "keep.txt").write_text("Kept.\n", encoding="utf-8")
    s = Synced(root, tmp_path / "data")
    try:
        assert len(s.files()) == 11
        aside = tmp_path / "aside"
        shutil.move(str(root / "share"), str(aside))  # the mount is gone
        assert wait_for(lambda: s.sync.paused is not None, 10)
        s.idle()
        assert len(s.files()) == 11  # nothing removed
        status = s.sync.status()
        assert status["status"] == "paused" and "10 of 11" in status["reason"]
        (root / "new.txt").write_text("Still indexed while paused.\n", encoding="utf-8")
        assert wait_for(lambda: "new.txt" in s.files(), 10)

        shutil.move(str(aside), str(root / "share"))  # back
        s.sync.reconcile_now()
        assert wait_for(lambda: s.sync.paused is None, 20)
        s.idle()
        assert len(s.files()) == 12 and s.sync.status()["status"] == "watching"
        # one file deleted on purpose is removed as usual
        (root / "share" / "doc0003.txt").unlink()
        assert wait_for(lambda: "share/doc0003.txt" not in s.files(), 10)
    finally:
        s.close()


def test_the_whole_watched_folder_lost_pauses(tmp_path: Path) -> None:
    root = tmp_path / "mnt"
    write_files(root, 4)
    s = Synced(root, tmp_path / "data")
    try:
        shutil.rmtree(root)
        assert wait_for(lambda: s.sync.paused is not None, 15)
        assert len(s.files()) == 4
    finally:
        s.close()


def test_changes_made_while_nothing_watched_are_reconciled_at_start(tmp_path: Path) -> None:
    root = tmp_path / "watched"
    write_files(root, 3)
    s = Synced(root, tmp_path / "data")
    s.close()
    (root / "doc0000.txt").unlink()
    (root / "doc0001.txt").write_text("Changed offline.\n", encoding="utf-8")
    write_files(root, 1, start=50)
    before = manifest(s.settings)
    s = Synced(root, tmp_path / "data")
    try:
        after = s.files()
        assert set(after) == {"doc0001.txt", "doc0002.txt", "doc0050.txt"}
        assert after["doc0001.txt"] != before["doc0001.txt"]
    finally:
        s.close()


# --- `sanad index --watch` in a subprocess, killed mid-burst ------------------------------------
def _index_state(data: Path) -> tuple[dict[str, str], set[str], set[str]]:
    settings = Settings(data_dir=data, embed_model="hash")
    catalog = Catalog(settings.catalog_path)
    try:
        files, chunk_ids = catalog.manifest(), catalog.all_chunk_ids()
    finally:
        catalog.close()
    return files, chunk_ids, ChunkVectors(settings).all_ids()


def _watch_process(data: Path, root: Path, log: Path, **env: str) -> subprocess.Popen:
    environ = serve_env(data)
    environ.update({"PYTHONPATH": str(ROOT), "SANAD_WATCH_SETTLE_S": "0.3", **env})
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "cli", "index", "--watch", str(root)], cwd=ROOT, env=environ,
                                stdout=out, stderr=subprocess.STDOUT)


def _count(data: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{data / 'catalog.sqlite3'}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute("select count(*) from documents").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


@pytest.mark.integration
@pytest.mark.parametrize("how", ["crash_point", "sigkill"])
def test_killed_mid_burst_then_restarted_ends_as_a_clean_run(tmp_path: Path, how: str) -> None:
    root, data, log = tmp_path / "watched", tmp_path / "data", tmp_path / "watch.log"
    root.mkdir()
    env = {"SANAD_TEST_CRASH_AT": "after_commit:40"} if how == "crash_point" else {"SANAD_INDEX_GROUP_SIZE": "8"}
    proc = _watch_process(data, root, log, **env)
    try:
        assert wait_for(lambda: (data / "catalog.sqlite3").exists(), 60), log.read_text()
        time.sleep(1.0)
        write_files(root, 300)
        if how == "crash_point":  # SIGKILL at the 40th commit of the burst
            proc.wait(timeout=120)
            assert proc.returncode == -signal.SIGKILL, log.read_text()
        else:  # SIGKILL from outside once part of the burst is committed
            assert wait_for(lambda: _count(data) >= 20, 120), log.read_text()
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        assert 0 < _count(data) < 300
    finally:
        if proc.poll() is None:
            proc.kill()
    proc = _watch_process(data, root, log)
    try:
        assert wait_for(lambda: _count(data) == 300, 180), log.read_text()
        time.sleep(2.0)  # the reconciliation's clean-up (orphan vectors) and the lexical index
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert proc.returncode == 0, log.read_text()

    clean = tmp_path / "clean"
    subprocess.run([sys.executable, "-m", "cli", "index", "--quiet", str(root)], cwd=ROOT, env=serve_env(clean),
                   check=True, timeout=300)
    got, want = _index_state(data), _index_state(clean)
    assert got[0] == want[0]                  # same files, same hashes
    assert got[1] == want[1]                  # same chunks
    assert got[2] == got[1]                   # no orphan vector, none missing


# --- SANAD_WATCH_DIRS in `sanad serve` ---------------------------------------------------------
@pytest.mark.integration
def test_server_watch_dirs_index_in_the_background_and_readyz_says_when_paused(tmp_path: Path) -> None:
    root = tmp_path / "watched"
    write_files(root / "share", 6)
    settings = make_settings(tmp_path / "data", embed_model="hash", watch_dirs=[root], watch_settle_s=0.3)
    server = LiveServer(settings).start()
    try:
        def ready() -> dict:
            return httpx.get(server.url + "/readyz", timeout=10).json()

        assert wait_for(lambda: ready().get("documents") == 6, 30), ready()
        assert ready()["watch"]["status"] == "watching"
        (root / "cairo.txt").write_text("The tower of Cairo is 187 metres tall.\n", encoding="utf-8")
        started = time.monotonic()

        def cited() -> bool:
            answer = httpx.post(server.url + "/v1/ask", json={"question": "How tall is the tower of Cairo?"},
                                timeout=30).json()
            return any(c["file"] == "cairo.txt" for c in answer.get("citations", []))

        assert wait_for(cited, 10)
        assert time.monotonic() - started < 5.0 + settings.watch_settle_s
        shutil.rmtree(root / "share")
        assert wait_for(lambda: ready().get("watch", {}).get("status") == "paused", 15), ready()
        body = ready()
        assert body["status"] == "ready" and body["documents"] == 7 and "vanished" in body["watch"]["reason"]
    finally:
        server.stop()
