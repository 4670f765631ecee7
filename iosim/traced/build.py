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
from typing import Any

from iosim.derive import kernel_phases
from iosim.real.record import Messages
from iosim.trace import COPY_LABEL, READY_ESTIMATED, Kind, Run, RunRecorder
from iosim.traced.kernel import KernelEvents
from iosim.traced.scan import (
    ACCEPTS,
    MULTIPLEXERS,
    READS,
    RESTARTS,
    SENDS,
    SIGIO_NAMES,
    WOULDBLOCK,
    Scan,
    Scripted,
    SocketState,
    Step,
)
from iosim.traced.sockets import SocketTable
from iosim.traced.strace import Call, Exit, Record, Signal, nth_arg

SLEPT_NS = 200_000
MAY_SLEEP = READS | SENDS | ACCEPTS | {"connect", "io_uring_enter"}
# calls that do nothing but wait: blocked for as long as they last
SLEEPS = frozenset({"rt_sigsuspend", "pause", "nanosleep", "clock_nanosleep", "rt_sigtimedwait"})
WORK_LABEL = "own code (between traced calls)"
# between the end of a receive's copy (the kernel's stamp) and the return iosim recorded
TRACER_LABEL = "held by strace at the return (the cost of tracing)"
PERF_RETURN_LABEL = "in the kernel, returning from the call (perf records its exit)"
SIGNAL_LABEL = "deliver SIGIO"
SIGACTION_LABEL = "establish SIGIO signal handler"
HANDLER_LINE = "handler"
COPY_UNKNOWN_LABEL = ("process blocks in the call while data is copied (how long the copy "
                      "took is unknown without the kernel's stamps)")
KERNEL_COPY_UNKNOWN = "copy data from kernel to user (its length unknown)"
ENTRY_LABEL = "in the kernel, before the copy"


def signal_label(name: str) -> str:
    return f"deliver {name}"


def waits_for_good(call: Call) -> bool:
    """A call that waits whatever its duration: sleeping, waiting for a signal, for another
    thread (a futex wait), for a child (wait4 without WNOHANG)."""
    if call.name in SLEEPS:
        return True
    if call.name == "futex":
        return "FUTEX_WAIT" in nth_arg(call.args, 1)
    if call.name in ("wait4", "waitid"):
        return "WNOHANG" not in call.args
    return False


