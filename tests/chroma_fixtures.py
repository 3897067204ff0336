"""A real Chroma server for the server-mode tests, and helpers around it.

``chroma_server`` (session scope) starts ``chroma run --path <tmp> --host 127.0.0.1 --port
<free>`` from the installed chromadb (the ``chroma`` next to this Python), waits for its
heartbeat and stops it at the end. Each test takes its own collection name
(``unique_collection``), so tests never see each other's data.

Import the fixtures into a test module: ``from tests.chroma_fixtures import chroma_server``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def chroma_executable() -> str:
    beside = Path(sys.executable).parent / "chroma"
    if beside.exists():
        return str(beside)
    found = shutil.which("chroma")
    if not found:
        if os.environ.get("CI"):  # CI never skips silently: the chromadb install is broken there
            pytest.fail("the `chroma` CLI of chromadb is not installed")
        pytest.skip("the `chroma` CLI of chromadb is not installed")
    return found


@dataclass
class ChromaServer:
    url: str
    port: int
    path: Path
    process: subprocess.Popen

    def log(self) -> str:
        try:
            return (self.path / "chroma.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def start_chroma(path: Path, *, timeout: float = 60.0) -> ChromaServer:
    path.mkdir(parents=True, exist_ok=True)
    last_error = ""
    for _ in range(3):  # the free port can be taken between the probe and the bind: retry
        port = free_port()
        log = open(path / "chroma.log", "ab")  # noqa: SIM115 - kept open for the process
        proc = subprocess.Popen(
            [chroma_executable(), "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False", "NO_COLOR": "1"})
        log.close()
        server = ChromaServer(f"http://127.0.0.1:{port}", port, path, proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{server.url}/api/v2/heartbeat", timeout=2).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        last_error = server.log()
        stop_chroma(server)
    raise RuntimeError(f"chroma run did not answer its heartbeat:\n{last_error}")


def stop_chroma(server: ChromaServer) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    server = start_chroma(tmp_path_factory.mktemp("chroma-server"))
    yield server
    stop_chroma(server)


def unique_collection(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def server_settings(server: ChromaServer, data_dir: Path, *, collection: str, **overrides: Any):  # noqa: ANN201
    """Settings of one process in server mode (hash embedder, explicit everything)."""
    from settings import Settings

    values: dict[str, Any] = {"embed_model": "hash", "chroma_url": server.url, "chroma_collection": collection,
                              "api_keys": [], "cors_origins": [], "rate_limit_per_minute": 0,
                              "min_similarity": 0.0}
    values.update(overrides)
    return Settings(data_dir=data_dir, **values)


def server_env(server: ChromaServer | None, data_dir: Path, *, collection: str | None = None,
               **extra: str) -> dict[str, str]:
    """Environment of a `sanad` subprocess (server mode when ``server`` is given)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANAD_")}
    env.update({"SANAD_DATA_DIR": str(data_dir), "SANAD_EMBED_MODEL": "hash", "HF_HUB_OFFLINE": "1",
                "ANONYMIZED_TELEMETRY": "False", "TOKENIZERS_PARALLELISM": "false",
                "SANAD_RATE_LIMIT_PER_MINUTE": "0", "SANAD_MIN_SIMILARITY": "0"})
    if server is not None:
        env["SANAD_CHROMA_URL"] = server.url
        env["SANAD_CHROMA_COLLECTION"] = collection or "sanad"
    env.update(extra)
    return env


def sanad(*args: str) -> list[str]:
    """The command line of ``sanad ARGS`` run from this checkout."""
    return [sys.executable, "-m", "cli", *args]


def server_state(settings) -> dict:  # noqa: ANN001
    """Everything a server-mode index holds, for comparing two runs (no timestamps)."""
    from index.catalog import Catalog
    from index.lexical import LexicalIndex
    from index.shared_catalog import DOC_PREFIX, SharedCatalog, part_ids
    from index.vectors import ChunkVectors

    shared = SharedCatalog(settings)
    manifest = shared.read_manifest()
    docs = shared.fetch_documents(list(manifest.files.values()))
    vectors = ChunkVectors(settings)
    chroma_ids = vectors.all_ids()
    catalog = Catalog(settings.catalog_path)
    try:
        lexical = LexicalIndex.load(settings.lexical_path)
        server_chunks = sorted(c.id for d in docs.values() for c in d.chunks)
        return {
            "manifest": {f: e.sha256 for f, e in manifest.files.items()},
            "chunks": server_chunks,
            "chroma": sorted(chroma_ids),
            "chroma_count": vectors.count(),
            "records": sorted(r for r in shared.record_ids() if r.startswith(DOC_PREFIX)),
            "expected_records": sorted(r for e in manifest.files.values() for r in part_ids(e.key, e.parts)),
            "local_manifest": catalog.manifest(),
            "local_chunks": sorted(catalog.all_chunk_ids()),
            "lexical": sorted(lexical.ids),
            "counts": catalog.counts(),
            "paragraphs": sorted((p.file, p.paragraph, p.char_start, p.char_end, p.text)
                                 for f in catalog.manifest() for p in catalog.paragraphs_of(f)),
        }
    finally:
        catalog.close()


def embedded_state(settings) -> dict:  # noqa: ANN001
    """Everything an embedded index holds, for comparing two runs (no timestamps)."""
    from index.catalog import Catalog
    from index.lexical import LexicalIndex
    from index.vectors import ChunkVectors

    catalog = Catalog(settings.catalog_path)
    try:
        vectors = ChunkVectors(settings)
        lexical = LexicalIndex.load(settings.lexical_path)
        return {
            "manifest": catalog.manifest(),
            "chunks": sorted(catalog.all_chunk_ids()),
            "chroma": sorted(vectors.all_ids()),
            "chroma_count": vectors.count(),
            "lexical": sorted(lexical.ids),
            "stamp": lexical.stamp,
            "counts": catalog.counts(),
            "paragraphs": sorted((p.file, p.paragraph, p.char_start, p.char_end, p.text)
                                 for f in catalog.manifest() for p in catalog.paragraphs_of(f)),
        }
    finally:
        catalog.close()
