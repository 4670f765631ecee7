"""The server side of the state pane, for the programs that accept connections or reply: the
listening socket and its accept queue, who sleeps on it and who took each connection, each
connection's send buffer and the reply still waiting for room, and a UDP datagram with a bad
checksum queued until a read drops it. Read from the run's events and meta["send_buffer"];
what a run does not record is left out (state_words says so).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from dataclasses import dataclass

from iosim.trace import Kind, Run

ACCEPT_QUEUED = "connection established, in the accept queue"
BAD_ARRIVAL = "(bad checksum)"
BAD_QUEUED = "datagram with a bad checksum"
BAD_COPY = "checksum bad"
PARTIAL = re.compile(r"return ([\d,]+) of ([\d,]+) bytes")
CONNECTION = re.compile(r"connection (\d+)")
RAISED = re.compile(r"raised by: (.*)\)$")


def _num(text: str) -> int:
    return int(text.replace(",", ""))


def returned_names(label: str) -> tuple[bool, tuple[int, ...], str] | None:
    """"return writable: the listening socket, connection 2" -> (listener, conns, what), or
    None where the label names nothing (the plain programs' "return readable")."""
    head, sep, names = label.partition(": ")
    if not sep or not head.startswith("return "):
        return None
    return ("the listening socket" in names, tuple(int(n) for n in CONNECTION.findall(names)),
            head.removeprefix("return "))


@dataclass(frozen=True)
class Accept:
    t: float
    lane: int
    conn: int  # -1: EWOULDBLOCK (another thread took the connection)


@dataclass(frozen=True)
class Listener:
    """The listening socket at the playhead."""

    queue: tuple[int, ...]  # connections established, waiting in the accept queue
    accepted: tuple[tuple[int, str], ...]  # (connection, the thread that accepted it)
    asleep: tuple[str, ...]  # threads asleep on it (in accept, or a multiplexer watching it)
    in_accept: bool  # they sleep in accept itself (an exclusive wait: one is woken)
    latest: tuple[str, int] | None  # the latest accept: its thread and what it returned
    nonblocking: bool  # its accept returns EWOULDBLOCK when the queue is empty


@dataclass(frozen=True)
class SendBuf:
    """One connection's send buffer."""

    conn: int
    name: str
    used: int  # bytes in it, not yet read by the client
    size: int
    waiting: int  # bytes of the reply not yet in it (the outbox, or what a blocked send holds)
    blocked: bool  # a send sleeps on it now


class ServerTables:
    """What an accepting or replying server's run recorded, gathered once."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.accepts: list[Accept] = []
        self.accept_waits: list[tuple[float, float, int]] = []  # in the accept queue
        self.bad_spans: dict[int, list[tuple[float, float]]] = {}  # queued .. dropped
        self.bad_checker: dict[int, str] = {}  # "recvfrom checks it and drops it"
        self.listen_blocks: list[tuple[float, float, int, str]] = []  # sleeps on the listener
        self.send_rets: dict[int, list[tuple[float, int]]] = {}  # conn -> (t, bytes waiting)
        self.send_blocks: dict[int, list[tuple[float, float]]] = {}
        self.accept_wakes: list[tuple[float, int]] = []  # a thread woken in accept
        self.causes: list[tuple[float, str]] = []  # SIGIO's raisers, per delivery
        self.listen_watch: dict[int, float] = {}  # lane -> when its multiplexer watches it
        self._gather(run)
        self.fills = self._fills(run.meta.get("send_buffer"))
        size = run.meta.get("send_buffer_bytes")
        self.send_size = size if isinstance(size, int) and not isinstance(size, bool) \
            and size > 0 else None
        self.accept_t = [a.t for a in self.accepts]
        self.has_listener = bool(self.accepts or self.accept_waits)
        self.accepted_at = {a.conn: a.t for a in self.accepts if a.conn >= 0}
        self.cause_t = [t for t, _ in self.causes]

    def _gather(self, run: Run) -> None:
        code, labels = run.code, run.labels
        roles = [ln.role for ln in run.lanes]
        for kind, lane, t0, t1, label, conn, line in zip(
                run.kind, run.lane, run.t0, run.t1, run.label, run.conn, run.line, strict=True):
            key = code[line] if line >= 0 else ""
            text = labels[label]
            if roles[lane] == "kernel":
                if kind == Kind.QUEUED and text == ACCEPT_QUEUED:
                    self.accept_waits.append((t0, t1, conn))
                elif kind == Kind.ARRIVAL and text.endswith(BAD_ARRIVAL):
                    self.bad_spans.setdefault(conn, []).append((t0, math.inf))
                elif kind == Kind.QUEUED and text.startswith(BAD_QUEUED):
                    self.bad_checker[conn] = text.rpartition(": ")[2]
                elif kind == Kind.COPY and BAD_COPY in text and self.bad_spans.get(conn):
                    start, _ = self.bad_spans[conn][-1]
                    self.bad_spans[conn][-1] = (start, t1)
                continue
            if key == "accept" and kind in (Kind.RETURN, Kind.EWOULDBLOCK):
                self.accepts.append(Accept(t0, lane, conn if kind == Kind.RETURN else -1))
            elif key == "accept" and kind == Kind.BLOCKED:
                self.listen_blocks.append((t0, t1, lane, "accept"))
            elif key == "accept" and kind == Kind.WAKEUP:
                self.accept_wakes.append((t0, lane))
            elif key == "send" and conn >= 0:
                if kind == Kind.RETURN:
                    m = PARTIAL.match(text)
                    left = _num(m.group(2)) - _num(m.group(1)) if m else 0
                    self.send_rets.setdefault(conn, []).append((t0, left))
                elif kind == Kind.BLOCKED and text.startswith("process blocks in call to send"):
                    self.send_blocks.setdefault(conn, []).append((t0, t1))
            elif key == "epoll_ctl" and conn < 0 and kind == Kind.SYSCALL:  # no connection:
                self.listen_watch.setdefault(lane, t0)  # the listening socket
            elif kind == Kind.SIGNAL:
                m = RAISED.search(text)
                if m:
                    self.causes.append((t0, m.group(1)))

    def _fills(self, value: object) -> dict[int, list[tuple[float, int]]]:
        """meta["send_buffer"]: {conn: [[t_us, bytes], ...]}; nothing where malformed."""
        if not isinstance(value, dict):
            return {}
        out: dict[int, list[tuple[float, int]]] = {}
        for conn, steps in value.items():
            if not (isinstance(conn, str) and conn.isdigit() and isinstance(steps, list)):
                return {}
            rows = []
            for step in steps:
                ok = isinstance(step, list) and len(step) == 2 and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    for v in step)
                if not ok:
                    return {}
                rows.append((float(step[0]), int(step[1])))
            out[int(conn)] = sorted(rows)
        return out

    # -- questions ----------------------------------------------------------------------------

    def exists(self, conn: int, t: float) -> bool:
        """The program has this connection's socket: always, but in an accepting server, only
        once accept returned it."""
        return not self.has_listener or self.accepted_at.get(conn, math.inf) <= t

    def listener(self, t: float, thread_names: dict[int, str]) -> Listener | None:
        if not self.has_listener:
            return None
        queue = tuple(c for t0, t1, c in self.accept_waits if t0 <= t < t1)
        accepted = tuple((a.conn, thread_names.get(a.lane, "the process"))
                         for a in self.accepts if a.t <= t and a.conn >= 0)
        asleep = [(lane, how) for t0, t1, lane, how in self.listen_blocks if t0 <= t < t1
                  and not any(ln == lane and t0 <= w <= t for w, ln in self.accept_wakes)]
        k = bisect_right(self.accept_t, t) - 1
        latest = (thread_names.get(self.accepts[k].lane, "the process"),
                  self.accepts[k].conn) if k >= 0 else None
        nonblocking = any(a.conn < 0 for a in self.accepts) or bool(self.listen_watch)
        return Listener(queue, accepted, tuple(thread_names.get(lane, "the process")
                                               for lane, _ in sorted(asleep)),
                        bool(asleep), latest, nonblocking)

    def sends(self, t: float, name) -> tuple[SendBuf, ...]:
        if self.send_size is None:
            return ()
        out = []
        for conn, steps in sorted(self.fills.items()):
            k = bisect_right(steps, (t, math.inf)) - 1
            if k < 0:
                continue
            rets = self.send_rets.get(conn, [])
            j = bisect_right(rets, (t, math.inf)) - 1
            blocked = any(t0 <= t < t1 for t0, t1 in self.send_blocks.get(conn, []))
            out.append(SendBuf(conn, name(conn), steps[k][1], self.send_size,
                               rets[j][1] if j >= 0 else 0, blocked))
        return tuple(out)

    def outbox(self, conn: int, t: float) -> int:
        """Bytes of the reply to ``conn`` waiting for room at ``t`` (the program watches for
        POLLOUT/EPOLLOUT while there are any)."""
        rets = self.send_rets.get(conn, [])
        j = bisect_right(rets, (t, math.inf)) - 1
        return rets[j][1] if j >= 0 else 0

    def bad(self, conn: int, t: float) -> tuple[str, float | None]:
        """Who checks and drops the datagram with a bad checksum queued on ``conn`` at ``t``
        ("" none queued), as the run says; and when the latest one was dropped (None: none)."""
        queued, dropped = "", None
        for t0, t1 in self.bad_spans.get(conn, []):
            if t0 <= t < t1:
                queued = self.bad_checker.get(conn, "a read checks it and drops it")
            elif t1 <= t:
                dropped = t1
        return queued, dropped

    def cause(self, t: float) -> str | None:
        """What raised the latest SIGIO delivered by ``t``, as the run recorded it."""
        k = bisect_right(self.cause_t, t) - 1
        return self.causes[k][1] if k >= 0 else None
