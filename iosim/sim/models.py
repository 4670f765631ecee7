"""The application side of each IO model: one short program each, as in Stevens §6.2.

Every program runs until its last message is handled (the run ends there). A read that
returns 0 means the peer closed: that socket is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import simpy

from iosim.sim.kernel import FD_SETSIZE, Socket, fd_of
from iosim.sim.process import HANDLER_LINE, RunError, Steps, Thread
from iosim.trace import Kind


def blocking(t: Thread, reply: Callable[[Socket], Steps] | None = None) -> Steps:
    """recvfrom on each socket in turn (and ``reply`` to each message): an idle socket, or a
    reply that cannot be sent, holds up every other one."""
    socks = list(t.sockets)
    while socks:
        for sock in list(socks):
            result = yield from t.recv(sock, blocking=True)
            if result.eof:
                socks.remove(sock)
            else:
                yield from t.handle(result, sock, reply)


def nonblocking(t: Thread) -> Steps:
    """Poll every socket with recvfrom; after a pass that found nothing, do own work."""
    socks = list(t.sockets)
    for sock in socks:
        sock.nonblocking = True
    while socks:
        if not (yield from read_pass(t, socks)):
            yield from t.own_work(t.proc.poll_interval_us)


def read_pass(t: Thread, socks: list[Socket], reply: Callable[[Socket], Steps] | None = None
              ) -> Generator[simpy.Event, None, bool]:
    """One non-blocking recvfrom on each socket (dropping those whose peer closed), handling
    what it reads (and replying); whether anything was found."""
    found = False
    for sock in list(socks):
        result = yield from t.recv(sock, blocking=False)
        if result.eof:
            socks.remove(sock)
            found = True
        elif result.nbytes:
            found = True
            yield from t.handle(result, sock, reply)
    return found


def _multiplexer(name: str, cost: Callable[[Thread, set[int]], Callable[[int], float]]
                 ) -> Callable[[Thread], Steps]:
    def program(t: Thread) -> Steps:
        watched = set(range(len(t.sockets)))
        if name == "select":
            highest = fd_of(max(watched))
            if highest >= FD_SETSIZE:
                raise RunError(f"select: descriptor {highest} >= FD_SETSIZE ({FD_SETSIZE}); "
                               "select cannot watch it (use poll or epoll)")
        if name == "epoll_wait":
            yield from t.call("epoll_create")
            for conn in watched:
                yield from t.call("epoll_ctl", t.costs.epoll_ctl_us, conn,
                                  "epoll_ctl EPOLL_CTL_ADD")
        while watched:
            ready = yield from t.wait_ready(name, cost(t, watched), watched)
            for sock in ready:
                result = yield from t.recv(sock, blocking=True)
                if result.eof:
                    watched.discard(sock.conn)
                else:
                    yield from t.handle(result, sock)
    program.__name__ = name
    program.__doc__ = f"Block in {name} until a socket is readable, then recvfrom it."
    return program


def _select_cost(t: Thread, watched: set[int]) -> Callable[[int], float]:
    nfds = fd_of(max(watched)) + 1
    return lambda _ready: t.costs.select_us(nfds)


def _poll_cost(t: Thread, watched: set[int]) -> Callable[[int], float]:
    nfds = len(watched)
    return lambda _ready: t.costs.poll_us(nfds)


def _epoll_cost(t: Thread, _watched: set[int]) -> Callable[[int], float]:
    return t.costs.epoll_us


select = _multiplexer("select", _select_cost)
poll = _multiplexer("poll", _poll_cost)
epoll = _multiplexer("epoll_wait", _epoll_cost)
ET_LABEL = "epoll_ctl EPOLL_CTL_ADD (EPOLLIN | EPOLLET)"


def epoll_et(t: Thread) -> Steps:
    """Edge-triggered epoll: an arrival puts a socket on the ready list once, and epoll_wait
    reports it once. This program reads once per report, as naive code does: what the read
    leaves stays queued, unreported, until the next arrival (the cure: read until EAGAIN)."""
    kernel = t.kernel
    watched = set(range(len(t.sockets)))
    kernel.edge_triggered = True
    yield from t.call("epoll_create")
    for conn in watched:
        sock = t.sockets[conn]
        sock.nonblocking = True
        yield from t.call("epoll_ctl", t.costs.epoll_ctl_us, conn, ET_LABEL)
        if sock.readable:  # EPOLL_CTL_ADD reports what is queued already, once
            kernel.edges.add(conn)
    while watched:
        ready = yield from t.wait_ready("epoll_wait", t.costs.epoll_us, watched, edge=True)
        for sock in ready:
            result = yield from t.recv(sock, blocking=False)
            if result.eof:
                watched.discard(sock.conn)
            elif result.nbytes:
                yield from t.handle(result, sock)


def sigio(t: Thread) -> Steps:
    """Establish a SIGIO handler and keep working; the handler drains every socket, and once
    more when a SIGIO came meanwhile (it stands for data the drain may have missed)."""
    yield from t.call("sigaction", label="establish SIGIO signal handler")
    for sock in t.sockets:
        yield from t.call("fcntl F_SETOWN", conn=sock.conn)
        yield from t.call("fcntl O_ASYNC", conn=sock.conn)
        sock.async_io = sock.nonblocking = True
    if t.kernel.ready:
        t.kernel.raise_signal(sigio=True)
    socks = list(t.sockets)
    while socks:
        yield from t.work_until_signal()
        started = t.now
        try:
            yield from t.deliver_signal("deliver SIGIO", t.costs.signal_at,
                                        t.costs.signal_cold_us)
            while True:
                for sock in list(socks):
                    yield from _drain(t, sock, socks)
                if not socks or not t.kernel.take_pending():
                    break
        finally:
            t.rec.span(Kind.HANDLER, t.lane, started, t.now, "signal handler",
                       line=HANDLER_LINE)


def _drain(t: Thread, sock: Socket, socks: list[Socket]) -> Steps:
    """Read a non-blocking socket until EWOULDBLOCK: SIGIO is not queued, one may stand
    for many arrivals."""
    while True:
        result = yield from t.recv(sock, blocking=False)
        if result.eof:
            socks.remove(sock)
            return
        if not result.nbytes:
            return
        yield from t.handle(result, sock)


def aio(t: Thread) -> Steps:
    """aio_read returns at once; the kernel waits and copies; a signal says it is done."""
    buffer = t.kernel.buffer_bytes
    for sock in t.sockets:
        yield from t.call("aio_read", conn=sock.conn)
        t.kernel.aio_read(sock, buffer)
        t.rec.instant(Kind.RETURN, t.lane, t.now, "return", sock.conn, line="aio_read")
    while True:
        yield from t.work_until_signal()
        started = t.now
        try:
            yield from t.deliver_signal("deliver signal specified in aio_read",
                                        t.costs.completion_at)
            while t.kernel.aio_done:
                sock, result = t.kernel.aio_done.popleft()
                if t.proc.cold_us:
                    yield from t.cold_first(sock.conn, False, "aio_return")
                yield from t.call("aio_return", conn=sock.conn)
                if result.eof:  # 0 bytes: the peer closed, no more reads on this socket
                    t.rec.instant(Kind.EOF, t.lane, t.now, "return 0 (peer closed)",
                                  sock.conn, line="aio_return")
                    continue
                t.rec.instant(Kind.RETURN, t.lane, t.now, "return OK", sock.conn,
                              line="aio_return")
                yield from t.handle(result, sock)
                yield from t.call("aio_read", conn=sock.conn)
                t.kernel.aio_read(sock, buffer)
                t.rec.instant(Kind.RETURN, t.lane, t.now, "return", sock.conn, line="aio_read")
        finally:
            t.rec.span(Kind.HANDLER, t.lane, started, t.now, "signal handler",
                       line=HANDLER_LINE)


def threaded(t: Thread) -> Steps:
    """A thread per connection, each blocking in recvfrom: no socket holds up another."""
    lanes = t.proc.thread_lanes
    for sock in t.sockets:
        worker = Thread(t.proc, lanes[sock.conn])
        t.env.process(t.proc.guard(_serve_one(worker, sock)))
    yield from ()


def _serve_one(t: Thread, sock: Socket) -> Steps:
    while True:
        result = yield from t.recv(sock, blocking=True)
        if result.eof:
            t.drop_gil()  # the thread ends
            return
        yield from t.handle(result, sock)


PROGRAMS: dict[str, Callable[[Thread], Steps]] = {
    "blocking": blocking,
    "nonblocking": nonblocking,
    "select": select,
    "poll": poll,
    "epoll": epoll,
    "epoll-et": epoll_et,
    "sigio": sigio,
    "aio": aio,
    "threaded": threaded,
}
