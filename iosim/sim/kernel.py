"""The kernel side of the simulation: sockets with receive queues, readiness, wait queues,
signals and asynchronous copies, driven by SimPy.

Data arrives ``network_us`` after it is sent. Arrivals are scheduled URGENT so that a call made
at the very instant data arrives sees it ("the first poll at or after ready").
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
from iosim.trace import Kind, RunRecorder

# Kinds recorded on every arrival and copy, bound once: each ``Kind.X`` is slow on Python 3.11.
ARRIVAL, COPY = Kind.ARRIVAL, Kind.COPY

COPY_WORDS = "copy data from kernel to user"
FD_SETSIZE = 1024
FIRST_FD = 3  # 0, 1 and 2 are stdin, stdout and stderr


class Chunk:
    """Bytes of one message still in a receive queue."""

    __slots__ = ("msg", "remaining")

    def __init__(self, msg: int, remaining: int) -> None:
        self.msg = msg
        self.remaining = remaining


class Socket:
    """One connection's socket on the server (a plain slotted class: c10k makes 10,000)."""

    __slots__ = ("fd", "conn", "lane", "queue", "eof", "waiter", "async_io", "aio_buffer",
                 "aio_busy")

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

    @property
    def readable(self) -> bool:
        return bool(self.queue) or self.eof


def truncated_copy(copied: int, datagram: int) -> str:
    """The copy of a datagram larger than the buffer, in the words a reader needs."""
    return (f"{COPY_WORDS}: {copied:,} of {datagram:,} bytes, the rest dropped (MSG_TRUNC)")


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


class CopyResult(NamedTuple):
    """What one read took from a queue: whole or partial messages, and which it completed."""

    nbytes: int
    copy_us: float
    completed: list[int]
    eof: bool = False
    part_us: tuple[float, ...] = ()  # the copy of each message's bytes, one after another
    dropped: int = 0  # UDP: bytes of a datagram larger than the buffer, discarded (MSG_TRUNC)


NOTHING = CopyResult(0, 0.0, [])  # EWOULDBLOCK
PEER_CLOSED = CopyResult(0, 0.0, [], eof=True)