def multiplexer_label(family: str) -> str:
    return (f"process blocks in call to {family}, waiting for one of possibly many sockets to "
            "become readable")


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
    """The second pass (scan.py made the first): every kept call, signal and message
    recorded on its lane."""

    def __init__(self, scan: Scan, t0_ns: int, model: str, protocol: str) -> None:
        self.scan = scan
        self.t0 = t0_ns
        self.kernel = scan.kernel
        self.scripted = scripted = scan.scripted
        self.tasks, self.sockets, self.steps = scan.tasks, scan.sockets, scan.steps
        self.kernel_lanes, self.task_lanes = scan.kernel_lanes, scan.task_lanes
        self.nonblocking: dict[tuple[int, int], bool] = {}
        self.return_label = TRACER_LABEL
        self.rec = RunRecorder(model, "traced", scan.lanes)
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
        self.handler_from: dict[int, list[tuple[int, str]]] = {}  # task -> signals handled
        self.copies_unknown = 0
        self.sites: dict[tuple[int, int], int] = {}  # (task, entry) -> line of the source
        self.call_lines: dict[tuple[int, float], list[int]] = {}  # (lane, t) -> lines
        self.at_zero: dict[int, int] = {}  # lane -> line of the call it is in at t = 0

    def us(self, t_ns: int) -> float:
        return (t_ns - self.t0) / 1000.0

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
                if step.call.tid in self.task_lanes:
                    self.call(step)
            elif isinstance(step, Signal) and step.tid in self.task_lanes:
                self.signal(step)

    def signal(self, sig: Signal) -> None:
        """A signal delivered, named as what it is; where the program handles it, the
        handler runs until its rt_sigreturn."""
        if sig.name in SIGIO_NAMES:
            self.last_sigio[self.tasks.process_of(sig.tid)] = sig.t_ns
        lane = self.task_lanes[sig.tid]
        self.instant(Kind.SIGNAL, lane, self.us(sig.t_ns), signal_label(sig.name),
                     line=HANDLER_LINE)
        if sig.name in self.scan.handled:
            self.handler_from.setdefault(sig.tid, []).append((sig.t_ns, sig.name))

    def handler_end(self, c: Call, lane: int) -> None:
        started = self.handler_from.get(c.tid)
        if started:
            t_ns, name = started.pop()
            self.span(Kind.HANDLER, lane, self.us(t_ns), self.us(c.return_ns),
                      f"signal handler ({name})", line=HANDLER_LINE)

    def blocking(self, step: Step) -> bool:
        """Whether the call's socket is in blocking mode (as the calls so far set it)."""
        return not self.nonblocking.get((self.tasks.process_of(step.call.tid), step.fd), False)

    def slept(self, step: Step) -> bool:
        """Whether the call waited: a call that only waits, a call a signal interrupted (a
        signal interrupts a call that sleeps) or that was still waiting when tracing ended,
        or a call that may sleep on a socket in blocking mode and lasted SLEPT_NS or more."""
        c = step.call
        if waits_for_good(c):
            return True
        if c.result is None and (c.errno in RESTARTS or not c.returned):
            return c.name in MAY_SLEEP or c.name in MULTIPLEXERS or c.errno in RESTARTS
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
            got = self.scan.kernel_receive(c)
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
        lane = self.task_lanes[c.tid]
        if c.name == "rt_sigreturn":  # the end of a signal handler, not a call of the program
            self.handler_end(c, lane)
            return
        return_ns, done_ns, woke = self._return_ns(step)
        e, r = self.us(c.enter_ns), self.us(return_ns)
        for msg in self.awaiting_done.pop(c.tid, ()):
            self.rec.run.m_done[msg] = e
        self.busy.setdefault(lane, []).append((e, r))
        if not step.restarted:  # a restarted call is the same call, made once
            self.instant(Kind.SYSCALL, lane, e, c.name, step.conn, line=step.key)
            site = self.sites.get((c.tid, c.enter_ns), -1)
            if e >= 0:
                self.call_lines.setdefault((lane, e), []).append(site)
            elif r > 0:  # the call the lane is in at t = 0 (its own arrow came before)
                self.at_zero[lane] = site
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
        copy_ns = self.scan.kernel_copy(c, done_ns) if self.kernel is not None else None
        if copy_ns is not None:  # the kernel's stamp of the copy's start
            start = min(max(self.us(copy_ns), copy_from), done)
            self.span(Kind.IN_KERNEL, lane, copy_from, start, ENTRY_LABEL, step.conn,
                      line=step.key)
            copy_from = start
            self.span(Kind.BLOCKED, lane, copy_from, done, COPY_LABEL, step.conn, line=step.key)
        else:
            self.copies_unknown += 1
            self.span(Kind.BLOCKED, lane, copy_from, done, COPY_UNKNOWN_LABEL, step.conn,
                      line=step.key)
        self.span(Kind.OVERHEAD, lane, done, r, self.return_label, step.conn, line=step.key)
        self.instant(Kind.RETURN, lane, r, "return OK", step.conn, line=step.key)
        state.consumed_ns = done_ns
        state.filled = c.name in ("read", "recvfrom") and nth_arg(c.args, 2) == str(c.result)
        self._messages(step, arrivals, estimated, copy_from, e, done, copy_ns is not None)

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
                  e: float, r: float, copy_known: bool) -> None:
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
                run.m_copy_start[msg] = max(copy_from if copy_known else e, ready)
                if estimated:
                    run.m_flags[msg] |= READY_ESTIMATED
                self.instant(Kind.ARRIVAL, lane, ready, self.ready_word, conn, msg)
            share = (r - copy_from) * n / total
            self.span(Kind.COPY, lane, t, t + share, "copy data from kernel to user"
                      if copy_known else KERNEL_COPY_UNKNOWN, conn, msg)
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
        times = self.scan.process_arrivals.get(self.tasks.process_of(c.tid), [])
        i = bisect_left(times, c.enter_ns + 1)
        return times[i] if i < len(times) and times[i] < self.scan.next_enter[c] else None

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
        self._no_wait_before_birth()
        before = sum(1 for s in self.steps if isinstance(s, Step) and s.call.enter_ns < self.t0
                     and not s.restarted and s.call.name != "rt_sigreturn")
        if self.copies_unknown:
            meta["copies_unknown"] = self.copies_unknown
        run = self.rec.finish(end, error, sim_events=len(self.scan.records),
                              calls_before_t0=before, **meta)
        self.lines = self._lines_of_calls(run)
        return run

    def _no_wait_before_birth(self) -> None:
        """A connection's kernel lane waits for data from the moment the connection exists
        (its accept, or the first call on it, or its first message's send or arrival if
        earlier: a UDP sender exists before the program reads it), not from t = 0."""
        born: dict[int, float] = {}
        for step in self.steps:
            if isinstance(step, Step) and step.conn >= 0 and step.conn not in born:
                c = step.call
                born[step.conn] = self.us(c.return_ns if c.name in ACCEPTS else c.enter_ns)
        run = self.rec.run
        for conn, sent, ready in zip(run.m_conn, run.m_sent, run.m_ready, strict=True):
            first = min((t for t in (sent, ready) if t == t), default=math.inf)
            if conn in born and first < born[conn]:
                born[conn] = first
        lanes = {lane: born[conn] for conn, lane in self.kernel_lanes.items() if conn in born}
        rows = self.rec.rows
        for i, row in enumerate(rows):
            if row[0] == Kind.WAIT and row[1] in lanes and row[2] < lanes[row[1]]:
                start = lanes[row[1]]
                rows[i] = (row[0], row[1], start, max(start, row[3]), *row[4:])

    def _lines_of_calls(self, run: Run) -> list[int]:
        """The source line of each system-call event of the finished run, in event order."""
        lines = []
        queues = {key: iter(values) for key, values in self.call_lines.items()}
        for i in range(len(run)):
            if run.kind[i] == Kind.SYSCALL:
                found = queues.get((run.lane[i], run.t0[i]))
                lines.append(next(found, -1) if found is not None else -1)
        return lines


