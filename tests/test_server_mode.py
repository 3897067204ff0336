"""Server mode against a real `chroma run`: shared catalog, replica caches, lease, auth, and
(integration) one `sanad index` process with two `sanad serve` replicas.

Every test takes its own collection on the session's Chroma server and the hashing
embedder (SANAD_EMBED_MODEL=hash): these tests are about consistency, not semantics.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from index.catalog import Catalog
from index.embedding import HashEmbedding
from index.indexer import Indexer, IndexerError
from index.paragraphs import decode_text
from index.shared_catalog import LEASE_ID, SharedCatalog
from index.sync import CatalogSync, sync_catalog
from qa.answerer import Answerer
from tests.chroma_fixtures import (  # noqa: F401 - chroma_server is a fixture
    REPO, chroma_server, free_port, sanad, server_env, server_settings, server_state, unique_collection,
)

SEEDS = REPO / "seeds"
TARGET = "003_9157ba4207286d92.txt"


def index_once(settings, corpus: Path, **kwargs):  # noqa: ANN001, ANN003, ANN201
    indexer = Indexer(settings, embedder=HashEmbedding(), **kwargs)
    try:
        return indexer.index([corpus])
    finally:
        indexer.close()


def question_for(text: str, line: int) -> str:
    """A question that retrieves line ``line`` of ``text`` (its first words: BM25 and trigrams agree)."""
    return " ".join(text.split("\n")[line].split()[:12])


def assert_citations_verbatim(answer, corpus: Path) -> None:  # noqa: ANN001
    assert answer.citations, answer
    for c in answer.citations:
        text = decode_text((corpus / c.file).read_bytes())
        assert text[c.char_start:c.char_end] == c.quote, c


def change_target(corpus: Path) -> tuple[str, str]:
    """Insert a line at the top of TARGET (all offsets move) and reword one paragraph."""
    path = corpus / TARGET
    old = path.read_text(encoding="utf-8")
    lines = old.split("\n")
    lines[4] = lines[4].replace(" ", " معدل ", 1)
    new = "سطر جديد في أول الملف يغير كل المواضع\n" + "\n".join(lines)
    path.write_text(new, encoding="utf-8")
    return old, new


# --- the shared catalog ------------------------------------------------------------------
def test_server_mode_index_matches_the_embedded_index(chroma_server, tmp_path: Path, seeds_copy: Path) -> None:  # noqa: F811
    embedded = server_settings(chroma_server, tmp_path / "embedded", collection="unused", chroma_url=None)
    index_once(embedded, seeds_copy)
    emb_catalog = Catalog(embedded.catalog_path)
    embedded_chunks = sorted(emb_catalog.all_chunk_ids())
    emb_catalog.close()

    settings = server_settings(chroma_server, tmp_path / "indexer", collection=unique_collection())
    report = index_once(settings, seeds_copy)
    assert len(report.added) == 5 and not report.errors
    state = server_state(settings)
    assert state["chunks"] == embedded_chunks
    assert state["chunks"] == state["chroma"] == state["local_chunks"] == state["lexical"]
    assert state["records"] == state["expected_records"] and len(state["records"]) == 5
    assert state["manifest"] == state["local_manifest"]
    shared = SharedCatalog(settings)
    assert LEASE_ID not in shared.record_ids(), "the lease is released after the run"
    version = shared.version()

    again = index_once(settings, seeds_copy)
    assert again.chunks_embedded == 0 and len(again.unchanged) == 5
    assert shared.version() == version, "a run that changes nothing publishes no new version"


def test_replicas_follow_reindexing_and_removal(chroma_server, tmp_path: Path, seeds_copy: Path) -> None:  # noqa: F811
    collection = unique_collection()
    indexer_settings = server_settings(chroma_server, tmp_path / "indexer", collection=collection)
    index_once(indexer_settings, seeds_copy)
    replicas = [Answerer(server_settings(chroma_server, tmp_path / f"replica{i}", collection=collection),
                         embedder=HashEmbedding()) for i in (1, 2)]
    try:
        old_text = (seeds_copy / TARGET).read_text(encoding="utf-8")
        question = question_for(old_text, 4)
        for replica in replicas:
            assert replica.catalog.counts()["documents"] == 5, "a fresh data dir syncs at start-up"
            answer = replica.ask(question)
            assert answer.citations[0].file == TARGET
            assert_citations_verbatim(answer, seeds_copy)

        _, new_text = change_target(seeds_copy)
        index_once(indexer_settings, seeds_copy)
        for replica in replicas:
            answer = replica.ask(question)
            assert answer.citations[0].file == TARGET
            assert "معدل" in answer.citations[0].quote or any("معدل" in c.quote for c in answer.citations)
            assert_citations_verbatim(answer, seeds_copy)
            assert replica.catalog.document_text(TARGET) == new_text

        gone = "002_89118faa34ef236d.txt"
        (seeds_copy / gone).unlink()
        index_once(indexer_settings, seeds_copy)
        for replica in replicas:
            replica.ask(question)
            assert replica.catalog.document(gone) is None
            assert replica.lexical_follower.wait(30), "the lexical index is rebuilt in the background"
            assert not any(c.startswith(gone) for c in replica.stores.lexical.ids)
            assert sorted(replica.stores.lexical.ids) == sorted(replica.catalog.all_chunk_ids())
        state = server_state(indexer_settings)
        assert gone not in state["manifest"] and state["records"] == state["expected_records"]
        assert state["chroma"] == state["chunks"]
    finally:
        for replica in replicas:
            replica.close()


def test_a_sync_racing_a_commit_starts_over(chroma_server, tmp_path: Path, seeds_copy: Path) -> None:  # noqa: F811
    """A replica that read manifest N while the indexer committed N+1 (and deleted N's
    replaced records) must not half-apply N: it starts over from N+1."""
    collection = unique_collection()
    settings = server_settings(chroma_server, tmp_path / "indexer", collection=collection)
    index_once(settings, seeds_copy)
    stale = SharedCatalog(settings).read_manifest()
    change_target(seeds_copy)
    index_once(settings, seeds_copy)

    class Racing(SharedCatalog):
        reads = 0

        def read_manifest(self):  # noqa: ANN202
            Racing.reads += 1
            return stale if Racing.reads == 1 else super().read_manifest()

    replica = server_settings(chroma_server, tmp_path / "replica", collection=collection)
    catalog = Catalog(replica.catalog_path)
    manifest = sync_catalog(Racing(replica), catalog)
    assert Racing.reads == 2 and manifest.version != stale.version
    assert catalog.document_text(TARGET) == (seeds_copy / TARGET).read_text(encoding="utf-8")
    assert catalog.counts()["documents"] == 5
    catalog.close()


def test_large_documents_are_split_into_parts(chroma_server, tmp_path: Path, monkeypatch) -> None:  # noqa: F811, ANN001
    import index.shared_catalog as shared_catalog

    monkeypatch.setattr(shared_catalog, "PART_CHARS", 700)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    text = "\n".join(f"الفقرة رقم {i}: " + "كلمة " * (i % 7 + 3) for i in range(60))
    (corpus / "long.txt").write_text(text, encoding="utf-8")
    collection = unique_collection()
    index_once(server_settings(chroma_server, tmp_path / "indexer", collection=collection), corpus)
    replica = Catalog(tmp_path / "replica" / "catalog.sqlite3")
    settings = server_settings(chroma_server, tmp_path / "replica", collection=collection)
    manifest = sync_catalog(SharedCatalog(settings), replica)
    assert manifest.files["long.txt"].parts > 3
    assert replica.document_text("long.txt") == text
    paragraphs = replica.paragraphs_of("long.txt")
    assert len(paragraphs) == 60 and all(text[p.char_start:p.char_end] == p.text for p in paragraphs)
    replica.close()


# --- writers ---------------------------------------------------------------------------------
def test_a_second_indexer_elsewhere_is_refused_while_the_lease_is_held(chroma_server, tmp_path: Path,  # noqa: F811
                                                                         seeds_copy: Path) -> None:
    collection = unique_collection()
    first = server_settings(chroma_server, tmp_path / "machine-a", collection=collection)
    second = server_settings(chroma_server, tmp_path / "machine-b", collection=collection)
    shared = SharedCatalog(first)
    lease = shared.acquire_lease(settle_s=0)  # held by this live process
    indexer = Indexer(second, embedder=HashEmbedding())
    with pytest.raises(IndexerError, match="holds the index lease"):
        indexer.index([seeds_copy])
    assert SharedCatalog(second).read_manifest().version == "", "nothing was written"
    shared.release_lease(lease)
    assert len(indexer.index([seeds_copy]).added) == 5
    indexer.close()


def test_a_lease_left_by_a_killed_indexer_is_taken_over(chroma_server, tmp_path: Path, seeds_copy: Path) -> None:  # noqa: F811
    settings = server_settings(chroma_server, tmp_path / "d", collection=unique_collection())
    shared = SharedCatalog(settings)
    proc = subprocess.Popen(["true"])  # a pid of this host that has exited
    proc.wait()
    from index.shared_catalog import _host_id

    shared._col.upsert(ids=[LEASE_ID], documents=[""], embeddings=[[1.0]], metadatas=[{
        "owner": "killed", "host": _host_id(), "pid": proc.pid, "expires": time.time() + 600}])
    assert len(index_once(settings, seeds_copy).added) == 5  # same host, holder gone: taken over

    shared._col.upsert(ids=[LEASE_ID], documents=[""], embeddings=[[1.0]], metadatas=[{
        "owner": "elsewhere", "host": "other-machine/boot", "pid": 1, "expires": time.time() + 600}])
    with pytest.raises(IndexerError, match="holds the index lease"):
        index_once(settings, seeds_copy)
    shared._col.upsert(ids=[LEASE_ID], documents=[""], embeddings=[[1.0]], metadatas=[{
        "owner": "elsewhere", "host": "other-machine/boot", "pid": 1, "expires": time.time() - 1}])
    assert len(index_once(settings, seeds_copy).unchanged) == 5  # expired: taken over


def test_an_embedded_data_dir_is_not_turned_into_a_cache(chroma_server, tmp_path: Path, seeds_copy: Path) -> None:  # noqa: F811
    data = tmp_path / "data"
    index_once(server_settings(chroma_server, data, collection="unused", chroma_url=None), seeds_copy)
    with pytest.raises(IndexerError, match="holds an embedded index"):
        Indexer(server_settings(chroma_server, data, collection=unique_collection()))
    # a cache of one collection pointed at another starts over instead
    cache = tmp_path / "cache"
    first, second = unique_collection(), unique_collection()
    index_once(server_settings(chroma_server, cache, collection=first), seeds_copy)
    sync = CatalogSync(server_settings(chroma_server, cache, collection=second))
    assert sync.catalog.counts()["documents"] == 0
    sync.close()


# --- auth token ----------------------------------------------------------------------------
class _AuthProxy(BaseHTTPRequestHandler):
    """Forwards to the real Chroma only requests that carry ``Authorization: Bearer <token>``."""

    upstream = ""
    token = ""
    seen: list[str] = []

    def _forward(self) -> None:
        auth = self.headers.get("Authorization", "")
        type(self).seen.append(auth)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if auth != f"Bearer {self.token}":
            self.send_response(401)
            payload = b'{"error":"Unauthorized","message":"missing or wrong token"}'
        else:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            r = httpx.request(self.command, self.upstream + self.path, content=body, headers=headers, timeout=30)
            self.send_response(r.status_code)
            payload = r.content
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


def test_the_auth_token_is_sent_as_a_bearer_header(chroma_server, tmp_path: Path, seeds_copy: Path) -> None:  # noqa: F811
    handler = type("Proxy", (_AuthProxy,), {"upstream": chroma_server.url, "token": "s3cret", "seen": []})
    proxy = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{proxy.server_address[1]}"
        collection = unique_collection()
        settings = server_settings(chroma_server, tmp_path / "d", collection=collection, chroma_url=url,
                                   chroma_auth_token="s3cret")
        assert len(index_once(settings, seeds_copy).added) == 5
        answerer = Answerer(settings.model_copy(update={"data_dir": tmp_path / "r"}), embedder=HashEmbedding())
        assert answerer.ask(question_for((seeds_copy / TARGET).read_text(encoding="utf-8"), 4)).citations
        answerer.close()
        assert handler.seen and all(h == "Bearer s3cret" for h in handler.seen)
        from index.vectors import VectorStoreError

        with pytest.raises(VectorStoreError, match="(?i)unauthori") as refused:
            Indexer(settings.model_copy(update={"chroma_auth_token": None, "data_dir": tmp_path / "x"}))
        assert "cannot open Chroma" in str(refused.value)
    finally:
        proxy.shutdown()
        proxy.server_close()


# --- real processes: one `sanad index`, two `sanad serve` replicas ------------------------------
class Replica:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(sanad("serve", "--host", "127.0.0.1", "--port", str(self.port)),
                                         cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text(errors="replace")[-3000:]
            try:
                if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"replica not ready: {self.log.read_text(errors='replace')[-3000:]}")

    def ask(self, question: str) -> dict:
        r = httpx.post(self.url + "/v1/ask", json={"question": question}, timeout=60)
        assert r.status_code == 200, r.text
        return r.json()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


class Cluster:
    def __init__(self, corpus: Path, index_env: dict[str, str], replicas: list[Replica]) -> None:
        self.corpus = corpus
        self.index_env = index_env
        self.replicas = replicas

    def index(self) -> str:
        done = subprocess.run(sanad("index", str(self.corpus), "--quiet"), cwd=REPO, env=self.index_env,
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture(scope="module")
def cluster(chroma_server, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201, F811
    root = tmp_path_factory.mktemp("cluster")
    corpus = root / "corpus"
    shutil.copytree(SEEDS, corpus)
    collection = unique_collection("cluster")
    cluster = Cluster(corpus, server_env(chroma_server, root / "indexer", collection=collection), [])
    assert "5 added" in cluster.index()
    cluster.replicas = [Replica(server_env(chroma_server, root / f"replica{i}", collection=collection),
                                root / f"replica{i}.log") for i in (1, 2)]
    try:
        for replica in cluster.replicas:
            replica.wait_ready()
        yield cluster
    finally:
        for replica in cluster.replicas:
            replica.stop()


def check_verbatim(response: dict, corpus: Path, versions: dict[str, list[str]] | None = None) -> dict[str, int]:
    """Every quote is verbatim in the current file (or, for files in ``versions``, in one of
    its versions, the same one for all of that file's citations). Returns file -> version."""
    assert response["citations"], response
    chosen: dict[str, int] = {}
    for c in response["citations"]:
        texts = (versions or {}).get(c["file"]) or [decode_text((corpus / c["file"]).read_bytes())]
        fits = {i for i, t in enumerate(texts) if t[c["char_start"]:c["char_end"]] == c["quote"]}
        assert fits, f"citation not verbatim in any version of {c['file']}: {c}"
        if c["file"] in chosen:
            fits &= {chosen[c["file"]]}
            assert fits, f"one answer cites two versions of {c['file']}: {response['citations']}"
        chosen[c["file"]] = min(fits)
    return chosen


@pytest.mark.integration
def test_two_replicas_serve_the_new_text_after_a_reindex(cluster: Cluster) -> None:
    old = (cluster.corpus / TARGET).read_text(encoding="utf-8")
    question = question_for(old, 4)
    for replica in cluster.replicas:
        response = replica.ask(question)
        assert response["citations"][0]["file"] == TARGET
        check_verbatim(response, cluster.corpus)

    _, new = change_target(cluster.corpus)
    assert "1 changed" in cluster.index()
    new_sha = __import__("hashlib").sha256((cluster.corpus / TARGET).read_bytes()).hexdigest()
    for replica in cluster.replicas:
        response = replica.ask(question)
        check_verbatim(response, cluster.corpus)  # verbatim in the file as it is now
        cited = [c for c in response["citations"] if c["file"] == TARGET]
        assert cited and any("معدل" in c["quote"] for c in cited)
        doc = httpx.get(f"{replica.url}/v1/documents/{TARGET}", timeout=30).json()
        assert doc["sha256"] == new_sha
        para = httpx.get(replica.url + cited[0]["url"], timeout=30).json()
        assert new[para["char_start"]:para["char_end"]] == para["text"]


@pytest.mark.integration
def test_questions_during_reindexing_get_one_version_never_a_mix(cluster: Cluster, chroma_server, tmp_path: Path) -> None:  # noqa: F811
    """Questions fired at both replicas while the indexer flips a file between two versions:
    every citation is verbatim in the old or the new version, never a mix of the two."""
    path = cluster.corpus / TARGET
    version_a = path.read_text(encoding="utf-8")
    lines = version_a.split("\n")
    for i in range(2, len(lines), 3):  # reword every third paragraph, and move every offset
        lines[i] = lines[i].replace(" ", " (ب) ", 1)
    version_b = "نسخة ثانية من الملف\n\n" + "\n".join(lines)
    versions = {TARGET: [version_a, version_b]}
    questions = [question_for(version_a, n) for n in (4, 6, 8, 10) if len(version_a.split("\n")[n].split()) > 5]
    seen: dict[int, int] = {0: 0, 1: 0}
    errors: list[BaseException] = []
    stop = threading.Event()

    def fire(replica: Replica) -> None:
        k = 0
        while not stop.is_set():
            try:
                response = replica.ask(questions[k % len(questions)])
                chosen = check_verbatim(response, cluster.corpus, versions)
                if TARGET in chosen:
                    seen[chosen[TARGET]] += 1
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)
                return
            k += 1

    threads = [threading.Thread(target=fire, args=(r,), daemon=True) for r in cluster.replicas]
    for t in threads:
        t.start()
    try:
        indexer_settings = server_settings(chroma_server, tmp_path / "flipper",
                                           collection=cluster.index_env["SANAD_CHROMA_COLLECTION"])
        for text in (version_b, version_a, version_b, version_a):
            path.write_text(text, encoding="utf-8")
            report = index_once(indexer_settings, cluster.corpus)
            assert report.changed == [TARGET], report
            time.sleep(0.5)
        path.write_text(version_b, encoding="utf-8")
        assert "1 changed" in cluster.index()  # the last flip through a `sanad index` process
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors[0]
    assert seen[0] > 0 and seen[1] > 0, f"both versions should have been cited: {seen}"
    for replica in cluster.replicas:  # after the indexer: every replica serves the last version
        cited = [check_verbatim(replica.ask(q), cluster.corpus) for q in questions]  # verbatim in B
        assert any(TARGET in c for c in cited)


