"""The application side's vocabulary: system calls, blocking, copying, processing, own work.

An IO model is a short generator written with these verbs (see models.py). Every verb records
what the thread does on its lane of the trace, so the application lane is tiled, moment by
moment, by blocked, in-kernel, own-work and processing time. In the threaded model the threads
share Python's GIL and one CPU: a thread drops the GIL only when a call blocks, and waits for
it to return; a thread whose reads find data keeps it (the others, woken meanwhile, are not
running yet when its call returns). The process lane shows what runs; its gaps are the
moments when every thread was blocked.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator

import simpy
from simpy.events import Timeout

from iosim.sim.costs import Costs
from iosim.sim.kernel import CopyResult, Kernel, Socket, SocketTable
from iosim.trace import COPY_LABEL, Kind, RunRecorder

Steps = Generator[simpy.Event, None, None]

COLD_LABEL = "first reads: cold code and caches"
OVERHEAD_LABEL = "call overhead (entry, exit, interpreter)"  # as a real run's
START_LABEL = "the server starts up"
HANDLE_LABEL = "which messages did the read complete?"
OWN_WORK_LABEL = "back from own work"
NEXT_LABEL = "on to the next message"
INTERRUPT_LABEL = "SIGIO taken meanwhile (the handler notes it)"
GIL_HANDOFF_LABEL = "the GIL handed over: the CPU switches threads"

# The kinds recorded on every event, bound once: on Python 3.11 each ``Kind.X`` goes through
# EnumType.__getattr__, four times the cost of a plain attribute.
SYSCALL, IN_KERNEL, BLOCKED, RETURN = Kind.SYSCALL, Kind.IN_KERNEL, Kind.BLOCKED, Kind.RETURN
OVERHEAD = Kind.OVERHEAD
WAKEUP, READABLE, PROCESS = Kind.WAKEUP, Kind.READABLE, Kind.PROCESS

# Line keys: the line of the model's program (iosim/assets/code/<model>.py) an event belongs to.
# A system call's key is its name; the rest are these.
RECV, PROCESS_LINE, WORK_LINE, HANDLER_LINE = "recvfrom", "process", "work", "handler"
SEND, ACCEPT = "send", "accept"
SEND_BLOCKS_LABEL = "process blocks in call to send, until a third of the send buffer is free"
ACCEPT_BLOCKS_LABEL = "process blocks in call to accept, waiting for a connection"


class AllDone(Exception):
    """The last message has been handled: the run ends here."""


class RunError(Exception):
    """The run cannot go on (select with a descriptor >= FD_SETSIZE, ...)."""


class Proc:
    """State shared by the threads of one server process."""

    def __init__(self, env: simpy.Environment, kernel: Kernel, rec: RunRecorder, costs: Costs,
                 work_us: float, poll_interval_us: float, messages: int, protocol: str,
                 thread_lanes: dict[int, int]) -> None:
        self.env = env
        self.kernel = kernel
        self.rec = rec
        self.costs = costs
        self.work_us = work_us
        self.poll_interval_us = poll_interval_us
        self.thread_lanes = thread_lanes
        self.remaining = messages
        self.unsent = 0  # bytes of replies not yet in a send buffer (they keep the run going)
        self.reply_bytes = 0  # the scenario's server.reply_bytes
        self.epoll_exclusive = False  # the scenario's server.epoll_exclusive
        self.done = False  # a plain flag, not an event: the stepping loop reads it every step
        self.error: str | None = None
        self.cpu = simpy.Resource(env, capacity=1) if thread_lanes else None
        # lane -> (since, label, conn, line) of each thread asleep now: a tuple, made per block
        self.blocks: dict[int, tuple[float, str, int, str]] = {}
        self.cold_us = costs.cold_start_us  # what the first read with data pays more
        self.wakeup_ratio = costs.tcp_wakeup_ratio if protocol == "tcp" else 1.0
        self.last_done = 0.0  # when the last message was processed: the server idles since
        self.handled_once = False
        self.first_signal = True
        self.process_label = "process datagram" if protocol == "udp" else "process data"

    def sent_all(self) -> None:
        """A reply's last bytes are in the send buffer: the run may be over."""
        if self.remaining == 0 and not self.unsent:
            raise AllDone

    def coldness(self, waking: bool = False) -> float:
        """How cold the server is (Costs.coldness): idle since its last message was processed
        (a wake-up: this long into the run); before its first, idle since t = 0, at most
        first_idle_ms."""
        now = self.env.now
        if not self.handled_once:
            return self.costs.coldness(min(now, self.costs.first_idle_ms * 1000.0))
        return self.costs.coldness(now - self.last_done, now if waking else math.inf)

    def guard(self, steps: Steps, after_arrivals: bool = False) -> Steps:
        """Run a program (or a thread) and turn its end into the end of the run. Arrivals are
        URGENT; ``after_arrivals`` starts at normal priority so that a call at t = 0 sees data
        ready at 0."""
        try:
            if after_arrivals:
                yield self.env.timeout(0)
                if self.costs.start_us:
                    now = self.env.now
                    self.rec.span(OVERHEAD, 0, now, now + self.costs.start_us, START_LABEL)
                    yield self.env.timeout(self.costs.start_us)
            yield from steps
        except AllDone:
            self.done = True
        except RunError as exc:
            if not self.done:
                self.error = str(exc)
                self.rec.instant(Kind.ERROR, 0, self.env.now, self.error)
                self.done = True


