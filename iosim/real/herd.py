"""Real servers for a scenario with server.accept: worker threads that wait for connections
on one listening socket (or, with SO_REUSEPORT, each on its own), as the simulator's accept
programs (sim/variants.py): blocked in accept, or in select or epoll_wait on the listener.

Each worker writes its rows on its own lane (lane code k + 1 for worker k); an accept row's
result is the connection it got, or WOULDBLOCK when another worker took it first. Who woke
is what the rows show: a worker whose select or epoll_wait returned. (A worker woken inside
epoll_wait that found the connection gone sleeps on in the kernel, unseen from here.)
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable
from time import time_ns

from iosim.real.process import AllDone, Conn, Server
from iosim.real.record import CALL, WOULDBLOCK

EPOLLEXCLUSIVE = getattr(select, "EPOLLEXCLUSIVE", 1 << 28)


def _accept(s: Server, listener: socket.socket, lane: int) -> Conn | None:
    enter = time_ns()
    s.worker_waits[lane] = ("accept", enter)
    try:
        sock, peer = listener.accept()
    except BlockingIOError:
        s.worker_waits.pop(lane, None)
        s.rows.append((CALL, lane, "accept", -1, enter, time_ns(), WOULDBLOCK, 0))
        return None
    s.worker_waits.pop(lane, None)
    ret = time_ns()
    c = s.adopt_numbered(sock, peer, lane)
    s.rows.append((CALL, lane, "accept", c.conn, enter, ret, c.conn, 0))
    return c


def _wait(s: Server, lane: int, name: str, call: Callable[[], list]) -> list:
    enter = time_ns()
    s.worker_waits[lane] = (name, enter)
    ready = call()
    s.worker_waits.pop(lane, None)
    s.rows.append((CALL, lane, name, -1, enter, time_ns(), len(ready), 0))
    return ready


def _blocking_worker(s: Server, listener: socket.socket, lane: int) -> None:
    while True:
        c = _accept(s, listener, lane)
        while c is not None and c in s.open:
            s.read_and_handle(c, lane)


def _select_worker(s: Server, listener: socket.socket, lane: int) -> None:
    mine: dict[socket.socket, Conn] = {}
    while True:
        ready = _wait(s, lane, "select",
                      lambda: select.select([listener, *mine], [], [])[0])
        for sock in ready:
            if sock is listener:
                c = _accept(s, listener, lane)
                if c is not None:
                    mine[c.sock] = c
            else:
                c = mine[sock]
                s.read_and_handle(c, lane)
                if c not in s.open:
                    del mine[sock]


def _epoll_worker(s: Server, listener: socket.socket, lane: int) -> None:
    ep = s.call("epoll_create", -1, select.epoll, lane=lane)
    assert isinstance(ep, select.epoll)
    flags = select.EPOLLIN | (EPOLLEXCLUSIVE if s.epoll_exclusive else 0)
    s.call("epoll_ctl", -1, ep.register, listener.fileno(), flags, lane=lane)
    mine: dict[int, Conn] = {}
    try:
        while True:
            for fd, _event in _wait(s, lane, "epoll_wait", ep.poll):
                if fd == listener.fileno():
                    c = _accept(s, listener, lane)
                    if c is not None:
                        mine[c.fd] = c
                        s.call("epoll_ctl EPOLL_CTL_ADD", c.conn, ep.register, c.fd,
                               select.EPOLLIN, lane=lane)
                    continue
                c = mine[fd]
                s.read_and_handle(c, lane)
                if c not in s.open:
                    ep.unregister(fd)
                    del mine[fd]
    finally:
        ep.close()


WORKERS: dict[str, Callable[[Server, socket.socket, int], None]] = {
    "blocking": _blocking_worker,
    "select": _select_worker,
    "epoll": _epoll_worker,
}


def herd(model: str) -> Callable[[Server], None]:
    """The program of ``model`` with worker threads on the server's listening sockets."""
    worker = WORKERS[model]

    def program(s: Server) -> None:
        for listener in s.listeners:
            listener.setblocking(model == "blocking")

        def one(k: int) -> None:
            try:
                worker(s, s.listeners[k % len(s.listeners)], k + 1)
            except AllDone:
                s.finished.set()
            except OSError as exc:
                if not s.finished.is_set():
                    s.fail(f"worker {k}: {exc}")
                    s.finished.set()

        for k in range(s.workers):
            threading.Thread(target=one, args=(k,), daemon=True, name=f"worker {k}").start()
        while not s.finished.wait(0.05):
            pass
    program.__name__ = f"accept_{model}"
    return program
