"""A Trace as Chrome trace event JSON (the "JSON Object Format"), which Perfetto
(ui.perfetto.dev) and chrome://tracing open.

Each run becomes a process and each lane a thread. The viewers require that complete ("X")
slices on one thread either nest or do not overlap; iosim's spans may overlap (a signal
handler runs over the application's other spans; messages of one connection queue in the
kernel at the same time), so spans are dealt to extra threads of their lane: the signal
handler gets its own thread, and a span that would overlap one already placed goes to the first
thread of its lane where it fits ("kernel conn 0 (2)", ...). Every system call is joined to its
return by a flow arrow. Times are in µs, rounded to the ns. The events are made and written one
batch at a time, so exporting a trace of millions of events takes little memory.
"""

from __future__ import annotations

import heapq
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count, islice
from typing import Any

from iosim.files import atomic_open
from iosim.trace import Kind, Lane, Run, Trace

DIGITS = 3  # µs to the ns
TOUCH_US = 10.0 ** -DIGITS  # spans overlapping by less than this are taken as touching
SEARCH_STEPS = 1100  # more than the bisection of any two doubles ever needs
WRITE_BATCH = 10_000  # events encoded and written at a time
MAIN, HANDLER = 0, 1  # families of threads of one lane
RETURN_KINDS = frozenset({Kind.RETURN, Kind.EWOULDBLOCK, Kind.READABLE, Kind.EOF, Kind.ERROR})
CALL_SPANS = frozenset({Kind.IN_KERNEL, Kind.BLOCKED})  # the time a call takes
OWN_SPANS = frozenset({Kind.WORK, Kind.PROCESS})  # the process is back in its own code


def _us(t: float) -> float:
    return round(t, DIGITS) + 0.0


@dataclass(frozen=True)
class Track:
    """One Chrome thread: the ``index``-th thread of ``family`` for lane ``lane``."""

    lane: int
    family: int
    index: int

    def name(self, lanes: list[Lane]) -> str:
        base = lanes[self.lane].name + (": signal handler" if self.family == HANDLER else "")
        return base if self.index == 0 else f"{base} ({self.index + 1})"


def _duration(ts: float, end: float) -> float:
    """end - ts to the ns, never so long that ts + dur passes ``end`` in floating point: the
    next span on the thread may start exactly there. When the rounded duration overshoots, the
    longest duration that does not is found by bisection: at most ~60 halvings (one per bit of
    a double), whatever the magnitudes (far from 0, one ns is many steps of nextafter)."""
    dur = max(0.0, _us(end - ts))
    if ts + dur <= end:
        return dur
    fits, overshoots = 0.0, dur  # ts + fits <= end < ts + overshoots (end >= ts)
    for _ in range(SEARCH_STEPS):
        middle = (fits + overshoots) / 2
        if middle in (fits, overshoots):
            break
        if ts + middle <= end:
            fits = middle
        else:
            overshoots = middle
    return fits


class _Placer:
    """Deals spans to threads so that none overlaps another on its thread: each span goes to
    the lowest-numbered thread of its lane that is free when it starts (first fit).

    Spans come in start order, so a thread that is free for one span stays free for every later
    one: the free threads wait in a heap by number, the busy ones in a heap by the end of their
    last span. Each span costs O(log threads), however many overlap (a thousand messages queued
    at once on one connection make a thousand threads, not a million comparisons)."""

    def __init__(self) -> None:
        self.ends: dict[tuple[int, int], list[float]] = {}
        self.free: dict[tuple[int, int], list[int]] = {}
        self.busy: dict[tuple[int, int], list[tuple[float, int]]] = {}

    def place(self, lane: int, family: int, start: float, end: float
              ) -> tuple[Track, float, float]:
        """The track for the span and its (ts, dur); a start within TOUCH_US of the previous
        span's end is moved onto that end, so rounding never makes a new thread."""
        key = (lane, family)
        ends = self.ends.setdefault(key, [])
        free = self.free.setdefault(key, [])
        busy = self.busy.setdefault(key, [])
        while busy and start >= busy[0][0] - TOUCH_US:
            heapq.heappush(free, heapq.heappop(busy)[1])
        if free:
            index = heapq.heappop(free)
            ts = max(start, ends[index])
        else:
            index, ts = len(ends), start
            ends.append(start)
        ends[index] = max(end, ts)
        heapq.heappush(busy, (ends[index], index))
        return Track(lane, family, index), ts, _duration(ts, ends[index])


def _args(run: Run, i: int) -> dict[str, Any]:
    args: dict[str, Any] = {"kind": Kind(run.kind[i]).name.lower()}
    if run.conn[i] >= 0:
        args["conn"] = run.conn[i]
    if run.msg[i] >= 0:
        args["msg"] = run.msg[i]
    return args


