"""kill -9 a real ``sanad serve`` during an upload; after each restart the state is one a clean
run reaches (issue 28 items 5 and 6).

The server is a ``python -m cli serve`` subprocess (hashing embedder, answer log on) on
127.0.0.1. It is killed either at a named point of the upload (``SANAD_TEST_CRASH_AT``, the
hook of ``index/indexer.py``: the process SIGKILLs itself there) or, in the random test, at a
random moment of an upload while questions are being asked (so the answer log is being
written too), 20 times. After every restart, once ``/readyz`` is 200:

- the document is absent, or a complete upload: listed with ``uploaded: true``, its file in
  ``uploads/`` holding exactly the text the catalog serves, one of the versions sent;
- the uploads folder holds exactly the listed uploads, and no ``.part`` file;
- Chroma holds exactly the chunks the catalog holds: no orphan vector, none missing;
- the answer log passes SQLite's ``PRAGMA integrity_check``.

Chroma and the catalog are read from this process while the server runs (the embedded
store's SQLite is read concurrently). ``SANAD_CRASH_ROUNDS`` sets the number of random kills.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from index.indexer import CRASH_ENV
from settings import HarnessSettings
from tests.api_fixtures import free_port, serve_env
from tests.chroma_fixtures import REPO, chroma_server, sanad, unique_collection  # noqa: F401 - fixture

pytestmark = pytest.mark.integration

NAME = "notes/crash.txt"
ROUNDS = HarnessSettings().crash_rounds


def version(n: int, lines: int = 700) -> str:
    """Version ``n`` of the uploaded note: every line differs from the other versions' lines."""
    return "".join(f"Version {n}, line {i}: the harbour master logged {i * 7 + n} boats at berth {i % 40} "
                   f"and {n + i} crates of figs.\n" for i in range(lines))


