"""Lookup tables the view needs every frame, built once per run.

A frame must cost the same for a trace of a thousand events or of a million, so everything a
frame asks — which events of a lane are visible, how many system calls happened before the
playhead, how long the process was blocked so far — is answered by bisect on arrays built here.

Visibility is per lane rather than ``Run.window``: ``Run.window`` steps back by the longest span of
the whole run, and one 20 ms wait would pull every event of those 20 ms into every frame. Spans
of one lane follow each other, so a running maximum of their end times (``reach``) is a sorted
array, and ``bisect_left(reach, start)`` finds the first event that can still be visible.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from iosim.trace import Kind, Run
from iosim.view.braces import braces_of
from iosim.view.setup import Setup, setup_of

_COUNTED = {Kind.SYSCALL: "syscalls", Kind.EWOULDBLOCK: "ewouldblock", Kind.SIGNAL: "signals"}
LONG_SHARE = 4000  # a span (or a run of alike spans) of 1/LONG_SHARE of the run is "long"


@dataclass
class LaneIndex:
    """The events of one lane in start order, with the running maximum of their ends."""

    events: array = field(default_factory=lambda: array("i"))
    t0: array = field(default_factory=lambda: array("d"))
    reach: array = field(default_factory=lambda: array("d"))

    def visible(self, start_us: float, end_us: float) -> range:
        """Indexes into ``events`` of the events that may overlap [start_us, end_us]."""
        return range(bisect_left(self.reach, start_us), bisect_right(self.t0, end_us))


@dataclass
class Spent:
    """Non-overlapping spans of one kind, with prefix sums: time spent up to any instant."""

    t0: array = field(default_factory=lambda: array("d"))
    t1: array = field(default_factory=lambda: array("d"))
    cum: array = field(default_factory=lambda: array("d", [0.0]))

    def add(self, t0: float, t1: float) -> None:
        self.t0.append(t0)
        self.t1.append(t1)
        self.cum.append(self.cum[-1] + (t1 - t0))

    def until(self, t: float) -> float:
        k = bisect_right(self.t0, t)
        if k == 0:
            return 0.0
        return self.cum[k] - max(0.0, self.t1[k - 1] - t)


@dataclass
class Counters:
    """What a run did up to the playhead, as the band's right-hand column shows it."""

    syscalls: int
    ewouldblock: int
    signals: int
    blocked_pct: float
    work_pct: float
    messages_done: int
    last_latency: float | None = None  # the last message handled: ready -> copied
    last_handled: float | None = None  # ready -> processing done


