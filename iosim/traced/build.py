"""strace's calls, and the kernel's arrival times where they were recorded, -> a Run that looks
like the simulated and captured ones, so the view, the summary and the exporters read it as is.

Lanes: "application" is the main thread of the process that does the network IO; every other
thread (or child process) that made a call iosim reads has a lane of its own; each connection
(a TCP socket's two addresses, or a UDP socket and its sender) has a kernel lane.

On a lane, a call that slept is blocked time, labelled as the captures label it; a call that did
not is in-kernel time; the time between two calls is the program's own code. A call slept when
the kernel's arrival came after the call had started, or, without the kernel's side (or for a
call no arrival explains: an accept, a select woken by a new connection), when it lasted
``SLEPT_NS`` or more on a socket in blocking mode: under strace a call that returns at once takes
tens of microseconds, a wait for a client's next message milliseconds.

Phase 1 of a message ends at the kernel's sk_data_ready for the segment or datagram that carried
it. Without the kernel's side it is bracketed from the calls and flagged READY_ESTIMATED: the
return of the select/poll/epoll_wait that reported it readable (or of the SIGIO that announced
it), else the last EWOULDBLOCK on that socket before the read that got it, else the return of a
read that slept for it, else the entry of the read that found it already there.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Any

from iosim.derive import kernel_phases
from iosim.real.record import Messages
from iosim.trace import COPY_LABEL, READY_ESTIMATED, Kind, Lane, Run, RunRecorder
from iosim.traced.kernel import KernelEvents
from iosim.traced.strace import (
    Call,
    Exit,
    Inet,
    Record,
    Signal,
    first_fd,
    inet_socket,
    nth_arg,
    peer_of,
)

SLEPT_NS = 200_000
READS = frozenset({"read", "readv", "recvfrom", "recvmsg", "recvmmsg"})
SENDS = frozenset({"write", "writev", "sendto", "sendmsg", "sendmmsg"})
ACCEPTS = frozenset({"accept", "accept4"})
MULTIPLEXERS = {"select": "select", "pselect6": "select", "poll": "poll", "ppoll": "poll",
                "epoll_wait": "epoll_wait", "epoll_pwait": "epoll_wait",
                "epoll_pwait2": "epoll_wait"}
# calls kept only when their first argument is a TCP or UDP socket
ON_SOCKETS = READS | SENDS | ACCEPTS | {"bind", "listen", "connect", "close", "fcntl", "ioctl"}
ALWAYS = frozenset({"epoll_create", "epoll_create1", "epoll_ctl", "io_uring_enter",
                    "clone", "clone3", "fork", "vfork", *MULTIPLEXERS})
MAY_SLEEP = READS | SENDS | ACCEPTS | {"connect", "io_uring_enter"}
SIGIO_NAMES = ("SIGIO", "SIGPOLL")
WOULDBLOCK = ("EAGAIN", "EWOULDBLOCK")
WORK_LABEL = "own code (between traced calls)"
TRACER_LABEL = "held by strace at the return (the cost of tracing)"
SIGNAL_LABEL = "deliver SIGIO"
SIGACTION_LABEL = "establish SIGIO signal handler"
HANDLER_LINE = "handler"


def multiplexer_label(family: str) -> str:
    return (f"process blocks in call to {family}, waiting for one of possibly many sockets to "
            "become readable")


@dataclass
class Scripted:
    """The scenario a client played: messages numbered as the simulator numbers them."""

    plan: list[list[tuple[int, int]]]
    sent_ns: list[int]
    peers: dict[tuple[str, int], int]  # the client's address of each connection -> its number


@dataclass(slots=True)
class Step:
    """A call iosim keeps, decoded once: its socket, connection and line key."""

    call: Call
    fd: int
    annotation: str
    inet: Inet | None
    conn: int
    key: str


@dataclass(slots=True)
class SocketState:
    sk: int = 0  # the kernel's address of the socket (0: unknown)
    consumed_ns: int = 0  # return of the last read that got data
    last_eagain_ns: int = 0
    next_arrival: int = 0  # index of the first arrival not yet read
    last_arrival_ns: int = 0
    filled: bool = False  # the last read filled its buffer: data may be left over
    opened_ns: int = 0  # when the program's socket() returned it (0: unknown, or accepted)


@dataclass
class Tasks:
    """Threads and processes: which process each task belongs to, and which is the main."""

    tgid: dict[int, int] = field(default_factory=dict)

    def learn(self, call: Call) -> None:
        if call.name in ("clone", "clone3", "fork", "vfork") and call.result and call.result > 0:
            parent = self.tgid.get(call.tid, call.tid)
            self.tgid[call.result] = parent if "CLONE_THREAD" in call.args else call.result

    def process_of(self, tid: int) -> int:
        return self.tgid.get(tid, tid)


def line_key(call: Call) -> str:
    """A call's line key is its name, with the command where one name covers several."""
    if call.name in ("fcntl", "epoll_ctl", "ioctl"):
        return f"{call.name} {nth_arg(call.args, 1)}"
    return call.name


