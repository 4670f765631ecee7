"""The state that decides what happens next, at the playhead: each socket's receive queue, the
sets a multiplexer copies in and out, epoll's interest and ready lists, the pending signal,
aio's outstanding reads, each thread's state, and the values the lit line of code uses.

Python Tutor shows a program's memory beside its lines; this is iosim's equivalent for the
kernel and the server. Everything is read from the Trace (the seam): a simulation records
every step, so its state is exact; a real or traced run shows what its trace recorded (queues
from the kernel's arrival stamps and the bytes each read returned) and says what it cannot
know. ``StateIndex`` reads a run once; ``at(t)`` answers with bisects, and keeps each answer (a
socket, a thread, the sockets listed) until the run changes something it depends on, because
the window asks every frame and c10k's epoll run has 30,000 events over 10,100 descriptors.

At a time ``t`` every event starting at or before ``t`` has happened (stepping onto an arrival
shows it queued). Descriptors are the simulator's: 0-2 are stdin, stdout and stderr, connection
N is fd 3 + N; a real or traced run's descriptors are not recorded, so its sockets are named by
connection.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import islice

from iosim.teach.explain import Explainer
from iosim.teach.state_server import Listener, SendBuf
from iosim.teach.state_tables import Kept, KeptEach, MuxCall, Read, Tables
from iosim.teach.words import ALL_BLOCKED_LABEL, GIL_LABEL, MULTIPLEXERS, READS
from iosim.trace import COPY_LABEL, READY_ESTIMATED, Kind, Run

FIRST_FD = 3  # the simulator's first socket descriptor (0, 1, 2: stdin, stdout, stderr)
FD_SETSIZE = 1024
LOOK_BACK = 64  # arrivals looked at for the one whose epoll callback ran last
MAX_SOCKETS = 16  # sockets listed at most (the rest are counted)
LISTED = 8  # a run with at most this many connections lists every socket, empty or not
MAX_CHUNKS = 200  # queued messages listed per socket at most (the rest are counted)
FAMILIES = {"select": "select", "pselect6": "select", "poll": "poll", "ppoll": "poll",
            "epoll_wait": "epoll", "epoll_pwait": "epoll"}
CALLS = {"select": "select", "poll": "poll", "epoll": "epoll_wait"}  # each family's call
CODE_SIGNALS = {"sigio": "SIGIO", "aio": "SIGUSR1"}  # what each program's handler is for


class Phase(StrEnum):
    """Where a multiplexer call is."""

    BEFORE = "before"  # no call made yet
    SCANNING = "scanning"  # copies its set in and checks each descriptor (select, poll)
    ASLEEP = "asleep"  # on the wait queues until a socket becomes readable
    WAKING = "waking"  # woken, not running yet
    RESCANNING = "rescanning"  # checks every descriptor again to set the bits it returns
    RETURNED = "returned"  # returned the ready ones; the program reads them


class Doing(StrEnum):
    """A thread's state, as an operating-systems course names them."""

    RUNNING = "running user code"
    IN_CALL = "in a system call"
    IN_KERNEL = "in the kernel"  # delivering a signal: kernel time, no call made
    BLOCKED = "blocked"
    RUNNABLE = "runnable"
    ENDED = "ended"
    NOT_STARTED = "not started"


@dataclass(frozen=True)
class Chunk:
    """Bytes of one message in a receive queue."""

    msg: int  # the message (0-based; people read msg + 1)
    nbytes: int | None  # still queued (None: part of it was read, how much is not recorded)
    total: int
    copying: bool  # the kernel is copying these bytes to the process now (phase 2)
    estimated: bool = False  # its arrival time is an estimate (a traced run without stamps)


@dataclass(frozen=True)
class Take:
    """What the next read on a socket takes, and what it leaves."""

    nbytes: int | None  # None: not known
    msgs: tuple[int, ...]
    partial: bool  # the last message is only partly taken (TCP: the buffer is full)
    left_bytes: int | None
    left_msgs: int  # messages still (partly) queued after it
    truncated: int = 0  # UDP: bytes of the datagram past the buffer, discarded (MSG_TRUNC)
    eof: bool = False  # nothing queued but the peer's close: the read returns 0


@dataclass(frozen=True)
class Sock:
    """One connection's socket on the server."""

    conn: int
    name: str  # "fd 4" (a simulation) or "conn 1"
    chunks: tuple[Chunk, ...]
    more: int  # queued messages beyond those in ``chunks``
    closed: bool  # the peer's close is queued behind the data: a read will return 0
    done: bool  # a read returned 0: the program is done with it
    take: Take | None  # None: nothing queued
    bad: str = ""  # a datagram with a bad checksum queued ahead: who checks and drops it
    dropped: float | None = None  # when a read last dropped such a datagram