class RunIndex:
    """A Run plus the tables above; the view reads runs only through this."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.lanes = [LaneIndex() for _ in run.lanes]
        self.instants: dict[str, array] = {name: array("d") for name in _COUNTED.values()}
        self.blocked = Spent()
        self.work = Spent()
        app = {i for i, lane in enumerate(run.lanes) if lane.role == "app"}
        lanes = self.lanes
        blocked_kind, work_kind = int(Kind.BLOCKED), int(Kind.WORK)
        counted = {int(k): self.instants[name] for k, name in _COUNTED.items()}
        for i, (kind, lane, t0, t1) in enumerate(zip(run.kind, run.lane, run.t0, run.t1,
                                                     strict=True)):
            li = lanes[lane]
            li.events.append(i)
            li.t0.append(t0)
            li.reach.append(t1 if not li.reach or t1 > li.reach[-1] else li.reach[-1])
            if kind in counted:
                counted[kind].append(t0)
            elif lane in app:
                if kind == blocked_kind:
                    self.blocked.add(t0, t1)
                elif kind == work_kind:
                    self.work.add(t0, t1)
        handled = sorted((done, copy_end - ready, done - ready) for done, copy_end, ready in
                         zip(run.m_done, run.m_copy_end, run.m_ready, strict=True)
                         if done == done)
        self.done = array("d", (h[0] for h in handled))
        self._latency = array("d", (h[1] for h in handled))
        self._handled = array("d", (h[2] for h in handled))
        self._braces: LaneIndex | None = None
        self._brace_rows: list[tuple[float, float, str]] = []
        self._threads: tuple[array, array, int] | None = None  # t0, lane, the first lane
        self._long: dict[int, tuple[LaneIndex, array, array]] = {}
        self._setup: list[Setup | None] = []

    @property
    def setup(self) -> Setup | None:
        """The run's set-up calls (setup.py), found on first use."""
        if not self._setup:
            self._setup.append(setup_of(self.run))
        return self._setup[0]

    @property
    def end_us(self) -> float:
        return self.run.end_us

    def counters(self, t: float) -> Counters:
        span = min(t, self.end_us)
        blocked = self.blocked.until(span)
        work = self.work.until(span)
        done = bisect_right(self.done, t)
        return Counters(
            syscalls=bisect_right(self.instants["syscalls"], t),
            ewouldblock=bisect_right(self.instants["ewouldblock"], t),
            signals=bisect_right(self.instants["signals"], t),
            blocked_pct=100.0 * blocked / span if span > 0 else 0.0,
            work_pct=100.0 * work / span if span > 0 else 0.0,
            messages_done=done,
            last_latency=self._latency[done - 1] if done else None,
            last_handled=self._handled[done - 1] if done else None,
        )

    def events_at(self, t: float) -> range:
        """Indexes of the run's events that start exactly at ``t``."""
        return range(bisect_left(self.run.t0, t), bisect_right(self.run.t0, t))

    def braces(self, start_us: float, end_us: float) -> list[tuple[float, float, str]]:
        """The braces of Stevens's Figures 6.1-6.5 that overlap [start_us, end_us]."""
        if self._braces is None:
            self._braces = LaneIndex()
            self._brace_rows = braces_of(self.run)
            for t0, t1, _ in self._brace_rows:
                self._braces.t0.append(t0)
                reach = self._braces.reach
                reach.append(t1 if not reach or t1 > reach[-1] else reach[-1])
        rows = self._brace_rows
        return [rows[k] for k in self._braces.visible(start_us, end_us)
                if rows[k][1] >= start_us]

    def long_spans(self, lane: int, start_us: float, end_us: float
                   ) -> list[tuple[float, float, int]]:
        """(t0, t1, kind) of the lane's long stretches that overlap [start_us, end_us]: its
        spans, alike spans that follow each other merged into one (10,100 epoll_ctl calls in
        a row are one stretch in the kernel), at least 1/LONG_SHARE of the run. Where a frame
        draws only one event in every few, these are drawn too, so a long span is never
        skipped. Made on first use."""
        found = self._long.get(lane)
        if found is None:
            found = self._long[lane] = self._long_of(lane)
        index, t1s, kinds = found
        return [(index.t0[k], t1s[k], kinds[k]) for k in index.visible(start_us, end_us)
                if t1s[k] >= start_us]

    def _long_of(self, lane: int) -> tuple[LaneIndex, array, array]:
        run = self.run
        floor = self.end_us / LONG_SHARE
        index, t1s, kinds = LaneIndex(), array("d"), array("b")
        merged: list[list[float]] = []  # [t0, t1, kind]
        for i in self.lanes[lane].events:
            kind = run.kind[i]
            if kind >= Kind.SYSCALL:
                continue
            t0, t1 = run.t0[i], run.t1[i]
            if merged and merged[-1][2] == kind and merged[-1][1] >= t0 >= merged[-1][0]:
                merged[-1][1] = max(merged[-1][1], t1)
            else:
                merged.append([t0, t1, kind])
        for t0, t1, kind in merged:
            if t1 - t0 >= floor:
                index.t0.append(t0)
                index.reach.append(t1 if not index.reach or t1 > index.reach[-1]
                                   else index.reach[-1])
                t1s.append(t1)
                kinds.append(int(kind))
        return index, t1s, kinds

    def acting_thread(self, t: float) -> int | None:
        """The thread lane that acted last at or before ``t`` (of several acting at that same
        moment, the first); None for a run without thread lanes. One bisect, on a table made
        on first use: a thread per connection can mean ten thousand lanes."""
        if self._threads is None:
            run = self.run
            threads = {i for i, lane in enumerate(run.lanes) if lane.role == "thread"}
            pairs = [(t0, lane) for t0, lane in zip(run.t0, run.lane, strict=True)
                     if lane in threads]
            self._threads = (array("d", (p[0] for p in pairs)), array("i", (p[1] for p in pairs)),
                             min(threads, default=-1))
        times, lanes, first_lane = self._threads
        if first_lane < 0:
            return None
        k = bisect_right(times, t)
        if not k:
            return first_lane
        first = bisect_left(times, times[k - 1], 0, k)
        return min(lanes[first:k])