class Thread:
    """One thread of control, drawing on its own lane (lane 0 for a single-threaded server)."""

    def __init__(self, proc: Proc, lane: int = 0) -> None:
        self.proc = proc
        self.lane = lane
        self.env = proc.env
        self.kernel = proc.kernel
        self.rec = proc.rec
        self.rows = proc.rec.rows  # the recorder's list: the hot verbs append to it directly
        self.costs = proc.costs
        self.syscall_us = proc.costs.syscall_us
        self.overhead_us = proc.costs.call_overhead_us
        self.cpu = proc.cpu  # the GIL; None for a single-threaded server
        self.holding: simpy.Resource | None = None  # the request that holds the GIL
        self.woken_by_multiplexer = False  # see Costs.call_after_wake_us
        self.woke_cold = 0.0  # how cold the server was when this thread last woke
        self.cold_wakeups = bool(proc.costs.wakeup_idle_us or proc.costs.call_after_wake_idle_us)
        self.gil_cold = bool(proc.costs.wakeup_idle_us) and proc.cpu is not None
        self.handles = bool(proc.costs.handle_us or proc.costs.handle_idle_us
                            or proc.costs.handle_per_message_us)
        self.next_us = proc.costs.process_extra_us  # after each message processed
        self.back_us = proc.costs.own_work_extra_us  # after each slice of own work

    @property
    def now(self) -> float:
        return self.env.now

    @property
    def sockets(self) -> SocketTable:
        return self.kernel.sockets

    def run_cpu(self, kind: Kind, dur: float, label: str, conn: int = -1,
                msg: int = -1, line: str = "") -> Steps:
        """Spend ``dur`` µs running (in the kernel, on own work or on a message)."""
        if self.cpu is not None:
            return self._run_holding_gil(kind, dur, label, conn, msg, line)
        return self._run(kind, dur, label, conn, msg, line)

    def _run(self, kind: Kind, dur: float, label: str, conn: int, msg: int,
             line: str) -> Steps:
        if dur:
            env = self.env
            now = env.now
            self.rows.append((kind, self.lane, now, now + dur, label, conn, msg, line))
            yield Timeout(env, dur)

    def take_gil(self, conn: int, line: str) -> Steps:
        """Wait for the GIL, unless this thread holds it already (threaded model only). A
        thread that had to wait runs Costs.gil_handoff_us after the GIL was handed to it (the
        CPU switches from the thread that let it go), and more the longer it waited: it went
        cold, as a process asleep does (Costs.wakeup_idle_us)."""
        if self.cpu is not None and self.holding is None:
            req = self.cpu.request()
            asked = self.now
            yield req
            self.holding = req
            now = self.now
            self.rec.span(Kind.BLOCKED, self.lane, asked, now, "waiting for the GIL", conn,
                          line=line)
            if now > asked:
                cold = self.costs.coldness(now - asked) if self.gil_cold else 0.0
                yield from self.blocked_for(self.costs.gil_handoff_us
                                            + self.costs.wakeup_idle_us * cold,
                                            GIL_HANDOFF_LABEL, conn, line)

    def drop_gil(self) -> None:
        if self.cpu is not None and self.holding is not None:
            self.cpu.release(self.holding)
            self.holding = None

    def _run_holding_gil(self, kind: Kind, dur: float, label: str, conn: int, msg: int,
                         line: str) -> Steps:
        """A thread runs Python code with the GIL; the process lane shows whichever runs."""
        yield from self.take_gil(conn, line)
        now = self.now
        self.rec.span(kind, self.lane, now, now + dur, label, conn, msg, line)
        self.rec.span(kind, 0, now, now + dur, label, conn, msg, line)
        if dur:
            yield self.env.timeout(dur)

    def blocked_for(self, dur: float, label: str, conn: int = -1, line: str = "") -> Steps:
        if dur:
            env = self.env
            now = env.now
            self.rec.span(BLOCKED, self.lane, now, now + dur, label, conn, line=line)
            yield Timeout(env, dur)

    def call(self, name: str, cost_us: float = 0.0, conn: int = -1,
             label: str | None = None, line: str | None = None) -> Steps:
        """Enter a system call: the "system call" arrow, then its cost inside the kernel. The
        call's line key is its name, unless ``line`` says otherwise (a second line making
        the same call)."""
        if self.kernel.interrupts:
            yield from self._pay_interrupts()
        env = self.env
        rows = self.rows
        overhead = self.overhead_us
        dur = self.syscall_us + cost_us
        if line is not None:
            yield from self._call_at(name, dur, conn, label or name, line)
            return
        if self.cpu is not None:  # made with the GIL
            yield from self._run_holding_gil(OVERHEAD, overhead, OVERHEAD_LABEL, conn, -1, name)
            now = env.now
            rows.append((SYSCALL, self.lane, now, now, name, conn, -1, name))
            if dur:  # on its own lane: another thread may be running Python meanwhile
                rows.append((IN_KERNEL, self.lane, now, now + dur, label or name, conn, -1,
                             name))
                yield Timeout(env, dur)
            return
        now = env.now
        if overhead:
            rows.append((OVERHEAD, self.lane, now, now + overhead, OVERHEAD_LABEL, conn, -1,
                         name))
            now += overhead
        rows.append((SYSCALL, self.lane, now, now, name, conn, -1, name))
        if dur or overhead:  # the single-threaded run_cpu, inline: calls are most events
            if dur:
                rows.append((IN_KERNEL, self.lane, now, now + dur, label or name, conn, -1,
                             name))
            yield Timeout(env, dur + overhead)

    def _call_at(self, name: str, dur: float, conn: int, label: str, line: str) -> Steps:
        """A call on a line keyed other than by its name (off the hot path of call)."""
        yield from self.run_cpu(OVERHEAD, self.overhead_us, OVERHEAD_LABEL, conn, line=line)
        now = self.env.now
        self.rows.append((SYSCALL, self.lane, now, now, name, conn, -1, line))
        yield from self.run_cpu(IN_KERNEL, dur, label, conn, line=line)

    def _pay_interrupts(self) -> Steps:
        """The SIGIOs taken since the last call (Costs.signal_taken_us each)."""
        n, self.kernel.interrupts = self.kernel.interrupts, 0
        yield from self.run_cpu(Kind.DELIVERY, n * self.costs.signal_taken_us,
                                INTERRUPT_LABEL, line=HANDLER_LINE)

    def block(self, event: simpy.Event, label: str, conn: int, line: str) -> Steps:
        """Sleep until ``event``, then pay the wake-up before running again."""
        env = self.env
        lane = self.lane
        blocks = self.proc.blocks
        since = env.now
        blocks[lane] = (since, label, conn, line)
        yield event
        del blocks[lane]
        now = env.now
        if now > since:
            self.rows.append((BLOCKED, lane, since, now, label, conn, -1, line))
        self.rows.append((WAKEUP, lane, now, now, "wake up", conn, -1, line))
        if self.cold_wakeups:
            self.woke_cold = self.proc.coldness(waking=True)
        yield from self.blocked_for(self.costs.wakeup_at(self.woke_cold) * self.proc.wakeup_ratio,
                                    label, conn, line)

    def copy(self, sock: Socket, limit: int, blocking: bool = False
             ) -> Generator[simpy.Event, None, CopyResult]:
        """Phase 2 of a read already in the kernel: copy what is queued, or say why not. A
        blocking read that found only datagrams with a bad checksum says nothing: it sleeps
        again (Thread.recv)."""
        result = self.kernel.take(sock, limit)
        env = self.env
        rows = self.rows
        if result.nbytes or result.dropped:
            now = env.now
            self.rec.span(BLOCKED, self.lane, now, now + result.copy_us, COPY_LABEL, sock.conn,
                          line=RECV)
            for part_us in result.part_us:  # message by message, as the kernel copies them
                yield Timeout(env, part_us)
        if self.cpu is not None:  # back from the kernel: Python code again
            yield from self.take_gil(sock.conn, RECV)
        if result.nbytes:
            now = env.now
            rows.append((RETURN, self.lane, now, now, "return OK", sock.conn, -1, RECV))
        elif result.eof:
            rows.append((Kind.EOF, self.lane, env.now, env.now, "return 0 (peer closed)",
                         sock.conn, -1, RECV))
        elif blocking and result.dropped:
            pass
        else:
            rows.append((Kind.EWOULDBLOCK, self.lane, env.now, env.now, "EWOULDBLOCK", sock.conn,
                         -1, RECV))
        return result

    def recv(self, sock: Socket, blocking: bool) -> Generator[simpy.Event, None, CopyResult]:
        """recvfrom: a blocking one sleeps until data (or the peer's close) arrives."""
        woken = self.woken_by_multiplexer
        self.woken_by_multiplexer = False
        yield from self.call(RECV, self.costs.call_after_wake_at(self.woke_cold)
                             * self.proc.wakeup_ratio if woken else 0.0, conn=sock.conn)
        while True:
            if blocking and not sock.readable:
                self.drop_gil()
                yield from self.block(self.kernel.wait_readable(sock), "process blocks in call "
                                      "to recvfrom", sock.conn, RECV)
                woken = True
            if sock.queue and self.proc.cold_us:
                yield from self.cold_first(sock.conn, woken, RECV)
            result = yield from self.copy(sock, self.kernel.buffer_bytes, blocking)
            if not (blocking and result.dropped and not result.nbytes and not result.eof):
                return result

    def cold_first(self, conn: int, woken: bool, line: str) -> Steps:
        """The run's first read that finds data pays for cold code and caches
        (Costs.cold_start_us), unless it comes right after a wake-up, which paid for them."""
        cold, self.proc.cold_us = self.proc.cold_us, 0.0
        if not woken:
            yield from self.run_cpu(Kind.IN_KERNEL, cold, COLD_LABEL, conn, line=line)

    def handle(self, result: CopyResult, sock: Socket,
               reply: Callable[[Socket], Steps] | None = None) -> Steps:
        """Process each message the read completed, and ``reply`` to each; the last one ends
        the run once no reply waits to be sent (Proc.unsent)."""
        proc = self.proc
        m_done = self.rec.run.m_done
        if self.handles and result.completed:
            yield from self.run_cpu(OVERHEAD, self.costs.handle_at(proc.coldness())
                                    + self.costs.handle_per_message_us * len(result.completed),
                                    HANDLE_LABEL, sock.conn, line=PROCESS_LINE)
        for msg in result.completed:
            yield from self.run_cpu(PROCESS, proc.work_us, proc.process_label, sock.conn, msg,
                                    PROCESS_LINE)
            m_done[msg] = proc.last_done = self.env.now
            proc.handled_once = True
            proc.remaining -= 1
            if reply is not None:
                yield from reply(sock)
            if proc.remaining == 0 and not proc.unsent:
                raise AllDone
            if self.next_us:  # no generator for a cost of 0: this runs once per message
                yield from self.run_cpu(OVERHEAD, self.next_us, NEXT_LABEL, sock.conn,
                                        line=PROCESS_LINE)

    def wait_ready(self, name: str, cost: Callable[[int], float], watched: set[int],
                   edge: bool = False) -> Generator[simpy.Event, None, list[Socket]]:
        """select / poll / epoll_wait: scan, sleep until one watched socket is readable, scan
        again, return the readable ones (``edge``: those an arrival put on epoll's ready list
        since the last call). ``cost`` maps the number ready to the call's cost. A wake-up
        that finds nothing (a datagram with a bad checksum dropped by the scan) sleeps again."""
        kernel = self.kernel
        found = len(kernel.edges & watched) if edge else len(kernel.readable(watched))
        yield from self.call(name, cost(found))
        ready = kernel.take_edges(watched) if edge else kernel.readable(watched, name)
        while not ready:
            yield from self.block(kernel.wait_any(), f"process blocks in call to {name}, "
                                  "waiting for one of possibly many sockets to become readable",
                                  -1, name)
            dropped = kernel.dropped_by_scans
            ready = kernel.take_edges(watched) if edge else kernel.readable(watched, name)
            yield from self.run_cpu(IN_KERNEL, cost(len(ready)), f"{name} scans again" + (
                ", drops a datagram with a bad checksum" if kernel.dropped_by_scans > dropped
                else ""), line=name)
            self.woken_by_multiplexer = True
        now = self.env.now
        self.rows.append((READABLE, self.lane, now, now, "return readable",
                          ready[0].conn if len(ready) == 1 else -1, -1, name))
        return ready

    def own_work(self, dur: float, label: str = "process does its own work") -> Steps:
        yield from self.run_cpu(Kind.WORK, dur, label, line=WORK_LINE)
        if self.back_us:
            yield from self.run_cpu(OVERHEAD, self.back_us, OWN_WORK_LABEL, line=WORK_LINE)

    def work_until_signal(self) -> Steps:
        since = self.now
        yield self.kernel.wait_signal()
        self.rec.span(Kind.WORK, self.lane, since, self.now, "process continues executing",
                      line=WORK_LINE)

    def deliver_signal(self, label: str, cost: Callable[[float], float],
                       first_us: float = 0.0) -> Steps:
        """The signal (or aio's completion) reaches the handler; ``cost`` maps how cold the
        server is to the delivery's cost (Costs.signal_at, Costs.completion_at), and the first
        delivery of the run costs ``first_us`` more."""
        self.rec.instant(Kind.SIGNAL, self.lane, self.now, label, line=HANDLER_LINE)
        first, self.proc.first_signal = self.proc.first_signal, False
        yield from self.run_cpu(Kind.DELIVERY, cost(self.proc.coldness())
                                + (first_us if first else 0.0), label, line=HANDLER_LINE)
