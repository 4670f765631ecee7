"""Lookup tables over one run, built once, so that every question the teaching pane asks about
a moment (what is this lane doing, what is queued in the kernel, what is being copied) is a
bisect on sorted arrays: the window asks every frame, and a run can hold a million events.

Spans of one lane follow each other (the application lane is tiled), so the span covering a
time is the latest one started before it; where spans overlap (a real threaded run's process
lane) a running maximum of their ends (``reach``) says whether an earlier one can still cover
it, and the look back is bounded.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from iosim.sim.notes import CORRUPT_NOTE, DROP_LABEL, note
from iosim.teach.words import GIL_HANDOFF_LABEL, noun_of
from iosim.trace import COPY_LABEL, READY_ESTIMATED, Kind, Run

LOOK_BACK = 16  # overlapping spans searched for one covering a time; beyond, say less
APP_ROLES = ("app", "thread")
_HANDLER, _SYSCALL, _BLOCKED = int(Kind.HANDLER), int(Kind.SYSCALL), int(Kind.BLOCKED)
_SIGNAL, _EOF, _IN_KERNEL = int(Kind.SIGNAL), int(Kind.EOF), int(Kind.IN_KERNEL)
_QUEUED = int(Kind.QUEUED)
LEFT_NOTE = note("left", 0).removeprefix("0 ")  # "bytes left queued after a read"
_RESULTS = frozenset(int(k) for k in (Kind.RETURN, Kind.EWOULDBLOCK, Kind.READABLE, Kind.EOF,
                                      Kind.SIGNAL, Kind.WAKEUP))


@dataclass
class Track:
    """Events of one lane in start order (``event`` indexes the run), with running max ends."""

    t0: array = field(default_factory=lambda: array("d"))
    t1: array = field(default_factory=lambda: array("d"))
    event: array = field(default_factory=lambda: array("i"))
    reach: array = field(default_factory=lambda: array("d"))

    def add(self, t0: float, t1: float, i: int) -> None:
        reach = self.reach
        self.t0.append(t0)
        self.t1.append(t1)
        self.event.append(i)
        reach.append(t1 if not reach or t1 > reach[-1] else reach[-1])

    def latest(self, t: float) -> int:
        """Position of the latest event starting at or before ``t`` (-1: none)."""
        return bisect_right(self.t0, t) - 1

    def at(self, t: float) -> range:
        """Positions of the events starting exactly at ``t``."""
        return range(bisect_left(self.t0, t), bisect_right(self.t0, t))

    def last_at(self, t: float, most: int = 8) -> range:
        """Positions of the events starting exactly at ``t``, at most the last ``most``."""
        return self.at(t)[-most:]

    def next_after(self, t: float) -> int:
        """Position of the first event starting after ``t`` (-1: none)."""
        k = bisect_right(self.t0, t)
        return k if k < len(self.t0) else -1

    def covering(self, t: float) -> int:
        """Position of the latest-started span with t0 <= t < t1 (-1: none, or not found
        within LOOK_BACK overlapping spans)."""
        k = self.latest(t)
        for _ in range(LOOK_BACK):
            if k < 0:
                return -1
            if self.t1[k] > t:
                return k
            if k == 0 or self.reach[k - 1] <= t:
                return -1
            k -= 1
        return -1


@dataclass
class LaneTracks:
    """One application or thread lane: what a code pane and a sentence need of it."""

    spans: Track = field(default_factory=Track)  # every span but the signal handler's
    handlers: Track = field(default_factory=Track)
    keyed: Track = field(default_factory=Track)  # spans and instants with a line key
    results: Track = field(default_factory=Track)  # return, EWOULDBLOCK, readable, signal...
    calls: Track = field(default_factory=Track)  # system calls made
    signals: Track = field(default_factory=Track)  # signals delivered
    everything: Track = field(default_factory=Track)  # every event of the lane
    ended: float = math.inf  # a thread's end: its last event, a read that returned 0


class Messages:
    """Messages of one connection (or of all), as sorted times: what is queued in the kernel,
    what is being copied, what comes next, each a bisect."""

    def __init__(self, run: Run, msgs: list[int]) -> None:
        ready = run.m_ready
        by_ready = sorted(msgs, key=lambda m: ready[m])
        self.by_ready = array("i", by_ready)
        self.ready = array("d", (ready[m] for m in by_ready))
        self.waiting = FirstAbove([_finite(run.m_copy_start[m]) for m in by_ready])
        self.copy_start = array("d", sorted(_finite(run.m_copy_start[m]) for m in msgs))
        by_end = sorted(msgs, key=lambda m: _finite(run.m_copy_end[m]))
        self.by_end = array("i", by_end)
        self.copy_end = array("d", (_finite(run.m_copy_end[m]) for m in by_end))
        self.copy_start_by_end = array("d", (_finite(run.m_copy_start[m]) for m in by_end))
        cum = array("q", [0])
        for m in by_end:
            cum.append(cum[-1] + run.m_bytes[m])
        self.bytes_by_end = cum

    def __len__(self) -> int:
        return len(self.by_ready)

    def arrived(self, t: float) -> int:
        return bisect_right(self.ready, t)

    def queued(self, t: float) -> int:
        """Messages ready at ``t`` whose copy has not started (a queue is first in, first out:
        the copied ones are the earliest ready)."""
        return max(0, self.arrived(t) - bisect_right(self.copy_start, t))

    def oldest_queued(self, t: float) -> int:
        """The message that has waited longest in the kernel at ``t``: the earliest ready whose
        copy has not started (-1: none). Across connections copies do not follow the order of
        arrival, so this asks a tree rather than assuming first in, first out."""
        k = self.waiting.first_above(self.arrived(t), t)
        return self.by_ready[k] if k >= 0 else -1

    def next_ready(self, t: float) -> int:
        """The next message to become ready after ``t`` (-1: none)."""
        k = self.arrived(t)
        return self.by_ready[k] if k < len(self.by_ready) else -1

    def copying(self, t: float) -> int:
        """Copies in progress at ``t``."""
        return max(0, bisect_right(self.copy_start, t) - bisect_right(self.copy_end, t))

    def copied_within(self, start: float, end: float, entered: float) -> int | None:
        """Bytes of the messages whose copy ended in (start, end] and began at or after
        ``entered``; None when a message was only partly copied there (its share is unknown)."""
        lo = bisect_right(self.copy_end, start)
        hi = bisect_right(self.copy_end, end)
        if lo == hi:
            return None
        if self.copy_start_by_end[lo] < entered:
            return None
        if hi < len(self.copy_end) and self.copy_start_by_end[hi] <= end:
            return None
        return self.bytes_by_end[hi] - self.bytes_by_end[lo]


class FirstAbove:
    """A max segment tree over a list: the first position before ``hi`` whose value exceeds
    ``t``, in O(log n)."""

    def __init__(self, values: list[float]) -> None:
        size = 1
        while size < len(values):
            size *= 2
        tree = array("d", [-math.inf]) * (2 * size)
        tree[size:size + len(values)] = array("d", values)
        for node in range(size - 1, 0, -1):
            tree[node] = max(tree[2 * node], tree[2 * node + 1])
        self.size, self.tree = size, tree

    def first_above(self, hi: int, t: float) -> int:
        size, tree = self.size, self.tree
        lo, hi = size, size + hi
        left: list[int] = []
        right: list[int] = []
        while lo < hi:  # the nodes that cover [0, hi), left to right
            if lo & 1:
                left.append(lo)
                lo += 1
            if hi & 1:
                hi -= 1
                right.append(hi)
            lo >>= 1
            hi >>= 1
        for node in left + right[::-1]:
            if tree[node] > t:
                while node < size:
                    node = 2 * node if tree[2 * node] > t else 2 * node + 1
                return node - size
        return -1


def _label_index(run: Run, label: str) -> int:
    """The index of ``label`` in the run's string table (-1: the run never uses it)."""
    try:
        return run.labels.index(label)
    except ValueError:
        return -1