def _nonblocking_change(call: Call) -> bool | None:
    """The socket's new O_NONBLOCK state after this call, or None if it does not change."""
    if call.result is None or call.result < 0:
        return None
    if call.name in ("socket", "accept4"):
        return "SOCK_NONBLOCK" in call.args
    if call.name == "accept":
        return False
    if call.name == "fcntl" and nth_arg(call.args, 1) == "F_SETFL":
        return "O_NONBLOCK" in nth_arg(call.args, 2)
    if call.name == "ioctl" and nth_arg(call.args, 1) == "FIONBIO":
        return nth_arg(call.args, 2) != "[0]"
    return None


class Builder:
    """Two passes over the records: the first finds tasks, connections and the kernel's
    socket addresses (the lanes must be known before anything is recorded), the second
    records every kept call, signal and message."""

    def __init__(self, records: list[Record], t0_ns: int, model: str, protocol: str,
                 scripted: Scripted | None, kernel: KernelEvents | None) -> None:
        self.t0 = t0_ns
        self.protocol = protocol
        self.scripted = scripted
        self.kernel = kernel
        self.records = sorted(records, key=_start_ns)
        self.next_enter = _next_enter(self.records)
        self.tasks = Tasks()
        self.conn_ids: dict[tuple[str, Any, Any], int] = {}
        self.next_conn = len(scripted.plan) if scripted else 0
        self.sockets: dict[str, SocketState] = {}
        self.nonblocking: dict[tuple[int, int], bool] = {}
        self.steps = self._scan()
        self.main = self._main_process()
        lanes, self.kernel_lanes, self.task_lanes = self._lanes()
        self.rec = RunRecorder(model, "traced", lanes)
        self.messages = Messages(scripted.plan if scripted else None)
        self.ready_word = "datagram ready" if protocol == "udp" else "data ready"
        if scripted is not None:
            for msg, conn, nbytes in sorted((msg, conn, nbytes) for conn, sends in
                                            enumerate(scripted.plan) for msg, nbytes in sends):
                self.rec.message(conn, nbytes, self.us(scripted.sent_ns[msg]), math.nan)
        self.busy: dict[int, list[tuple[float, float]]] = {}
        self.last_readable: dict[int, int] = {}
        self.last_sigio: dict[int, int] = {}
        self.awaiting_done: dict[int, list[int]] = {}
        self.process_arrivals = self._process_arrivals()

    def us(self, t_ns: int) -> float:
        return (t_ns - self.t0) / 1000.0

    # -- pass 1 ----------------------------------------------------------------------------

    def _scan(self) -> list[Step | Signal | Exit]:
        """The calls, SIGIOs and ends that matter, of the processes that use the network
        (a launcher's helper processes, a shell's subshells, are left out)."""
        steps: list[Step | Signal | Exit] = []
        for record in self.records:
            if isinstance(record, Call):
                self.tasks.learn(record)
                step = self._step(record)
                if step is not None:
                    steps.append(step)
            elif isinstance(record, Exit) or record.name in SIGIO_NAMES:
                steps.append(record)
        networked = {self.tasks.process_of(s.call.tid) for s in steps
                     if isinstance(s, Step) and s.inet is not None}
        steps = [s for s in steps
                 if self.tasks.process_of(_tid(s)) in networked or not networked]
        if self.kernel is not None:
            self._find_kernel_sockets(steps)
        return steps

    def _step(self, call: Call) -> Step | None:
        fd, annotation = first_fd(call.args)
        inet = inet_socket(annotation)
        if call.name == "socket":
            inet = inet_socket(call.annotation)
            if inet is None:
                return None
            fd, annotation = call.result or -1, call.annotation
        elif call.name == "rt_sigaction":
            if nth_arg(call.args, 0) not in SIGIO_NAMES:
                return None
        elif call.name in ON_SOCKETS:
            if inet is None:
                return None
        elif call.name not in ALWAYS:
            return None
        conn = -1
        if call.name in ACCEPTS:
            accepted = inet_socket(call.annotation)
            conn = self._conn(call, accepted) if accepted else -1
        elif inet is not None:
            conn = self._conn(call, inet)
        return Step(call, fd, annotation, inet, conn, line_key(call))

    def _conn(self, call: Call, inet: Inet) -> int:
        """A connection's number: the scenario's for the client's sockets, else the next free
        one in order of appearance; -1 for a socket that is not a connection (a listener)."""
        peer = peer_of(call, inet)
        if peer is None and not (call.name in READS and (call.result or 0) > 0):
            return -1  # a listener, an unconnected socket (a read of data is a connection)
        ident = (inet.proto, inet.local, peer)
        conn = self.conn_ids.get(ident)
        if conn is None:
            conn = self.scripted.peers.get(peer, -1) if self.scripted else -1
            if conn < 0:
                conn, self.next_conn = self.next_conn, self.next_conn + 1
            self.conn_ids[ident] = conn
        return conn

    def _find_kernel_sockets(self, steps: list[Step | Signal | Exit]) -> None:
        """Each socket's kernel address, from the kernel's record of a receive on it, and
        the first of its arrivals that are its own: a kernel address is reused once a socket
        is freed, so arrivals before this socket was born belonged to another. A TCP socket is
        born when its connection is established (data may arrive before accept() returns it),
        a UDP socket when socket() returns it."""
        assert self.kernel is not None
        opened: dict[tuple[int, int], int] = {}
        for step in steps:
            if not isinstance(step, Step):
                continue
            c = step.call
            tgid = self.tasks.process_of(c.tid)
            if c.name == "socket" and c.result is not None and c.result >= 0:
                opened[(tgid, c.result)] = c.return_ns
            elif c.name in ACCEPTS and c.result is not None:
                opened.pop((tgid, c.result), None)
            if c.name not in READS or step.inet is None:
                continue
            state = self.sockets.get(step.annotation)
            if state is None:
                state = self.sockets[step.annotation] = SocketState(
                    opened_ns=opened.get((tgid, step.fd), 0))
            if state.sk:
                continue
            got = self._kernel_receive(c)
            if got is None:
                continue
            state.sk = got[1]
            born = self.kernel.born.get(state.sk, [])
            i = bisect_right(born, got[0])
            floor = born[i - 1] if step.inet.proto == "tcp" and i else state.opened_ns
            state.next_arrival = bisect_left(self.kernel.arrivals.get(state.sk, []), floor)

    def _main_process(self) -> int:
        """The process that does the network IO: the first to make a call on a socket."""
        for step in self.steps:
            if isinstance(step, Step) and step.inet is not None:
                return self.tasks.process_of(step.call.tid)
        return self.tasks.process_of(_tid(self.steps[0])) if self.steps else 0

    def _lanes(self) -> tuple[list[Lane], dict[int, int], dict[int, int]]:
        lanes = [Lane("application", "app")]
        with_data: set[int] = set()
        if self.scripted is not None:
            with_data.update(conn for conn, sends in enumerate(self.scripted.plan) if sends)
        first_conn: dict[int, int] = {}
        tids: list[int] = []
        for step in self.steps:
            if isinstance(step, Exit):
                continue
            tid = _tid(step)
            if tid != self.main and tid not in tids:
                tids.append(tid)
            if isinstance(step, Step) and step.call.name in READS and step.conn >= 0 \
                    and (step.call.result or 0) > 0:
                with_data.add(step.conn)
                first_conn.setdefault(tid, step.conn)
        kernel_lanes: dict[int, int] = {}
        for conn in sorted(with_data):
            kernel_lanes[conn] = len(lanes)
            lanes.append(Lane(f"kernel conn {conn}", "kernel", conn))
        task_lanes = {self.main: 0}
        for tid in tids:
            task_lanes[tid] = len(lanes)
            kind = "thread" if self.tasks.process_of(tid) == self.main else "process"
            lanes.append(Lane(f"{kind} {tid}", "thread", first_conn.get(tid, -1)))
        return lanes, kernel_lanes, task_lanes

    def _kernel_receive(self, c: Call) -> tuple[int, int] | None:
        assert self.kernel is not None
        result = -11 if c.errno in WOULDBLOCK else (c.result if c.result is not None else 0)
        return self.kernel.receive(c.tid, c.enter_ns, self.next_enter[c], result)

    def _process_arrivals(self) -> dict[int, list[int]]:
        """Per process, the arrival times on all its sockets: what may wake its select."""
        if self.kernel is None:
            return {}
        own: dict[int, dict[int, int]] = {}  # process -> socket address -> first own arrival
        for step in self.steps:
            if isinstance(step, Step) and step.inet is not None:
                state = self.sockets.get(step.annotation)
                if state is not None and state.sk:
                    own.setdefault(self.tasks.process_of(step.call.tid), {}).setdefault(
                        state.sk, state.next_arrival)
        return {tgid: sorted(t for sk, first in found.items()
                             for t in self.kernel.arrivals.get(sk, [])[first:])
                for tgid, found in own.items()}

    # -- recording, clipped at t = 0 --------------------------------------------------------

    def instant(self, kind: Kind, lane: int, t: float, label: str, conn: int = -1,
                msg: int = -1, line: str = "") -> None:
        if t >= 0:
            self.rec.instant(kind, lane, t, label, conn, msg, line)

    def span(self, kind: Kind, lane: int, t0: float, t1: float, label: str, conn: int = -1,
             msg: int = -1, line: str = "") -> None:
        self.rec.span(kind, lane, max(t0, 0.0), t1, label, conn, msg, line)

    # -- pass 2 ----------------------------------------------------------------------------

    def build(self) -> None:
        for step in self.steps:
            if isinstance(step, Step):
                self.call(step)
            elif isinstance(step, Signal) and step.name in SIGIO_NAMES:
                self.last_sigio[self.tasks.process_of(step.tid)] = step.t_ns
                lane = self.task_lanes.get(step.tid, 0)
                self.instant(Kind.SIGNAL, lane, self.us(step.t_ns), SIGNAL_LABEL,
                             line=HANDLER_LINE)

    def blocking(self, step: Step) -> bool:
        """Whether the call's socket is in blocking mode (as the calls so far set it)."""
        return not self.nonblocking.get((self.tasks.process_of(step.call.tid), step.fd), False)

    def slept(self, step: Step) -> bool:
        c = step.call
        return c.name in MAY_SLEEP and c.return_ns - c.enter_ns >= SLEPT_NS \
            and self.blocking(step)

    def _return_ns(self, step: Step) -> tuple[int, int, int | None]:
        """When the call returned (to the program), when the kernel was done with it, and for
        a select/poll/epoll_wait the arrival that woke it.

        strace's entry time plus its duration can fall short of the return by the time strace
        took to decode the arguments (each socket's addresses): the arrival that woke a
        multiplexer, or the kernel's record of a receive, is then later and taken instead. A
        receive the kernel finished before strace let the program go (strace stops the program
        at every return, and on a busy machine may itself wait for a CPU) ends its copy at the
        kernel's record; the rest is the tracer's."""
        c = step.call
        if self.kernel is None or c.result is None:
            return c.return_ns, c.return_ns, None
        if c.name in READS and step.inet is not None:
            got = self._kernel_receive(c)
            if got is None:
                return c.return_ns, c.return_ns, None
            return max(c.return_ns, got[0]), got[0], None
        if c.name in MULTIPLEXERS and c.result > 0:
            woke = self._woken_by(c)
            ret = c.return_ns if woke is None else max(c.return_ns, woke)
            return ret, ret, woke
        return c.return_ns, c.return_ns, None

    def call(self, step: Step) -> None:
        c = step.call
        lane = self.task_lanes.get(c.tid, 0)
        return_ns, done_ns, woke = self._return_ns(step)
        e, r = self.us(c.enter_ns), self.us(return_ns)
        for msg in self.awaiting_done.pop(c.tid, ()):
            self.rec.run.m_done[msg] = e
        self.busy.setdefault(lane, []).append((e, r))
        self.instant(Kind.SYSCALL, lane, e, c.name, step.conn, line=step.key)
        if c.name in READS and step.inet is not None:
            self.read(step, lane, e, r, done_ns)
        elif c.name in MULTIPLEXERS:
            self.multiplexer(step, lane, e, r, woke, return_ns)
        elif c.errno in WOULDBLOCK:
            self.span(Kind.IN_KERNEL, lane, e, r, c.name, step.conn, line=step.key)
            self.instant(Kind.EWOULDBLOCK, lane, r, "EWOULDBLOCK", step.conn, line=step.key)
        elif self.slept(step):
            self.span(Kind.BLOCKED, lane, e, r, f"process blocks in call to {c.name}",
                      step.conn, line=step.key)
        else:
            label = SIGACTION_LABEL if c.name == "rt_sigaction" else step.key
            self.span(Kind.IN_KERNEL, lane, e, r, label, step.conn, line=step.key)
        if c.name in ACCEPTS and c.result is not None and c.result >= 0:
            self.instant(Kind.RETURN, lane, r, "return OK", step.conn, line=step.key)
        self._track_mode(step)

    def _track_mode(self, step: Step) -> None:
        c = step.call
        changed = _nonblocking_change(c)
        if changed is None:
            return
        fd = c.result if c.name in ACCEPTS and c.result is not None else step.fd
        self.nonblocking[(self.tasks.process_of(c.tid), fd)] = changed

    def read(self, step: Step, lane: int, e: float, r: float, done_ns: int) -> None:
        """A receive: EWOULDBLOCK, end of file, or data: the wait for it (a blocking read that
        slept), the copy, then the tracer's hold on the return (``done_ns``: the kernel's
        end of the call, when known)."""
        c = step.call
        state = self.sockets.setdefault(step.annotation, SocketState())
        blocked_label = f"process blocks in call to {c.name}"
        if c.errno in WOULDBLOCK:
            self.span(Kind.IN_KERNEL, lane, e, r, c.name, step.conn, line=step.key)
            self.instant(Kind.EWOULDBLOCK, lane, r, "EWOULDBLOCK", step.conn, line=step.key)
            state.last_eagain_ns = c.return_ns
            return
        if c.result is None or c.result <= 0 or c.name == "recvmmsg":
            if c.result == 0:
                self._take_arrivals(step, state, done_ns)  # the FIN, an empty datagram
            kind = Kind.BLOCKED if self.slept(step) or not c.returned else Kind.IN_KERNEL
            self.span(kind, lane, e, r, blocked_label if kind == Kind.BLOCKED else c.name,
                      step.conn, line=step.key)
            if c.result == 0:
                self.instant(Kind.EOF, lane, r, "return 0 (peer closed)", step.conn,
                             line=step.key)
            return
        arrivals, estimated = self._arrivals(step, state, done_ns)
        first = min(arrivals)
        done = self.us(done_ns)
        copy_from = e
        waited = self.slept(step) if estimated else first > c.enter_ns and self.blocking(step)
        if waited:
            copy_from = min(max(self.us(first), e), done)
            self.span(Kind.BLOCKED, lane, e, copy_from, blocked_label, step.conn, line=step.key)
            self.instant(Kind.WAKEUP, lane, copy_from, "wake up", step.conn, line=step.key)
        self.span(Kind.BLOCKED, lane, copy_from, done, COPY_LABEL, step.conn, line=step.key)
        self.span(Kind.OVERHEAD, lane, done, r, TRACER_LABEL, step.conn, line=step.key)
        self.instant(Kind.RETURN, lane, r, "return OK", step.conn, line=step.key)
        state.consumed_ns = done_ns
        state.filled = c.name in ("read", "recvfrom") and nth_arg(c.args, 2) == str(c.result)
        self._messages(step, arrivals, estimated, copy_from, e, done)

    def _arrivals(self, step: Step, state: SocketState,
                  done_ns: int) -> tuple[list[int], bool]:
        """The kernel's arrival times of the data this read took, or one estimate."""
        if self.kernel is not None and state.sk:
            taken = self._take_arrivals(step, state, done_ns)
            if taken:
                return taken, False
            if state.last_arrival_ns and state.filled:  # the rest of an earlier segment
                return [state.last_arrival_ns], False
        return [self._estimate(step, state)], True

    def _take_arrivals(self, step: Step, state: SocketState, done_ns: int) -> list[int]:
        """The arrivals a read consumed: a UDP read takes one datagram, a TCP read what had
        arrived by the time the kernel finished it."""
        if self.kernel is None or not state.sk:
            return []
        times = self.kernel.arrivals.get(state.sk, [])
        stop = bisect_right(times, done_ns)
        if step.inet is not None and step.inet.proto == "udp":
            stop = min(stop, state.next_arrival + 1)
        taken = times[state.next_arrival:stop]
        if taken:
            state.next_arrival = stop
            state.last_arrival_ns = taken[-1]
        return taken

    def _estimate(self, step: Step, state: SocketState) -> int:
        c = step.call
        since = state.consumed_ns
        seen = [t for t in (self.last_readable.get(c.tid, 0),
                            self.last_sigio.get(self.tasks.process_of(c.tid), 0))
                if since < t <= c.enter_ns]
        if seen:
            return max(seen)
        if since < state.last_eagain_ns <= c.enter_ns:
            return state.last_eagain_ns
        return c.return_ns if self.slept(step) else c.enter_ns

    def _messages(self, step: Step, arrivals: list[int], estimated: bool, copy_from: float,
                  e: float, r: float) -> None:
        c = step.call
        run = self.rec.run
        conn = step.conn
        parts = self.messages.take(conn, c.result or 0) if self.scripted else []
        if not parts:
            ready = self.us(arrivals[0])
            msg = self.rec.message(conn, c.result or 0, ready, math.nan)
            parts = [(msg, c.result or 0, True)]
        total = sum(n for _, n, _ in parts) or 1
        lane = self.kernel_lanes.get(conn, 0)
        t = copy_from
        for msg, n, done in parts:
            if run.m_copy_start[msg] != run.m_copy_start[msg]:  # NaN: its first bytes
                sent = run.m_sent[msg]
                after = [a for a in arrivals if self.us(a) >= sent] if sent == sent else []
                ready = self.us(after[0] if after else arrivals[-1])
                if estimated:  # a bracket: it cannot lie before the send nor after the read
                    ready = min(max(ready, sent) if sent == sent else ready, r)
                run.m_ready[msg] = ready
                run.m_copy_start[msg] = max(e, ready)
                if estimated:
                    run.m_flags[msg] |= READY_ESTIMATED
                self.instant(Kind.ARRIVAL, lane, ready, self.ready_word, conn, msg)
            share = (r - copy_from) * n / total
            self.span(Kind.COPY, lane, t, t + share, "copy data from kernel to user", conn, msg)
            t += share
            if done:
                run.m_copy_end[msg] = r
                self.awaiting_done.setdefault(c.tid, []).append(msg)

    def multiplexer(self, step: Step, lane: int, e: float, r: float, woke: int | None,
                    return_ns: int) -> None:
        c = step.call
        label = multiplexer_label(MULTIPLEXERS[c.name])
        long = return_ns - c.enter_ns >= SLEPT_NS
        if c.result is None or c.errno == "EINTR":  # interrupted by a signal, or still waiting
            self.span(Kind.BLOCKED, lane, e, r, label, line=step.key)
            return
        if c.result <= 0:  # a timeout (or an error)
            self.span(Kind.BLOCKED if long else Kind.IN_KERNEL, lane, e, r,
                      label if long else c.name, line=step.key)
            return
        if woke is not None:
            w = min(max(self.us(woke), e), r)
            self.span(Kind.BLOCKED, lane, e, w, label, line=step.key)
            self.instant(Kind.WAKEUP, lane, w, "wake up", line=step.key)
            self.span(Kind.BLOCKED, lane, w, r, label, line=step.key)
        elif long:
            self.span(Kind.BLOCKED, lane, e, r, label, line=step.key)
        else:
            self.span(Kind.IN_KERNEL, lane, e, r, c.name, line=step.key)
        self.instant(Kind.READABLE, lane, r, "return readable", line=step.key)
        self.last_readable[c.tid] = return_ns

    def _woken_by(self, c: Call) -> int | None:
        """The first arrival on one of the process's sockets while the call waited: after it
        entered, before the task's next call."""
        times = self.process_arrivals.get(self.tasks.process_of(c.tid), [])
        i = bisect_left(times, c.enter_ns + 1)
        return times[i] if i < len(times) and times[i] < self.next_enter[c] else None

    # -- the rest of the lanes -------------------------------------------------------------

    def fill_own_code(self, end: float) -> None:
        """The time between two calls on a task's lane is the program's own code, from the
        task's first call (t = 0 for the main one) to its end."""
        ends = {self.task_lanes[s.tid]: self.us(s.t_ns) for s in self.steps
                if isinstance(s, Exit) and s.tid in self.task_lanes}
        for lane, spans in self.busy.items():
            spans.sort()
            t = 0.0 if lane == 0 else spans[0][0]
            stop = min(ends.get(lane, end), end)
            for start, finish in spans + [(stop, stop)]:
                if start > t:
                    self.span(Kind.WORK, lane, t, min(start, stop), WORK_LABEL, line="work")
                t = max(t, finish)

    def finish(self, end_ns: int, error: str | None, **meta: Any) -> Run:
        end = self.us(end_ns)
        self.fill_own_code(end)
        kernel_phases(self.rec, self.kernel_lanes, end)
        before = sum(1 for s in self.steps if isinstance(s, Step) and s.call.enter_ns < self.t0)
        return self.rec.finish(end, error, sim_events=len(self.records),
                               calls_before_t0=before, **meta)


