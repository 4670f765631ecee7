"""A run's system calls and arrivals as a student predicts them, read from the trace: which
call, on which socket, what was queued when it was made, and what it did (sleep, copy,
EWOULDBLOCK, readable, return at once); which lane each arrival concerns, what that lane was
doing, and how it reacted (woken, signalled, nothing at all).

Only the events up to a horizon are read: predict mode asks about a run's first messages, and
a run of ten thousand threads must not be walked whole for that.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from iosim.teach.words import BLOCKS_IN, MAIN_LOOP_LABEL, MULTIPLEXERS, READS, call_name
from iosim.trace import COPY_LABEL, READY_ESTIMATED, Kind, Run

ASKED_CALLS = READS | MULTIPLEXERS | {"aio_read"}
SPANS_BACK = 8  # a lane's state at t: among its last few events begun before t


class Outcome(StrEnum):
    """What a call did once made."""

    SLEEPS = "sleeps"  # put the caller to sleep (phase 1)
    COPIES = "copies"  # found data queued: copied it (the caller blocked), returned it
    EWOULDBLOCK = "ewouldblock"
    READABLE = "readable"  # a multiplexer returned at once: a socket was readable
    AT_ONCE = "at once"  # returned at once without data (aio_read) or with data copied before
    EOF = "eof"


class Reaction(StrEnum):
    """What an arrival set off on the lane it concerns."""

    WAKES_READ = "wakes read"  # asleep in a read on this socket: woken
    WAKES_WAIT = "wakes wait"  # asleep in select/poll/epoll_wait: woken
    NOTHING_BEHIND = "nothing, asleep elsewhere"  # asleep in a read on another socket
    NOTHING_POLLING = "nothing, polling"  # own work between polls: the data waits
    SIGIO = "sigio"  # the main loop runs on: the kernel signals
    COPIED = "copied"  # a read handed over (aio): the copy happens, then the signal


@dataclass(frozen=True)
class Call:
    lane: int
    name: str
    conn: int  # the socket it reads (-1: a multiplexer's many)
    t: float  # when it is made
    outcome: Outcome
    shown_at: float  # when its outcome starts (a sleep, a copy, a result)
    in_handler: bool


@dataclass(frozen=True)
class Arrival:
    lane: int  # the lane it concerns: the process, or the thread of its connection
    conn: int
    msg: int
    t: float
    reaction: Reaction
    shown_at: float  # when the reaction shows (the arrival itself when nothing happens)
    call: str  # the call the lane sleeps in ("" when it is not in one)
    call_conn: int  # the socket that call waits on (-1: none or many)


def horizon(run: Run, messages: int) -> float:
    """When the run's first ``messages`` handled messages are done (the run's end when fewer
    are): the part of the run the questions are about."""
    done = sorted(t for t in run.m_done if t == t)
    if len(done) >= messages:
        return done[messages - 1]
    return max(run.end_us, run.t1[-1] if len(run) else 0.0)


def asked_lanes(run: Run) -> set[int]:
    """The lanes whose calls are asked about: the threads of a threaded run (its process lane
    repeats what they do), else the process."""
    roles = [ln.role for ln in run.lanes]
    if "thread" in roles:
        return {i for i, role in enumerate(roles) if role == "thread"}
    return {i for i, role in enumerate(roles) if role == "app"}


def ready_is_known(run: Run, m: int) -> bool:
    """Message ``m``'s arrival time is the kernel's (a simulation or a capture), not
    estimated from the calls around it."""
    return not run.m_flags[m] & READY_ESTIMATED


class Facts:
    """The calls and arrivals of a run up to ``until``, and what was queued when."""

    def __init__(self, run: Run, until: float) -> None:
        self.run = run
        self.until = until
        self.end = bisect_right(run.t0, until)
        self.lanes = asked_lanes(run)
        self.by_lane: dict[int, list[int]] = {lane: [] for lane in self.lanes}
        self.handlers: dict[int, tuple[list[float], list[float]]] = {}
        for i in range(self.end):
            lane = run.lane[i]
            if lane in self.by_lane:
                self.by_lane[lane].append(i)
                if run.kind[i] == Kind.HANDLER:
                    starts, ends = self.handlers.setdefault(lane, ([], []))
                    starts.append(run.t0[i])
                    ends.append(run.t1[i])
        self.times = {lane: [run.t0[i] for i in events] for lane, events in self.by_lane.items()}
        self.connections = sum(1 for ln in run.lanes if ln.role == "kernel")
        self.threaded = any(run.lanes[lane].role == "thread" for lane in self.lanes)
        self._queues: dict[int, tuple[list[float], list[float]]] = {}
        for m in range(run.message_count):
            start = run.m_copy_start[m]
            for key in (-1, run.m_conn[m]):
                ready, starts = self._queues.setdefault(key, ([], []))
                ready.append(run.m_ready[m])
                starts.append(math.inf if math.isnan(start) else start)
        for ready, starts in self._queues.values():
            ready.sort()
            starts.sort()

    def in_handler(self, lane: int, t: float) -> bool:
        starts, ends = self.handlers.get(lane, ((), ()))
        k = bisect_right(starts, t) - 1
        return k >= 0 and t < ends[k]

    def queued(self, conn: int, t: float) -> int:
        """Messages on ``conn`` (-1: any) ready by ``t`` and not yet being copied."""
        ready, starts = self._queues.get(conn, ((), ()))
        return bisect_right(ready, t) - bisect_left(starts, t)

    def queued_elsewhere(self, conn: int, t: float) -> dict[int, int]:
        """Connection -> messages queued there at ``t``, for the connections other than
        ``conn`` (one pass over the messages: only for the words of a question)."""
        run = self.run
        out: dict[int, int] = {}
        if self.queued(-1, t) == (self.queued(conn, t) if conn >= 0 else 0):
            return out
        for m in range(run.message_count):
            c = run.m_conn[m]
            start = run.m_copy_start[m]
            if c != conn and run.m_ready[m] <= t and (math.isnan(start) or start >= t):
                out[c] = out.get(c, 0) + 1
        return out

    @cached_property
    def calls(self) -> list[Call]:
        """The reads, multiplexer waits and aio_reads of the asked lanes whose outcome the
        trace shows, in time order."""
        run = self.run
        out: list[Call] = []
        for lane, events in self.by_lane.items():
            open_at = -1
            for i in events:
                kind = run.kind[i]
                if kind == Kind.SYSCALL:
                    open_at = i
                    continue
                if open_at < 0:
                    continue
                outcome = _outcome(kind, run.labels[run.label[i]])
                if outcome is None:
                    continue
                name = call_name(run, open_at)
                if name in ASKED_CALLS:
                    t = run.t0[open_at]
                    out.append(Call(lane, name, run.conn[open_at], t, outcome, run.t0[i],
                                    self.in_handler(lane, t)))
                open_at = -1
        out.sort(key=lambda c: (c.t, c.lane))
        return out

    def arrivals(self) -> list[Arrival]:
        """Each arrival with the lane it concerns, what that lane was doing and how it
        reacted, where the trace shows it plainly."""
        run = self.run
        threads = {run.lanes[lane].conn: lane for lane in self.lanes
                   if run.lanes[lane].role == "thread"}
        out: list[Arrival] = []
        for i in range(self.end):
            if run.kind[i] != Kind.ARRIVAL or run.msg[i] < 0 or \
                    not ready_is_known(run, run.msg[i]):
                continue
            conn, t = run.conn[i], run.t0[i]
            lane = threads.get(conn, -1) if threads else min(self.lanes, default=-1)
            if lane < 0:
                continue
            found = self._reaction(lane, conn, t)
            if found is not None:
                reaction, shown_at, call, call_conn = found
                out.append(Arrival(lane, conn, run.msg[i], t, reaction, shown_at, call,
                                   call_conn))
        return out

    def _reaction(self, lane: int, conn: int, t: float
                  ) -> tuple[Reaction, float, str, int] | None:
        run = self.run
        events, times = self.by_lane[lane], self.times[lane]
        k = bisect_left(times, t)
        after = next((events[j] for j in range(k, len(events))
                      if run.kind[events[j]] >= Kind.SYSCALL), -1)  # the first instant from t
        state = -1  # the innermost span under way at t (a handler set aside)
        for j in range(k - 1, max(k - SPANS_BACK, 0) - 1, -1):
            i = events[j]
            if run.kind[i] < Kind.SYSCALL and run.kind[i] != Kind.HANDLER and \
                    run.t0[i] < t <= run.t1[i]:
                state = i
                break
        if state < 0:
            return None
        kind, label = run.kind[state], run.labels[run.label[state]]
        next_kind = run.kind[after] if after >= 0 else -1
        next_t = run.t0[after] if after >= 0 else math.inf
        if kind == Kind.BLOCKED and label.startswith(BLOCKS_IN):
            call = call_name(run, state)
            waits_on = run.conn[state]
            if call in MULTIPLEXERS:
                if next_kind == Kind.WAKEUP:
                    return Reaction.WAKES_WAIT, next_t, call, -1
                return None
            if call not in READS:
                return None
            if waits_on == conn and next_kind == Kind.WAKEUP:
                return Reaction.WAKES_READ, next_t, call, waits_on
            if waits_on != conn and waits_on >= 0 and run.t1[state] > t:
                return Reaction.NOTHING_BEHIND, t, call, waits_on
            return None
        if kind == Kind.WORK and label != MAIN_LOOP_LABEL and run.t1[state] > t:
            return Reaction.NOTHING_POLLING, t, "", -1
        if kind == Kind.WORK and next_kind == Kind.SIGNAL:
            signal = run.labels[run.label[after]]
            if "SIGIO" in signal:
                return Reaction.SIGIO, next_t, "", -1
            if self._copied_at(conn, t):
                return Reaction.COPIED, next_t, "", -1
        return None

    def _copied_at(self, conn: int, t: float) -> bool:
        """The kernel starts copying into a read handed over before (aio) as data lands."""
        run = self.run
        i = bisect_right(run.t0, t) - 1
        while i >= 0 and run.t0[i] == t:
            if run.kind[i] == Kind.COPY and run.conn[i] == conn:
                return True
            i -= 1
        return False


_RESULTS = {int(Kind.EWOULDBLOCK): Outcome.EWOULDBLOCK, int(Kind.READABLE): Outcome.READABLE,
            int(Kind.RETURN): Outcome.AT_ONCE, int(Kind.EOF): Outcome.EOF}


def _outcome(kind: int, label: str) -> Outcome | None:
    if kind == Kind.BLOCKED:
        if label == COPY_LABEL:
            return Outcome.COPIES
        if label.startswith(BLOCKS_IN):
            return Outcome.SLEEPS
        return None  # the GIL, every thread asleep: not the call's doing
    return _RESULTS.get(kind)
