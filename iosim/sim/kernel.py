"""The kernel side of the simulation: sockets with receive queues, readiness, wait queues,
signals and asynchronous copies, driven by SimPy; and, where a scenario's [server] table asks
for them, listening sockets with their accept queues and send buffers that a slow client
drains (sendbuf.py).

Data arrives ``network_us`` after it is sent. Arrivals are scheduled URGENT so that a call made
at the very instant data arrives sees it ("the first poll at or after ready").

What a state pane needs beside the calls is written on each connection's kernel lane as
QUEUED spans whose labels say what waits there (notes.py): bytes a read left behind, a
datagram with a bad checksum until it is dropped, a connection in the accept queue; the send
buffers' fill goes to the run's meta (sendbuf.py).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from operator import itemgetter
from typing import NamedTuple

import simpy
from simpy.core import URGENT

from iosim.scenario import Scenario
from iosim.sim.costs import Costs
from iosim.sim.notes import DROP_LABEL, note
from iosim.sim.sendbuf import SendBuffers
from iosim.trace import Kind, RunRecorder

# Kinds recorded on every arrival and copy, bound once: each ``Kind.X`` is slow on Python 3.11.
ARRIVAL, COPY = Kind.ARRIVAL, Kind.COPY

FD_SETSIZE = 1024
FIRST_FD = 3  # 0, 1 and 2 are stdin, stdout and stderr


class Chunk:
    """Bytes of one message still in a receive queue; a corrupt datagram has msg -1."""

    __slots__ = ("msg", "remaining", "corrupt", "since")

    def __init__(self, msg: int, remaining: int, corrupt: bool = False,
                 since: float = -1.0) -> None:
        self.msg = msg
        self.remaining = remaining
        self.corrupt = corrupt
        self.since = since  # corrupt: when it arrived; else when a read last left part of it


class Socket:
    """One connection's socket on the server (a plain slotted class: c10k makes 10,000)."""

    __slots__ = ("fd", "conn", "lane", "queue", "eof", "waiter", "async_io", "aio_buffer",
                 "aio_busy", "nonblocking", "out", "nospace", "write_waiter", "established",
                 "reading")

    def __init__(self, fd: int, conn: int, lane: int) -> None:
        self.fd = fd
        self.conn = conn
        self.lane = lane  # the kernel lane of this connection in the trace (0 when none)
        self.queue: deque[Chunk] = deque()
        self.eof = False  # the peer closed (TCP FIN; UDP: the client's empty goodbye datagram)
        self.waiter: simpy.Event | None = None  # until woken: a waiter is woken once
        self.async_io = False  # F_SETOWN + O_ASYNC: an arrival raises SIGIO
        self.aio_buffer = 0  # an outstanding aio_read of this many bytes (0: none)
        self.aio_busy = False
        self.nonblocking = False  # O_NONBLOCK (the checksum rule asks)
        self.out = 0  # bytes in the send buffer, not yet taken by the client
        self.nospace = False  # a send found the buffer full: wake writers when it drains
        self.write_waiter: simpy.Event | None = None
        self.established = -1.0  # accept mode: when it entered the accept queue
        self.reading = False  # the slow client's reading loop runs

    @property
    def readable(self) -> bool:
        return bool(self.queue) or self.eof


class Listener:
    """A listening socket: its accept queue (connections by index) and the threads blocked
    in accept, woken one at a time (accept's wait is exclusive on Linux)."""

    __slots__ = ("index", "queue", "acceptors", "async_io")

    def __init__(self, index: int) -> None:
        self.index = index
        self.queue: deque[int] = deque()
        self.acceptors: deque[simpy.Event] = deque()
        self.async_io = False


class Watch:
    """One thread waiting in select, poll or epoll_wait: what wakes it. ``conns`` None
    watches every connection (the classic programs); ``exclusive`` listeners (EPOLLEXCLUSIVE)
    wake one exclusive watcher per connection."""

    __slots__ = ("event", "conns", "listeners", "writes", "exclusive")

    def __init__(self, event: simpy.Event, conns: set[int] | None,
                 listeners: frozenset[int] = frozenset(), writes: frozenset[int] = frozenset(),
                 exclusive: bool = False) -> None:
        self.event = event
        self.conns = conns
        self.listeners = listeners
        self.writes = writes
        self.exclusive = exclusive