def _finite(t: float) -> float:
    return t if t == t else math.inf  # NaN (never happened) sorts last


class RunIndex:
    """The tables of one run: a LaneTracks per application or thread lane, Messages per
    connection and for all connections."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.lanes: dict[int, LaneTracks] = {
            i: LaneTracks() for i, ln in enumerate(run.lanes) if ln.role in APP_ROLES}
        lanes = self.lanes
        self.blocked_lanes: set[int] = set()  # lanes that are ever blocked
        eof_read: dict[int, float] = {}  # conn -> when a read first returned 0 (peer closed)
        last_eof: dict[int, float] = {}  # lane -> its last read that returned 0
        threads = {i for i, ln in enumerate(run.lanes) if ln.role == "thread"}
        # Threads in the kernel (a call's own time, a copy) and threads handed the GIL: what
        # the process lane's "all threads blocked" and a thread's wait for the GIL hide.
        self.kernel_cpu = Track()
        self.handoffs = Track()
        # A kernel lane's notes (sim/notes.py): what a read left of a message, and datagrams
        # with a bad checksum (no message: the kernel drops them when it checks them)
        self.left = Track()
        self.bad_copies = Track()  # copies of datagrams with a bad checksum, then dropped
        self.corrupt: dict[int, float] = {}  # conn -> when its first arrived
        left_labels = {j for j, label in enumerate(run.labels) if label.endswith(LEFT_NOTE)}
        corrupt_labels = {j for j, label in enumerate(run.labels)
                          if label.startswith(CORRUPT_NOTE)}
        bad_copy_labels = {j for j, label in enumerate(run.labels) if label.endswith(DROP_LABEL)}
        copy_label = _label_index(run, COPY_LABEL)
        handoff_label = _label_index(run, GIL_HANDOFF_LABEL)
        for i, (kind, lane, t0, t1, line) in enumerate(zip(
                run.kind, run.lane, run.t0, run.t1, run.line, strict=True)):
            tracks = lanes.get(lane)
            if tracks is None:
                if kind == _QUEUED and run.label[i] in left_labels:
                    self.left.add(t0, t1, i)
                elif kind == _QUEUED and run.label[i] in corrupt_labels:
                    conn = run.conn[i]
                    self.corrupt[conn] = min(t0, self.corrupt.get(conn, math.inf))
                elif run.label[i] in bad_copy_labels:
                    self.bad_copies.add(t0, t1, i)
                continue
            tracks.everything.add(t0, t1, i)
            if kind == _HANDLER:
                tracks.handlers.add(t0, t1, i)
                continue
            if kind < 20:
                tracks.spans.add(t0, t1, i)
                if kind == _BLOCKED:
                    self.blocked_lanes.add(lane)
                if lane in threads:
                    label = run.label[i]
                    if kind == _IN_KERNEL or (kind == _BLOCKED and label == copy_label):
                        self.kernel_cpu.add(t0, t1, i)
                    elif kind == _BLOCKED and label == handoff_label:
                        self.handoffs.add(t0, t1, i)
            elif kind == _SYSCALL:
                tracks.calls.add(t0, t1, i)
            elif kind == _EOF:
                eof_read.setdefault(run.conn[i], t0)
                last_eof[lane] = t0
                tracks.results.add(t0, t1, i)
            elif kind in _RESULTS:
                tracks.results.add(t0, t1, i)
                if kind == _SIGNAL:
                    tracks.signals.add(t0, t1, i)
            if line >= 0:
                tracks.keyed.add(t0, t1, i)
        for lane, eof in last_eof.items():
            if lane in threads and eof >= lanes[lane].everything.reach[-1]:
                lanes[lane].ended = eof  # nothing after it: the thread returned
        by_conn: dict[int, list[int]] = {}
        for m, conn in enumerate(run.m_conn):
            by_conn.setdefault(conn, []).append(m)
        self.conns = {conn: Messages(run, msgs) for conn, msgs in by_conn.items()}
        self.all = Messages(run, list(range(run.message_count)))
        self.none = Messages(run, [])
        self._closes(run, by_conn, eof_read)
        self.estimated = any(flags & READY_ESTIMATED for flags in run.m_flags)
        self.kernel_lanes = sum(1 for ln in run.lanes if ln.role == "kernel")
        self.threaded = any(ln.role == "thread" for ln in run.lanes)
        self.thread_names = {ln.conn: ln.name for ln in run.lanes if ln.role == "thread"}
        self.noun = noun_of(run)

    def _closes(self, run: Run, by_conn: dict[int, list[int]],
                eof_read: dict[int, float]) -> None:
        """When a peer's close may sit unread in a queue: from its last message's arrival (a
        simulated close arrives with it) or, elsewhere, its send, to the read that returned 0.
        A close is an arrival too: nothing is said to have "not arrived" while one may wait."""
        simulated = run.source == "sim"
        starts, ends = [], []
        for conn, msgs in by_conn.items():
            last = msgs[-1]  # messages are numbered in the order they were sent
            since = run.m_ready[last] if simulated else run.m_sent[last]
            starts.append(since if since == since else -math.inf)
            ends.append(eof_read.get(conn, math.inf))
        self.close_from = array("d", sorted(starts))
        self.close_to = array("d", sorted(ends))

    def corrupt_arrived(self, t: float, conn: int) -> bool:
        """A datagram with a bad checksum arrived on ``conn`` (any for -1) by ``t``."""
        first = min(self.corrupt.values(), default=math.inf) if conn < 0 else \
            self.corrupt.get(conn, math.inf)
        return first <= t

    def dropped_copy(self, t: float, conn: int) -> bool:
        """The kernel copies a datagram with a bad checksum of ``conn`` at ``t``."""
        k = self.bad_copies.covering(t)
        return k >= 0 and self.run.conn[self.bad_copies.event[k]] in (conn, -1)

    def left_at(self, t: float) -> tuple[int, int]:
        """What a read left queued of a message at ``t``: (connection, bytes); (-1, 0) none."""
        k = self.left.covering(t)
        if k < 0:
            return -1, 0
        i = self.left.event[k]
        return self.run.conn[i], int(self.run.labels[self.run.label[i]].split()[0]
                                     .replace(",", ""))

    def closes_pending(self, t: float) -> int:
        """Connections whose close may be queued, unread, at ``t``."""
        return bisect_right(self.close_from, t) - bisect_right(self.close_to, t)

    def messages(self, conn: int) -> Messages:
        """The messages of a connection; of all connections for conn -1."""
        if conn < 0:
            return self.all
        return self.conns.get(conn, self.none)