@pytest.mark.integration
def test_an_upload_to_one_replica_is_served_by_the_other_and_survives_indexing(cluster: Cluster) -> None:
    one, other = cluster.replicas
    text = "Minutes of the harbour board.\nThe harbour board approved the new lighthouse budget on Monday."
    r = httpx.post(one.url + "/v1/documents", json={"file": "notes/harbour.txt", "text": text}, timeout=60)
    assert r.status_code == 201, r.text
    assert httpx.get(other.url + "/v1/documents/notes/harbour.txt", timeout=30).status_code == 200
    response = other.ask("harbour board approved the new lighthouse budget")
    cited = [c for c in response["citations"] if c["file"] == "notes/harbour.txt"]
    assert cited and all(text[c["char_start"]:c["char_end"]] == c["quote"] for c in cited)

    out = cluster.index()  # another machine's run over the corpus does not prune the upload
    assert "0 removed" in out
    assert httpx.get(one.url + "/v1/documents/notes/harbour.txt", timeout=30).status_code == 200

    assert httpx.delete(other.url + "/v1/documents/notes/harbour.txt", timeout=60).status_code == 204
    assert httpx.get(one.url + "/v1/documents/notes/harbour.txt", timeout=30).status_code == 404
    assert not any(c["file"] == "notes/harbour.txt"
                   for c in one.ask("harbour board approved the new lighthouse budget")["citations"])


class SlowFirstCall(HashEmbedding):
    """The hashing embedder whose first call takes ``delay_s`` (a long model call), running
    ``during`` while it waits."""

    delay_s: float = 1.0
    calls: int = 0

    def embed_documents(self, texts, *, title=""):  # noqa: ANN001, ANN201
        self.calls += 1
        if self.calls == 1:
            time.sleep(self.delay_s)
            if self.during is not None:
                self.during()
                time.sleep(self.delay_s)
        return super().embed_documents(texts, title=title)

    during: object = None


def test_the_lease_is_renewed_while_the_model_encodes(chroma_server, tmp_path: Path, seeds_copy: Path,  # noqa: F811
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import index.indexer as indexer_module

    monkeypatch.setattr(indexer_module, "LEASE_HEARTBEAT_S", 0.1)
    settings = server_settings(chroma_server, tmp_path / "d", collection=unique_collection())
    indexer = Indexer(settings, embedder=SlowFirstCall())
    renewals: list[float] = []
    renew = indexer.shared.renew_lease

    def counting(lease, **kwargs):  # noqa: ANN001, ANN003, ANN202
        renewals.append(time.monotonic())
        return renew(lease, every_s=0)

    monkeypatch.setattr(indexer.shared, "renew_lease", counting)
    started = time.monotonic()
    assert len(indexer.index([seeds_copy]).added) == 5
    indexer.close()
    assert len([t for t in renewals if t - started < 1.0]) >= 3  # during the one-second model call


def test_a_lease_lost_during_a_model_call_stops_the_run(chroma_server, tmp_path: Path, seeds_copy: Path,  # noqa: F811
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import index.indexer as indexer_module

    monkeypatch.setattr(indexer_module, "LEASE_HEARTBEAT_S", 0.1)
    settings = server_settings(chroma_server, tmp_path / "d", collection=unique_collection())
    shared = SharedCatalog(settings)

    def taken_over() -> None:  # another machine takes the lease (as if ours had expired)
        shared._col.upsert(ids=[LEASE_ID], documents=[""], embeddings=[[1.0]], metadatas=[{
            "owner": "elsewhere", "host": "other-machine/boot", "pid": 1, "expires": time.time() + 600}])

    embedder = SlowFirstCall(delay_s=0.5)
    embedder.during = taken_over
    indexer = Indexer(settings, embedder=embedder)
    monkeypatch.setattr(indexer.shared, "renew_lease",
                        lambda lease, renew=indexer.shared.renew_lease, **kw: renew(lease, every_s=0))
    with pytest.raises(IndexerError, match="lost its lease"):
        indexer.index([seeds_copy])
    indexer.close()
    assert SharedCatalog(settings).read_manifest().version == "", "nothing was committed"
