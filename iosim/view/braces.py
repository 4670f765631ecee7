"""The braces of Stevens's Figures 6.1-6.5: what the process does during each phase.

They are derived from the messages' times alone (when the process began to wait, when the
readiness or the signal came, when the copy ran), so a captured run gets the same braces as a
simulated one.
"""

from __future__ import annotations

from bisect import bisect_right

from iosim.trace import COPY_LABEL, Kind, Run
from iosim.view.setup import setup_end

COPY_BRACE = COPY_LABEL  # the brace of phase 2 says what the copy span says
BLOCKING_BRACE = "process blocks in call to recvfrom"
POLLING_BRACE = "process repeatedly calls recvfrom, waiting for an OK return (polling)"
RUNS_BRACE = "process continues executing"
MULTIPLEXERS = {"select": "select", "poll": "poll", "epoll": "epoll_wait"}


def mux_brace(call: str) -> str:
    return f"process blocks in call to {call}, waiting for one of possibly many sockets " \
           f"to become readable"


def _instants(run: Run, kind: Kind) -> list[float]:
    return [t for k, t in zip(run.kind, run.t0, strict=True) if k == kind]


def _notifications(run: Run) -> list[float]:
    """When the process learns of data (sigio) or of a finished read (aio): a signal, or, for
    io_uring, a completion it found in the ring (a COMPLETE on the application's lane)."""
    kernel = {i for i, lane in enumerate(run.lanes) if lane.role == "kernel"}
    return sorted(t for k, lane, t in zip(run.kind, run.lane, run.t0, strict=True)
                  if k == Kind.SIGNAL or (k == Kind.COMPLETE and lane not in kernel))


def _last_before(times: list[float], t: float, floor: float) -> float:
    k = bisect_right(times, t)
    return max(floor, times[k - 1]) if k else floor


def braces_of(run: Run) -> list[tuple[float, float, str]]:
    """(start µs, end µs, label) for every handled message, sorted by start, without repeats."""
    handled = sorted((run.m_copy_start[m], run.m_copy_end[m], run.m_conn[m], run.m_done[m])
                     for m in range(run.message_count) if run.m_copy_end[m] == run.m_copy_end[m])
    readable = _instants(run, Kind.READABLE)
    signals = _notifications(run)
    per_conn = run.model == "threaded"
    ready_to_wait = setup_end(run)  # the set-up is not waiting
    last_done: dict[int, float] = {}
    out: set[tuple[float, float, str]] = set()
    for copy_start, copy_end, conn, done in handled:
        key = conn if per_conn else -1
        start = last_done.get(key, ready_to_wait)
        if done == done:
            last_done[key] = max(last_done.get(key, 0.0), done)
        model = run.model
        if model in ("blocking", "threaded"):
            out.add((start, copy_end, BLOCKING_BRACE))
            continue
        if model == "nonblocking":
            out.add((start, copy_start, POLLING_BRACE))
        elif model in MULTIPLEXERS:
            out.add((start, _last_before(readable, copy_start, start), mux_brace(
                MULTIPLEXERS[model])))
        elif model in ("sigio", "aio"):
            out.add((start, _last_before(signals, copy_end if model == "aio" else copy_start,
                                         start), RUNS_BRACE))
        if model != "aio":
            out.add((copy_start, copy_end, COPY_BRACE))
    return sorted(b for b in out if b[1] > b[0])