@dataclass(frozen=True)
class Watched:
    """Descriptors watched: the first ``count`` of ``conns`` but ``removed``, by connection."""

    conns: Sequence[int]
    count: int
    removed: frozenset[int] = frozenset()

    def __len__(self) -> int:
        return self.count - len(self.removed)  # the removed are among the first: see users

    @property
    def first(self) -> Sequence[int]:
        return self.conns[:self.count]

    def head(self, limit: int) -> list[int]:
        """The first ``limit`` watched connections, in order (without copying the rest: c10k
        watches 10,100)."""
        kept = (c for c in islice(self.conns, self.count) if c not in self.removed)
        return list(islice(kept, limit))

    def highest(self) -> int:
        """The highest watched connection (select's nfds is its descriptor + 1): a range's
        last one kept, found from its end."""
        first = self.first
        if isinstance(first, range) and first.step > 0:
            return next((c for c in reversed(first) if c not in self.removed), -1)
        return max((c for c in first if c not in self.removed), default=-1)


@dataclass(frozen=True)
class Multiplexer:
    """select, poll or epoll at the playhead."""

    family: str  # "select", "poll" or "epoll"
    call: str  # the call's name as recorded ("select", "poll", "epoll_wait")
    phase: Phase
    watched: Watched | None  # select/poll: the set passed in; epoll: the interest list
    returned: tuple[int, ...]  # connections the latest call reported ready (once returned)
    ready: tuple[int, ...] | None  # epoll's ready list now (None: not recorded)
    edge: bool  # epoll edge-triggered (EPOLLET)
    callback: tuple[int, float] | None  # epoll: the latest arrival whose callback ran
    calls: int  # calls made so far
    error: str | None = None  # the run stopped (select refusing fd >= FD_SETSIZE)
    listening: bool = False  # the listening socket is watched too (an accepting server)
    listener_ready: bool = False  # the latest call returned the listening socket
    writable: tuple[int, ...] = ()  # of ``returned``, those reported writable
    only_writable: bool = False  # the return reported writable sockets only
    events: dict[int, str] = field(default_factory=dict)  # beyond plain readability
    owner: str = ""  # the thread whose set or epoll instance this is (a pool: each its own)


@dataclass(frozen=True)
class Signals:
    """The signal that reports readiness (SIGIO) or a completion (aio)."""

    name: str  # "SIGIO" or "the completion signal"
    code_name: str  # what the program's handler is registered for ("SIGIO", "SIGUSR1")
    handler: bool  # the handler is running
    delivered: int  # so far
    pending: bool | None  # the pending bit (None: not recorded)
    merged: int  # raises the pending bit stands for (a second one merges into it)
    setsig: bool  # F_SETSIG: a queued real-time signal per event, carrying its descriptor
    queued: tuple[int, ...] = ()  # F_SETSIG: the descriptor (connection) of each queued one
    cause: str | None = None  # what raised the latest delivery, where the run says


@dataclass(frozen=True)
class Request:
    """One socket's asynchronous read."""

    conn: int
    name: str
    phase: str  # "none", "waiting", "copying", "done", "collected" (sim); "in flight", "reaped"
    nbytes: int | None = None  # done or collected: bytes in the buffer


@dataclass(frozen=True)
class Aio:
    ring: bool  # io_uring (a real run's) rather than the simulated POSIX aio
    requests: tuple[Request, ...]
    submitted: int  # reads submitted so far
    collected: int  # completions collected so far (aio_return, or reaped from the ring)


@dataclass(frozen=True)
class Thread:
    name: str
    doing: Doing
    detail: str  # "select", "process()", "waiting for the GIL", ...


@dataclass(frozen=True)
class Variable:
    name: str
    value: str
    short: tuple[str, ...] = ()  # shorter values, for a narrow pane


@dataclass(frozen=True)
class State:
    """Everything the state pane shows at one time of one run, as plain values."""

    t: float
    model: str
    source: str
    udp: bool
    read_call: str  # the call that reads ("recvfrom", or "aio_read" whose buffer is filled)
    buffer: int | None  # the read buffer's size
    sockets: tuple[Sock, ...]
    unlisted: int  # sockets not listed (empty, or past what is listed)
    unlisted_busy: int  # of those, the ones holding data or a close
    queued_msgs: int  # messages (partly) queued over all sockets
    nonblocking: bool  # the program's sockets are in O_NONBLOCK
    multiplexer: Multiplexer | None
    signals: Signals | None
    aio: Aio | None
    threads: tuple[Thread, ...]
    line: str | None  # the lit line's key
    variables: tuple[Variable, ...]
    unknown: str  # what this run's trace cannot say ("" for a simulation)
    error: str | None = None
    listener: Listener | None = None  # an accepting server's listening socket
    sends: tuple[SendBuf, ...] = ()  # a replying server's send buffers
    replies: bool = False  # the program replies: a peer's close does not end its socket