def _sends(scenario: Scenario) -> list[tuple[float, int, int, int]]:
    """(at_us, order, conn, nbytes) sorted by time, then closes after sends, then by
    connection; nbytes 0 is the peer's close. One sort of a flat list: a scenario's sends are
    sorted by time on each connection already (the scenario loader checks it)."""
    sends = []
    for conn, conn_sends in enumerate(scenario.connections):
        sends += [(s.at_ms * 1000.0, 0, conn, s.nbytes) for s in conn_sends]
        sends.append((conn_sends[-1].at_ms * 1000.0, 1, conn, 0))
    sends.sort(key=itemgetter(0, 1, 2))  # stable: a connection's sends keep their order
    return sends


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
        # Waiters not yet woken (None once woken: each is woken once, so no triggered check)
        self.any_waiter: simpy.Event | None = None
        self.signal_waiter: simpy.Event | None = None
        self.signal_pending = False
        self.interrupts = 0  # SIGIOs taken while the process was busy, not yet paid for
        self.aio_done: deque[tuple[Socket, CopyResult]] = deque()
        sends = _sends(scenario)
        rec.messages([(conn, nbytes, at_us, at_us + costs.network_us)  # as sent on time
                      for at_us, _, conn, nbytes in sends if nbytes])
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

    def _network(self, sends: list[tuple[float, int, int, int]]
                 ) -> Generator[simpy.Event, None, None]:
        """Deliver each message (and each peer's close) to its socket, in the order sent. The
        clients are one sender, as a capture's: a send starts when its time has come and the
        previous one is over (Costs.send_at, signal_send_us), and arrives Costs.network_at
        later (never before an earlier one). Messages are numbered in the order they arrive."""
        ready_word = "datagram ready" if self.protocol == "udp" else "data ready"
        costs = self.costs
        run = self.rec.run
        free = last_sent = last_ready = -math.inf
        msg = 0
        for at_us, _, conn, nbytes in sends:
            sent = max(at_us, free)
            cold = costs.coldness(sent - last_sent)
            ready = max(sent + costs.network_at(cold), last_ready)
            last_sent, last_ready = sent, ready
            yield self.urgent(max(0.0, ready - self.env.now))  # one event per arrival
            sock = self.sockets[conn]
            free = sent + costs.send_at(cold) + (costs.signal_send_us if sock.async_io else 0.0)
            if nbytes:
                run.m_sent[msg], run.m_ready[msg] = sent, ready
                sock.queue.append(Chunk(msg, nbytes))
                self.rec.instant(ARRIVAL, sock.lane, ready, ready_word, conn, msg)
                msg += 1
            else:
                sock.eof = True
            self._became_readable(sock)

    def _became_readable(self, sock: Socket) -> None:
        self.ready.add(sock.conn)
        if sock.waiter is not None:
            sock.waiter.succeed()
            sock.waiter = None
        if self.any_waiter is not None:
            self.any_waiter.succeed()
            self.any_waiter = None
        if sock.aio_buffer and not sock.aio_busy:
            self._start_aio_copy(sock)
        if sock.async_io:
            self.raise_signal(sigio=True)

    def wait_readable(self, sock: Socket) -> simpy.Event:
        sock.waiter = self.env.event()
        return sock.waiter

    def wait_any(self) -> simpy.Event:
        self.any_waiter = self.env.event()
        return self.any_waiter

    def readable(self, watched: set[int] | None = None) -> list[Socket]:
        """Readable sockets in descriptor order, among ``watched`` (all when None)."""
        conns = self.ready if watched is None else self.ready & watched
        return [self.sockets[c] for c in sorted(conns)]

    def take(self, sock: Socket, limit: int) -> CopyResult:
        """Dequeue what one read copies: one datagram (UDP) or up to ``limit`` bytes (TCP),
        and record the copy of each message's bytes. A datagram larger than ``limit`` is
        truncated, as recvfrom does: the buffer's worth is copied, the rest is dropped with the
        datagram (MSG_TRUNC). One pass: every read of a run comes here."""
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
        nbytes = 0
        completed = []
        part_us = []
        dropped = 0
        while queue and nbytes < limit:
            chunk = queue[0]
            msg = chunk.msg
            n = min(limit - nbytes, chunk.remaining)
            label = COPY_WORDS
            if udp and n < chunk.remaining:  # the rest of the datagram is lost
                dropped = chunk.remaining - n
                label = truncated_copy(n, chunk.remaining)
                n = chunk.remaining
            chunk.remaining -= n
            nbytes += n - dropped
            if copy_start[msg] != copy_start[msg]:  # NaN: first bytes of this message
                copy_start[msg] = t
            part = copy_us(n - dropped) + segment_us
            part_us.append(part)
            if t + part > t:  # as RunRecorder.span: a copy of zero length is left out
                rows.append((COPY, sock.lane, t, t + part, label, sock.conn, msg, ""))
            t += part
            if not chunk.remaining:
                queue.popleft()
                copy_end[msg] = t
                completed.append(msg)
            if udp:  # one datagram per read
                break
        if not queue and not sock.eof:
            self.ready.discard(sock.conn)
        return CopyResult(nbytes, t - start, completed, False, tuple(part_us), dropped)

    def raise_signal(self, sigio: bool = False) -> None:
        """SIGIO (or the aio completion signal): standard signals are not queued. A SIGIO to a
        process that is not waiting for one still interrupts it: it pays for taking it
        (Thread.call), though its handler only notes that another drain is due."""
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

    def aio_read(self, sock: Socket, nbytes: int) -> None:
        """An outstanding read completes with data, or with 0 bytes once the peer closed."""
        sock.aio_buffer = nbytes
        if sock.readable and not sock.aio_busy:
            self._start_aio_copy(sock)

    def _start_aio_copy(self, sock: Socket) -> None:
        sock.aio_busy = True
        self.env.process(self._aio_copy(sock))

    def _aio_copy(self, sock: Socket) -> Generator[simpy.Event, None, None]:
        """The kernel copies into the buffer given to aio_read, then signals completion."""
        result = self.take(sock, sock.aio_buffer)
        for part_us in result.part_us:
            yield self.env.timeout(part_us)
        sock.aio_busy = False
        sock.aio_buffer = 0
        self.rec.instant(Kind.COMPLETE, sock.lane, self.env.now, "copy complete", sock.conn,
                         result.completed[-1] if result.completed else -1)
        self.aio_done.append((sock, result))
        self.raise_signal()  # the completion signal named in aio_read