def fd_of(conn: int) -> int:
    return FIRST_FD + conn


class SocketTable(Sequence[Socket]):
    """The process's sockets by connection, made on first use: an idle socket that no call
    touches (poll and select watch descriptors, not objects) costs nothing."""

    def __init__(self, total: int, lanes: dict[int, int]) -> None:
        self._total = total
        self._lanes = lanes
        self._made: dict[int, Socket] = {}

    def __len__(self) -> int:
        return self._total

    def __getitem__(self, conn: int) -> Socket:  # type: ignore[override]
        sock = self._made.get(conn)
        if sock is None:
            if not 0 <= conn < self._total:
                raise IndexError(conn)
            sock = self._made[conn] = Socket(fd_of(conn), conn, self._lanes.get(conn, 0))
        return sock

    def __iter__(self) -> Iterator[Socket]:
        return (self[c] for c in range(self._total))

    def made(self) -> list[Socket]:
        """The sockets some call or arrival has touched."""
        return list(self._made.values())


class CopyResult(NamedTuple):
    """What one read took from a queue: whole or partial messages, and which it completed;
    ``dropped``: datagrams with a bad checksum the read found and dropped (their copy is in
    ``copy_us``)."""

    nbytes: int
    copy_us: float
    completed: list[int]
    eof: bool = False
    part_us: tuple[float, ...] = ()  # the copy of each message's bytes, one after another
    dropped: int = 0


NOTHING = CopyResult(0, 0.0, [])  # EWOULDBLOCK
PEER_CLOSED = CopyResult(0, 0.0, [], eof=True)


CONNECT, DATA, CLOSE = 0, 1, 2  # what a client sends, in this order at one time
Sent = tuple[float, int, int, int, bool]  # (at_us, what, conn, nbytes, corrupt)


def _sends(scenario: Scenario) -> list[Sent]:
    """(at_us, what, conn, nbytes, corrupt) sorted by time, then connects before sends before
    closes, then by connection. One sort of a flat list: a scenario's sends are sorted by time
    on each connection already (the scenario loader checks it)."""
    sends: list[Sent] = []
    for conn, conn_sends in enumerate(scenario.connections):
        if scenario.server.accept:
            sends.append((scenario.connect_ms[conn] * 1000.0, CONNECT, conn, 0, False))
        sends += [(s.at_ms * 1000.0, DATA, conn, s.nbytes, s.corrupt) for s in conn_sends]
        sends.append((conn_sends[-1].at_ms * 1000.0, CLOSE, conn, 0, False))
    sends.sort(key=itemgetter(0, 1, 2))  # stable: a connection's sends keep their order
    return sends




NOTHING = CopyResult(0, 0.0, [])  # EWOULDBLOCK
PEER_CLOSED = CopyResult(0, 0.0, [], eof=True)


