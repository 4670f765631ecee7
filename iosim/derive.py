"""Spans derived once a run is over, the same way for simulated and captured runs: phase 1
on each connection's kernel lane, and a threaded process's blocked time."""

from __future__ import annotations

from iosim.trace import IN_KERNEL_KINDS, Kind, RunRecorder


def kernel_phases(rec: RunRecorder, kernel_lanes: dict[int, int], end: float,
                  since: dict[int, float] | None = None) -> None:
    """Phase 1 (wait for data) on each connection's kernel lane, from the moment the previous
    message was copied (or t = 0, or when the connection was made: ``since``) to this one's
    arrival; then the time it waited queued.
    One pass over the message columns, appending to the recorder's rows directly (as
    RunRecorder.span, spans of zero length are left out): c10k has a thousand messages per run."""
    run = rec.run
    rows = rec.rows
    wait, queued = Kind.WAIT, Kind.QUEUED  # each Kind.X is a slow lookup on Python 3.11
    prev_end: dict[int, float] = dict(since or {})
    for msg, (conn, ready, copy_start, copy_end) in enumerate(zip(
            run.m_conn, run.m_ready, run.m_copy_start, run.m_copy_end, strict=True)):
        lane = kernel_lanes[conn]
        start = prev_end.get(conn, 0.0)
        stop = min(ready, end)
        if stop > start:
            rows.append((wait, lane, start, stop, "wait for data", conn, msg, ""))
        if copy_start != copy_start or copy_start > end:  # NaN: never copied; or after the end
            copy_start = end
        if copy_start > ready:
            rows.append((queued, lane, ready, copy_start, "data queued, not yet copied",
                         conn, msg, ""))
        prev_end[conn] = max(start, end if copy_end != copy_end else copy_end)


def fill_process_blocked(rec: RunRecorder, end: float) -> None:
    """Threads share one CPU: the process is blocked whenever no thread runs."""
    busy = sorted((t0, t1) for kind, lane, t0, t1, *_ in rec.rows
                  if lane == 0 and (kind in IN_KERNEL_KINDS or kind in (Kind.PROCESS, Kind.WORK)))
    t = 0.0
    for start, stop in busy + [(end, end)]:
        rec.span(Kind.BLOCKED, 0, t, start, "all threads blocked")
        t = max(t, stop)
