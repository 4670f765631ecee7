"""What a run recorded, gathered once for the state pane (state.py asks the questions): each
read's bytes per message, each socket's queue over time, the multiplexer calls and what each
returned, epoll_ctl's registrations, signals, handlers and aio's requests.

Everything is read from the Trace; where a trace file's meta is malformed it is done without.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from operator import le
from typing import TypeVar

from iosim.teach.index import FirstAbove
from iosim.teach.state_server import ServerTables, returned_names
from iosim.teach.words import MULTIPLEXERS, READS, noun_of
from iosim.trace import Kind, Run

T = TypeVar("T")
SCAN_AGAIN = "scans again"  # the end of a multiplexer's label for its scan after a wake-up


@dataclass
class Read:
    """One read that copied data: its copy parts and when it returned."""

    conn: int
    end: float
    # msg, bytes, whether this read took the message's first bytes, whether its last
    parts: list[tuple[int, int | None, bool, bool]] = field(default_factory=list)

    @property
    def nbytes(self) -> int | None:
        sizes = [n for _, n, _, _ in self.parts]
        return None if None in sizes else sum(n for n in sizes if n is not None)


@dataclass
class Call:
    """A read call made on a lane: when, on what, and how it returned."""

    enter: float
    conn: int
    key: str
    ret: float = math.inf
    result: Kind | None = None


@dataclass
class MuxCall:
    enter: float
    name: str
    lane: int = 0
    scan_end: float | None = None
    wake: float | None = None
    rescan: float | None = None
    ret: float = math.inf
    returned: tuple[int, ...] = ()
    named: tuple[bool, tuple[int, ...], str] | None = None  # what its return label names


class _Above(FirstAbove):
    """Every position before ``hi`` whose value exceeds ``t``, in order, each found in
    O(log n) (the sockets holding data at a time, without a scan)."""

    def positions(self, hi: int, t: float) -> Iterator[int]:
        tree = self.tree
        stack = [(1, 0, self.size)]  # node, its first position, how many it covers
        while stack:
            node, lo, width = stack.pop()
            if lo >= hi or tree[node] <= t:
                continue
            if width == 1:
                yield lo
                continue
            half = width >> 1
            stack.append((2 * node + 1, lo + half, half))
            stack.append((2 * node, lo, half))


class Kept:
    """The latest answer and the key it was made for: the window asks at time after time
    between the same events, and an answer changes only where its key does."""

    def __init__(self) -> None:
        self.key: object = None
        self.value: object = None

    def get(self, key: object, make: Callable[[], T]) -> T:
        if key != self.key:
            self.key, self.value = key, make()
        return self.value  # type: ignore[return-value]


class KeptEach:
    """Per key (a socket, a thread, a read): the latest answer and the epoch it was made in
    (how many of the key's changes came before), kept while the epoch holds."""

    def __init__(self) -> None:
        self._kept: dict[int, tuple[int, object]] = {}

    def get(self, key: int, epoch: int, make: Callable[[], T]) -> T:
        kept = self._kept.get(key)
        if kept is None or kept[0] != epoch:
            kept = self._kept[key] = (epoch, make())
        return kept[1]  # type: ignore[return-value]


def _int_meta(value: object, low: int) -> int | None:
    """A whole number from a run's meta, or None: a trace file's meta is not trusted."""
    if isinstance(value, int) and not isinstance(value, bool) and low <= value < 2**62:
        return value
    return None


def _times_meta(value: object, count: int) -> list[float | None]:
    """A list of times (or nulls) from a run's meta, one per connection; nulls if malformed."""
    if not isinstance(value, list) or len(value) > count:
        return [None] * count
    out: list[float | None] = []
    for v in value:
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        out.append(float(v) if ok else None)
    return out + [None] * (count - len(out))


def _finite(t: float) -> float:
    return t if t == t else math.inf


class Tables:
    """One run's tables, built once, so that every question about a time is a few
    bisects."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.sim = run.source == "sim"
        self.udp = noun_of(run) == "datagram"
        self.buffer = _int_meta(run.meta.get("buffer_bytes"), 1)
        self.active = sorted({ln.conn for ln in run.lanes if ln.role == "kernel"
                              and ln.conn >= 0} | set(run.m_conn))
        seen = max([*self.active, *(c for c in run.conn if c >= 0)], default=-1) + 1
        total = _int_meta(run.meta.get("connections"), seen)
        self.total = total if total is not None else seen
        self.closes = _times_meta(run.meta.get("closes_us"), len(self.active)) \
            if self.sim else []
        self.has_program = run.source in ("sim", "real")
        self.thread_names = {i: ln.name for i, ln in enumerate(run.lanes) if ln.role == "thread"}
        self.server = ServerTables(run)
        self.replies = bool(self.server.fills)  # a reply keeps a closed peer watched
        self._changes: dict[int, array] = {}  # conn -> when its socket changes (see changes)
        self._busy_kept = Kept()
        self._read_changes: dict[int, array] = {}
        self._gather(run)
        self._replay(run)
        self._queues(run)
        self._multiplexed()
        self.socket_changes = self._socket_changes()
        self.aio_conns = sorted(set(self.submits) | set(self.completes))
        self.submit_t = array("d", sorted(t for ts in self.submits.values() for t in ts))
        self.collect_t = array("d", sorted(t for ts in self.collects.values() for t in ts))
        asked = [t for steps in self.ctl_events.values() for t, _ in steps]
        if self.replies:
            asked += [*self.eof_t, *(t for rets in self.server.send_rets.values()
                                     for t, _ in rets)]
        self.asked_changes = array("d", sorted(asked))  # when a socket's events may change
        self.accepted_t = array("d", sorted(t for c, t in self.server.accepted_at.items()
                                            if c < self.total))  # sockets the program has
        self._pending = self._pending_signals() if self.sim else []
        self.pending_t = array("d", (p[0] for p in self._pending))
        self.read_end_t = {c: array("d", (r.end for r in rs)) for c, rs in self.reads.items()}
        self.call_t = {lane: array("d", (c.enter for c in cs)) for lane, cs in self.calls.items()}
        self.processing_t = {lane: array("d", (p[0] for p in ps))
                             for lane, ps in self.processing.items()}

    # -- building -----------------------------------------------------------------------------

    def _gather(self, run: Run) -> None:
        """One pass over the events: what each later question needs."""
        roles = [ln.role for ln in run.lanes]
        code, labels = run.code, run.labels
        self.copies: dict[int, list[tuple[float, float]]] = {}
        self.read_ends: dict[int, list[float]] = {}
        self.calls: dict[int, list[Call]] = {}  # lane -> its read calls
        self.mux: list[MuxCall] = []
        self.ctl: list[tuple[float, int, int]] = []  # epoll_ctl ADD: when, connection, lane
        self.ctl_events: dict[int, list[tuple[float, str]]] = {}  # conn -> (t, its events)
        self.async_from: dict[int, float] = {}  # O_ASYNC set on a connection
        self.setsig = "fcntl F_SETSIG" in code
        self.signals: list[tuple[float, int]] = []
        self.handlers: list[tuple[float, float]] = []
        self.eof_read: dict[int, float] = {}
        self.completes: dict[int, list[float]] = {}
        self.submits: dict[int, list[float]] = {}
        self.collects: dict[int, list[float]] = {}
        self.processing: dict[int, list[tuple[float, float, int]]] = {}
        self.nonblocking_reads = False
        mux_of: dict[int, MuxCall] = {}  # each lane's latest multiplexer call
        for kind, lane, t0, t1, label, conn, msg, line in zip(
                run.kind, run.lane, run.t0, run.t1, run.label, run.conn, run.msg, run.line,
                strict=True):
            key = code[line] if line >= 0 else ""
            if kind == Kind.COPY:
                if msg >= 0:
                    self.copies.setdefault(msg, []).append((t0, t1))
                continue
            if roles[lane] == "kernel":
                if kind == Kind.COMPLETE and conn >= 0:
                    self.completes.setdefault(conn, []).append(t0)
                    self.read_ends.setdefault(conn, []).append(t0)
                    if msg >= 0 and msg not in self.copies:
                        self.copies[msg] = [(t0, t0)]  # a completion seen, no copy recorded
                continue
            if kind == Kind.SYSCALL or (kind == Kind.OVERHEAD and key == "aio_return"):
                # (a real aio run's aio_return takes a completion from io_uring's ring: a span,
                # no system call)
                if key in READS:
                    self.calls.setdefault(lane, []).append(Call(t0, conn, key))
                if key == "aio_return":
                    self.collects.setdefault(conn, []).append(t0)
                elif key == "aio_read":
                    self.submits.setdefault(conn, []).append(t0)
                elif key in MULTIPLEXERS:
                    self.mux.append(MuxCall(t0, key, lane))
                    mux_of[lane] = self.mux[-1]
                elif key.startswith("epoll_ctl") and "MOD" not in key and conn >= 0:
                    self.ctl.append((t0, conn, lane))
                elif key == "fcntl O_ASYNC" and conn >= 0:
                    self.async_from.setdefault(conn, t0)
            elif kind in (Kind.RETURN, Kind.EWOULDBLOCK, Kind.EOF) and key in READS:
                calls = self.calls.get(lane)
                if calls and calls[-1].result is None:
                    calls[-1].ret, calls[-1].result = t0, Kind(kind)
                if kind == Kind.RETURN and conn >= 0:
                    self.read_ends.setdefault(conn, []).append(t0)
                elif kind == Kind.EOF and conn >= 0:
                    self.eof_read.setdefault(conn, t0)
                elif kind == Kind.EWOULDBLOCK:
                    self.nonblocking_reads = True
            elif kind == Kind.IN_KERNEL and key.startswith("epoll_ctl") and conn >= 0:
                flags = labels[label].partition("(")[2].partition(")")[0]
                if flags:
                    self.ctl_events.setdefault(conn, []).append((t0, flags))
            elif key in MULTIPLEXERS and lane in mux_of:
                call = mux_of[lane]
                if kind == Kind.IN_KERNEL:
                    if labels[label].endswith(SCAN_AGAIN):
                        call.rescan = t0
                    elif call.scan_end is None and t0 == call.enter:
                        call.scan_end = t1
                elif kind == Kind.WAKEUP:
                    call.wake = t0
                elif kind == Kind.READABLE:
                    call.ret = t0
                    call.named = returned_names(labels[label])
            elif kind == Kind.SIGNAL:
                self.signals.append((t0, conn))
            elif kind == Kind.HANDLER:
                self.handlers.append((t0, t1))
            elif kind == Kind.PROCESS and msg >= 0:
                self.processing.setdefault(lane, []).append((t0, t1, msg))
        for ends in self.read_ends.values():
            ends.sort()
        self.ctl_at = {}
        for t, c, _ in self.ctl:
            self.ctl_at.setdefault(c, t)
        self.ctl_event_t = {c: array("d", (t for t, _ in steps))
                            for c, steps in self.ctl_events.items()}
        eofs = sorted((t, c) for c, t in self.eof_read.items())
        self.eof_t = array("d", (t for t, _ in eofs))
        self.eof_conns = tuple(c for _, c in eofs)
        self.signal_t = array("d", (t for t, _ in self.signals))
        self.handler_t0 = array("d", (h[0] for h in self.handlers))

    def _replay(self, run: Run) -> None:
        """Each read's bytes per message, from its copy parts: a read takes whole messages
        (UDP: one datagram) until the buffer is full, so only its last part can be partial;
        a simulation's buffer says how much of it was taken (elsewhere: not recorded)."""
        self.remaining: dict[int, list[tuple[float, float, int | None]]] = {}
        self.reads: dict[int, list[Read]] = {}
        by_conn: dict[int, list[tuple[float, float, int]]] = {}
        for msg, parts in self.copies.items():
            conn = run.m_conn[msg] if 0 <= msg < run.message_count else -1
            by_conn.setdefault(conn, []).extend((t0, t1, msg) for t0, t1 in parts)
        for conn, parts in by_conn.items():
            parts.sort()
            ends = self.read_ends.get(conn, [])
            groups: list[list[tuple[float, float, int]]] = []
            for part in parts:
                if groups:
                    prev = groups[-1][-1]
                    k = bisect_left(ends, prev[1])
                    if prev[2] != part[2] and not (k < len(ends) and ends[k] <= part[0]):
                        groups[-1].append(part)
                        continue
                groups.append([part])
            reads = self.reads.setdefault(conn, [])
            for group in groups:
                k = bisect_left(ends, group[-1][1])
                read = Read(conn, ends[k] if k < len(ends) else group[-1][1])
                taken = 0
                for j, (t0, t1, msg) in enumerate(group):
                    n = self._part_bytes(run, msg, t1, taken, j == len(group) - 1)
                    left = self._left(run, msg)
                    self.remaining.setdefault(msg, []).append(
                        (t0, t1, None if n is None or left is None else left - n))
                    first = len(self.remaining[msg]) == 1
                    final = self._final(run, msg, t1)
                    read.parts.append((msg, n, first, final))
                    taken += n or 0
                reads.append(read)
            reads.sort(key=lambda r: r.end)

    def _left(self, run: Run, msg: int) -> int | None:
        steps = self.remaining.get(msg)
        return int(run.m_bytes[msg]) if not steps else steps[-1][2]

    def _final(self, run: Run, msg: int, t1: float) -> bool:
        """This part ends the message's copy: its last part, of a message copied whole."""
        parts = self.copies[msg]
        return parts[-1][1] == t1 and _finite(run.m_copy_end[msg]) < math.inf

    def _part_bytes(self, run: Run, msg: int, t1: float, taken: int,
                    last: bool) -> int | None:
        left = self._left(run, msg)
        if left is None:
            return None
        if self._final(run, msg, t1):
            return left
        if last and self.sim and self.buffer is not None:
            return max(0, min(left, self.buffer - taken))
        return None

    def _queues(self, run: Run) -> None:
        """Each connection's messages by arrival, with when each was copied whole: those
        queued at a time are those arrived and not yet copied, a slice where the queue is
        first in, first out (always, but for a hand-made trace). Which connections hold data
        at a time: the union of their messages' stays, as intervals a tree finds."""
        ready = [_finite(t) for t in run.m_ready]
        order = sorted(range(run.message_count), key=ready.__getitem__)
        self.by_ready = array("i", order)
        self.ready_t = array("d", (ready[m] for m in order))
        done = [_finite(run.m_copy_end[m]) for m in order]
        self.done_t = array("d", sorted(done))
        self.conn_msgs: dict[int, array] = {}
        for m in order:
            self.conn_msgs.setdefault(run.m_conn[m], array("i")).append(m)
        self.conn_ready = {c: array("d", (ready[m] for m in ms))
                           for c, ms in self.conn_msgs.items()}
        self.conn_done = {c: array("d", (_finite(run.m_copy_end[m]) for m in ms))
                          for c, ms in self.conn_msgs.items()}
        self.fifo = {c: all(map(le, d, d[1:])) for c, d in self.conn_done.items()}
        stays = []
        for conn, msgs in self.conn_msgs.items():
            for m in msgs:
                start, end = ready[m], _finite(run.m_copy_end[m])
                if start >= end:
                    continue
                if stays and stays[-1][2] == conn and start <= stays[-1][1]:
                    stays[-1][1] = max(stays[-1][1], end)
                else:
                    stays.append([start, end, conn])
        stays.sort()
        self.stay_t = array("d", (s[0] for s in stays))
        self.stay_conn = array("i", (s[2] for s in stays))
        self.stays = _Above([s[1] for s in stays])
        self.stay_end = array("d", sorted(s[1] for s in stays))
        arrivals = [(ready[m], run.m_conn[m]) for m in order if ready[m] < math.inf]
        arrivals += [(t, c) for c, t in enumerate(self.closes) if t is not None]
        arrivals.sort()
        closes = sorted((t, c) for c, t in enumerate(self.closes) if t is not None)
        self.close_t = array("d", (t for t, _ in closes))
        self.close_conns = tuple(c for _, c in closes)
        self.arrival_t = array("d", (t for t, _ in arrivals))
        self.arrival_conn = array("i", (c for _, c in arrivals))

    def _socket_changes(self) -> array:
        """When anything of any socket changes (see changes), or the program gets one."""
        times = [*self.ready_t, *self.done_t, *self.close_t, *self.eof_t,
                 *self.server.accepted_at.values()]
        for steps in self.remaining.values():
            for t0, t1, _ in steps:
                times += (t0, t1)
        for spans in self.server.bad_spans.values():
            for span in spans:
                times += span
        return array("d", sorted(map(_finite, times)))

    def _multiplexed(self) -> None:
        """What each select/poll/epoll_wait returned, per lane (each thread has its own): the
        sockets its return names, or else those the program reads before its next call (the
        last call's, if the run ended first, are the sockets readable when it returned)."""
        self.mux_lanes: dict[int, list[MuxCall]] = {}
        for call in self.mux:
            self.mux_lanes.setdefault(call.lane, []).append(call)
        for lane, calls in self.mux_lanes.items():
            reads = self.calls.get(lane, [])
            enters = [c.enter for c in reads]
            for k, call in enumerate(calls):
                if call.ret == math.inf:
                    continue
                if call.named is not None:
                    call.returned = call.named[1]
                    continue
                until = calls[k + 1].enter if k + 1 < len(calls) else math.inf
                lo, hi = bisect_left(enters, call.ret), bisect_left(enters, until)
                conns = list(dict.fromkeys(c.conn for c in reads[lo:hi] if c.conn >= 0))
                if until == math.inf and self.sim:
                    conns = sorted(set(conns) | self._readable(call.ret))
                call.returned = tuple(conns)
        self.mux_enter = {lane: array("d", (c.enter for c in calls))
                          for lane, calls in self.mux_lanes.items()}
        first: dict[int, float] = {}  # each connection's first arrival
        for t, c in zip(self.arrival_t, self.arrival_conn, strict=True):
            first.setdefault(c, t)
        entries = sorted((max(t, self.ctl_at[c]), c) for c, t in first.items()
                         if c in self.ctl_at)
        # epoll's ready list before its first epoll_wait: the sockets registered and arrived on
        self.entry_t = array("d", (t for t, _ in entries))
        self.entry_conn = tuple(c for _, c in entries)
        self.ctl_lanes: dict[int, tuple[array, tuple[int, ...], dict[int, float]]] = {}
        for lane in {ln for _, _, ln in self.ctl}:
            mine = [(t, c) for t, c, ln in self.ctl if ln == lane]
            added: dict[int, float] = {}
            for t, c in mine:
                added.setdefault(c, t)
            self.ctl_lanes[lane] = (array("d", (t for t, _ in mine)),
                                    tuple(c for _, c in mine), added)

    def _pending_signals(self) -> list[tuple[float, float, list[float]]]:
        """The intervals in which the pending bit is set, with the raises it stands for.

        A raise (an arrival on an O_ASYNC socket; aio: a completion) while the process waits
        for the signal is delivered at once; one while it is busy (in the handler) sets the
        bit, and more merge into it. The bit is taken by the next delivery, or by the SIGIO
        handler when it starts another pass over the sockets (it drains again for it)."""
        if self.run.model == "aio":
            raises = sorted(t for ts in self.completes.values() for t in ts)
            passes: list[float] = []
        elif self.async_from:
            raises = sorted(
                [t for t, c in zip(self.ready_t, self.arrival_of(), strict=True)
                 if c in self.async_from and t >= self.async_from[c] and t < math.inf]
                + [t for c, t in enumerate(self.closes)
                   if t is not None and c in self.async_from and t >= self.async_from[c]])
            passes = self._pass_starts()
        else:
            return []
        deliveries = list(self.signal_t)
        together = bool(self.server.causes)  # one delivery names every raise of its instant
        events = sorted([(t, 0, k) for k, t in enumerate(raises)]
                        + [(t, 1, k) for k, t in enumerate(deliveries)]
                        + [(t, 2, k) for k, t in enumerate(passes)])
        used: set[int] = set()
        out: list[tuple[float, float, list[float]]] = []
        since: float | None = None
        merged: list[float] = []
        for t, what, k in events:
            if what == 0:
                d = bisect_left(deliveries, t)
                while d < len(deliveries) and deliveries[d] == t and d in used and not together:
                    d += 1
                waiting = not self._in_handler(t, strict=True)
                if since is None and waiting and d < len(deliveries) and deliveries[d] == t:
                    used.add(d)
                elif since is None:
                    since, merged = t, [t]
                else:
                    merged.append(t)
            elif what == 1 and k not in used:
                used.add(k)
                if since is not None:
                    out.append((since, t, merged))
                    since = None
            elif what == 2 and since is not None:
                out.append((since, t, merged))
                since = None
        if since is not None:
            out.append((since, math.inf, merged))
        return out

    def arrival_of(self) -> list[int]:
        """The connection of each message, in arrival order."""
        return [self.run.m_conn[m] for m in self.by_ready]

    def _pass_starts(self) -> list[float]:
        """When the SIGIO handler starts another pass over its sockets: a read on a socket
        before the previous one in the list, or on the same one after it said EWOULDBLOCK."""
        starts = []
        prev: Call | None = None
        for call in self.calls.get(0, []):
            if prev is not None and self._in_handler(call.enter, until_end=True) and \
                    self._in_handler(prev.enter, until_end=True) and \
                    (call.conn < prev.conn or (call.conn == prev.conn
                                               and prev.result != Kind.RETURN)):
                starts.append(call.enter)
            prev = call
        return starts

    def _in_handler(self, t: float, strict: bool = False, until_end: bool = False) -> bool:
        """A signal handler runs at ``t`` (``strict``: one that began before ``t``;
        ``until_end``: its last instant counts, when calls of no cost end it). A real run's
        handler may begin in another's last moments: the one before is looked at too."""
        k = bisect_right(self.handler_t0, t)
        for h0, h1 in self.handlers[max(0, k - 2):k]:
            if (h0 < t if strict else h0 <= t) and (t <= h1 if until_end else t < h1):
                return True
        return False

    # -- what is queued ------------------------------------------------------------------------

    def _busy(self, t: float, most: int | None = None) -> list[int]:
        """Connections with data queued at ``t``, those holding it longest first (at most
        ``most``); the same until a stay begins or ends."""
        hi = bisect_right(self.stay_t, t)

        def busy() -> list[int]:
            found = self.stays.positions(hi, t)
            return [self.stay_conn[k] for k in islice(found, most)]
        return self._busy_kept.get((hi, bisect_right(self.stay_end, t), most), busy)

    def _busy_count(self, t: float) -> int:
        """How many connections hold data at ``t`` (a connection's stays do not overlap)."""
        return bisect_right(self.stay_t, t) - bisect_right(self.stay_end, t)

    def _queue_of(self, conn: int, t: float) -> list[int]:
        """The messages of ``conn`` arrived by ``t`` and not yet copied whole, by arrival."""
        msgs = self.conn_msgs.get(conn)
        if msgs is None:
            return []
        hi = bisect_right(self.conn_ready[conn], t)
        if self.fifo[conn]:
            return list(msgs[bisect_right(self.conn_done[conn], t, 0, hi):hi])
        done = self.conn_done[conn]
        return [m for m, d in zip(msgs[:hi], done[:hi], strict=True) if d > t]

    def changes(self, conn: int) -> array:
        """When anything of ``conn``'s socket changes: its messages' arrivals, copy steps and
        copies done, its peer's close and the read that saw it, a bad datagram queued and
        dropped (built on first use: most of c10k's sockets are never listed)."""
        found = self._changes.get(conn)
        if found is None:
            times = [*self.conn_ready.get(conn, ()), *self.conn_done.get(conn, ())]
            for m in self.conn_msgs.get(conn, ()):
                for t0, t1, _ in self.remaining.get(m, ()):
                    times += (t0, t1)
            if 0 <= conn < len(self.closes) and self.closes[conn] is not None:
                times.append(self.closes[conn])
            times.append(self.eof_read.get(conn, math.inf))
            for span in self.server.bad_spans.get(conn, ()):
                times += span
            found = self._changes[conn] = array("d", sorted(map(_finite, times)))
        return found

    def read_changes(self, conn: int) -> array:
        """When an asynchronous read on ``conn`` changes: submitted, completed, collected, or
        its socket changes (its bytes copied)."""
        found = self._read_changes.get(conn)
        if found is None:
            times = [*self.submits.get(conn, ()), *self.completes.get(conn, ()),
                     *self.collects.get(conn, ()), *self.changes(conn)]
            found = self._read_changes[conn] = array("d", sorted(map(_finite, times)))
        return found

    def _readable(self, t: float) -> set[int]:
        """Connections with data queued, or a close not yet read, at ``t``."""
        return set(self._busy(t)) | self._closes_pending(t)

    def _readable_now(self, conn: int, t: float) -> bool:
        """``conn`` has data queued, or a close not yet read, at ``t`` (_readable, for one)."""
        close = self.closes[conn] if 0 <= conn < len(self.closes) else None
        return bool(self._queue_of(conn, t)) or (
            close is not None and close <= t < self.eof_read.get(conn, math.inf))

    def _closes_pending(self, t: float) -> set[int]:
        """Connections whose peer's close has arrived by ``t`` and not been read."""
        k = bisect_right(self.close_t, t)
        return {c for c in self.close_conns[:k] if self.eof_read.get(c, math.inf) > t}

    def _read_at(self, conn: int, end: float) -> Read | None:
        """The read on ``conn`` that returned at ``end`` (or, for aio_return, the latest
        completed by then)."""
        reads = self.reads.get(conn, [])
        k = bisect_right(self.read_end_t.get(conn, ()), end) - 1
        return reads[k] if k >= 0 else None