class Kernel:
    """Sockets of one server process and what happens to them while the process runs."""

    def __init__(self, env: simpy.Environment, scenario: Scenario, costs: Costs,
                 rec: RunRecorder, kernel_lanes: dict[int, int]) -> None:
        self.env = env
        self.costs = costs
        self.rec = rec
        self.protocol = scenario.protocol
        self.buffer_bytes = scenario.process.buffer_bytes
        self.sockets = SocketTable(scenario.total_connections, kernel_lanes)
        self.ready: set[int] = set()  # indexes of readable sockets
        self.watches: list[Watch] = []  # threads waiting in select, poll or epoll_wait
        self.edge_triggered = False  # epoll-et: arrivals put sockets on a ready list, once
        self.edges: set[int] = set()  # that ready list: connections not yet reported
        self.check_at_poll = scenario.kernel.udp_checksum == "linux"
        self.dropped_by_scans = 0  # datagrams a multiplexer's look dropped (check_at_poll)
        self.signal_waiter: simpy.Event | None = None
        self.signal_pending = False
        self.signal_causes: list[str] = []  # what raised the SIGIOs not yet delivered
        self.interrupts = 0  # SIGIOs taken while the process was busy, not yet paid for
        self.aio_done: deque[tuple[Socket, CopyResult]] = deque()
        server = scenario.server
        self.listeners = [Listener(i) for i in range(
            server.workers if server.reuseport else 1)] if server.accept else []
        self.send_buffer = SendBuffers(self, server.send_buffer_bytes, scenario.client)
        self.connected_at: dict[int, float] = {}  # accept mode: when each connection was made
        self.closes_us: list[float | None] = [None] * scenario.active_connections  # peers' FINs
        sends = _sends(scenario)
        rec.messages([(conn, nbytes, at_us, at_us + costs.network_us)  # as sent on time
                      for at_us, what, conn, nbytes, corrupt in sends
                      if what == DATA and not corrupt])
        env.process(self._network(sends))

    @property
    def now(self) -> float:
        return self.env.now

    def urgent(self, delay: float) -> simpy.Event:
        event = simpy.Event(self.env)
        event._ok = True
        event._value = None
        self.env.schedule(event, URGENT, delay)
        return event

    def _network(self, sends: list[Sent]) -> Generator[simpy.Event, None, None]:
        """Deliver each message (and each peer's connect and close) to its socket, in the
        order sent. The clients are one sender, as a capture's: a send starts when its time
        has come and the previous one is over (Costs.send_at, signal_send_us), and arrives
        Costs.network_at later (never before an earlier one). Messages are numbered in the
        order they arrive; a corrupt datagram is none of them."""
        ready_word = "datagram ready" if self.protocol == "udp" else "data ready"
        costs = self.costs
        run = self.rec.run
        free = last_sent = last_ready = -math.inf
        msg = 0
        for at_us, what, conn, nbytes, corrupt in sends:
            sent = max(at_us, free)
            cold = costs.coldness(sent - last_sent)
            ready = max(sent + costs.network_at(cold), last_ready)
            last_sent, last_ready = sent, ready
            yield self.urgent(max(0.0, ready - self.env.now))  # one event per arrival
            sock = self.sockets[conn]
            free = sent + costs.send_at(cold) + (costs.signal_send_us if sock.async_io else 0.0)
            if what == CONNECT:
                self._connected(sock)
                continue
            if what == CLOSE:
                sock.eof = True
                self.closes_us[conn] = ready
                self._became_readable(sock, "the peer half-closed (FIN)")
                continue
            if corrupt:
                sock.queue.append(Chunk(-1, nbytes, True, ready))
                self.rec.instant(ARRIVAL, sock.lane, ready, f"{ready_word} (bad checksum)",
                                 conn)
            else:
                run.m_sent[msg], run.m_ready[msg] = sent, ready
                sock.queue.append(Chunk(msg, nbytes))
                self.rec.instant(ARRIVAL, sock.lane, ready, ready_word, conn, msg)
                msg += 1
            self._became_readable(sock, "data arrived")

    def _became_readable(self, sock: Socket, cause: str) -> None:
        self.ready.add(sock.conn)
        if sock.waiter is not None:
            sock.waiter.succeed()
            sock.waiter = None
        if self.watches:
            self.wake_watches(conn=sock.conn)
        if self.edge_triggered:
            self.edges.add(sock.conn)
        if sock.aio_buffer and not sock.aio_busy:
            self._start_aio_copy(sock)
        if sock.async_io:
            self.raise_signal(sigio=True, cause=cause)

    # -- listening sockets -------------------------------------------------------------------

    def _connected(self, sock: Socket) -> None:
        """The handshake is over: the connection waits in its listener's accept queue
        (SO_REUSEPORT: the listener of worker conn % workers, as a hash of the addresses)."""
        listener = self.listeners[sock.conn % len(self.listeners)]
        sock.established = self.connected_at[sock.conn] = self.env.now
        listener.queue.append(sock.conn)
        if listener.acceptors:  # accept's wait is exclusive: the longest waiter, only
            listener.acceptors.popleft().succeed()
        if self.watches:
            self.wake_watches(listener=listener.index)
        if listener.async_io:
            self.raise_signal(sigio=True, cause="connection established")

    def wait_accept(self, listener: Listener) -> simpy.Event:
        waiter = self.env.event()
        listener.acceptors.append(waiter)
        return waiter

    def accepted(self, listener: Listener) -> Socket | None:
        """Take the first connection of the accept queue (None: empty)."""
        if not listener.queue:
            return None
        sock = self.sockets[listener.queue.popleft()]
        now = self.env.now
        self.rec.span(Kind.QUEUED, sock.lane, sock.established, now, note("accept"), sock.conn)
        sock.established = -1.0
        return sock

    # -- readiness ---------------------------------------------------------------------------

    def wake_watches(self, conn: int = -1, listener: int = -1, write: int = -1) -> None:
        """Wake the threads in select/poll/epoll_wait that watch what became ready: every
        one, except that a listener registered with EPOLLEXCLUSIVE wakes one of its
        exclusive watchers."""
        keep = []
        woke_exclusive = False
        for w in self.watches:
            hit = (conn >= 0 and (w.conns is None or conn in w.conns)) or write in w.writes
            if not hit and listener in w.listeners:
                hit = not (w.exclusive and woke_exclusive)
                woke_exclusive |= w.exclusive
            if hit:
                w.event.succeed()
            else:
                keep.append(w)
        self.watches = keep

    def wait_readable(self, sock: Socket) -> simpy.Event:
        sock.waiter = self.env.event()
        return sock.waiter

    def wait_any(self, conns: set[int] | None = None, listeners: frozenset[int] = frozenset(),
                 writes: frozenset[int] = frozenset(), exclusive: bool = False) -> simpy.Event:
        """Sleep in a multiplexer until one of what it watches is ready (all connections when
        ``conns`` is None)."""
        event = self.env.event()
        self.watches.append(Watch(event, conns, listeners, writes, exclusive))
        return event

    def readable(self, watched: set[int] | None = None, call: str = "") -> list[Socket]:
        """Readable sockets in descriptor order, among ``watched`` (all when None). Looked at
        by a multiplexer (``call``), a blocking UDP socket first has the checksum of the
        datagram at its head checked (Linux's udp_poll): a bad one is dropped there."""
        conns = self.ready if watched is None else self.ready & watched
        socks = [self.sockets[c] for c in sorted(conns)]
        if call and self.check_at_poll and self.protocol == "udp":
            for sock in socks:
                if not sock.nonblocking:
                    self._drop_corrupt_heads(sock, call)
            socks = [sock for sock in socks if sock.readable]
        return socks

    def take_edges(self, watched: set[int]) -> list[Socket]:
        """epoll-et: the sockets an arrival put on the ready list since the last call, once
        each, that are still readable (epoll_wait checks each before it reports it)."""
        found = sorted(self.edges & watched)
        self.edges.difference_update(found)
        return [self.sockets[c] for c in found if self.sockets[c].readable]

    def _drop_corrupt_heads(self, sock: Socket, by: str) -> None:
        queue = sock.queue
        while queue and queue[0].corrupt:
            chunk = queue.popleft()
            self.dropped_by_scans += 1
            self.rec.span(Kind.QUEUED, sock.lane, chunk.since, self.env.now,
                          f"{note('corrupt')}: {by} checks it and drops it", sock.conn)
        if not queue and not sock.eof:
            self.ready.discard(sock.conn)

    # -- reads -------------------------------------------------------------------------------

    def take(self, sock: Socket, limit: int) -> CopyResult:
        """Dequeue what one read copies: one datagram (UDP) or up to ``limit`` bytes (TCP),
        and record the copy of each message's bytes. One pass: every read of a run comes here.
        A datagram with a bad checksum is copied (the checksum is computed as it is), then
        dropped, and the read goes on to the next datagram."""
        queue = sock.queue
        if not queue:
            return PEER_CLOSED if sock.eof else NOTHING
        udp = self.protocol == "udp"
        run = self.rec.run
        copy_start, copy_end = run.m_copy_start, run.m_copy_end
        rows = self.rec.rows
        copy_us = self.costs.copy_us
        segment_us = 0.0 if udp else self.costs.segment_us
        start = t = self.env.now
        nbytes = dropped = 0
        completed = []
        part_us = []
        while queue and nbytes < limit:
            chunk = queue[0]
            msg = chunk.msg
            if chunk.corrupt:
                t = self._drop_at_read(sock, chunk, t, part_us)
                dropped += 1
                continue
            if chunk.since >= 0.0:  # the rest of a message a read left behind
                self.rec.span(Kind.QUEUED, sock.lane, chunk.since, t,
                              note("left", chunk.remaining), sock.conn, msg)
                chunk.since = -1.0
            n = chunk.remaining if udp else min(limit - nbytes, chunk.remaining)
            chunk.remaining -= n
            nbytes += n
            if copy_start[msg] != copy_start[msg]:  # NaN: first bytes of this message
                copy_start[msg] = t
            part = copy_us(n) + segment_us
            part_us.append(part)
            if t + part > t:  # as RunRecorder.span: a copy of zero length is left out
                rows.append((COPY, sock.lane, t, t + part, "copy data from kernel to user",
                             sock.conn, msg, ""))
            t += part
            if not chunk.remaining:
                queue.popleft()
                copy_end[msg] = t
                completed.append(msg)
            else:
                chunk.since = t
            if udp:  # one datagram per read, whole
                break
        if not queue and not sock.eof:
            self.ready.discard(sock.conn)
        return CopyResult(nbytes, t - start, completed, False, tuple(part_us), dropped)

    def _drop_at_read(self, sock: Socket, chunk: Chunk, t: float, part_us: list[float]) -> float:
        sock.queue.popleft()
        self.rec.span(Kind.QUEUED, sock.lane, chunk.since, t,
                      f"{note('corrupt')}: recvfrom checks it and drops it", sock.conn)
        part = self.costs.copy_us(chunk.remaining)
        part_us.append(part)
        self.rec.span(COPY, sock.lane, t, t + part, f"copy data from kernel to user: "
                      f"{DROP_LABEL}", sock.conn)
        return t + part

    def close_notes(self, end: float) -> None:
        """At the end of a run: what still waits in the kernel (a read's leftovers, datagrams
        never checked, connections never accepted) is noted up to the end; the send buffers'
        fill goes to the run's meta."""
        for sock in self.sockets.made():
            for chunk in sock.queue:
                if chunk.corrupt:
                    self.rec.span(Kind.QUEUED, sock.lane, chunk.since, end, note("corrupt"),
                                  sock.conn)
                elif chunk.since >= 0.0:
                    self.rec.span(Kind.QUEUED, sock.lane, chunk.since, end,
                                  note("left", chunk.remaining), sock.conn, chunk.msg)
            if sock.established >= 0.0:
                self.rec.span(Kind.QUEUED, sock.lane, sock.established, end, note("accept"),
                              sock.conn)
        self.rec.run.meta.update(self.send_buffer.meta())

    # -- signals -----------------------------------------------------------------------------

    def raise_signal(self, sigio: bool = False, cause: str = "") -> None:
        """SIGIO (or the aio completion signal): standard signals are not queued. A SIGIO to a
        process that is not waiting for one still interrupts it: it pays for taking it
        (Thread.call), though its handler only notes that another drain is due."""
        if cause and cause not in self.signal_causes:
            self.signal_causes.append(cause)
        if self.signal_waiter is not None:
            self.signal_waiter.succeed()
            self.signal_waiter = None
        else:
            self.signal_pending = True
            self.interrupts += sigio

    def take_pending(self) -> bool:
        """Whether a signal came since the handler began (and it is taken)."""
        pending, self.signal_pending = self.signal_pending, False
        return pending

    def wait_signal(self) -> simpy.Event:
        waiter = self.env.event()
        if self.signal_pending:
            self.signal_pending = False
            waiter.succeed()
        else:
            self.signal_waiter = waiter
        return waiter

    # -- aio ---------------------------------------------------------------------------------

    def aio_read(self, sock: Socket, nbytes: int) -> None:
        """An outstanding read completes with data, or with 0 bytes once the peer closed."""
        sock.aio_buffer = nbytes
        if sock.readable and not sock.aio_busy:
            self._start_aio_copy(sock)

    def _start_aio_copy(self, sock: Socket) -> None:
        sock.aio_busy = True
        self.env.process(self._aio_copy(sock))

    def _aio_copy(self, sock: Socket) -> Generator[simpy.Event, None, None]:
        """The kernel copies into the buffer given to aio_read, then signals completion; a
        datagram with a bad checksum is dropped and the read stays outstanding."""
        result = self.take(sock, sock.aio_buffer)
        for part_us in result.part_us:
            yield self.env.timeout(part_us)
        sock.aio_busy = False
        if result.dropped and not result.nbytes and not result.eof:
            if sock.readable:
                self._start_aio_copy(sock)
            return
        sock.aio_buffer = 0
        self.rec.instant(Kind.COMPLETE, sock.lane, self.env.now, "copy complete", sock.conn,
                         result.completed[-1] if result.completed else -1)
        self.aio_done.append((sock, result))
        self.raise_signal()  # the completion signal named in aio_read
