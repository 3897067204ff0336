"""kill -9 the indexer at named moments (and at random ones): the next run ends in exactly the
state of a clean run, in embedded mode and against a real Chroma server.

The killed indexer is a real `sanad index` subprocess; ``SANAD_TEST_CRASH_AT=point:n`` makes
it SIGKILL itself the n-th time it passes ``point`` (index/indexer.py, ``crash_point``), so
each moment is hit exactly (returncode -9 proves it was). The run it interrupts re-indexes
a corpus that changed in every way at once: edited files, removed files, new files, a file
emptied. The rerun is in-process (same code, no start-up cost).
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from index.embedding import HashEmbedding
from index.indexer import CRASH_ENV, CRASH_POINTS, Indexer
from index.shared_catalog import SharedCatalog
from index.sync import CatalogSync
from index.vectors import ChunkVectors
from tests.chroma_fixtures import (  # noqa: F401 - chroma_server is a fixture
    REPO, chroma_server, embedded_state, sanad, server_env, server_settings, server_state, unique_collection,
)

pytestmark = pytest.mark.integration


def write_v1(corpus: Path) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    for i in range(10):
        (corpus / f"f{i:02d}.txt").write_text(
            "\n".join(f"Document {i} paragraph {j}: {'alpha beta gamma ' * (2 + (i + j) % 5)}end {i}-{j}."
                      for j in range(8)), encoding="utf-8")


def to_v2(corpus: Path) -> None:
    """Edit three files (offsets move), remove two, empty one, add three."""
    for i in (0, 1, 2):
        path = corpus / f"f{i:02d}.txt"
        lines = path.read_text(encoding="utf-8").split("\n")
        lines[3] = lines[3].replace("alpha", "ALPHA (edited)")
        path.write_text("A new first line.\n" + "\n".join(lines), encoding="utf-8")
    (corpus / "f03.txt").unlink()
    (corpus / "f04.txt").unlink()
    (corpus / "f05.txt").write_text("", encoding="utf-8")
    for i in (10, 11, 12):
        (corpus / f"f{i:02d}.txt").write_text(
            "\n".join(f"New document {i} paragraph {j}: {'delta epsilon ' * (1 + j % 4)}." for j in range(6)),
            encoding="utf-8")


def run_in_process(settings, corpus: Path):  # noqa: ANN001, ANN201
    indexer = Indexer(settings, embedder=HashEmbedding())
    try:
        return indexer.index([corpus])
    finally:
        indexer.close()


def crash_run(env: dict[str, str], corpus: Path, point: str) -> subprocess.CompletedProcess:
    return subprocess.run(sanad("index", str(corpus), "--quiet"), cwd=REPO, capture_output=True, text=True,
                          env={**env, CRASH_ENV: point, "SANAD_EMBED_BATCH_SIZE": "2",
                                          "SANAD_INDEX_GROUP_SIZE": "2"}, timeout=180)


@pytest.fixture(scope="module")
def v2_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = tmp_path_factory.mktemp("crash") / "v2"
    write_v1(corpus)
    to_v2(corpus)
    return corpus


@pytest.fixture(scope="module")
def clean_embedded(tmp_path_factory: pytest.TempPathFactory, v2_corpus: Path) -> dict:
    settings = _embedded(tmp_path_factory.mktemp("clean-embedded"))
    run_in_process(settings, v2_corpus)
    return embedded_state(settings)


def _embedded(data: Path):  # noqa: ANN202
    from settings import Settings

    return Settings(data_dir=data, embed_model="hash", embed_batch_size=2, index_group_size=2)


@pytest.fixture(scope="module")
def clean_server(tmp_path_factory: pytest.TempPathFactory, v2_corpus: Path, chroma_server) -> dict:  # noqa: ANN001, F811
    settings = server_settings(chroma_server, tmp_path_factory.mktemp("clean-server"),
                               collection=unique_collection("clean"), embed_batch_size=2,
                               index_group_size=2)
    run_in_process(settings, v2_corpus)
    return server_state(settings)


def test_every_crash_point_is_a_real_point() -> None:
    source = (REPO / "index" / "indexer.py").read_text(encoding="utf-8")
    for point in CRASH_POINTS:
        assert f'crash_point("{point}")' in source, point


# mid-embedding; after the prune's catalog swap, before its vector deletions; during the
# deletions of a changed file's stale vectors
@pytest.mark.parametrize("point", ["embed_batch:2", "after_commit:1", "stale_deletion:3"])
def test_embedded_kill_at_a_named_point_then_rerun_is_clean(tmp_path: Path, point: str,
                                                           clean_embedded: dict) -> None:
    corpus = tmp_path / "corpus"
    write_v1(corpus)
    settings = _embedded(tmp_path / "data")
    run_in_process(settings, corpus)
    to_v2(corpus)
    killed = crash_run(server_env(None, settings.data_dir), corpus, point)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])
    report = run_in_process(settings, corpus)
    assert not report.errors
    state = embedded_state(settings)
    assert state == clean_embedded
    assert state["chroma_count"] == len(state["chroma"]), "no duplicate vectors"


# vectors and records written, nothing committed; the prune's manifest published but not
# applied locally nor its vectors deleted; the final manifest published; during deletions
@pytest.mark.parametrize("point", ["document_record:2", "after_server_commit:1", "after_server_commit:2",
                                   "stale_deletion:2"])
def test_server_kill_at_a_named_point_then_rerun_is_clean(chroma_server, tmp_path: Path, point: str,  # noqa: F811
                                                         clean_server: dict) -> None:
    corpus = tmp_path / "corpus"
    write_v1(corpus)
    collection = unique_collection("crash")
    settings = server_settings(chroma_server, tmp_path / "data", collection=collection, embed_batch_size=2,
                               index_group_size=2)
    run_in_process(settings, corpus)
    to_v2(corpus)
    killed = crash_run(server_env(chroma_server, settings.data_dir, collection=collection), corpus, point)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])
    # the lease of the killed indexer (same host, dead pid) does not block the rerun
    report = run_in_process(settings, corpus)
    assert not report.errors
    state = server_state(settings)
    assert state == clean_server
    assert state["chroma_count"] == len(state["chroma"]), "no duplicate vectors"
    assert state["records"] == state["expected_records"], "no orphan document records"
    # a replica whose cache was synced before the crash converges as well
    fresh = server_settings(chroma_server, tmp_path / "replica", collection=collection)
    sync = CatalogSync(fresh, shared=SharedCatalog(fresh))
    sync.refresh(force=True)
    assert sync.catalog.manifest() == clean_server["manifest"]
    sync.close()


def test_server_kill_at_random_moments_then_rerun_is_clean(chroma_server, tmp_path: Path) -> None:  # noqa: F811
    """No hook: SIGKILL when the server holds a random number of new vectors, three times."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(30):
        (corpus / f"doc{i:02d}.txt").write_text(
            "\n".join(f"Paragraph {j} of document {i}: {'word ' * (3 + j)}" for j in range(10)), encoding="utf-8")
    clean = server_settings(chroma_server, tmp_path / "clean", collection=unique_collection("clean"))
    run_in_process(clean, corpus)
    expected = server_state(clean)
    total = len(expected["chunks"])

    collection = unique_collection("random")
    settings = server_settings(chroma_server, tmp_path / "killed", collection=collection)
    env = server_env(chroma_server, settings.data_dir, collection=collection, SANAD_EMBED_BATCH_SIZE="1",
                     SANAD_INDEX_GROUP_SIZE="1")
    vectors = ChunkVectors(settings)
    rng = random.Random(7)
    kills = 0
    for _ in range(3):
        have = vectors.count()
        target = have + rng.randint(5, max(6, (total - have) // 2))
        proc = subprocess.Popen(sanad("index", str(corpus), "--quiet"), cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if vectors.count() >= target:
                proc.send_signal(signal.SIGKILL)
                kills += 1
                break
            time.sleep(0.01)
        proc.wait(timeout=60)
    assert kills >= 2, "the indexer finished before it could be killed; make the corpus bigger"
    report = run_in_process(settings, corpus)
    assert not report.errors
    state = server_state(settings)
    assert state == expected
    assert state["chroma_count"] == len(state["chroma"]) and state["records"] == state["expected_records"]
