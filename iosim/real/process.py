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
    stamp_ns,
)

GREETING = b"hello"
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
    entered: int = 0  # when its last recvfrom began (to close a call the stop interrupts)
    fd: int = field(init=False)

    def __post_init__(self) -> None:
        self.fd = self.sock.fileno()


def spin_until(deadline_ns: int) -> None:
    """Busy-wait: the process keeps the CPU, as a program doing its own work would."""
    while time_ns() < deadline_ns:
        pass


class Server:
    """State shared by the models: the sockets, the row log and what a message costs."""

    def __init__(self, protocol: str, conns: list[Conn], messages: Messages, work_us: float,
                 poll_interval_us: float, buffer_bytes: int,
                 listener: socket.socket | None = None) -> None:
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
        self.waiting: tuple[str, int] = ("", 0)  # the multiplexer call last entered
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
        WOULDBLOCK when a non-blocking socket has nothing."""
        enter = c.entered = time_ns()
        try:
            n, anc, _flags, peer = c.sock.recvmsg_into(
                self.buffers if lane == 0 else self._thread_buffers(), STAMP_SPACE)
        except BlockingIOError:
            self.rows.append((CALL, lane, "recvfrom", c.conn, enter, time_ns(), WOULDBLOCK, 0))
            return WOULDBLOCK
        except RESET_ERRORS:
            n, anc, peer = 0, [], None
        ret = time_ns()
        self.rows.append((CALL, lane, "recvfrom", c.conn, enter, ret, n, anc))
        if peer is not None:
            c.peer = peer
        return n

    def finished_rows(self) -> list[tuple]:
        """The rows with each read's control data turned into its arrival stamp (ns): the
        parsing waits until the run is over, to keep recording to two clock reads and an
        append."""
        return [(*row[:7], stamp_ns(row[7]) if row[7] else 0) if row[0] == CALL else row
                for row in self.rows]

    def call(self, name: str, conn: int, fn: Callable[..., object], *args: object,
             lane: int = 0) -> object:
        enter = time_ns()
        result = fn(*args)
        self.rows.append((CALL, lane, name, conn, enter, time_ns(), 0, 0))
        return result

    def work(self, dur_ns: int, label: str = "process does its own work") -> None:
        start = time_ns()
        spin_until(start + dur_ns)
        self.rows.append((WORK, 0, label, -1, start, time_ns()))

    def close_open_calls(self, stop_ns: int) -> None:
        """Calls still waiting when the run was stopped: record them, ending at the stop."""
        entered = {(row[3], row[4]) for row in self.rows if row[0] == CALL}
        name, enter = self.waiting
        if enter and (-1, enter) not in entered:
            self.rows.append((CALL, 0, name, -1, enter, stop_ns, INTERRUPTED, 0))
        for c in self.conns:
            if c.entered and (c.conn, c.entered) not in entered:
                self.rows.append((CALL, c.lane, "recvfrom", c.conn, c.entered, stop_ns,
                                  INTERRUPTED, 0))

    def own_work_begins(self) -> None:
        """sigio and aio: from here on, time outside the handler is the process's own work."""
        t = time_ns()
        self.rows.append((WORK, 0, "process continues executing", -1, t, t))

    def fail(self, text: str) -> None:
        t = time_ns()
        self.error = text
        self.rows.append((ERROR, 0, text, -1, t, t))

    # -- connections -----------------------------------------------------------------------

    def eof_drops(self, c: Conn) -> bool:
        """A read of 0 bytes ends a TCP connection; a UDP socket only in capture mode (the
        scripted client's empty goodbye datagram): serve keeps its one UDP socket."""
        return self.protocol == "tcp" or not self.serving

    def drop(self, c: Conn) -> None:
        self.open.pop(c, None)
        if self.serving:
            c.sock.close()

    def accept(self) -> Conn | None:
        """Serve mode: take one new client (not recorded: setup, like socket and bind)."""
        assert self.listener is not None
        try:
            sock, _ = self.listener.accept()
        except (BlockingIOError, *RESET_ERRORS):
            return None
        return self.adopt(sock)

    def adopt(self, sock: socket.socket) -> Conn | None:
        """A newly accepted client: stamp its data, number it, greet it."""
        enable_stamps(sock)
        c = Conn(sock, len(self.conns))
        self.conns.append(c)
        self.open[c] = None
        try:
            sock.sendall(GREETING)
        except OSError:
            self.drop(c)
            return None
        return c

    # -- messages --------------------------------------------------------------------------

    def handle(self, c: Conn, nbytes: int, lane: int = 0) -> None:
        """Process each message the read completed (work_us each); the last one ends the run."""
        parts = self.messages.take(c.conn, nbytes)
        for msg, _n, done in parts:
            if done:
                start = time_ns()
                if self.work_ns:
                    spin_until(start + self.work_ns)
                self.rows.append((PROCESS, lane, msg, c.conn, start, time_ns()))
        if self.serving:
            self.reply(c)
        elif self.messages.remaining == 0:
            raise AllDone

    def reply(self, c: Conn) -> None:
        """The classic demo protocol: b'hello' back for every chunk. A vanished client is
        dropped, never fatal."""
        try:
            if self.protocol == "udp":
                if c.peer is not None:
                    c.sock.sendto(GREETING, c.peer)
            else:
                c.sock.send(GREETING)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK) and self.protocol == "tcp":
                self.drop(c)

    def read_and_handle(self, c: Conn, lane: int = 0) -> int:
        n = self.recv(c, lane)
        if n == 0 and self.eof_drops(c):
            self.drop(c)
        elif n >= 0:
            self.handle(c, n, lane)
        return n