def msg_words(udp: bool, msgs: Sequence[int], listed: int = 4) -> str:
    """"datagram 3", "messages 2-4", "messages 2, 5, 9" (numbered from 1), "7 messages"
    past ``listed`` of them (with the first two and the last, where ``listed`` is 6 or more)."""
    noun = "datagram" if udp else "message"
    nums = [m + 1 for m in msgs]
    if not nums:
        return f"no {noun}"
    if len(nums) == 1:
        return f"{noun} {nums[0]}"
    if nums == list(range(nums[0], nums[0] + len(nums))):
        return f"{noun}s {nums[0]}-{nums[-1]}"
    if len(nums) > listed:
        some = f" ({nums[0]}, {nums[1]}, ... {nums[-1]})" if listed >= 6 else ""
        return f"{len(nums)} {noun}s{some}"
    return f"{noun}s {', '.join(map(str, nums))}"


def _listed(items: list[str], count: int, noun: str) -> tuple[str, tuple[str, ...]]:
    """A Python list as a value, the first few of ``count`` items; and shorter forms."""
    more = count - len(items)
    whole = f"[{', '.join(items)}{f', ... ({more:,} more)' if more > 0 else ''}]"
    return whole, (f"[{items[0]}, ... {count:,} {noun}]" if count > 1 else whole,
                   f"[{count:,} {noun}]")


