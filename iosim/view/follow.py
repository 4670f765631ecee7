"""Following one message through every run, as pure logic: which events are its journey
(sent -> ready -> copy -> handled) and the figures a student compares across models.

A message keeps its number across the runs of one scenario (simulated and captured runs
number them alike), so one choice lights the same message everywhere.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from iosim.trace import COPY_LABEL, Kind
from iosim.view.index import RunIndex

REACTIONS = (Kind.READABLE, Kind.SIGNAL, Kind.WAKEUP)  # what the data's arrival set off


@dataclass(frozen=True)
class Figures:
    """One message in one run: how long its data waited queued, how long the copy took, when
    it was handled (µs; None where it never was)."""

    waited: float | None
    copy: float | None
    handled_at: float | None
    handled_after: float | None  # ready -> processing done


def figures(ri: RunIndex, m: int) -> Figures | None:
    run = ri.run
    if not 0 <= m < run.message_count:
        return None
    ready, start, end, done = (run.m_ready[m], run.m_copy_start[m], run.m_copy_end[m],
                               run.m_done[m])

    def known(value: float) -> float | None:
        return value if value == value else None

    return Figures(
        waited=known(start - ready), copy=known(end - start), handled_at=known(done),
        handled_after=known(done - ready))


def journey(ri: RunIndex, m: int) -> frozenset[int]:
    """The events of message ``m`` in this run: its own (phase 1, queued, copy, arrival,
    processing), the read that copied it (from the call to the return, on the lane that made
    it) and what its arrival set off before the copy (return readable, a signal, a wake-up).
    Found through the lane indexes: the events between its sending and its handling only."""
    run = ri.run
    if not 0 <= m < run.message_count:
        return frozenset()
    conn = run.m_conn[m]
    ready, copy_start, copy_end, done = (run.m_ready[m], run.m_copy_start[m],
                                         run.m_copy_end[m], run.m_done[m])
    sent = run.m_sent[m] if run.m_sent[m] == run.m_sent[m] else ready
    last = max(t for t in (ready, copy_end, done) if t == t)
    out: set[int] = set()
    reads: dict[int, float] = {}
    for lane, li in enumerate(ri.lanes):
        role = run.lanes[lane].role
        events = li.events
        for j in li.visible(min(sent, ready), last):
            i = events[j]
            if run.msg[i] == m:
                out.add(i)
            elif role != "kernel" and copy_start == copy_start:
                kind = run.kind[i]
                if kind == Kind.BLOCKED and run.labels[run.label[i]] == COPY_LABEL and \
                        run.conn[i] == conn and run.t0[i] <= copy_start <= run.t1[i]:
                    reads[lane] = run.t0[i]
                elif kind in REACTIONS and ready <= run.t0[i] <= copy_start and \
                        run.conn[i] in (conn, -1):
                    out.add(i)
    for lane, copy_from in reads.items():
        out.update(_read_events(ri, lane, conn, copy_from, copy_end))
    return frozenset(out)


def _read_events(ri: RunIndex, lane: int, conn: int, copy_from: float, copy_end: float
                 ) -> set[int]:
    """The read whose copy began at ``copy_from``: its system call (the last one on this
    connection before), everything on the lane from there to its return."""
    run = ri.run
    li = ri.lanes[lane]
    events = li.events
    k = bisect_right(li.t0, copy_from)
    start = copy_from
    for j in range(k - 1, max(-1, k - 64), -1):
        i = events[j]
        if run.kind[i] == Kind.SYSCALL and run.conn[i] == conn:
            start = run.t0[i]
            break
    return {events[j] for j in li.visible(start, copy_end)
            if start <= run.t0[events[j]] <= copy_end and run.conn[events[j]] in (conn, -1)}
