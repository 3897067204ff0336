"""One listening socket per worker of ``sanad serve --workers N``, so the kernel shares connections out.

uvicorn's supervisor hands every worker the same listening socket. Workers then race to accept,
and asyncio accepts every pending connection in one go: a client that opens its pool of
keep-alive connections at once (a load balancer, an SDK, ``bench/load_test.py``) can land all of
them on one worker for good while the other idles (measured: 44 % of the two cores idle at 16
clients in some runs, none in others).

With ``SO_REUSEPORT`` (Linux) each worker listens on a socket of its own, bound to the same
address; the kernel spreads new connections over the sockets of the group by a hash of each
connection's addresses. The supervisor keeps a socket bound to the address but never listening
(it holds the port and joins no accept queue), and passes each worker a
:class:`ReusePortListener`: pickled into the worker process, it becomes that worker's own
listening socket.
"""

from __future__ import annotations

import socket

#: the kernel can spread connections over sockets of one port (Linux); otherwise one shared socket
SUPPORTED = hasattr(socket, "SO_REUSEPORT")


def _bound(family: int, host: str, port: int) -> socket.socket:
    sock = socket.socket(family=family, type=socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def listening_socket(family: int, host: str, port: int, backlog: int) -> socket.socket:
    """A new socket listening on ``(host, port)`` in that address's ``SO_REUSEPORT`` group."""
    sock = _bound(family, host, port)
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


class ReusePortListener:
    """Stands for one worker's listening socket until it reaches the worker: unpickling it
    there (``multiprocessing`` pickles what a spawned process is given) opens the socket."""

    def __init__(self, family: int, host: str, port: int, backlog: int) -> None:
        self.family, self.host, self.port, self.backlog = family, host, port, backlog

    def __reduce__(self) -> tuple[object, tuple[int, str, int, int]]:
        return listening_socket, (self.family, self.host, self.port, self.backlog)


class PortReservation:
    """The supervisor's socket: bound to ``(host, port)`` with ``SO_REUSEPORT``, never listening.
    ``port`` 0 picks a free port (:attr:`port`). Raises :class:`OSError` when the address is taken."""

    def __init__(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = _bound(family, host, port)
        self.family = family
        self.host = host
        self.port: int = self._sock.getsockname()[1]

    def listener(self, backlog: int) -> ReusePortListener:
        """What to hand a worker (uvicorn's ``sockets=[...]``): its own socket once it arrives."""
        return ReusePortListener(self.family, self.host, self.port, backlog)

    def close(self) -> None:
        self._sock.close()


__all__ = ["SUPPORTED", "PortReservation", "ReusePortListener", "listening_socket"]
