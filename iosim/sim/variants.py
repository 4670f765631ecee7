"""The server variants a scenario's [server] table asks for: connections accepted from a
listening socket that several threads share ("accept": the thundering herd), replies that
fill a send buffer ("reply": backpressure), and both with SIGIO ("accept-reply": what SIGIO
means on TCP). Each variant's program is assets/code/<variant>-<model>.py.

The verbs are the kernel calls the classic programs never make: accept, send, and a
multiplexer that watches listening sockets and writability as well as readability.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import simpy

from iosim.scenario import Scenario
from iosim.sim.kernel import FIRST_FD, Listener, Socket
from iosim.sim.models import blocking, read_pass
from iosim.sim.process import (
    ACCEPT,
    ACCEPT_BLOCKS_LABEL,
    HANDLER_LINE,
    IN_KERNEL,
    READABLE,
    SEND,
    SEND_BLOCKS_LABEL,
    Steps,
    Thread,
)
from iosim.trace import Kind

Ready = tuple[list[Socket], list[Listener], list[Socket]]  # readable, listeners, writable
MOD_LINE = "epoll_ctl EPOLL_CTL_MOD"  # the line that asks for EPOLLOUT, or stops asking


# -- verbs -----------------------------------------------------------------------------------

def send(t: Thread, sock: Socket, nbytes: int, blocking: bool) -> Generator[simpy.Event, None, int]:
    """send: copy what fits into the send buffer. Blocking, sleep until a third of it is free
    and go on until every byte is in; non-blocking, return what was copied (a partial count),
    or EWOULDBLOCK when nothing fitted."""
    yield from t.call(SEND, conn=sock.conn)
    buffers = t.kernel.send_buffer
    sent = 0
    while True:
        k = min(nbytes - sent, buffers.space(sock))
        if k:
            yield from t.run_cpu(IN_KERNEL, t.costs.copy_us(k), f"send copies {k:,} bytes into "
                                 "the send buffer", sock.conn, line=SEND)
            buffers.put(sock, k)
            sent += k
        now = t.now
        if sent == nbytes:
            t.rec.instant(Kind.RETURN, t.lane, now, "return OK", sock.conn, line=SEND)
            return sent
        buffers.full(sock)
        if not blocking:
            if sent:
                t.rec.instant(Kind.RETURN, t.lane, now, f"return {sent:,} of {nbytes:,} bytes "
                              "(the send buffer is full)", sock.conn, line=SEND)
            else:
                t.rec.instant(Kind.EWOULDBLOCK, t.lane, now, "EWOULDBLOCK", sock.conn,
                              line=SEND)
            return sent
        t.drop_gil()
        yield from t.block(buffers.wait_writable(sock), SEND_BLOCKS_LABEL, sock.conn, SEND)
        yield from t.take_gil(sock.conn, SEND)


def accept(t: Thread, listener: Listener, blocking: bool
           ) -> Generator[simpy.Event, None, Socket | None]:
    """accept: the first connection of the accept queue; blocking, sleep until one comes
    (woken alone: accept's wait is exclusive); non-blocking, EWOULDBLOCK when another thread
    took it first."""
    yield from t.call(ACCEPT)
    while True:
        sock = t.kernel.accepted(listener)
        if sock is not None:
            t.rec.instant(Kind.RETURN, t.lane, t.now, f"return connection {sock.conn}",
                          sock.conn, line=ACCEPT)
            return sock
        if not blocking:
            t.rec.instant(Kind.EWOULDBLOCK, t.lane, t.now, "EWOULDBLOCK", line=ACCEPT)
            return None
        t.drop_gil()
        yield from t.block(t.kernel.wait_accept(listener), ACCEPT_BLOCKS_LABEL, -1, ACCEPT)
        yield from t.take_gil(-1, ACCEPT)


def wait_multi(t: Thread, name: str, cost: Callable[[int], float], reads: set[int],
               listeners: frozenset[int], writes: set[int], exclusive: bool = False
               ) -> Generator[simpy.Event, None, Ready]:
    """select / poll / epoll_wait over connections (readable), listening sockets (a
    connection to accept) and connections with replies waiting (writable): sleep until one
    is ready; a thread woken for a connection another thread accepted first finds nothing
    when it scans again and sleeps on (epoll_wait and select re-check before they return)."""
    kernel = t.kernel

    def scan() -> Ready:
        buffers = kernel.send_buffer
        return (kernel.readable(reads, name),
                [kernel.listeners[i] for i in sorted(listeners) if kernel.listeners[i].queue],
                [kernel.sockets[c] for c in sorted(writes)
                 if buffers.writable(kernel.sockets[c])])

    yield from t.call(name, cost(sum(map(len, scan()))))
    found = scan()
    while not any(found):
        t.drop_gil()
        yield from t.block(kernel.wait_any(set(reads), listeners, frozenset(writes), exclusive),
                           f"process blocks in call to {name}, waiting for one of possibly "
                           "many sockets to become ready", -1, name)
        found = scan()
        yield from t.run_cpu(IN_KERNEL, cost(sum(map(len, found))), f"{name} scans again",
                             line=name)
    readable, ready, writable = found
    what = "readable and writable" if (readable or ready) and writable else \
        "writable" if writable else "readable"
    names = ["the listening socket"] * bool(ready) + \
        [f"connection {c}" for c in sorted({s.conn for s in (*readable, *writable)})]
    socks = [*readable, *writable]
    t.rec.instant(READABLE, t.lane, t.now, f"return {what}: {', '.join(names)}",
                  socks[0].conn if len(socks) == 1 and not ready else -1, line=name)
    return found


# -- replies ---------------------------------------------------------------------------------

class Outbox:
    """Replies a non-blocking server could not send yet, per connection."""

    def __init__(self, t: Thread, reply_bytes: int) -> None:
        self.t = t
        self.reply_bytes = reply_bytes
        self.left: dict[int, int] = {}

    def queue(self, sock: Socket) -> Steps:
        """A reply to the message just processed: send what fits now, keep the rest."""
        self.left[sock.conn] = self.left.get(sock.conn, 0) + self.reply_bytes
        self.t.proc.unsent += self.reply_bytes
        yield from self.flush(sock)

    def flush(self, sock: Socket) -> Generator[simpy.Event, None, bool]:
        """Send what waits for ``sock``; whether it is all sent."""
        n = self.left.get(sock.conn, 0)
        if not n:
            return True
        sent = yield from send(self.t, sock, n, blocking=False)
        self.t.proc.unsent -= sent
        if sent < n:
            self.left[sock.conn] = n - sent
            return False
        del self.left[sock.conn]
        return True


def _reply_blocking(t: Thread, reply_bytes: int) -> Callable[[Socket], Steps]:
    def reply(sock: Socket) -> Steps:
        t.proc.unsent += reply_bytes
        yield from send(t, sock, reply_bytes, blocking=True)
        t.proc.unsent -= reply_bytes
    return reply


# -- programs: replies -----------------------------------------------------------------------

def reply_blocking(t: Thread) -> Steps:
    """recvfrom on each socket in turn, then sendall the reply: a full send buffer blocks the
    process in send, and every other client waits with it."""
    yield from blocking(t, _reply_blocking(t, t.proc.reply_bytes))


def reply_nonblocking(t: Thread) -> Steps:
    """A pass of recvfrom over the sockets, then of send over the replies that wait; after a
    pass that got nothing done, own work."""
    out = Outbox(t, t.proc.reply_bytes)
    socks = list(t.sockets)
    for sock in socks:
        sock.nonblocking = True
    while socks or out.left:
        found = yield from read_pass(t, socks, out.queue)
        for conn in list(out.left):
            before = out.left[conn]
            if (yield from out.flush(t.sockets[conn])):
                t.proc.sent_all()
            found |= out.left.get(conn, 0) < before
        if not found:
            yield from t.own_work(t.proc.poll_interval_us)


def _reply_multiplexer(name: str) -> Callable[[Thread], Steps]:
    """poll or epoll: watch a socket for reading until its peer closes, and for writing only
    while its reply waits (epoll: epoll_ctl EPOLL_CTL_MOD whenever that changes; poll changes its
    array in user space, no call)."""
    epoll = name == "epoll_wait"

    def program(t: Thread) -> Steps:
        out = Outbox(t, t.proc.reply_bytes)
        reads = set(range(len(t.sockets)))
        writes: set[int] = set()
        cost = t.costs.epoll_us if epoll else (lambda _n: t.costs.poll_us(len(t.sockets)))
        for sock in t.sockets:
            sock.nonblocking = True
        if epoll:
            yield from t.call("epoll_create")
            for conn in reads:
                yield from t.call("epoll_ctl", t.costs.epoll_ctl_us, conn,
                                  "epoll_ctl EPOLL_CTL_ADD")

        def interest(sock: Socket, before: tuple[bool, bool]) -> Steps:
            """Watch ``sock`` for what it now waits for (EPOLLOUT only while a reply waits)."""
            now = (sock.conn in reads, sock.conn in out.left)
            (writes.add if now[1] else writes.discard)(sock.conn)
            if epoll and now != before and any(now):
                events = " | ".join(e for e, on in zip(("EPOLLIN", "EPOLLOUT"), now, strict=True)
                                    if on)
                yield from t.call("epoll_ctl", t.costs.epoll_ctl_us, sock.conn,
                                  f"epoll_ctl EPOLL_CTL_MOD ({events})", MOD_LINE)

        while reads or out.left:
            readable, _, writable = yield from wait_multi(t, name, cost, reads, frozenset(),
                                                          writes)
            for sock in sorted({*readable, *writable}, key=lambda s: s.conn):
                before = (sock.conn in reads, sock.conn in out.left)
                done = False
                if sock in readable:
                    result = yield from t.recv(sock, blocking=False)
                    if result.eof:
                        reads.discard(sock.conn)
                    elif result.nbytes:
                        yield from t.handle(result, sock, out.queue)
                else:
                    done = yield from out.flush(sock)
                yield from interest(sock, before)
                if done:
                    t.proc.sent_all()
    program.__name__ = f"reply_{name}"
    return program


# -- programs: accept ------------------------------------------------------------------------

def _workers(t: Thread, serve: Callable[[Thread, Listener], Steps]) -> Steps:
    """Start the workers, each on the listening socket it waits on (SO_REUSEPORT: its own),
    or serve in this thread when there is one."""
    listeners = t.kernel.listeners
    lanes = t.proc.thread_lanes
    if not lanes:
        yield from serve(t, listeners[0])
        return
    for k, lane in sorted(lanes.items()):
        worker = Thread(t.proc, lane)
        t.env.process(t.proc.guard(serve(worker, listeners[k % len(listeners)])))


def _serve_accepted(t: Thread, listener: Listener) -> Steps:
    while True:
        sock = yield from accept(t, listener, blocking=True)
        assert sock is not None
        while True:
            result = yield from t.recv(sock, blocking=True)
            if result.eof:
                break
            yield from t.handle(result, sock)


def accept_blocking(t: Thread) -> Steps:
    """Every worker blocks in accept on the listening socket; a connection wakes one of them
    (accept's wait is exclusive), which serves it with blocking reads until it closes."""
    yield from _workers(t, _serve_accepted)


def listener_fd(t: Thread, listener: Listener) -> int:
    """Listening sockets come after the connections in the descriptor table."""
    return FIRST_FD + len(t.sockets) + listener.index


def _accept_multiplexer(name: str) -> Callable[[Thread], Steps]:
    """select or epoll on the listening socket (made non-blocking) and on the connections this
    worker accepted: without EPOLLEXCLUSIVE a connection wakes every worker; all but one find
    the accept queue empty (EWOULDBLOCK)."""
    epoll = name == "epoll_wait"

    def serve(t: Thread, listener: Listener) -> Steps:
        mine: set[int] = set()
        exclusive = epoll and t.proc.epoll_exclusive
        if epoll:
            yield from t.call("epoll_create")
            flags = "EPOLLIN | EPOLLEXCLUSIVE" if exclusive else "EPOLLIN"
            yield from t.call("epoll_ctl", t.costs.epoll_ctl_us, -1,
                              f"epoll_ctl EPOLL_CTL_ADD ({flags}) the listening socket")
        while True:
            if epoll:
                cost = t.costs.epoll_us
            else:
                nfds = max([listener_fd(t, listener), *map(lambda c: FIRST_FD + c, mine)]) + 1
                cost = (lambda n: lambda _r: t.costs.select_us(n))(nfds)
            readable, ready, _ = yield from wait_multi(t, name, cost, mine,
                                                       frozenset({listener.index}), set(),
                                                       exclusive)
            if ready:
                sock = yield from accept(t, listener, blocking=False)
                if sock is not None:
                    mine.add(sock.conn)
                    if epoll:
                        yield from t.call("epoll_ctl", t.costs.epoll_ctl_us, sock.conn,
                                          "epoll_ctl EPOLL_CTL_ADD", "epoll_ctl EPOLL_CTL_ADD")
            for sock in readable:
                result = yield from t.recv(sock, blocking=True)
                if result.eof:
                    mine.discard(sock.conn)
                else:
                    yield from t.handle(result, sock)

    def program(t: Thread) -> Steps:
        yield from _workers(t, serve)
    program.__name__ = f"accept_{name}"
    return program


# -- programs: accept and reply with SIGIO ---------------------------------------------------

def accept_reply_sigio(t: Thread) -> Steps:
    """SIGIO on a TCP server: the listening socket and every connection raise it, for a
    connection set up, data, a half-close and send space alike. The handler cannot tell which
    (standard signals carry no reason and are not queued), so it tries everything: accept
    until EWOULDBLOCK, read every connection until EWOULDBLOCK, send what waits."""
    kernel = t.kernel
    listener = kernel.listeners[0]
    out = Outbox(t, t.proc.reply_bytes)
    socks: list[Socket] = []
    yield from t.call("sigaction", label="establish SIGIO signal handler")
    yield from _own_async(t, -1)
    listener.async_io = True
    while True:
        yield from t.work_until_signal()
        started = t.now
        causes = ", ".join(kernel.signal_causes) or "nothing new"
        kernel.signal_causes.clear()
        try:
            yield from t.deliver_signal(f"deliver SIGIO (raised by: {causes})",
                                        t.costs.signal_at, t.costs.signal_cold_us)
            while True:
                while (sock := (yield from accept(t, listener, blocking=False))) is not None:
                    yield from _own_async(t, sock.conn)
                    sock.async_io = sock.nonblocking = True
                    socks.append(sock)
                for sock in list(socks):
                    while True:
                        result = yield from t.recv(sock, blocking=False)
                        if result.eof:
                            socks.remove(sock)
                        elif result.nbytes:
                            yield from t.handle(result, sock, out.queue)
                            continue
                        break
                for conn in list(out.left):
                    if (yield from out.flush(kernel.sockets[conn])):
                        t.proc.sent_all()
                if not kernel.take_pending():
                    break
                kernel.signal_causes.clear()
        finally:
            t.rec.span(Kind.HANDLER, t.lane, started, t.now, "signal handler",
                       line=HANDLER_LINE)


def _own_async(t: Thread, conn: int) -> Steps:
    """F_SETOWN and O_ASYNC | O_NONBLOCK on a socket (-1: the listening one)."""
    yield from t.call("fcntl F_SETOWN", conn=conn)
    yield from t.call("fcntl O_ASYNC", conn=conn)


VARIANTS: dict[str, dict[str, Callable[[Thread], Steps]]] = {
    "accept": {"blocking": accept_blocking, "select": _accept_multiplexer("select"),
               "epoll": _accept_multiplexer("epoll_wait")},
    "reply": {"blocking": reply_blocking, "nonblocking": reply_nonblocking,
              "poll": _reply_multiplexer("poll"), "epoll": _reply_multiplexer("epoll_wait")},
    "accept-reply": {"sigio": accept_reply_sigio},
}


def variant_program(scenario: Scenario, model: str) -> Callable[[Thread], Steps] | None:
    """The program of ``model`` for the scenario's server variant (None: not modelled)."""
    return VARIANTS[scenario.server.variant].get(model)
