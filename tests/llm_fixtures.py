"""LLM servers for the generative tests: the real llama.cpp server, and a scripted fake.

- ``llm_server`` (session): llama-cpp-python's OpenAI-compatible server from ``.venv-llm``
  with the verified GGUF (``make llm-setup``), on a free 127.0.0.1 port; stopped at the end.
  Missing pieces skip the ``llm`` tests with the reason, except under CI (``CI`` set), where
  they fail: ``.ci/run`` must run them.
- ``FakeOpenAI``: a real HTTP server on loopback that speaks just enough of the Chat
  Completions API (streaming and not) to answer with a scripted text, slowly, with an
  HTTP error, or not at all: for the fast fallback and checking tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.api_fixtures import free_port

ROOT = Path(__file__).resolve().parents[1]
LLM_VENV = ROOT / ".venv-llm"
LLM_PYTHON = LLM_VENV / "bin" / "python"
MODEL_ALIAS = "qwen2.5-1.5b-instruct"
#: context for the trimmed evidence (a few hundred tokens) plus the answer
N_CTX = 2048
#: evidence the local 1.5B model gets: about one paragraph (docs/generative.md)
LOCAL_EVIDENCE_CHARS = 300


def _missing() -> str | None:
    from qa.llm_fetch import gguf_path, is_verified

    if not LLM_PYTHON.is_file():
        return f"{LLM_VENV} is missing (run `make llm-setup`)"
    probe = subprocess.run([str(LLM_PYTHON), "-c", "import llama_cpp.server"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"llama-cpp-python[server] is not importable in {LLM_VENV} (run `make llm-setup`)"
    if not is_verified():
        return f"the GGUF is not at {gguf_path()} (run `make llm-setup`)"
    return None


def require_llm() -> None:
    """Skip (locally) or fail (in CI) when the local LLM is not set up."""
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"LLM tests must run in CI: {reason}")
    pytest.skip(f"local LLM not set up: {reason}")


class LlamaServer:
    """``python -m llama_cpp.server`` from .venv-llm, on 127.0.0.1:port."""

    def __init__(self, *, port: int | None = None, log_path: Path | None = None) -> None:
        from qa.llm_fetch import gguf_path

        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log_path = log_path or Path(f"/tmp/sanad-llama-{self.port}.log")
        threads = str(max(1, min(os.cpu_count() or 2, 4)))
        self.cmd = [str(LLM_PYTHON), "-m", "llama_cpp.server", "--model", str(gguf_path()),
                    "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(N_CTX),
                    "--n_threads", threads, "--model_alias", MODEL_ALIAS]
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 240.0) -> "LlamaServer":
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama server exited ({self.proc.returncode}): {self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"llama server not ready after {timeout:.0f} s: {self.log_tail()}")

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)


@pytest.fixture(scope="session")
def llm_server() -> Iterator[LlamaServer]:
    require_llm()
    server = LlamaServer().start()
    try:
        yield server
    finally:
        server.stop()


def llm_settings(base: Any, base_url: str, **overrides: Any) -> Any:
    """``base`` Settings pointed at an OpenAI-compatible ``base_url`` (the local model's sizes)."""
    values = {"answerer": "llm", "llm_base_url": base_url, "llm_model": MODEL_ALIAS, "llm_provider": "openai",
              "llm_timeout_s": 300.0, "llm_max_evidence_chars": LOCAL_EVIDENCE_CHARS}
    values.update(overrides)
    return base.model_copy(update=values)


# ------------------------------------------------------------------------------ fake server
class FakeOpenAI:
    """A scripted OpenAI-compatible server on loopback (a real HTTP server, not a mock).

    ``reply``: the text it answers with (streamed in ``piece``-character chunks, each after
    ``delay`` seconds), or ``respond(body) -> text`` when set; ``status``: an HTTP error
    status to answer with instead; ``requests``: the JSON bodies it received.
    """

    def __init__(self) -> None:
        self.reply = ""
        self.respond: Any = None
        self.piece = 4
        self.delay = 0.0
        self.status = 200
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                self._json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(body)
                if fake.status != 200:
                    self._json(fake.status, {"error": {"message": "scripted failure", "type": "server_error"}})
                    return
                text = fake.respond(body) if fake.respond is not None else fake.reply
                if not body.get("stream"):
                    time.sleep(fake.delay)
                    self._json(200, {"id": "c1", "object": "chat.completion", "created": 0, "model": "fake",
                                     "choices": [{"index": 0, "finish_reason": "stop",
                                                  "message": {"role": "assistant", "content": text}}]})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    self._chunk({"role": "assistant", "content": ""})
                    for i in range(0, len(text), fake.piece):
                        time.sleep(fake.delay)
                        self._chunk({"content": text[i:i + fake.piece]})
                    self._chunk({}, finish="stop")
                    self._write(b"data: [DONE]\n\n")
                    self._write(b"")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> None:
                body = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "fake",
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                self._write(f"data: {json.dumps(body)}\n\n".encode())

            def _write(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeOpenAI":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake
