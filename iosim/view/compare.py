"""The comparison view after Stevens's Figure 6.6, as pure logic: one column per run, time
flowing down, the message's phase 1 mapped into the upper band ("wait for data") and its
phase 2 into the lower band ("copy data from kernel to user").

On the schematic axis, inside phase 1 the position is mostly proportional to time (a long wait
looks long) and partly the rank of the column's labelled moments, so that moments microseconds
apart (ready, then initiate) stay apart; phase 2 is proportional. To scale, both bands are
proportional with one scale for all columns: the longest wait fills the upper band, the longest
copy the lower one. A message whose data was already queued when the process made the call
that took it has no phase 1: its moments before the copy sit at the top of the copy band.
A column follows the message being handled at the playhead (the first one not yet done).
Phase 2 is the read that copied it, as the process lives it: a TCP read that takes several
queued messages blocks for the copy of them all and returns once, so the column's phase 2
runs from that read's copy to its return.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from iosim.trace import COPY_LABEL, Kind
from iosim.view.index import RunIndex

FIGURES = {"blocking": "Figure 6.1", "nonblocking": "Figure 6.2", "select": "Figure 6.3",
           "poll": "after Figure 6.3", "epoll": "after Figure 6.3",
           "epoll-et": "after Figure 6.3", "sigio": "Figure 6.4",
           "aio": "Figure 6.5", "threaded": "after Figure 6.1"}  # Stevens's, per model
HEADINGS = {
    "blocking": "blocking",
    "threaded": "blocking, a thread each",
    "nonblocking": "nonblocking",
    "select": "I/O multiplexing (select)",
    "poll": "I/O multiplexing (poll)",
    "epoll": "I/O multiplexing (epoll)",
    "epoll-et": "I/O multiplexing (epoll, edge-triggered)",
    "sigio": "signal-driven I/O",
    "aio": "asynchronous I/O",
}
SAME_SECOND_PHASE = ("1st phase handled differently, 2nd phase handled the same "
                     "(blocked in call to recvfrom)")
BOTH_PHASES = "handles both phases"
_MULTIPLEXER_CALLS = {"select", "poll", "epoll_wait"}
RANK_WEIGHT = 0.3
_SETUP_CALLS = ("sigaction", "fcntl", "epoll_create", "epoll_ctl", "aio_return")


@dataclass(frozen=True)
class Mark:
    """A labelled moment in a column ("check", "ready", "initiate", "notification", ...)."""

    t: float
    word: str


@dataclass(frozen=True)
class Bar:
    t0: float
    t1: float
    kind: Kind


@dataclass
class Column:
    """One run's message cycle: phase 1 [start, copy_start], phase 2 [copy_start, copy_end]."""

    number: int
    model: str
    message: int
    start: float
    copy_start: float
    copy_end: float
    steps: list[float]
    marks: list[Mark]
    bars: list[Bar]
    error: str | None = None
    queued: bool = False  # the data was queued before the call: no phase 1

    @property
    def wait_us(self) -> float:
        return 0.0 if self.queued else self.copy_start - self.start

    @property
    def copy_us(self) -> float:
        return self.copy_end - self.copy_start

    def frac(self, t: float, scale: tuple[float, float] | None = None) -> tuple[int, float]:
        """(band, fraction down that band) of time ``t``: band 0 is phase 1, band 1 phase 2.
        ``scale`` (the µs that fill each band) maps both bands to scale."""
        if self.queued and t <= self.copy_start:
            return 1, 0.0
        if scale is not None:
            if t <= self.copy_start:
                return 0, min(1.0, max(0.0, (t - self.start) / scale[0])) if scale[0] else 1.0
            return 1, min(1.0, (t - self.copy_start) / scale[1]) if scale[1] else 1.0
        if t <= self.copy_start:
            steps = self.steps
            if len(steps) < 2 or t >= self.copy_start:
                return 0, 1.0 if t >= self.copy_start else 0.0
            i = bisect_right(steps, t) - 1
            if i < 0:
                return 0, 0.0
            a, b = steps[i], steps[i + 1]
            rank = (i + (t - a) / (b - a)) / (len(steps) - 1)
            prop = (t - self.start) / (self.copy_start - self.start)
            return 0, RANK_WEIGHT * rank + (1 - RANK_WEIGHT) * prop
        span = self.copy_end - self.copy_start
        return 1, min(1.0, (t - self.copy_start) / span) if span > 0 else 1.0


def message_at(ri: RunIndex, t: float, cache: dict) -> int | None:
    """The handled message the playhead is in: the first whose processing is not done."""
    key = ("handled", id(ri))
    if key not in cache:
        run = ri.run
        handled = sorted((run.m_done[m] if run.m_done[m] == run.m_done[m] else run.m_copy_end[m],
                          m) for m in range(run.message_count)
                         if run.m_copy_end[m] == run.m_copy_end[m])
        cache[key] = ([h[0] for h in handled], [h[1] for h in handled])
    dones, order = cache[key]
    if not order:
        return None
    return order[min(bisect_left(dones, t), len(order) - 1)]


def _word(model: str, kind: Kind, label: str, after_ready: bool, first_call: bool) -> str | None:
    """The word of Figure 6.6 for an event of the application, or None to leave it out."""
    if kind == Kind.SYSCALL:
        if label.startswith(_SETUP_CALLS):
            return None
        if label in _MULTIPLEXER_CALLS:
            return "check"
        if model == "nonblocking" and not after_ready:
            return "check"
        if model == "aio" and not first_call:
            return None
        return "initiate"
    if kind == Kind.READABLE:
        return "ready"
    if kind == Kind.SIGNAL:
        return "notification"
    if kind == Kind.RETURN and label == "return OK" and model != "aio":
        return "complete"
    return None


def column(ri: RunIndex, number: int, t: float, cache: dict) -> Column:
    run = ri.run
    m = message_at(ri, t, cache)
    if m is None:
        return Column(number, run.model, -1, 0.0, 0.0, 0.0, [], [], [],
                      run.error or "no message handled")
    key = (number, m)
    if key in cache:
        return cache[key]
    conn = run.m_conn[m]
    lanes = [0] + [i for i, ln in enumerate(run.lanes) if ln.role == "thread" and ln.conn == conn]
    copy_start, copy_end = run.m_copy_start[m], run.m_copy_end[m]
    start = _cycle_start(ri, m)
    end = copy_end
    if run.model == "aio":
        signals = ri.instants["signals"]
        k = bisect_left(signals, copy_end)
        end = signals[k] if k < len(signals) else copy_end
    else:
        copy_start, end = _read_copy(ri, lanes, copy_start, copy_end)
    marks: list[Mark] = []
    bars: list[Bar] = []
    steps = {start, copy_start}
    ready = run.m_ready[m]
    first_call = True
    for lane in lanes:
        li = ri.lanes[lane]
        for j in li.visible(start, end):
            i = li.events[j]
            t0, t1 = run.t0[i], run.t1[i]
            if t1 < start or t0 > end:
                continue
            kind = Kind(run.kind[i])
            if kind.is_span:
                if kind in (Kind.BLOCKED, Kind.IN_KERNEL, Kind.WORK, Kind.HANDLER, Kind.PROCESS,
                            Kind.DELIVERY, Kind.OVERHEAD):
                    bars.append(Bar(max(t0, start), min(t1, end), kind))
                continue
            if run.conn[i] not in (-1, conn) and kind != Kind.SIGNAL:
                continue
            word = _word(run.model, kind, run.labels[run.label[i]], t0 >= ready, first_call)
            if kind == Kind.SYSCALL and word:
                first_call = False
            if word and t0 >= start:
                marks.append(Mark(t0, word))
                if t0 <= copy_start:
                    steps.add(t0)
    queued = ready <= _call_made(run.model, marks, start)
    col = Column(number, run.model, m, start, copy_start, end, sorted(steps),
                 sorted(marks, key=lambda mk: mk.t), bars, None, queued)
    cache[key] = col
    return col


def _call_made(model: str, marks: list[Mark], start: float) -> float:
    """When the process asked for this message: its first check or initiate of the cycle; a
    process that keeps running (sigio, aio) asks when it finished the previous message."""
    calls = [mk.t for mk in marks if mk.word in ("check", "initiate")]
    return min(calls) if calls and model not in ("sigio", "aio") else start


def _read_copy(ri: RunIndex, lanes: list[int], copy_start: float, copy_end: float
               ) -> tuple[float, float]:
    """The span of the read whose copy holds [copy_start, copy_end]: when the process began to
    block for that copy and when the read returned. The message's own copy where no such span
    was recorded."""
    run = ri.run
    for lane in lanes:
        li = ri.lanes[lane]
        for j in li.visible(copy_start, copy_end):
            i = li.events[j]
            if run.kind[i] == Kind.BLOCKED and run.labels[run.label[i]] == COPY_LABEL and \
                    run.t0[i] <= copy_start and copy_end <= run.t1[i]:
                return run.t0[i], run.t1[i]
    return copy_start, copy_end


def _cycle_start(ri: RunIndex, m: int) -> float:
    """When the process began waiting for message ``m``: the end of the previous one it
    handled (on the same connection for the threaded model), or the end of its set-up."""
    run = ri.run
    copy_start = run.m_copy_start[m]
    best = ri.setup.t1 if ri.setup is not None else 0.0
    for other in range(run.message_count):
        done = run.m_done[other]
        if other == m or done != done or done > copy_start:
            continue
        if run.model == "threaded" and run.m_conn[other] != run.m_conn[m]:
            continue
        best = max(best, done)
    return best
