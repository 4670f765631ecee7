"""What every real server does whatever its IO model: record each call it makes (two clock
reads and an append, see record.py), keep its connections, map what it reads to the
scenario's messages, process them and answer. The programs, one per model, are in servers.py,
as the simulator's verbs (sim/process.py) and programs (sim/models.py) are.
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from time import time_ns

from iosim.real.record import (
    CALL,
    ERROR,
    INTERRUPTED,
    PROCESS,
    STAMP_SPACE,
    WORK,
    WOULDBLOCK,
    Messages,
    enable_stamps,
)
from iosim.real.spool import Counters

GREETING = b"hello"
QUEUE_BYTES = 64 * 1024  # replies waiting per connection before it is dropped
RESET_ERRORS = (ConnectionResetError, ConnectionAbortedError, TimeoutError)


class AllDone(Exception):
    """The scenario's last message has been handled: the run ends here."""


class Stop(KeyboardInterrupt):
    """The process was told to stop (SIGTERM, SIGINT, the end of --duration). A
    KeyboardInterrupt, so that asyncio's event loop lets it through rather than logging it."""


class RunError(Exception):
    """The run cannot go on (select with a descriptor >= FD_SETSIZE, ...)."""


@dataclass(eq=False)
class Conn:
    """One socket of the server: ``conn`` numbers it in the trace."""

    sock: socket.socket
    conn: int
    peer: object = None  # UDP serve mode: where the last datagram came from
    lane: int = 0
    entered: int = 0  # when a recvfrom still in progress began (0: none)
    outbox: bytearray = field(default_factory=bytearray)  # replies that would have blocked
    half_closed: bool = False  # the peer closed its side; replies still go (a capture's)
    fd: int = field(init=False)

    def __post_init__(self) -> None:
        self.fd = self.sock.fileno()


def spin_until(deadline_ns: int) -> None:
    """Busy-wait: the process keeps the CPU, as a program doing its own work would."""
    while time_ns() < deadline_ns:
        pass


NOT_WAITING = ("", 0)


