"""The asynchronous IO model on real sockets, through io_uring (iosim's own binding, uring.py).

POSIX aio_read on sockets is emulated by glibc with threads; io_uring is the kernel's true
asynchronous read: the request returns at once, the kernel waits for the data and copies it into
the buffer given, and a completion entry appears in the ring. The process keeps working and
checks the completion queue between slices of its own work (a memory read, no system call).

There is no signal: finding an entry is drawn as "completion seen in the ring (no signal)",
and the loop that takes the entries is the "completion handler". io_uring's recv gives no
SO_TIMESTAMPNS stamp through this ring, so all that is known of a message is bracketed: its
ready is the client's send (flagged READY_ESTIMATED: the data arrived after it), and the
kernel copied it somewhere between then and the completion seen, which capture.py draws as
one estimated copy span; served, the completion stands for both.
"""

from __future__ import annotations

import socket
from time import time_ns

from iosim.real.process import Conn, Server
from iosim.real.record import CALL, HANDLER
from iosim.real.uring import Ring

ACCEPT = 0xFFFF_FFFF  # user_data of the listening socket's accept request


def unavailable_reason() -> str | None:
    """Why io_uring cannot be used here, or None when it works."""
    try:
        Ring(2).close()
    except OSError as exc:
        return f"io_uring is not available here ({exc})"
    return None


def aio_model(s: Server) -> None:
    """aio_read (an io_uring recv) on every socket; own work until a completion; then
    aio_return, process, and a new aio_read on that socket. Replies that would block wait in
    their connection's outbox, retried during the own work."""
    ring = Ring(8, completions=4096)  # one submission at a time; many reads in flight
    buffers: dict[int, bytearray] = {}  # a connection's buffer, kept while a read is in flight
    in_flight: set[int] = set()
    by_conn = {c.conn: c for c in s.conns}

    def aio_read(c: Conn) -> None:
        enter = time_ns()
        buf = buffers.get(c.conn)
        if buf is None:
            buf = buffers[c.conn] = bytearray(len(s.buffer))
        ring.prep_recv(c.fd, buf, c.conn)
        ring.submit()
        in_flight.add(c.conn)
        s.rows.append((CALL, 0, "aio_read", c.conn, enter, time_ns(), 0, 0))

    def forget(c: Conn) -> None:
        by_conn.pop(c.conn, None)
        if c.conn not in in_flight:  # else the kernel may still write into it
            buffers.pop(c.conn, None)

    def accept_async() -> None:
        assert s.listener is not None
        ring.prep_accept(s.listener.fileno(), ACCEPT)
        ring.submit()

    def complete() -> None:
        """One completion: the data is already in the buffer; aio_return picks it up."""
        enter = time_ns()
        key, res = ring.pop()  # res < 0: a failed request's -errno (a reset, ...)
        if key == ACCEPT:
            if res >= 0:
                new = s.adopt(socket.socket(fileno=res))
                if new is not None:
                    by_conn[new.conn] = new
                    aio_read(new)
            accept_async()
            return
        in_flight.discard(key)
        c = by_conn.get(key)
        if c is None:  # dropped while its read was in flight
            buffers.pop(key, None)
            return
        nbytes = max(res, 0)
        s.rows.append((CALL, 0, "aio_return", c.conn, enter, time_ns(), nbytes, 0))
        if nbytes == 0 and s.eof_drops(c):
            s.drop(c)
        else:
            s.handle(c, nbytes)
            if c in s.open:
                aio_read(c)
        if s.gone:
            s.reap(forget)

    try:
        if s.listener is not None:
            accept_async()
        for c in s.conns:
            c.sock.setblocking(False)
            aio_read(c)
        s.own_work_begins()
        while s.open or s.listener is not None:
            while not ring.ready():
                if s.sending:  # the process continues executing
                    s.send_all_queued()
                    if s.gone:
                        s.reap(forget)
            enter = time_ns()
            try:
                while ring.ready():
                    complete()
            finally:
                s.rows.append((HANDLER, 0, "completion handler", -1, enter, time_ns(), 0, 0))
    finally:
        ring.close()