class StateIndex(Tables):
    """One run's tables and the questions the state pane asks of them, at any time."""

    def __init__(self, run: Run, explainer: Explainer | None = None) -> None:
        """``explainer``: the run's, where the caller has one (the code pane's)."""
        super().__init__(run)
        self.explainer = explainer if explainer is not None else Explainer(run)
        self.tracks = self.explainer.index
        self._socks: KeptEach = KeptEach()  # each socket, while nothing of it changes
        self._threads: KeptEach = KeptEach()
        self._requests: KeptEach = KeptEach()
        self._lanes_changes: dict[int, array] = {}
        self._closed_kept = Kept()
        self._sockets_kept = Kept()
        self._events_kept = Kept()
        self._entries_kept = Kept()

    # -- questions ----------------------------------------------------------------------------

    def name(self, conn: int) -> str:
        return f"fd {FIRST_FD + conn}" if self.sim else f"conn {conn}"

    def _chunk(self, msg: int, t: float) -> Chunk:
        run = self.run
        total = int(run.m_bytes[msg])
        left: int | None = total
        copying = False
        for t0, t1, after in self.remaining.get(msg, []):
            if t0 > t:
                break
            if t1 <= t:
                left = after
            else:
                copying = True
        return Chunk(msg, left, total, copying, bool(run.m_flags[msg] & READY_ESTIMATED))

    def _take(self, chunks: Sequence[Chunk], more: int, closed: bool) -> Take | None:
        if not chunks:
            return Take(0, (), False, 0, 0, eof=True) if closed else None
        if self.udp:
            first = chunks[0]
            size = first.nbytes
            cut = max(0, size - self.buffer) if size is not None and self.buffer else 0
            rest = [c.nbytes for c in chunks[1:]]
            left = None if None in rest or more else sum(n for n in rest if n is not None)
            return Take(None if size is None else size - cut, (first.msg,), False, left,
                        len(chunks) - 1 + more, truncated=cut)
        room = self.buffer if self.buffer is not None else math.inf
        taken = 0
        msgs: list[int] = []
        partial = False
        left: int | None = 0
        for c in chunks:
            if c.nbytes is None:
                return Take(None, tuple(msgs + [c.msg]), False, None, len(chunks) + more)
            n = min(c.nbytes, room - taken)
            if n > 0:
                msgs.append(c.msg)
                taken += int(n)
                partial = n < c.nbytes
            if n < c.nbytes and left is not None:
                left += c.nbytes - max(0, int(n))
        left_msgs = sum(1 for c in chunks if c.msg not in msgs) + int(partial) + more
        return Take(taken, tuple(msgs), partial, None if more else left, left_msgs)

    def sockets(self, t: float, lit: int | None) -> tuple[tuple[Sock, ...], int, int, int]:
        """The sockets worth listing at ``t``: the lit line's, then those holding data or a
        close, then (when there are few) the empty ones, at most MAX_SOCKETS; also how many
        are not listed, how many of those hold something, and how many messages are queued
        in all. The same until something on a socket changes (c10k's epoll_ctl calls, most
        of its events, change none)."""
        epoch = bisect_right(self.socket_changes, t)
        return self._sockets_kept.get((epoch, lit), lambda: self._sockets(t, lit))

    def _sockets(self, t: float, lit: int | None) -> tuple[tuple[Sock, ...], int, int, int]:
        count = max(0, bisect_right(self.ready_t, t) - bisect_right(self.done_t, t))
        pending = self._closes_pending(t)
        busy = self._busy(t, MAX_SOCKETS)
        chosen = [lit] if lit is not None and lit >= 0 else []
        chosen += busy + sorted(pending)[:MAX_SOCKETS]
        if self.total <= LISTED:
            chosen += range(self.total)
            chosen += self.server.bad_spans
        exists = self.server.exists
        chosen = sorted(c for c in dict.fromkeys(chosen) if exists(c, t))[:MAX_SOCKETS]
        total = self.total if not self.server.has_listener else \
            bisect_right(self.accepted_t, t)
        listed = [self._sock(conn, t, conn in pending) for conn in chosen]
        holding = self._busy_count(t) + sum(1 for c in pending if not self._queue_of(c, t))
        unlisted_busy = max(0, holding - sum(1 for s in listed if s.chunks or s.closed))
        return tuple(listed), max(0, total - len(listed)), min(unlisted_busy, max(
            0, total - len(listed))), count

    def _sock(self, conn: int, t: float, closed: bool) -> Sock:
        """``conn``'s socket at ``t``: the one made last, while nothing of it has changed
        since (stepping through c10k's events changes one socket at a time)."""
        return self._socks.get(conn, bisect_right(self.changes(conn), t),
                               lambda: self._new_sock(conn, t, closed))

    def _new_sock(self, conn: int, t: float, closed: bool) -> Sock:
        queue = self._queue_of(conn, t)
        # a real read's last bytes are copied a moment before it returns: none left
        chunks = tuple(c for c in (self._chunk(m, t) for m in queue[:MAX_CHUNKS])
                       if c.nbytes != 0)
        more = max(0, len(queue) - MAX_CHUNKS)
        bad, dropped = self.server.bad(conn, t)
        return Sock(conn, self.name(conn), chunks, more, closed,
                    self.eof_read.get(conn, math.inf) <= t, self._take(chunks, more, closed),
                    bad, dropped)

    def _mux_lane(self, t: float, lane: int) -> int:
        """The lane whose multiplexer the pane shows: the lit thread's, or else the one that
        called last (each thread of a pool has its own set or epoll instance)."""
        if lane in self.mux_enter or not self.mux_enter:
            return lane

        def latest(ln: int) -> float:
            k = bisect_right(self.mux_enter[ln], t)
            return self.mux_enter[ln][k - 1] if k else -math.inf
        return max(self.mux_enter, key=lambda ln: (latest(ln), -ln))

    def multiplexer(self, t: float, lane: int = 0) -> Multiplexer | None:
        model = self.run.model
        family = FAMILIES.get(self.mux[0].name if self.mux else "", "") or \
            ("epoll" if model.startswith("epoll") else model if model in CALLS else "")
        if not family:
            return None
        lane = self._mux_lane(t, lane)
        calls = self.mux_lanes.get(lane, [])
        k = bisect_right(self.mux_enter.get(lane, ()), t) - 1
        error = self.run.error if t >= self.run.end_us else None
        edge = model == "epoll-et"
        call = calls[k] if k >= 0 else None
        name = call.name if call else CALLS[family]
        phase = self._phase(call, t)
        returned = call.returned if call is not None and phase is Phase.RETURNED else ()
        named = call.named if call is not None and phase is Phase.RETURNED else None
        watched: Watched | None = None
        ready: tuple[int, ...] | None = None
        callback = None
        closed = self._closed_by(t) if not self.replies else frozenset()
        if family == "epoll":
            ctl_t, conns, added = self.ctl_lanes.get(lane, (array("d"), (), {}))
            watched = Watched(conns, bisect_right(ctl_t, t),
                              frozenset(c for c in closed if added.get(c, math.inf) <= t))
            listening = self.server.listen_watch.get(lane, math.inf) <= t
            if self.sim:
                ready = self._ready_list(calls, k, t, edge, watched)
                callback = self._callback(t)
        elif self.has_program:
            when = call.enter if call is not None else t
            if self.server.has_listener:
                mine = [a.conn for a in self.server.accepts
                        if a.lane == lane and a.conn >= 0 and a.t <= when]
                watched = Watched(mine, len(mine), frozenset(c for c in self._closed_by(when)
                                                             if c in mine))
            else:
                watched = Watched(range(self.total), self.total,
                                  self._closed_by(when) if not self.replies else frozenset())
            listening = self.server.has_listener
        else:
            listening = False
        events = self._events_of(family, watched, t)
        names = self.thread_names
        return Multiplexer(family, name, phase, watched, returned, ready, edge, callback, k + 1,
                           error, listening=listening,
                           listener_ready=bool(named and named[0]),
                           writable=returned if named and "writable" in named[2] else (),
                           only_writable=bool(named and named[2] == "writable"),
                           events=events,
                           owner=names.get(lane, "") if len(self.mux_enter) > 1 else "")

    def _events_of(self, family: str, watched: Watched | None, t: float) -> dict[int, str]:
        """What the program asks of the first watched sockets beyond plain readability: none
        asks anything more but where epoll_ctl's labels, edge triggering or replies say so."""
        edge = family == "epoll" and self.run.model == "epoll-et"
        if watched is None or not (self.ctl_events or self.replies or edge):
            return {}
        head = tuple(watched.head(MAX_SOCKETS))

        def asked() -> dict[int, str]:
            events = {c: self._events(family, c, t) for c in head}
            return {c: e for c, e in events.items() if e}
        return self._events_kept.get((family, head, bisect_right(self.asked_changes, t)), asked)

    def _events(self, family: str, conn: int, t: float) -> str:
        """What the program asks about ``conn`` beyond plain readability ("" nothing more):
        epoll_ctl's flags as recorded, or POLLOUT while a reply waits for room."""
        steps = self.ctl_events.get(conn, [])
        if family == "epoll" and steps:  # as epoll_ctl's label says
            k = bisect_right(self.ctl_event_t[conn], t) - 1
            flags = steps[k][1] if k >= 0 else ""
            return "" if flags == "EPOLLIN" else flags
        pre = "EPOLL" if family == "epoll" else "POLL"
        if family == "epoll" and self.run.model == "epoll-et":
            return "EPOLLIN | EPOLLET"
        if family in ("poll", "epoll") and self.replies:  # the program's rule, from the sends
            reading = self.eof_read.get(conn, math.inf) > t
            out = self.server.outbox(conn, t) > 0
            return " | ".join([f"{pre}IN"] * reading + [f"{pre}OUT"] * out) or "0"
        return ""

    def _closed_by(self, t: float) -> frozenset[int]:
        """Connections whose read returned 0 by ``t``: the program dropped them."""
        k = bisect_right(self.eof_t, t)
        return self._closed_kept.get(k, lambda: frozenset(self.eof_conns[:k]))

    @staticmethod
    def _phase(call: MuxCall | None, t: float) -> Phase:
        if call is None:
            return Phase.BEFORE
        if t >= call.ret:
            return Phase.RETURNED
        if call.rescan is not None and t >= call.rescan:
            return Phase.RESCANNING
        if call.wake is not None and t >= call.wake:
            return Phase.WAKING
        if call.scan_end is not None and t < call.scan_end:
            return Phase.SCANNING
        return Phase.ASLEEP

    def _arrived_between(self, lo: float, hi: float) -> set[int]:
        """Connections that something arrived on in (lo, hi]."""
        a, b = bisect_right(self.arrival_t, lo), bisect_right(self.arrival_t, hi)
        return set(self.arrival_conn[a:b])

    def _ready_list(self, calls: Sequence[MuxCall], k: int, t: float, edge: bool,
                    watched: Watched) -> tuple[int, ...]:
        """epoll's ready list: each arrival's callback puts its socket on it. Level-triggered,
        epoll_wait puts back the sockets it reported (they still have data, and stay until
        a later call finds them drained); edge-triggered, only a new arrival does."""
        call = calls[k] if k >= 0 else None
        if call is None:  # the sockets registered and arrived on by t
            n = bisect_right(self.entry_t, t)
            return self._entries_kept.get((n, watched.removed), lambda: tuple(sorted(
                c for c in self.entry_conn[:n] if c not in watched.removed)))
        if t >= call.ret:
            on = self._arrived_between(call.ret, t) | (set() if edge else set(call.returned))
        else:
            before = calls[k - 1] if k >= 1 else None
            since = before.ret if before is not None else -math.inf
            on = self._arrived_between(since, t)
            if not edge and before is not None:
                on |= {c for c in before.returned if self._readable_now(c, t)}
        return tuple(sorted(c for c in on if self.ctl_at.get(c, math.inf) <= t
                            and c not in watched.removed))

    def _callback(self, t: float) -> tuple[int, float] | None:
        """The latest arrival on a registered socket: its callback put it on the ready list
        (looked for among the last few arrivals only: older ones are no news)."""
        k = bisect_right(self.arrival_t, t)
        for j in range(k - 1, max(-1, k - 1 - LOOK_BACK), -1):
            conn = self.arrival_conn[j]
            if self.ctl_at.get(conn, math.inf) <= self.arrival_t[j]:
                return conn, self.arrival_t[j]
        return None

    def signal_state(self, t: float) -> Signals | None:
        model = self.run.model
        if model not in CODE_SIGNALS and not self.signals:
            return None
        name = "SIGIO" if model != "aio" else "the completion signal"
        handler = self._in_handler(t)
        delivered = bisect_right(self.signal_t, t)
        pending: bool | None = None
        merged = 0
        if self.sim:
            k = bisect_right(self.pending_t, t) - 1
            pending = k >= 0 and t < self._pending[k][1]
            merged = bisect_right(self._pending[k][2], t) if pending else 0
        queued: tuple[int, ...] = ()
        if self.setsig:
            queued = self._queued_realtime(t)
        return Signals(name, CODE_SIGNALS.get(model, "SIGIO"), handler, delivered, pending,
                       merged, self.setsig, queued, self.server.cause(t))

    def _queued_realtime(self, t: float) -> tuple[int, ...]:
        """F_SETSIG: every arrival queues its own signal, carrying its descriptor; each
        delivery takes the oldest."""
        k = bisect_right(self.arrival_t, t)
        raised = [c for c, at in zip(self.arrival_conn[:k], self.arrival_t[:k], strict=True)
                  if self.async_from.get(c, math.inf) <= at]
        return tuple(raised[bisect_right(self.signal_t, t):])

    def aio_state(self, t: float) -> Aio | None:
        if self.run.model != "aio":
            return None
        ring = not self.sim
        requests = tuple(self._kept_request(conn, t, ring) for conn in self.aio_conns)
        return Aio(ring, requests, bisect_right(self.submit_t, t),
                   bisect_right(self.collect_t, t))

    def _kept_request(self, conn: int, t: float, ring: bool) -> Request:
        """``conn``'s read, kept while it and its socket do not change."""
        return self._requests.get(conn, bisect_right(self.read_changes(conn), t),
                                  lambda: self._request(conn, t, ring))

    def _request(self, conn: int, t: float, ring: bool) -> Request:
        name = self.name(conn)
        subs = self.submits.get(conn, [])
        k = bisect_right(subs, t) - 1
        if k < 0:
            return Request(conn, name, "none")
        since = subs[k]
        collects = self.collects.get(conn, [])
        if ring:
            c = bisect_right(collects, t) - 1
            reaped = c >= 0 and collects[c] >= since
            return Request(conn, name, "reaped" if reaped else "in flight")
        completes = self.completes.get(conn, [])
        c = bisect_left(completes, since)
        done = completes[c] if c < len(completes) else math.inf
        if done <= t:
            n = self._read_bytes(conn, done)
            g = bisect_left(collects, done)
            collected = g < len(collects) and collects[g] <= t
            return Request(conn, name, "collected" if collected else "done", n)
        copying = any(t0 <= t < t1 for m in self._queue_of(conn, t)
                      for t0, t1, _ in self.remaining.get(m, []))
        return Request(conn, name, "copying" if copying else "waiting")

    def _read_bytes(self, conn: int, end: float) -> int | None:
        read = self._read_at(conn, end)
        return read.nbytes if read is not None else None

    def threads(self, t: float) -> tuple[Thread, ...]:
        if not self.thread_names:
            return (self._thread(0, "main thread", t),)
        return tuple(self._thread(lane, name, t) for lane, name in self.thread_names.items())

    def _thread(self, lane: int, name: str, t: float) -> Thread:
        """A thread's state, kept while its lane has no event beginning or ending."""
        return self._threads.get(lane, bisect_right(self._lane_changes(lane), t),
                                 lambda: Thread(name, *self._doing(lane, t)))

    def _lane_changes(self, lane: int) -> array:
        """When a thread's lane begins or ends one of its events (its state changes only
        there), and the run's end (built on first use: c10k has 10,100 threads)."""
        found = self._lanes_changes.get(lane)
        if found is None:
            tracks = self.tracks.lanes.get(lane)
            times = [*tracks.everything.t0, *tracks.everything.t1] if tracks else []
            found = self._lanes_changes[lane] = array("d", sorted([*times, self.run.end_us]))
        return found

    def _doing(self, lane: int, t: float) -> tuple[Doing, str]:
        run = self.run
        tracks = self.tracks.lanes.get(lane)
        if tracks is None or t >= run.end_us:
            return Doing.ENDED, ""
        k = tracks.spans.covering(t)
        handler = tracks.handlers.covering(t) >= 0
        if k < 0:
            last = tracks.everything.latest(t)
            if last < 0:
                return Doing.NOT_STARTED, ""
            i = tracks.everything.event[last]
            if run.kind[i] == Kind.EOF and run.lanes[lane].role == "thread":
                return Doing.ENDED, "its peer closed"
            return Doing.RUNNING, "the signal handler" if handler else "between recorded events"
        i = tracks.spans.event[k]
        kind = run.kind[i]
        label = run.labels[run.label[i]]
        call = run.code[run.line[i]] if run.line[i] >= 0 else label
        if kind == Kind.BLOCKED:
            if label == COPY_LABEL:
                return Doing.IN_CALL, f"{call}: the kernel copies the data (phase 2)"
            if label == GIL_LABEL:
                return Doing.RUNNABLE, "waiting for the GIL"
            if "GIL" in label:
                return Doing.RUNNABLE, "handed the GIL: the CPU switches to it"
            if label == ALL_BLOCKED_LABEL:
                return Doing.BLOCKED, "every thread"
            woken = any(run.kind[tracks.results.event[j]] == Kind.WAKEUP
                        for j in tracks.results.at(run.t0[i])) and \
                not tracks.calls.at(run.t0[i])  # a call made at its wake-up's instant sleeps
            if woken:
                return Doing.RUNNABLE, f"woken in {call}, not running yet"
            return Doing.BLOCKED, f"in {call}"
        if kind == Kind.IN_KERNEL:
            return Doing.IN_CALL, call
        if kind == Kind.DELIVERY:
            return Doing.IN_KERNEL, "delivering the signal"
        if kind == Kind.PROCESS:
            return Doing.RUNNING, "process(), in the signal handler" if handler else \
                "process()"
        if kind == Kind.WORK:
            return Doing.RUNNING, "own work"
        return Doing.RUNNING, "the signal handler" if handler else "between calls"

    # -- the lit line's values ----------------------------------------------------------------

    def variables(self, t: float, lane: int, key: str | None,
                  mux: Multiplexer | None) -> tuple[Variable, ...]:
        """The values the lit line uses, and those of the frames around it, as Python Tutor
        shows them: inside the loop over what a multiplexer returned, that list; inside a
        signal handler, its signal."""
        if key is None or not self.has_program:
            return ()
        signum = CODE_SIGNALS.get(self.run.model)
        if signum and key != "handler" and self._in_handler(t):
            return (Variable("signum", signum),) + self._line_values(t, lane, key, mux)
        return self._line_values(t, lane, key, mux)

    def _line_values(self, t: float, lane: int, key: str,
                     mux: Multiplexer | None) -> tuple[Variable, ...]:
        if key in MULTIPLEXERS and mux is not None:
            return self._mux_values(mux)
        if key in READS or key == "process":
            looped = self._mux_values(mux) if mux is not None and \
                mux.phase is Phase.RETURNED else ()
            return looped + self._read_values(t, lane, key)
        conn = self._latest_conn(t, lane)
        if key.startswith("epoll_ctl") and conn is not None and conn >= 0:
            return (Variable("fd", self._fd_value(conn)),)
        if key.startswith("fcntl") and conn is not None:
            return (Variable("sock", self.name(conn)),)
        if key == "aio_read" and conn is not None:
            size = f"{self.buffer:,}" if self.buffer else "?"
            return (Variable("sock", self.name(conn)), Variable("buf", f"bytearray({size})"))
        if key == "handler":
            return (Variable("signum", CODE_SIGNALS.get(self.run.model, "SIGIO")),)
        return ()

    def _fd_value(self, conn: int) -> str:
        return str(FIRST_FD + conn) if self.sim else f"(conn {conn})"

    def _latest_conn(self, t: float, lane: int) -> int | None:
        tracks = self.tracks.lanes.get(lane)
        if tracks is None:
            return None
        k = tracks.calls.latest(t)
        return self.run.conn[tracks.calls.event[k]] if k >= 0 else None

    def _read_values(self, t: float, lane: int, key: str) -> tuple[Variable, ...]:
        calls = self.calls.get(lane, [])
        k = bisect_right(self.call_t.get(lane, ()), t) - 1
        if k < 0:
            return ()
        call = calls[k]
        name = "n" if call.key == "aio_return" else "data"
        sock = Variable("sock", self.name(call.conn))
        if t < call.ret:
            return sock, Variable(name, f"(not returned yet: {call.key} is under way)",
                                  ("(not returned yet)",))
        if call.result == Kind.EWOULDBLOCK:
            return sock, Variable(name, "BlockingIOError: EWOULDBLOCK, nothing queued",
                                  ("EWOULDBLOCK",))
        if call.result == Kind.EOF:
            return sock, Variable(name, "b'': 0 bytes, the peer closed", ("b''",))
        read = self._read_at(call.conn, call.ret)
        if call.key == "aio_return":  # n = aio_return(sock): the bytes in the buffer
            n = read.nbytes if read is not None else None
            out = [sock, Variable(name, f"{n:,}" if n is not None else "(not recorded)")]
            if read is not None:
                out.append(Variable("buf[:n]", self.read_words(read).split(" = ")[-1]))
        else:
            words = self.read_words(read)
            out = [sock, Variable(name, words, (words.split(" = ")[0],))]
        if key == "process":
            doing = self.processing.get(lane, [])
            j = bisect_right(self.processing_t.get(lane, ()), t) - 1
            if j >= 0 and doing[j][1] > t:
                out.append(Variable("process()", f"on {self.msg_words([doing[j][2]])}"))
        return tuple(out)

    def read_words(self, read: Read | None) -> str:
        """"3,072 bytes = messages 2-4" (a partly read message says so)."""
        if read is None:
            return "returned (its bytes are not recorded)"
        n = read.nbytes
        size = f"{n:,} bytes" if n is not None else "some bytes"
        msgs = [m for m, _, _, _ in read.parts]
        if all(first and final for _, _, first, final in read.parts):
            return f"{size} = {self.msg_words(msgs)}"
        parts = []
        for m, part, first, final in read.parts:
            what = self.msg_words([m])
            if first and final:
                parts.append(what)
            elif part is None:
                parts.append(f"part of {what}")
            else:
                which = "the first " if first else "the last " if final else ""
                parts.append(f"{which}{part:,} of {int(self.run.m_bytes[m]):,} bytes of {what}")
        return f"{size} = {' + '.join(parts)}"

    def msg_words(self, msgs: Sequence[int]) -> str:
        return msg_words(self.udp, msgs, listed=6)

    def _mux_values(self, mux: Multiplexer) -> tuple[Variable, ...]:
        names = {"select": "readable", "poll": "poller.poll()", "epoll": "ep.poll()"}
        name = names[mux.family]
        waiting = Variable(name, f"(not returned yet: {mux.call} is under way)",
                           ("(not returned yet)",))
        if mux.phase is not Phase.RETURNED:
            if mux.family == "select" and mux.watched is not None:
                listener = ["listener"] * mux.listening
                conns = listener + [self.name(c) for c in mux.watched.head(6)]
                return (Variable("socks", *_listed(conns, len(mux.watched) + mux.listening,
                                                   "sockets")), waiting)
            return (waiting,)
        event = {"select": "", "poll": "POLLIN", "epoll": "EPOLLIN"}[mux.family]
        if mux.only_writable:
            event = event.replace("IN", "OUT")
        items = ["listener"] * mux.listener_ready + [
            self.name(c) if not event else f"({self._fd_value(c)}, {event})"
            for c in mux.returned[:6]]
        noun = "sockets" if not event else "events"
        return (Variable(name, *_listed(items, len(mux.returned) + mux.listener_ready,
                                        noun)),)

    # -- the state ----------------------------------------------------------------------------

    def unknown(self) -> str:
        """What this run's trace cannot say, in one sentence ("" for a simulation)."""
        run = self.run
        if run.source == "sim":
            return ""
        if run.source == "real":
            return ("A real run: queues come from the kernel's arrival stamps and the bytes "
                    "each read returned; descriptors, the kernel's ready list and a pending "
                    "signal are not recorded, so they are not shown.")
        estimated = any(f & READY_ESTIMATED for f in run.m_flags)
        arrivals = ("arrivals are estimated from the calls" if estimated
                    else "arrivals come from the kernel's tracepoints")
        return (f"A traced run: the calls strace saw and the bytes they returned ({arrivals}); "
                "the sets a call watched, the kernel's ready list and pending signals are not "
                "recorded.")

    def at(self, t: float, lane: int = 0) -> State:
        """The state at ``t``; ``lane`` is the thread whose line is lit (0: the process)."""
        run = self.run
        key = self.explainer.line_at(t, lane) if t >= 0 else None
        lit = self._latest_conn(t, lane) if key in READS or key == "process" else None
        sockets, unlisted, unlisted_busy, queued = self.sockets(t, lit)
        mux = self.multiplexer(t, lane)
        nonblocking = self.nonblocking_reads or run.model in ("nonblocking", "sigio") or \
            (self.replies and mux is not None)  # a multiplexed server that replies
        return State(
            t=t, model=run.model, source=run.source, udp=self.udp,
            read_call="aio_read" if run.model == "aio" else "recvfrom", buffer=self.buffer,
            sockets=sockets, unlisted=unlisted, unlisted_busy=unlisted_busy, queued_msgs=queued,
            nonblocking=nonblocking,
            multiplexer=mux, signals=self.signal_state(t), aio=self.aio_state(t),
            threads=self.threads(t), line=key,
            variables=self.variables(t, lane, key, mux), unknown=self.unknown(),
            error=run.error if run.error and t >= run.end_us else None,
            listener=self.server.listener(t, self.thread_names),
            sends=self.server.sends(t, self.name), replies=self.replies)


def state_at(run: Run, t: float, lane: int = 0) -> State:
    """The state of ``run`` at ``t`` (builds the run's tables: a caller asking often keeps a
    StateIndex)."""
    return StateIndex(run).at(t, lane)