def _tid(step: Step | Signal | Exit) -> int:
    return step.call.tid if isinstance(step, Step) else step.tid


def _next_enter(records: list[Record]) -> dict[Call, int]:
    """For each call, when its task entered its next traced call (or ended): the kernel's
    record of the call lies before that, however late strace's own times are."""
    following: dict[Call, int] = {}
    last: dict[int, Call] = {}
    for record in records:
        if isinstance(record, Call | Exit):
            before = last.pop(record.tid, None)
            if before is not None:
                following[before] = _start_ns(record)
            if isinstance(record, Call):
                last[record.tid] = record
    for call in last.values():
        following[call] = max(call.return_ns, call.enter_ns) + 10**12  # nothing after it
    return following


def _start_ns(record: Record) -> int:
    return record.enter_ns if isinstance(record, Call) else record.t_ns


def build_run(records: list[Record], t0_ns: int, end_ns: int, *, model: str, protocol: str,
              scripted: Scripted | None, kernel: KernelEvents | None, error: str | None,
              **meta: Any) -> Run:
    """The Run of one traced program; times are µs since ``t0_ns`` (CLOCK_REALTIME)."""
    builder = Builder(records, t0_ns, model, protocol, scripted, kernel)
    builder.build()
    return builder.finish(end_ns, error, t0_ns=t0_ns, **meta)
