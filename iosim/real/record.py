"""What a real server writes down while it runs: one tuple per call, appended to a list.

Recording has to stay cheap (two clock reads and an append, well under a microsecond) so that
the capture does not change what it measures; turning the tuples into a Trace happens after
the run, in capture.py. All times are ``time.time_ns()`` (CLOCK_REALTIME), the clock of the
kernel's SO_TIMESTAMPNS arrival stamps.

Row layouts, eight fields each (the first says which; what a layout does not use is 0):

- ``(CALL, lane, name, conn, enter_ns, return_ns, result, stamp_ns)``: a system call. For
  ``recvfrom`` the result is the byte count, 0 for end of file, ``WOULDBLOCK`` for EWOULDBLOCK,
  and the stamp is the kernel's arrival stamp of the data read (0: none); while the server
  runs, a read's row holds recvmsg's control data instead, decoded when the row is written to
  the spool (spool.py). For select / poll / epoll_wait the result is the number of ready
  descriptors and the last field how many of them are writable. For ``send`` (a capture's
  replies) the result is the bytes copied into the send buffer, ``WOULDBLOCK`` for none;
  for ``accept`` the connection's number, ``WOULDBLOCK`` when another thread took it.
  ``INTERRUPTED``: the call was still waiting when the run was stopped (its return time is
  the stop).
- ``(WORK, lane, label, -1, start_ns, end_ns, 0, 0)``: the process's own work.
- ``(PROCESS, lane, label, conn, start_ns, end_ns, 0, 0)``: processing a received message.
- ``(HANDLER, lane, label, -1, enter_ns, exit_ns, 0, 0)``: a signal handler (or an aio
  completion).
- ``(ERROR, lane, text, -1, t_ns, t_ns, 0, 0)``: the run stopped with an error.
"""

from __future__ import annotations

import socket
import struct
from collections import deque

CALL, WORK, PROCESS, HANDLER, ERROR = range(5)
WOULDBLOCK = -1
INTERRUPTED = -2  # the call had not returned when the run was stopped

SO_TIMESTAMPNS = 35  # Linux; Python 3.11's socket module lacks the constant
STAMP_SPACE = socket.CMSG_SPACE(16)
_TIMESPEC = struct.Struct("qq")


def enable_stamps(sock: socket.socket) -> None:
    """Ask the kernel to stamp every arriving datagram or segment (SO_TIMESTAMPNS)."""
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)


def stamp_ns(ancdata: list[tuple[int, int, bytes]]) -> int:
    """The arrival stamp carried by recvmsg's control data, in ns (0 when there is none)."""
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = _TIMESPEC.unpack_from(data)
            return sec * 1_000_000_000 + nsec
    return 0


class Messages:
    """Maps the bytes read on each connection back to the scenario's messages, in order.

    With ``plan`` (per connection, the (message id, size) of each message it sends: capture
    mode) a read may complete several messages or part of one. Without (serve mode) every read
    is a message of its own. The capture replays the same reads through a fresh instance to
    get the same answer.
    """

    def __init__(self, plan: list[list[tuple[int, int]]] | None) -> None:
        self.scripted = plan is not None
        self.queues: dict[int, deque[list[int]]] = {
            conn: deque([msg, nbytes] for msg, nbytes in sends)
            for conn, sends in enumerate(plan or [])}
        self.count = sum(len(q) for q in self.queues.values())
        self.remaining = self.count

    def take(self, conn: int, nbytes: int) -> list[tuple[int, int, bool]]:
        """(message, bytes of it in this read, whether this read completes it) per message."""
        if not self.scripted:
            msg = self.count
            self.count += 1
            return [(msg, nbytes, True)]
        q = self.queues.get(conn)
        parts = []
        while nbytes > 0 and q:
            head = q[0]
            n = min(nbytes, head[1])
            head[1] -= n
            nbytes -= n
            done = head[1] == 0
            if done:
                q.popleft()
                self.remaining -= 1
            parts.append((head[0], n, done))
        return parts


def message_plan(connections: list[list[tuple[float, int]]]) -> list[list[tuple[int, int]]]:
    """Number a scenario's messages as the simulator does (by send time, then connection):
    per connection, (message id, size) of each of its sends, given (at_ms, size) pairs."""
    order = sorted((at_ms, conn, k) for conn, sends in enumerate(connections)
                   for k, (at_ms, _) in enumerate(sends))
    ids = {(conn, k): msg for msg, (_, conn, k) in enumerate(order)}
    return [[(ids[conn, k], nbytes) for k, (_, nbytes) in enumerate(sends)]
            for conn, sends in enumerate(connections)]
