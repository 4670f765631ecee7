"""Timestamps -> Trace: turn a real server's row log (record.py) into a Run that looks like the
simulator's, so that the summary, the view and the exporters read it unchanged.

The application lane is tiled as in the simulator: time inside a call waiting for data is
blocked ("process blocks in call to ..."), the rest of a read is the copy ("process blocks while
data copied into application buffer"), a call that did not wait is in-kernel time, own work and
processing are what the server measured. The few microseconds of interpreter time between two
recorded calls are counted as in-kernel time ("call overhead"), the cost of entering and leaving
a call from Python; in sigio and aio, the time outside the handler is the process's own work.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Sequence
from typing import Any

from iosim.derive import fill_process_blocked, kernel_phases
from iosim.real.record import (
    CALL,
    ERROR,
    HANDLER,
    INTERRUPTED,
    PROCESS,
    WORK,
    WOULDBLOCK,
    Messages,
)
from iosim.trace import COPY_LABEL, READY_ESTIMATED, Kind, Lane, Run, RunRecorder

MULTIPLEXERS = ("select", "poll", "epoll_wait")
BLOCKING_READS = ("blocking", "threaded", "select", "poll", "epoll")  # sockets in blocking mode
IN_KERNEL_LABELS = {"sigaction": "establish SIGIO signal handler",
                    "epoll_ctl": "epoll_ctl EPOLL_CTL_ADD",
                    "epoll_ctl EPOLL_CTL_ADD": "epoll_ctl EPOLL_CTL_ADD"}
# A call made on a second line of the program: its row names the line, its arrow the call
CALL_OF_LINE = {"epoll_ctl EPOLL_CTL_ADD": "epoll_ctl"}
SEND_BLOCKS_LABEL = "process blocks in call to send, until the reply is in the send buffer"
ACCEPT_BLOCKS_LABEL = "process blocks in call to accept, waiting for a connection"
OVERHEAD_LABEL = "call overhead (entry, exit, interpreter)"
SIGNAL_LABELS = {"sigio": "deliver SIGIO", "aio": "deliver signal specified in aio_read"}
# Line keys of what is not a system call (a call's key is its name), as the simulator has them
PROCESS_LINE, WORK_LINE, HANDLER_LINE = "process", "work", "handler"


def lanes_for(model: str, active: int, total: int, workers: int = 0
              ) -> tuple[list[Lane], dict[int, int], dict[int, int]]:
    """The simulator's lanes: application, a kernel lane per active connection, and for the
    threaded model a thread lane per connection (with several ``workers`` on a listening
    socket, a thread lane per worker instead, keyed by worker)."""
    lanes = [Lane("application", "app")]
    kernel_lanes: dict[int, int] = {}
    for conn in range(active):
        kernel_lanes[conn] = len(lanes)
        lanes.append(Lane(f"kernel conn {conn}", "kernel", conn))
    thread_lanes: dict[int, int] = {}
    if workers > 1:
        for k in range(workers):
            thread_lanes[k] = len(lanes)
            lanes.append(Lane(f"thread {k}", "thread", -1))
    elif model == "threaded":
        for conn in range(total):
            thread_lanes[conn] = len(lanes)
            lanes.append(Lane(f"thread {conn}", "thread", conn))
    return lanes, kernel_lanes, thread_lanes


class _Builder:
    """Replays the rows of one run in time order into a RunRecorder."""

    def __init__(self, model: str, protocol: str, rows: Sequence[tuple], t0_ns: int,
                 plan: list[list[tuple[int, int]]] | None, sent_ns: Sequence[int] | None,
                 connections: int, work_us: float, closed_ns: Sequence[int] = (),
                 workers: int = 0) -> None:
        self.model = model
        self.protocol = protocol
        self.t0 = t0_ns
        self.rows = sorted(rows, key=lambda r: r[4])
        self.plan = plan
        self.messages = Messages(plan)
        self.serving = plan is None
        active = connections if plan is None else len(plan)
        self.workers = workers if workers > 1 else 0
        self.replies = False  # a capture's replies: the run ends when the last one is sent
        lanes, self.kernel_lanes, self.thread_lanes = lanes_for(model, active, connections,
                                                                self.workers)
        self.rec = RunRecorder(model, "real", lanes, work_us)
        self.blocking = model in BLOCKING_READS
        self.ready_word = "datagram ready" if protocol == "udp" else "data ready"
        self.process_label = "process datagram" if protocol == "udp" else "process data"
        self.app_spans: list[tuple[float, float]] = []
        self.handlers: list[tuple[float, float]] = []
        self.handlers_end = 0.0
        self.own_work_from = math.inf  # sigio, aio: where the main loop starts its own work
        self.completed: dict[int, deque[int]] = {}
        if plan is not None:
            for msg, conn, nbytes in sorted((msg, conn, nbytes) for conn, sends in
                                            enumerate(plan) for msg, nbytes in sends):
                sent = math.nan if sent_ns is None else self.us(sent_ns[msg])
                self.rec.message(conn, nbytes, sent, math.nan)
        # When each connection's goodbye was sent (µs): see _typical_delay
        self.closed = {conn: self.us(t) for conn, t in enumerate(closed_ns) if t}
        self.typical_delay = self._typical_delay()
        self.read_stamps = sorted((r[4], r[7]) for r in self.rows
                                  if r[0] == CALL and r[2] == "recvfrom" and r[7])
        self.next_stamp = self._stamps_after_multiplexer()

    def us(self, t_ns: int) -> float:
        return (t_ns - self.t0) / 1000.0

    def after_goodbye(self, conn: int, arrived: float) -> bool:
        """Whether a TCP read's stamp is no earlier than its connection's goodbye: then it is
        the goodbye's FIN, which the kernel merged into the data waiting, stamp and all (the
        data was stamped within its own send call, before the client said goodbye)."""
        closed = self.closed.get(conn)
        return self.protocol == "tcp" and closed is not None and arrived >= closed

    def _typical_delay(self) -> float | None:
        """The median time from a read's last message's send to the read's stamp, over the
        TCP reads stamped by their own data: what a read stamped by the FIN is given."""
        if self.plan is None or self.protocol != "tcp":
            return None
        messages = Messages(self.plan)
        sent = self.rec.run.m_sent
        delays = []
        for row in self.rows:
            if row[0] == CALL and row[2] == "recvfrom" and row[6] > 0:
                parts = messages.take(row[3], row[6])
                stamp = self.us(row[7]) if row[7] else math.nan
                if parts and stamp == stamp and not self.after_goodbye(row[3], stamp):
                    delays.append(stamp - sent[parts[-1][0]])
        delays = [d for d in delays if d == d]
        return statistics.median(delays) if delays else None

    def _stamps_after_multiplexer(self) -> dict[int, int]:
        """For each select/poll/epoll_wait row: the earliest arrival stamp among the reads it
        led to (0: none), which tells whether the call found data or waited for it."""
        out: dict[int, int] = {}
        earliest = 0
        for i in range(len(self.rows) - 1, -1, -1):
            row = self.rows[i]
            if row[0] != CALL or row[1] != 0:
                continue
            if row[2] == "recvfrom" and row[7]:
                earliest = row[7] if not earliest else min(earliest, row[7])
            elif row[2] in MULTIPLEXERS:
                out[i] = earliest
                earliest = 0
        return out

    def lane_of(self, lane_code: int, conn: int) -> int:
        """Lane code 0: the process; else a thread's: worker lane_code - 1, or (threaded) the
        thread of the connection."""
        if not lane_code:
            return 0
        return self.thread_lanes.get(lane_code - 1 if self.workers else conn, 0)

    def span(self, kind: Kind, lane: int, t0: float, t1: float, label: str, conn: int = -1,
             msg: int = -1, line: str = "") -> None:
        """A span on a lane; a thread's running time also shows on the process lane."""
        if t1 <= t0:
            return
        self.rec.span(kind, lane, t0, t1, label, conn, msg, line)
        if lane != 0 and kind != Kind.BLOCKED:
            self.rec.span(kind, 0, t0, t1, label, conn, msg, line)
        if lane == 0 or kind != Kind.BLOCKED:
            self.app_spans.append((t0, t1))

    # -- rows --------------------------------------------------------------------------------

    def build(self) -> None:
        for i, row in enumerate(self.rows):
            tag = row[0]
            if tag == CALL:
                self.call(i, row)
            elif tag == WORK:
                if row[4] == row[5]:
                    self.own_work_from = self.us(row[4])
                self.span(Kind.WORK, 0, self.us(row[4]), self.us(row[5]), row[2],
                          line=WORK_LINE)
            elif tag == PROCESS:
                self.process(row)
            elif tag == HANDLER:
                self.handler(row)
            elif tag == ERROR:
                self.rec.instant(Kind.ERROR, 0, self.us(row[4]), row[2])

    def call(self, i: int, row: tuple) -> None:
        """A system call; its line key is its name (as in the simulator)."""
        _, lane_code, name, conn, enter, ret, result, stamp = row
        lane = self.lane_of(lane_code, conn)
        e, r = self.us(enter), self.us(ret)
        self.rec.instant(Kind.SYSCALL, lane, e, CALL_OF_LINE.get(name, name), conn, line=name)
        if name == "recvfrom":
            self.read(lane, conn, e, r, result, stamp, name)
        elif name == "aio_return":
            self.span(Kind.IN_KERNEL, lane, e, r, name, conn, line=name)
            self.read(lane, conn, e, r, result, 0, name)
        elif name in MULTIPLEXERS:
            self.multiplexer(i, name, e, r, result, lane, stamp)
        elif name == "send":
            self.send(lane, conn, e, r, result)
        elif name == "accept":
            self.accept(lane, e, r, result)
        else:
            self.span(Kind.IN_KERNEL, lane, e, r, IN_KERNEL_LABELS.get(name, name), conn,
                      line=name)
            if name == "aio_read":
                self.rec.instant(Kind.RETURN, lane, r, "return", conn, line=name)

    def read(self, lane: int, conn: int, e: float, r: float, result: int, stamp: int,
             line: str) -> None:
        aio = self.model == "aio"
        if result == INTERRUPTED:
            self.span(Kind.BLOCKED, lane, e, r, "process blocks in call to recvfrom", conn,
                      line=line)
            return
        if result == WOULDBLOCK:
            self.span(Kind.IN_KERNEL, lane, e, r, "recvfrom", conn, line=line)
            self.rec.instant(Kind.EWOULDBLOCK, lane, r, "EWOULDBLOCK", conn, line=line)
            return
        if result == 0 and not (self.serving and self.protocol == "udp"):
            if not aio:
                kind = Kind.BLOCKED if self.blocking else Kind.IN_KERNEL
                self.span(kind, lane, e, r, "process blocks in call to recvfrom"
                          if self.blocking else "recvfrom", conn, line=line)
            self.rec.instant(Kind.EOF, lane, r, "return 0 (peer closed)", conn, line=line)
            return
        parts = self.messages.take(conn, result)
        arrived = self.us(stamp) if stamp else (e if aio or not self.blocking else r)
        goodbye = bool(stamp) and self.after_goodbye(conn, arrived)
        if goodbye:  # the FIN's stamp: the data crossed loopback as fast as others did
            last_sent = self.rec.run.m_sent[parts[-1][0]] if parts else math.nan
            arrived = min(arrived, self.closed[conn], r)
            if self.typical_delay is not None and last_sent == last_sent:
                arrived = min(arrived, last_sent + self.typical_delay)
        wait_end = e
        if self.blocking and arrived > e:
            wait_end = min(arrived, r)
            self.span(Kind.BLOCKED, lane, e, wait_end, "process blocks in call to recvfrom",
                      conn, line=line)
            self.rec.instant(Kind.WAKEUP, lane, wait_end, "wake up", conn, line=line)
        if not aio:
            self.span(Kind.BLOCKED, lane, wait_end, r, COPY_LABEL, conn, line=line)
            self.rec.instant(Kind.RETURN, lane, r, "return OK", conn, line=line)
        total = sum(n for _, n, _ in parts) or 1
        t = wait_end
        run = self.rec.run
        kernel_lane = self.kernel_lanes.get(conn, 0)
        delay = self._network_delay(parts, arrived, stamp)
        for msg, n, done in parts:
            if self.serving:
                self.rec.message(conn, n, arrived, arrived)
            if run.m_copy_start[msg] != run.m_copy_start[msg]:  # NaN: first bytes of it
                sent = run.m_sent[msg]
                if aio and sent == sent:  # no arrival stamp: the send is its earliest bound
                    ready = sent
                    run.m_flags[msg] |= READY_ESTIMATED
                else:
                    ready = min(arrived, sent + delay) if delay is not None else arrived
                    ready = min(max(ready, sent), r) if sent == sent else min(ready, r)
                    if goodbye:
                        run.m_flags[msg] |= READY_ESTIMATED
                run.m_ready[msg] = ready
                run.m_copy_start[msg] = max(e, ready)
                self.rec.instant(Kind.ARRIVAL, kernel_lane, ready, self.ready_word, conn, msg)
            share = (r - wait_end) * n / total
            if aio:
                self.rec.instant(Kind.COMPLETE, kernel_lane, e, "copy complete", conn, msg)
            else:
                self.rec.span(Kind.COPY, kernel_lane, t, t + share,
                              "copy data from kernel to user", conn, msg)
            t += share
            if done:
                run.m_copy_end[msg] = e if aio else r
                self.completed.setdefault(conn, deque()).append(msg)

    def _network_delay(self, parts: list[tuple[int, int, bool]], arrived: float,
                       stamp: int) -> float | None:
        """A TCP read of several messages carries the stamp of its last segment only: the
        earlier messages are taken to have crossed loopback as fast as the last one did."""
        if not stamp or len(parts) < 2:
            return None
        last_sent = self.rec.run.m_sent[parts[-1][0]]
        return arrived - last_sent if last_sent == last_sent else None

    def multiplexer(self, i: int, name: str, e: float, r: float, ready: int, lane: int = 0,
                    writable: int = 0) -> None:
        """A multiplexer's call; ``writable`` of the ``ready`` descriptors were writable
        (the row's last field: a capture's replies waiting)."""
        stamp = self.next_stamp.get(i, 0)
        label = (f"process blocks in call to {name}, waiting for one of possibly many sockets "
                 "to become readable")
        if ready == INTERRUPTED:
            self.span(Kind.BLOCKED, lane, e, r, label, line=name)
            return
        if ready == 0:
            self.span(Kind.IN_KERNEL, lane, e, r, name, line=name)
            return
        arrived = self.us(stamp) if stamp else r
        if arrived > e:
            woke = min(arrived, r)
            self.span(Kind.BLOCKED, lane, e, woke, label, line=name)
            self.rec.instant(Kind.WAKEUP, lane, woke, "wake up", line=name)
            self.span(Kind.BLOCKED, lane, woke, r, label, line=name)
        else:
            self.span(Kind.IN_KERNEL, lane, e, r, name, line=name)
        what = "readable" if not writable else "writable" if writable >= ready else \
            "readable and writable"
        self.rec.instant(Kind.READABLE, lane, r, f"return {what}", line=name)

    def send(self, lane: int, conn: int, e: float, r: float, sent: int) -> None:
        """A capture's reply: a blocking model's sendall sleeps while the send buffer is full
        (its time is blocked); a non-blocking send copies what fits, or none (EWOULDBLOCK)."""
        if sent == WOULDBLOCK:
            self.span(Kind.IN_KERNEL, lane, e, r, "send", conn, line="send")
            self.rec.instant(Kind.EWOULDBLOCK, lane, r, "EWOULDBLOCK", conn, line="send")
            return
        if self.blocking and self.model in ("blocking", "threaded"):
            self.span(Kind.BLOCKED, lane, e, r, SEND_BLOCKS_LABEL, conn, line="send")
            self.rec.instant(Kind.RETURN, lane, r, "return OK", conn, line="send")
            return
        self.span(Kind.IN_KERNEL, lane, e, r, f"send copies {sent:,} bytes into the send "
                  "buffer", conn, line="send")
        self.rec.instant(Kind.RETURN, lane, r, f"return {sent:,}", conn, line="send")

    def accept(self, lane: int, e: float, r: float, result: int) -> None:
        """A worker's accept: the connection it got, or EWOULDBLOCK (another took it)."""
        if result == WOULDBLOCK:
            self.span(Kind.IN_KERNEL, lane, e, r, "accept", line="accept")
            self.rec.instant(Kind.EWOULDBLOCK, lane, r, "EWOULDBLOCK", line="accept")
            return
        self.span(Kind.BLOCKED, lane, e, r, ACCEPT_BLOCKS_LABEL, line="accept")
        if result != INTERRUPTED:
            self.rec.instant(Kind.RETURN, lane, r, f"return connection {result}", result,
                             line="accept")

    def process(self, row: tuple) -> None:
        _, lane_code, _label, conn, start, end, _, _ = row
        queue = self.completed.get(conn)
        if not queue:
            return
        msg = queue.popleft()
        s, t = self.us(start), self.us(end)
        self.span(Kind.PROCESS, self.lane_of(lane_code, conn), s, t, self.process_label, conn,
                  msg, PROCESS_LINE)
        self.rec.run.m_done[msg] = t

    def handler(self, row: tuple) -> None:
        """A signal handler (sigio) or completion handler (aio): the signal is raised at the
        kernel's stamp of the first data it reads, delivered when the handler starts."""
        _, _, label, _, enter, exit_, _, _ = row
        e, x = self.us(enter), self.us(exit_)
        since = self.handlers_end  # a handler can run nested in another's last moments
        lo = bisect_left(self.read_stamps, (enter, 0))
        hi = bisect_right(self.read_stamps, (exit_, 1 << 62))
        stamps = [s for _, s in self.read_stamps[lo:hi]]
        raised = self.us(min(stamps)) if stamps else e
        raised = raised if since <= raised < e else e
        signal_label = SIGNAL_LABELS.get(self.model, "deliver signal")
        self.rec.instant(Kind.SIGNAL, 0, raised, signal_label, line=HANDLER_LINE)
        self.span(Kind.DELIVERY, 0, raised, e, signal_label, line=HANDLER_LINE)
        self.rec.span(Kind.HANDLER, 0, e, x, label, line=HANDLER_LINE)
        self.handlers.append((e, x))
        self.handlers_end = max(self.handlers_end, x)

    # -- the rest of the lanes -------------------------------------------------------------

    def fill_gaps(self, end: float, unknown: Sequence[tuple[float, float]]) -> None:
        """Tile the application lane: what no recorded span covers is call overhead, or, in
        sigio and aio outside the handler, the process continuing its own work. Stretches
        whose rows were not kept (``unknown``) stay empty."""
        handlers = self.handlers
        t = 0.0
        for start, stop in sorted([*self.app_spans, *unknown]) + [(end, end)]:
            if start > t:
                stop_gap = min(start, end)
                split = min(max(self.own_work_from, t), stop_gap)
                self._gap(t, split, False, handlers)
                self._gap(split, stop_gap, True, handlers)
            t = max(t, stop)

    def _gap(self, t0: float, t1: float, working: bool,
             handlers: list[tuple[float, float]]) -> None:
        if not working:
            self.rec.span(Kind.OVERHEAD, 0, t0, t1, OVERHEAD_LABEL)
            return
        t = t0
        for i in range(max(bisect_left(handlers, (t0, t0)) - 1, 0), len(handlers)):
            h0, h1 = handlers[i]
            if h0 >= t1:
                break
            if h1 <= t:
                continue
            self.rec.span(Kind.WORK, 0, t, min(h0, t1), "process continues executing",
                          line=WORK_LINE)
            self.rec.span(Kind.OVERHEAD, 0, max(h0, t), min(h1, t1), OVERHEAD_LABEL)
            t = min(h1, t1)
        self.rec.span(Kind.WORK, 0, t, t1, "process continues executing", line=WORK_LINE)

    def finish(self, end_ns: int, error: str | None, unknown: Sequence[tuple[int, int]],
               **meta: Any) -> Run:
        run = self.rec.run
        done = [run.m_done[i] for i in range(run.message_count) if run.m_done[i] == run.m_done[i]]
        end = max(done) if done and error is None and not self.serving and not self.replies \
            and len(done) == run.message_count else self.us(end_ns)
        if self.thread_lanes:
            fill_process_blocked(self.rec, end)
        else:
            self.fill_gaps(end, [(self.us(a), self.us(b)) for a, b in unknown])
        kernel_phases(self.rec, self.kernel_lanes, end)
        return self.rec.finish(end, error, sim_events=len(self.rows), **meta)


def build_run(model: str, protocol: str, rows: Sequence[tuple], t0_ns: int, end_ns: int, *,
              plan: list[list[tuple[int, int]]] | None, sent_ns: Sequence[int] | None,
              closed_ns: Sequence[int] = (),
              connections: int, work_us: float, error: str | None = None,
              unknown: Sequence[tuple[int, int]] = (), worker_lanes: int = 0,
              **meta: Any) -> Run:
    """The Run of one real server: ``plan`` numbers the scenario's messages (None when
    serving: each read is a message), ``sent_ns`` is when the client sent each one and
    ``closed_ns`` when each connection said goodbye (0: unknown);
    ``unknown`` are the stretches (ns) whose rows a spool did not keep; ``worker_lanes``: the
    worker threads of a server.accept scenario. A run with replies (``replies_read`` in the
    meta) ends when its last reply is in the send buffer, its last message handled before."""
    builder = _Builder(model, protocol, rows, t0_ns, plan, sent_ns, connections, work_us,
                       closed_ns, worker_lanes)
    builder.replies = "replies_read" in meta
    builder.build()
    return builder.finish(end_ns, error, unknown, t0_ns=t0_ns, clock="CLOCK_REALTIME", **meta)