class Server:
    """State shared by the models: the sockets, the row log and what a message costs.

    Serving, replies that would block go to the connection's outbox (at most ``queue_bytes``;
    beyond, the connection is dropped: a client that never reads cannot hold the server up),
    except where the model's sends block by design (``blocking_sends``: the blocking and
    threaded models). A dropped connection is only closed by ``reap``, which the model calls
    where it can also stop watching it (select's list, poll's and epoll's sets, asyncio's
    readers): a descriptor is never closed under a multiplexer.
    """

    def __init__(self, protocol: str, conns: list[Conn], messages: Messages, work_us: float,
                 poll_interval_us: float, buffer_bytes: int,
                 listener: socket.socket | None = None, queue_bytes: int = QUEUE_BYTES,
                 reply_bytes: int = 0) -> None:
        self.protocol = protocol
        self.conns = conns
        # the connections still open, in order (a dict: membership tests cost O(1) with
        # 10,000 idle connections)
        self.open: dict[Conn, None] = dict.fromkeys(conns)
        self.messages = messages
        self.work_ns = int(work_us * 1000)
        self.poll_ns = int(poll_interval_us * 1000)
        self.listener = listener
        self.serving = not messages.scripted
        self.rows: list[tuple] = []
        self.buffer = bytearray(buffer_bytes)
        self.buffers = [memoryview(self.buffer)]
        self.finished = threading.Event()
        self.error: str | None = None
        self.process_label = "process datagram" if protocol == "udp" else "process data"
        self.waiting: tuple[str, int] = NOT_WAITING  # the multiplexer call in progress
        self.clients = len(conns)  # connections accepted so far (numbers the next one)
        self.sending: dict[Conn, None] = {}  # connections with replies waiting to be sent
        self.gone: list[Conn] = []  # dropped, not yet closed (see reap)
        self.queue_bytes = queue_bytes
        self.send_flags = socket.MSG_DONTWAIT
        self.replies_unsent = 0
        self.dropped_queue_full = 0
        self.answer_bytes = bytes(reply_bytes)  # a capture's reply to each message (none: b"")
        # server.accept (herd.py): the listening sockets, the worker threads on them, the
        # client's port of each scripted connection, and the call each worker waits in
        self.listeners: list[socket.socket] = []
        self.workers = 1
        self.epoll_exclusive = False
        self.conn_of_port: dict[int, int] = {}
        self.worker_waits: dict[int, tuple[str, int]] = {}
        self._local = threading.local()

    # -- recording -------------------------------------------------------------------------

    def _thread_buffers(self) -> list[memoryview]:
        """Each thread (lanes other than 0) reads into a buffer of its own."""
        bufs = getattr(self._local, "buffers", None)
        if bufs is None:
            bufs = self._local.buffers = [memoryview(bytearray(len(self.buffer)))]
        return bufs

    def recv(self, c: Conn, lane: int = 0) -> int:
        """recvfrom (as recvmsg, to get the arrival stamp): bytes read, 0 at end of file,
        WOULDBLOCK when a non-blocking socket has nothing. The row keeps recvmsg's control
        data; the spool turns it into the stamp, off the hot path."""
        enter = c.entered = time_ns()
        try:
            n, anc, _flags, peer = c.sock.recvmsg_into(
                self.buffers if lane == 0 else self._thread_buffers(), STAMP_SPACE)
        except BlockingIOError:
            self.rows.append((CALL, lane, "recvfrom", c.conn, enter, time_ns(), WOULDBLOCK, 0))
            c.entered = 0
            return WOULDBLOCK
        except RESET_ERRORS:
            n, anc, peer = 0, [], None
        self.rows.append((CALL, lane, "recvfrom", c.conn, enter, time_ns(), n, anc))
        c.entered = 0
        if peer is not None:
            c.peer = peer
        return n

    def call(self, name: str, conn: int, fn: Callable[..., object], *args: object,
             lane: int = 0) -> object:
        enter = time_ns()
        result = fn(*args)
        self.rows.append((CALL, lane, name, conn, enter, time_ns(), 0, 0))
        return result

    def work(self, dur_ns: int, label: str = "process does its own work") -> None:
        start = time_ns()
        spin_until(start + dur_ns)
        self.rows.append((WORK, 0, label, -1, start, time_ns(), 0, 0))

    def close_open_calls(self, stop_ns: int) -> None:
        """Calls still waiting when the run was stopped: record them, ending at the stop (a
        thread may have entered one since: that one is after the end)."""
        name, enter = self.waiting
        if 0 < enter <= stop_ns:
            self.rows.append((CALL, 0, name, -1, enter, stop_ns, INTERRUPTED, 0))
        for lane, (name, enter) in list(self.worker_waits.items()):
            if enter <= stop_ns:
                self.rows.append((CALL, lane, name, -1, enter, stop_ns, INTERRUPTED, 0))
        for c in (*self.conns, *self.open):
            entered = c.entered
            if 0 < entered <= stop_ns:
                c.entered = 0
                self.rows.append((CALL, c.lane, "recvfrom", c.conn, entered, stop_ns,
                                  INTERRUPTED, 0))

    def own_work_begins(self) -> None:
        """sigio and aio: from here on, time outside the handler is the process's own work."""
        t = time_ns()
        self.rows.append((WORK, 0, "process continues executing", -1, t, t, 0, 0))

    def fail(self, text: str) -> None:
        t = time_ns()
        self.error = text
        self.rows.append((ERROR, 0, text, -1, t, t, 0, 0))

    # -- connections -----------------------------------------------------------------------

    def eof_drops(self, c: Conn) -> bool:
        """A read of 0 bytes ends a TCP connection; a UDP socket only in capture mode (the
        scripted client's empty goodbye datagram): serve keeps its one UDP socket."""
        return self.protocol == "tcp" or not self.serving

    def drop(self, c: Conn) -> None:
        """Stop serving ``c``; replies still waiting in its outbox are counted as unsent."""
        if c not in self.open:
            return
        del self.open[c]
        if c.outbox:
            self.replies_unsent += -(-len(c.outbox) // len(GREETING))
            c.outbox.clear()
        self.sending.pop(c, None)
        self.gone.append(c)

    def reap(self, forget: Callable[[Conn], None] | None = None) -> None:
        """Close the connections dropped since the last call (serving; a capture's client
        closes its own), once ``forget`` has taken each out of whatever watches it."""
        while self.gone:
            c = self.gone.pop()
            if forget is not None:
                forget(c)
            if self.serving:
                c.sock.close()

    def accept(self) -> Conn | None:
        """Serve mode: take one new client (not recorded: setup, like socket and bind)."""
        assert self.listener is not None
        try:
            sock, _ = self.listener.accept()
        except (BlockingIOError, *RESET_ERRORS):
            return None
        except OSError as exc:  # out of descriptors, ...: refuse this one, keep serving
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                return None
            raise
        return self.adopt(sock)

    def adopt(self, sock: socket.socket) -> Conn | None:
        """A newly accepted client: stamp its data, number it, greet it."""
        try:
            enable_stamps(sock)
            sock.sendall(GREETING)
        except OSError:
            sock.close()
            return None
        c = Conn(sock, self.clients)
        self.clients += 1
        self.open[c] = None
        return c

    def adopt_numbered(self, sock: socket.socket, peer: tuple[str, int], lane: int) -> Conn:
        """A capture's client connected (server.accept): its port says which connection of
        the scenario it is."""
        enable_stamps(sock)
        c = Conn(sock, self.conn_of_port.get(peer[1], -1), lane=lane)
        self.open[c] = None
        return c

    # -- messages --------------------------------------------------------------------------

    def handle(self, c: Conn, nbytes: int, lane: int = 0) -> None:
        """Process each message the read completed (work_us each); the last one ends the run.
        Serving, every read is one message, processed and answered: the hot path of a
        ping-pong client, kept short."""
        if self.serving:
            self.messages.count += 1
            start = time_ns()
            if self.work_ns:
                spin_until(start + self.work_ns)
            self.rows.append((PROCESS, lane, self.process_label, c.conn, start, time_ns(), 0, 0))
            self.reply(c)
            return
        parts = self.messages.take(c.conn, nbytes)
        for _msg, _n, done in parts:
            if done:
                start = time_ns()
                if self.work_ns:
                    spin_until(start + self.work_ns)
                self.rows.append((PROCESS, lane, self.process_label, c.conn, start, time_ns(),
                                  0, 0))
                if self.answer_bytes:
                    self.answer(c, lane)
        if self.messages.remaining == 0 and not self.sending:
            raise AllDone

    def answer(self, c: Conn, lane: int) -> None:
        """A capture's reply to a message (server.reply_bytes): the blocking models sendall
        it, one call that sleeps while the send buffer is full; the others send what fits
        and leave the rest in the outbox for the model to send when the socket is writable."""
        if self.send_flags == 0:
            enter = time_ns()
            c.sock.sendall(self.answer_bytes)
            self.rows.append((CALL, lane, "send", c.conn, enter, time_ns(),
                              len(self.answer_bytes), 0))
            return
        c.outbox += self.answer_bytes
        self.sending[c] = None
        self.send_queued(c)

    def reply(self, c: Conn) -> None:
        """The classic demo protocol: b'hello' back for every chunk. What would block waits in
        the connection's outbox; a reply that cannot be sent at all is counted, never fatal."""
        if self.protocol == "udp":
            try:
                if c.peer is not None:
                    c.sock.sendto(GREETING, self.send_flags, c.peer)
            except OSError:
                self.replies_unsent += 1
            return
        if c.outbox:
            self.queue(c, GREETING)
            return
        try:
            sent = c.sock.send(GREETING, self.send_flags)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.replies_unsent += 1
            self.drop(c)
            return
        if sent < len(GREETING):
            self.queue(c, GREETING[sent:])

    def queue(self, c: Conn, data: bytes) -> None:
        """Serving: keep a reply that would block, up to queue_bytes per connection."""
        c.outbox += data
        self.sending[c] = None
        if len(c.outbox) > self.queue_bytes:
            self.dropped_queue_full += 1
            self.drop(c)

    def send_queued(self, c: Conn) -> None:
        """Send what the outbox holds, as much as the socket takes now. A capture records
        each of these calls, and ends once the last reply is in the send buffer."""
        enter = time_ns()
        try:
            sent = c.sock.send(c.outbox, socket.MSG_DONTWAIT)
        except BlockingIOError:
            if not self.serving:
                self.rows.append((CALL, 0, "send", c.conn, enter, time_ns(), WOULDBLOCK, 0))
            return
        except OSError:
            self.drop(c)
            return
        if not self.serving:
            self.rows.append((CALL, 0, "send", c.conn, enter, time_ns(), sent, 0))
        del c.outbox[:sent]
        if not c.outbox:
            self.sending.pop(c, None)
            if self.serving:
                return
            if c.half_closed:
                self.drop(c)
            if self.messages.remaining == 0 and not self.sending:
                raise AllDone

    def send_all_queued(self) -> None:
        for c in list(self.sending):
            self.send_queued(c)

    def read_and_handle(self, c: Conn, lane: int = 0) -> int:
        n = self.recv(c, lane)
        if n == 0 and c.outbox and not self.serving:  # its replies still go
            c.half_closed = True
        elif n == 0 and self.eof_drops(c):
            self.drop(c)
        elif n >= 0:
            self.handle(c, n, lane)
        return n

    def count_into(self, counters: Counters) -> None:
        """What the server counts itself, for the spool's records."""
        counters.replies_unsent = self.replies_unsent + sum(
            -(-len(c.outbox) // len(GREETING)) for c in list(self.sending))
        counters.dropped_queue_full = self.dropped_queue_full
        counters.clients = self.clients
