"""Helpers for the API tests: a real uvicorn server in a thread, hash-embedder settings.

Imported by tests/test_api*.py (tests/conftest.py belongs to another area). Settings are
always built with an explicit ``data_dir`` so an autouse ``SANAD_DATA_DIR`` fixture or the
process cwd never matters.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import httpx

from settings import apply_runtime_defaults

apply_runtime_defaults()

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"

#: explicit values for the HTTP settings the tests rely on. Uploads share the answerer's model
#: (one model load per server); ``tests/test_upload_concurrency.py`` runs the default, separate one.
HTTP_DEFAULTS: dict[str, Any] = {"api_keys": [], "cors_origins": [], "rate_limit_per_minute": 0,
                                 "auth_failures_per_minute": 0,
                                 "max_body_bytes": 2_000_000, "max_upload_bytes": 10_000_000,
                                 "upload_embedder": "shared"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_settings(data_dir: Path, **overrides: Any):  # noqa: ANN201 - settings.Settings
    from settings import Settings

    values = {**HTTP_DEFAULTS, **overrides}
    return Settings(data_dir=data_dir, **values)


def copy_seeds(dest: Path) -> Path:
    target = dest / "seeds"
    shutil.copytree(SEEDS, target)
    return target


class LiveServer:
    """``api.serving.server.build_server`` run by uvicorn in a daemon thread on a free port."""

    def __init__(self, settings, **app_kwargs: Any) -> None:  # noqa: ANN001
        from api.serving.server import build_server

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = build_server(host="127.0.0.1", port=self.port, settings=settings,
                                   log_level="warning", access_log=False, **app_kwargs)
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}", daemon=True)

    @property
    def app(self):  # noqa: ANN201
        return self.server.config.app

    def start(self, *, ready_timeout: float = 300.0) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if not self.thread.is_alive():
                raise RuntimeError("the uvicorn thread ended before the server was ready")
            try:
                r = httpx.get(self.url + "/readyz", timeout=5)
                if r.status_code == 200:
                    return self
                if r.json().get("error", {}).get("code") == "load_failed":
                    raise RuntimeError(f"server failed to load: {r.text}")
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server at {self.url} not ready after {ready_timeout} s")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def serve_env(data_dir: Path) -> dict[str, str]:
    """The environment of a ``sanad`` subprocess: no ``SANAD_*`` from outside, the hash embedder."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("SANAD_")}
    env.update({"SANAD_DATA_DIR": str(data_dir), "SANAD_EMBED_MODEL": "hash", "HF_HUB_OFFLINE": "1",
                "SANAD_RATE_LIMIT_PER_MINUTE": "0"})
    return env


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux: read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@contextmanager
def serve_workers(tmp_path: Path, corpus: Path, *, workers: int = 2) -> Iterator[tuple[str, "subprocess.Popen"]]:
    """``corpus`` indexed, then a real ``sanad serve --workers N`` (hash embedder) on a free port,
    yielded once ``/readyz`` is 200 as (url, process); stopped (SIGTERM) after."""
    import subprocess
    import sys

    env = serve_env(tmp_path / "data")
    subprocess.run([sys.executable, "-m", "cli", "index", "--quiet", str(corpus)], cwd=ROOT, env=env,
                   check=True, timeout=300)
    port = free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                                 "--workers", str(workers)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 180
            while True:
                assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
                try:
                    if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            yield url, proc
        finally:
            proc.terminate()
            proc.wait(timeout=30)