def _calls(run: Run) -> list[tuple[int, float, str, float]]:
    """(lane, call time, call name, return time) for every system call of the run.

    A call returns at the first return instant (return OK, EWOULDBLOCK, return readable, ...)
    on its lane before the next call; a call with no such instant (sigaction, fcntl,
    epoll_ctl, ...) returns when the in-kernel and blocked time that follows it ends."""
    calls = []
    pending: dict[int, list[Any]] = {}  # lane -> [call time, name, end of its kernel time]
    for i in range(len(run)):
        kind, lane, t0, t1 = Kind(run.kind[i]), run.lane[i], run.t0[i], run.t1[i]
        call = pending.get(lane)
        if kind == Kind.SYSCALL:
            if call:
                calls.append((lane, call[0], call[1], call[2]))
            pending[lane] = [t0, run.labels[run.label[i]], t0]
        elif call is None:
            continue
        elif kind in RETURN_KINDS:
            calls.append((lane, call[0], call[1], t0))
            del pending[lane]
        elif kind in CALL_SPANS and t0 <= call[2] + TOUCH_US:
            call[2] = max(call[2], t1)
        elif kind in OWN_SPANS:
            calls.append((lane, call[0], call[1], call[2]))
            del pending[lane]
    calls.extend((lane, c[0], c[1], c[2]) for lane, c in pending.items())
    return calls


def run_events(run: Run, pid: int, flow_ids: count) -> Iterator[dict[str, Any]]:
    """The events of one run as process ``pid``, one at a time: slices, instants and flows,
    then the names of its threads (a thread's number is given at its first use; its place in
    the viewer is its sort index, by lane). Nothing per event is kept, so a run of millions of
    events is written in the memory of its threads' state."""
    title = f"{run.model} ({run.source})"
    yield {"ph": "M", "name": "process_name", "pid": pid, "args": {"name": title}}
    yield {"ph": "M", "name": "process_sort_index", "pid": pid, "args": {"sort_index": pid}}
    if run.error:
        yield {"ph": "M", "name": "process_labels", "pid": pid,
               "args": {"labels": f"error: {run.error}"}}
    tids = {Track(lane, MAIN, 0): lane + 1 for lane in range(len(run.lanes))}

    def tid(track: Track) -> int:
        return tids.setdefault(track, len(tids) + 1)

    placer = _Placer()
    for i in range(len(run)):
        kind = Kind(run.kind[i])
        lane = run.lane[i]
        name = run.labels[run.label[i]]
        if kind.is_span:
            family = HANDLER if kind == Kind.HANDLER else MAIN
            track, ts, dur = placer.place(lane, family, _us(run.t0[i]), _us(run.t1[i]))
            yield {"ph": "X", "name": name, "cat": kind.name.lower(), "ts": ts, "dur": dur,
                   "args": _args(run, i), "pid": pid, "tid": tid(track)}
        else:
            yield {"ph": "i", "s": "t", "name": name, "cat": kind.name.lower(),
                   "ts": _us(run.t0[i]), "args": _args(run, i), "pid": pid, "tid": lane + 1}
    for lane, called, name, returned in _calls(run):
        flow = {"name": name, "cat": "system call", "id": next(flow_ids), "pid": pid,
                "tid": lane + 1}
        yield {"ph": "s", "ts": _us(called), **flow}
        yield {"ph": "f", "bp": "e", "ts": _us(max(called, returned)), **flow}
    order = sorted(tids, key=lambda t: (t.lane, t.family, t.index))
    for rank, track in enumerate(order, start=1):
        yield {"ph": "M", "name": "thread_name", "pid": pid, "tid": tids[track],
               "args": {"name": track.name(run.lanes)}}
        yield {"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tids[track],
               "args": {"sort_index": rank}}


def chrome_events(trace: Trace) -> Iterator[dict[str, Any]]:
    """Every event of the trace: a process per run, in the trace's order."""
    flow_ids = count(1)
    for pid, run in enumerate(trace.runs, start=1):
        yield from run_events(run, pid, flow_ids)


def _other_data(trace: Trace) -> dict[str, Any]:
    return {"generator": "iosim", "scenario": trace.scenario, "title": trace.title,
            "protocol": trace.protocol}


def chrome_trace(trace: Trace) -> dict[str, Any]:
    """The whole trace as one JSON object (for a small trace, or a test)."""
    return {"traceEvents": list(chrome_events(trace)), "displayTimeUnit": "ns",
            "otherData": _other_data(trace)}


def write_chrome(trace: Trace, path: str | os.PathLike[str]) -> None:
    """The JSON of chrome_trace, written atomically and as it is made: a batch of events at
    a time through the C encoder, never the whole document in memory."""
    encode = json.JSONEncoder(separators=(",", ":")).encode
    with atomic_open(path) as f:
        f.write('{"traceEvents":[')
        events = chrome_events(trace)
        first = True
        while batch := [encode(event) for event in islice(events, WRITE_BATCH)]:
            f.write(("" if first else ",") + ",".join(batch))
            first = False
        f.write('],"displayTimeUnit":"ns","otherData":' + encode(_other_data(trace)) + "}")
