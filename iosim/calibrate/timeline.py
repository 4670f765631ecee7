"""Per message, the moments a run's timeline gives (simulated or captured alike): what the
fit reads off the probes, and what the agreement benchmark compares."""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass

from iosim.trace import Kind, Run

# The events that give a message to the application, by line: recvfrom's return; aio_return,
# a system call in the simulation (POSIX aio), a completion taken from io_uring's ring in a
# real capture (no call: the span of taking it).
RETURNS = (("recvfrom", {Kind.RETURN}), ("aio_return", {Kind.SYSCALL}))
REAL_RETURNS = (("recvfrom", {Kind.RETURN}), ("aio_return", {Kind.OVERHEAD}))


@dataclass
class Moments:
    """One message of a run, in µs (NaN: did not happen)."""

    index: int
    sent: float
    ready: float
    copy_end: float
    returned: float  # the call that gave it to the application returned (aio: aio_return)
    readable: float  # a multiplexer's return that led to it
    started: float  # its processing began
    done: float
    idle: float  # the server had handled nothing for this long when it became ready
    client_gap: float  # since the client's previous send (inf for the first)


def _times(run: Run, kinds: set[Kind], line: str | None = None) -> dict[int, list[float]]:
    """Per connection, the sorted times of the instants of these kinds (on that line)."""
    lines = [run.code.index(line)] if line is not None and line in run.code else None
    out: dict[int, list[float]] = {}
    for i, kind in enumerate(run.kind):
        if kind in kinds and (lines is None or run.line[i] in lines):
            out.setdefault(run.conn[i], []).append(run.t0[i])
    for times in out.values():
        times.sort()
    return out


def _first_at(times: list[float], t: float) -> float:
    at = bisect_left(times, t - 1e-9)
    return times[at] if at < len(times) else math.nan


def moments(run: Run) -> list[Moments]:
    """The messages of ``run`` in order, with the moments of their timelines."""
    lines = REAL_RETURNS if run.source == "real" else RETURNS
    returns = {line: _times(run, kinds, line) for line, kinds in lines}
    readable = sorted(run.t0[i] for i, k in enumerate(run.kind) if k == Kind.READABLE)
    started = {run.msg[i]: run.t0[i] for i, k in enumerate(run.kind)
               if k == Kind.PROCESS and run.lane[i] == 0}
    done_sorted = sorted(d for d in run.m_done if d == d)
    sent_sorted = sorted(s for s in run.m_sent if s == s)
    out = []
    for i in range(run.message_count):
        ready, end, sent = run.m_ready[i], run.m_copy_end[i], run.m_sent[i]
        conn = run.m_conn[i]
        back = [_first_at(returns[line].get(conn, []), end) for line, _ in RETURNS]
        back = [t for t in back if t == t]
        before = bisect_left(done_sorted, ready) - 1
        earlier = bisect_left(sent_sorted, sent) - 1
        out.append(Moments(
            index=i, sent=sent, ready=ready, copy_end=end,
            returned=min(back) if back else math.nan,
            readable=_first_at(readable, ready) if readable else math.nan,
            started=started.get(i, math.nan), done=run.m_done[i],
            idle=ready - (done_sorted[before] if before >= 0 else 0.0),
            client_gap=sent - sent_sorted[earlier] if earlier >= 0 else math.inf))
    return out
