"""``sanad serve --workers N``: a listening socket per worker, connections spread by the kernel (api.serving.worker_sockets)."""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from api.serving.worker_sockets import SUPPORTED, PortReservation
from tests.api_fixtures import child_pids, serve_env, serve_workers

pytestmark = pytest.mark.skipif(not SUPPORTED, reason="SO_REUSEPORT is Linux's; CI runs on Linux")
REPO = Path(__file__).resolve().parents[1]


def test_each_worker_gets_its_own_socket_and_connections_are_spread() -> None:
    reservation = PortReservation("127.0.0.1", 0)
    listeners = [pickle.loads(pickle.dumps(reservation.listener(64))) for _ in range(2)]  # as a spawned worker gets it
    try:
        assert all(isinstance(s, socket.socket) for s in listeners)
        assert {s.getsockname()[1] for s in listeners} == {reservation.port}
        assert listeners[0].fileno() != listeners[1].fileno()
        clients = [socket.create_connection(("127.0.0.1", reservation.port), timeout=5) for _ in range(40)]
        accepted = [0, 0]
        for i, listener in enumerate(listeners):
            listener.setblocking(False)
            while True:
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:
                    break
                conn.close()
                accepted[i] += 1
        assert sum(accepted) == 40  # the reserving socket never listens: it takes none
        assert min(accepted) > 0, accepted  # all 40 on one socket: 2 in 2**40
        for c in clients:
            c.close()
    finally:
        for s in listeners:
            s.close()
        reservation.close()


def test_a_taken_port_is_refused_by_the_reservation() -> None:
    taken = socket.create_server(("127.0.0.1", 0))
    try:
        with pytest.raises(OSError):
            PortReservation("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()


def test_serve_with_workers_on_a_taken_port_says_so(tmp_path: Path) -> None:
    taken = socket.create_server(("127.0.0.1", 0))
    try:
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--workers", "2"], cwd=REPO, env=serve_env(tmp_path / "data"), capture_output=True, text=True,
                              timeout=120)
    finally:
        taken.close()
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr + done.stdout


def _sockets_on(pid: int, port: int, state: str) -> set[str]:
    """Inodes of the TCP sockets a process holds on local ``port`` in ``state`` (01 established, 0A listening)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if int(parts[1].rsplit(":", 1)[1], 16) == port and parts[3] == state and parts[9] in inodes:
                found.add(parts[9])
    return found


@pytest.mark.integration
def test_connections_opened_at_once_reach_every_worker(tmp_path: Path, seeds_copy: Path) -> None:
    """A client that opens its keep-alive pool in one burst: with one shared socket the worker
    whose event loop runs first accepts every pending connection (asyncio accepts in a loop), and
    under load that was all of them in some runs; with a socket per worker the kernel gives each
    a share."""
    clients: list[socket.socket] = []
    with serve_workers(tmp_path, seeds_copy) as (url, proc):
        port = int(url.rsplit(":", 1)[1])
        try:
            # the pool connects in one burst (the kernel completes each handshake before any worker accepts)
            clients = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(24)]
            for conn in clients:
                conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: sanad\r\n\r\n")
            for conn in clients:
                assert conn.recv(4096).startswith(b"HTTP/1.1 200"), "every connection is answered"
            children = child_pids(proc.pid)  # the workers (and multiprocessing's resource tracker)
            listening = {pid: _sockets_on(pid, port, "0A") for pid in children}
            listening = {pid: inodes for pid, inodes in listening.items() if inodes}
            assert len(listening) == 2, listening
            first, second = listening.values()
            assert not first & second, "each worker listens on a socket of its own, not one shared socket"
            held = {pid: len(_sockets_on(pid, port, "01")) for pid in children}
            assert sum(held.values()) == len(clients), held  # every keep-alive connection is still open
            assert len([n for n in held.values() if n]) == 2, held  # both workers serve part of the pool
        finally:
            for c in clients:
                c.close()


@pytest.mark.integration
def test_metrics_report_every_worker(tmp_path: Path, seeds_copy: Path) -> None:
    """A scrape reaches one worker; /metrics still counts what every worker did (multiprocess mode)."""
    with serve_workers(tmp_path, seeds_copy) as (url, _):
        for _ in range(20):  # a connection each: the kernel spreads them over both workers
            r = httpx.post(url + "/v1/ask", json={"question": "من قصف مدينة حلب؟"}, timeout=60)
            assert r.status_code == 200
        text = httpx.get(url + "/metrics", timeout=10).text

    def value(line_start: str) -> float:
        lines = [line for line in text.splitlines() if line.startswith(line_start)]
        assert len(lines) == 1, (line_start, lines)
        return float(lines[0].rsplit(" ", 1)[1])

    # each worker encoded the question once, then answered it from its own cache
    assert value('sanad_answer_cache_total{result="miss"}') == 2
    assert value('sanad_answer_cache_total{result="hit"}') == 18
    assert value("sanad_query_batch_size_count") == 2
    assert value('sanad_http_requests_total{method="POST",route="/v1/ask",status="200"}') == 20
    assert value("sanad_ready") == 1
    assert value("sanad_documents") == 5