class Server:
    """One ``sanad serve`` process over ``data`` (started anew for each round)."""

    def __init__(self, data: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.data = data
        self.log = log
        self.env = {**serve_env(data), **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self, *, crash_at: str | None = None, timeout: float = 180.0) -> "Server":
        env = dict(self.env)
        if crash_at:
            env[CRASH_ENV] = crash_at
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(sanad("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
                                         cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None and time.monotonic() < deadline, self.log.read_text()[-3000:]
            try:
                if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)

    def upload(self, text: str, *, timeout: float = 300.0) -> httpx.Response:
        return httpx.post(self.url + "/v1/documents", json={"file": NAME, "text": text}, timeout=timeout)


def stores(data: Path) -> tuple[set[str], set[str]]:
    """(the catalog's chunk ids, Chroma's ids) of the embedded store in ``data``."""
    from index.catalog import Catalog
    from index.vectors import ChunkVectors
    from settings import Settings

    settings = Settings(data_dir=data, embed_model="hash")
    catalog = Catalog(settings.catalog_path)
    try:
        return catalog.all_chunk_ids(), ChunkVectors(settings).all_ids()
    finally:
        catalog.close()


def check_recovered(server: Server, versions: list[str], *, chunks: bool = True) -> str | None:
    """The state after a restart is one a clean run reaches; returns the text the document
    has (None: absent)."""
    uploads = server.data / "uploads"
    docs = {d["file"]: d for d in httpx.get(server.url + "/v1/documents", timeout=30).json()["documents"]}
    on_disk = {p.relative_to(uploads).as_posix() for p in uploads.rglob("*") if p.is_file()} \
        if uploads.exists() else set()
    assert not [p for p in on_disk if p.endswith(".part")], on_disk
    assert on_disk == {f for f, d in docs.items() if d["uploaded"]}, (on_disk, docs)
    assert all(d["uploaded"] for d in docs.values()), docs  # only uploads in this data dir
    text = None
    if NAME in docs:
        stored = httpx.get(f"{server.url}/v1/documents/{NAME}/text", timeout=30).json()["text"]
        data = (uploads / NAME).read_bytes()
        assert stored in versions and data == stored.encode()
        assert docs[NAME]["sha256"] == hashlib.sha256(data).hexdigest()
        text = stored
    if chunks:
        catalog_ids, chroma_ids = stores(server.data)
        assert chroma_ids - catalog_ids == set(), f"{len(chroma_ids - catalog_ids)} orphan vectors"
        assert catalog_ids - chroma_ids == set(), f"{len(catalog_ids - chroma_ids)} chunks without vectors"
    log_path = server.data / "answers.sqlite3"
    if log_path.exists():
        with sqlite3.connect(log_path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    return text


# ------------------------------------------------------------------------ named points


@pytest.mark.parametrize("point", ["embed_batch:1", "published:1", "after_commit:1"])
def test_kill_at_a_named_point_of_an_upload_then_restart_is_clean(tmp_path: Path, point: str) -> None:
    """``embed_batch``: vectors stored, nothing published (a ``.part`` and orphan vectors were
    left and never cleaned); ``published``: the file is in place, the commit not made;
    ``after_commit``: just visible (it was listed with ``uploaded: false``, its file still a
    ``.part``, and a re-upload was refused with 409). Each restart ends absent or complete,
    and the same name uploads again (200/201) after it."""
    server = Server(tmp_path / "data", tmp_path / "serve.log", {"SANAD_EMBED_BATCH_SIZE": "8",
                                                                "SANAD_INDEX_GROUP_SIZE": "64"})
    server.start(crash_at=point)
    try:
        with pytest.raises(httpx.TransportError):
            server.upload(version(1))
        server.proc.wait(timeout=60)
        assert server.proc.returncode == -signal.SIGKILL, server.log.read_text()[-3000:]
        server.start()
        text = check_recovered(server, [version(1)])
        if point != "embed_batch:1":
            assert text == version(1), "a kill after the file was published ends with the upload complete"
        else:
            assert text is None
        if point == "embed_batch:1":
            assert "orphan vectors" in server.log.read_text()  # the restart says what it removed
        again = server.upload(version(2))
        assert again.status_code in (200, 201), again.text
        assert check_recovered(server, [version(2)]) == version(2)
    finally:
        server.stop()


def test_kill_after_commit_with_an_old_style_part_file_completes_it(tmp_path: Path) -> None:
    """A data dir left by the version before the fix (listed, ``uploads/NAME`` missing, its
    bytes in a ``.part``): the restart moves the ``.part`` into place."""
    from index.catalog import Catalog
    from settings import Settings

    server = Server(tmp_path / "data", tmp_path / "serve.log")
    server.start()
    try:
        assert server.upload(version(3)).status_code == 201
    finally:
        server.stop()
    uploads = server.data / "uploads" / "notes"
    part = uploads / ".crash.txt.4194999.140000.part"   # a PID no process has
    os.replace(uploads / "crash.txt", part)
    catalog = Catalog(Settings(data_dir=server.data, embed_model="hash").catalog_path)
    assert catalog.document(NAME) is not None
    catalog.close()
    server.start()
    try:
        assert check_recovered(server, [version(3)]) == version(3)
        assert f"moved {part.name} back onto uploads/notes/crash.txt" in server.log.read_text()
    finally:
        server.stop()


@pytest.mark.parametrize("point", ["published:1", "after_commit:1", "stale_deletion:1"])
def test_kill_during_a_delete_then_restart_is_clean(tmp_path: Path, point: str) -> None:
    """A delete sets the file aside just before its commit: killed there (``published``) the
    restart puts it back (the document as it was), killed after the commit it is gone; never
    a listed document without its file, nor a file no document names."""
    server = Server(tmp_path / "data", tmp_path / "serve.log")
    server.start()
    try:
        assert server.upload(version(1)).status_code == 201
    finally:
        server.stop()
    server.start(crash_at=point)
    try:
        with pytest.raises(httpx.TransportError):
            httpx.delete(f"{server.url}/v1/documents/{NAME}", timeout=300)
        server.proc.wait(timeout=60)
        assert server.proc.returncode == -signal.SIGKILL, server.log.read_text()[-3000:]
        server.start()
        text = check_recovered(server, [version(1)])
        assert text == (version(1) if point == "published:1" else None)
    finally:
        server.stop()


# ------------------------------------------------------------------------ random kills


def _ask_until_killed(url: str, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            httpx.post(url + "/v1/ask", json={"question": "how many boats did the harbour master log?"},
                       timeout=30)
        except httpx.TransportError:
            return


def test_random_kills_during_uploads_recover_every_time(tmp_path: Path) -> None:
    """20 uploads (each a new version of one name, while questions are asked) killed at a
    random moment; after every restart the state is clean (module docstring)."""
    rng = random.Random(28)
    server = Server(tmp_path / "data", tmp_path / "serve.log")
    server.start()
    versions = [version(0)]
    started = time.monotonic()
    assert server.upload(versions[0]).status_code == 201
    clean_s = time.monotonic() - started            # how long one upload takes here
    outcomes: dict[str, int] = {"absent": 0, "previous": 0, "new": 0}
    during = 0
    try:
        for n in range(1, ROUNDS + 1):
            versions.append(version(n))
            result: dict[str, Any] = {}
            stop = threading.Event()
            asker = threading.Thread(target=_ask_until_killed, args=(server.url, stop), daemon=True)
            uploader = threading.Thread(target=lambda: result.update(r=_try(server.upload, versions[-1])),
                                        daemon=True)
            asker.start()
            uploader.start()
            time.sleep(rng.uniform(0.0, clean_s * 1.1))
            server.kill()
            stop.set()
            uploader.join(60)
            asker.join(60)
            during += result.get("r") is None        # killed before the upload answered
            server.start()
            text = check_recovered(server, versions)
            outcomes["absent" if text is None else "new" if text == versions[-1] else "previous"] += 1
            if text is not None and text != versions[-1]:
                assert text == versions[-2] or text in versions, "only a version that was sent"
    finally:
        server.stop()
    assert during >= ROUNDS // 2, (during, outcomes)  # most kills hit an upload in flight
    assert outcomes["absent"] == 0, outcomes          # a complete earlier version is never lost


def _try(call: Any, *args: Any) -> httpx.Response | None:
    try:
        return call(*args)
    except httpx.TransportError:
        return None


# ------------------------------------------------------------------------ server mode


@pytest.mark.parametrize("point", ["embed_batch:1", "published:1"])
def test_server_mode_kill_then_restart_leaves_no_part_or_orphans(chroma_server, tmp_path: Path,  # noqa: F811
                                                                   point: str) -> None:
    """Against a real Chroma server, a replacement killed there: the restart removes the
    ``.part`` and the vectors no manifest names (``embed_batch``: the first version stays), or
    commits the new version (``published``: its file was in place, every vector stored)."""
    from tests.chroma_fixtures import server_settings, server_state

    collection = unique_collection("upload_crash")
    env = {"SANAD_CHROMA_URL": chroma_server.url, "SANAD_CHROMA_COLLECTION": collection,
           "SANAD_EMBED_BATCH_SIZE": "8", "SANAD_INDEX_GROUP_SIZE": "64"}
    server = Server(tmp_path / "data", tmp_path / "serve.log", env)
    server.start()
    try:
        assert server.upload(version(0)).status_code == 201
    finally:
        server.stop()
    server.start(crash_at=point)
    try:
        with pytest.raises(httpx.TransportError):
            server.upload(version(1))
        server.proc.wait(timeout=60)
        assert server.proc.returncode == -signal.SIGKILL
        server.start()
        text = check_recovered(server, [version(0), version(1)], chunks=False)
        assert text == (version(0) if point == "embed_batch:1" else version(1))
        state = server_state(server_settings(chroma_server, server.data, collection=collection))
        assert state["chroma"] == state["chunks"] == state["local_chunks"], "no orphan or missing vectors"
        assert state["records"] == state["expected_records"], "no orphan document records"
    finally:
        server.stop()