def build_run(records: list[Record], t0_ns: int, end_ns: int, *, model: str, protocol: str,
              scripted: Scripted | None, kernel: KernelEvents | None, error: str | None,
              sockets: SocketTable | None = None, sites: dict[tuple[int, int], int] | None = None,
              **meta: Any) -> Run:
    """The Run of one traced program; times are µs since ``t0_ns`` (CLOCK_REALTIME).
    ``sites``: the source line (0-based) of calls, by (task, entry time)."""
    return build(records, t0_ns, end_ns, model=model, protocol=protocol, scripted=scripted,
                 kernel=kernel, error=error, sockets=sockets, sites=sites, **meta)[0]


def build(records: list[Record], t0_ns: int, end_ns: int, *, model: str, protocol: str,
          scripted: Scripted | None, kernel: KernelEvents | None, error: str | None,
          sockets: SocketTable | None = None, sites: dict[tuple[int, int], int] | None = None,
          **meta: Any) -> tuple[Run, Scan, list[int], dict[int, int]]:
    """build_run's Run, with the scan of the calls (for the model's name), the source line
    of each system-call event (-1 where unknown) and, per lane, that of the call it is in at
    t = 0 (made before it)."""
    builder = Builder(Scan(records, scripted, kernel, sockets), t0_ns, model, protocol)
    builder.sites = sites or {}
    if str(meta.get("tracer", "")).startswith("perf"):
        builder.return_label = PERF_RETURN_LABEL
    builder.build()
    run = builder.finish(end_ns, error, t0_ns=t0_ns, **meta)
    return run, builder.scan, builder.lines, builder.at_zero
