"""``iosim calibrate``: measure this machine's cost profile (every key of ``Costs``) from Python,
the way iosim's real servers pay for their calls, and write it as a costs file.

Each figure is a median (of batches of calls, or of single round trips), so a stray
interruption by the scheduler does not move it. The select, poll and epoll figures are the whole
per-call cost of the call as Python makes it, with one descriptor ready, as in Kerrisk's TLPI
Table 63-9; a line through them gives base + per-descriptor cost. The simulator charges
``syscall_us`` on every call on top of a call's own cost, so ``syscall_us`` is taken off the
fitted bases (and off epoll_ctl) before they are written.

The latency terms (wake-up and its growth with the time asleep, SIGIO delivery, the call after
a multiplexer's wake-up, the cold first reads) are fitted on the real servers themselves: short
captures of a synthetic probe scenario (calibrate_servers.py), simulated back with the fitted
terms. The socket-pair wake-up and SIGIO figures stay in the report, and are used when the
servers cannot be probed.
"""

from __future__ import annotations

import argparse
import datetime
import fcntl
import multiprocessing
import os
import platform
import resource
import select
import signal
import socket
import statistics
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, fields, replace
from multiprocessing.connection import Connection
from pathlib import Path

from iosim.calibrate_servers import (
    PROBE_MODELS,
    SLEEPING_MODELS,
    WARM_FROM,
    ServerLatencies,
    probe_servers,
)
from iosim.errors import UserError
from iosim.real.client import wait_until
from iosim.sim.costs import Costs, dump_costs
from iosim.sim.run import simulate

SO_TIMESTAMPNS = 35  # Linux; Python 3.11 lacks the constant. cmsg: int64 sec, int64 nsec
F_SETOWN_EX = 15  # Linux; fcntl lacks it. Aims SIGIO at one thread (the main one)
F_OWNER_TID = 0
FD_SETSIZE = 1024
FD_COUNTS = (10, 100, 1000, 10000)
READY_COUNTS = (1, 10, 100)
COPY_SIZES = (4096, 65536, 1 << 20)
BATCHES = 7
PAUSE_S = 0.002  # between datagrams: the receiver falls asleep, as between a scenario's sends
GIVE_UP_S = 1.0  # a datagram or signal not seen by then is counted lost
IDLE_GAPS_MS = (2.0, 20.0)  # sleeps before a datagram: the scale of the scenarios' gaps
START_S = 0.02  # the first datagram's gap is counted from this far ahead
MAX_COLD_DECAY = 0.9  # the first reads' extra fades at least this fast, read after read

# Kerrisk, TLPI Table 63-9 (µs per call, one fd ready): fds -> (select, poll, epoll)
TLPI_US = {10: (7.3, 6.1, 4.1), 100: (30.0, 29.0, 4.2), 1000: (350.0, 350.0, 5.3),
           10000: (9300.0, 9900.0, 6.6)}


@dataclass(frozen=True)
class Budget:
    """How long calibration runs: ``seconds`` per call-cost measurement, ``samples`` round
    trips for each latency (wake-up, network, signal), ``probes`` captures of the probe
    scenario per real server."""

    seconds: float = 1.0
    samples: int = 300
    fd_counts: tuple[int, ...] = FD_COUNTS
    probes: int = 10


QUICK = Budget(seconds=0.03, samples=25, fd_counts=(10, 100, 1000), probes=4)


@dataclass
class Measured:
    """What was measured, in µs per call (copy: per recv_into of that many bytes)."""

    syscall_us: float = 0.0
    wakeup_us: float | None = None
    wakeup_per_idle_ms_us: float | None = None
    signal_cross_us: float | None = None  # another, busy process: stamp -> read in its handler
    network_us: float | None = None
    signal_us: float | None = None  # process asleep when SIGIO comes
    signal_busy_us: float | None = None  # process running Python code when SIGIO comes
    copy_us: dict[int, float] = field(default_factory=dict)
    select_us: dict[int, float] = field(default_factory=dict)
    poll_us: dict[int, float] = field(default_factory=dict)
    epoll_us: dict[int, float] = field(default_factory=dict)
    epoll_ready_us: dict[int, float] = field(default_factory=dict)
    epoll_ctl_us: float = 0.0
    servers: ServerLatencies | None = None  # the probe captured on the real servers
    notes: list[str] = field(default_factory=list)


Progress = Callable[[str], None]


def _stderr_progress(text: str) -> None:
    print(f"calibrate: {text}", file=sys.stderr, flush=True)


# --- timing helpers ---------------------------------------------------------------------------


def per_call_us(calls: Callable[[int], None], seconds: float, max_batch: int = 200_000
                ) -> float:
    """Median over BATCHES batches of the mean µs of one call; ``calls(n)`` makes n calls.
    The batch size is chosen from a first timing so that all batches take about ``seconds``."""
    n = 1
    while True:
        start = time.perf_counter_ns()
        calls(n)
        elapsed = time.perf_counter_ns() - start
        if elapsed > 1_000_000 or n >= max_batch:
            break
        n *= 4
    one_ns = elapsed / n
    batch = max(1, min(max_batch, int(seconds * 1e9 / BATCHES / max(one_ns, 1.0))))
    means = []
    for _ in range(BATCHES):
        start = time.perf_counter_ns()
        calls(batch)
        means.append((time.perf_counter_ns() - start) / batch / 1000.0)
    return statistics.median(means)


def fit_line(xs: list[float], ys: list[float], floor: float = 0.0) -> tuple[float, float]:
    """(base, slope) of y = base + slope * x, least squares on relative error (so that the
    small counts weigh as much as the large ones), with base >= ``floor``."""
    w = [1.0 / (y * y) if y > 0 else 0.0 for y in ys]
    sw = sum(w)
    sx = sum(wi * x for wi, x in zip(w, xs, strict=True))
    sy = sum(wi * y for wi, y in zip(w, ys, strict=True))
    sxx = sum(wi * x * x for wi, x in zip(w, xs, strict=True))
    sxy = sum(wi * x * y for wi, x, y in zip(w, xs, ys, strict=True))
    det = sw * sxx - sx * sx
    if det > 0:
        slope = (sw * sxy - sx * sy) / det
        base = (sy - slope * sx) / sw
        if base >= floor:
            return base, max(slope, 0.0)
    if not sxx:
        return floor, 0.0
    return floor, max((sxy - floor * sx) / sxx, 0.0)


def _stamp_ns(ancdata: list[tuple[int, int, bytes]]) -> int | None:
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return sec * 1_000_000_000 + nsec
    return None


@contextmanager
def _udp_pair(stamps: bool = False) -> Iterator[tuple[socket.socket, socket.socket]]:
    """A receiver bound on 127.0.0.1 (kernel arrival stamps on request) and a sender
    connected to it; both closed on the way out."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.bind(("127.0.0.1", 0))
        if stamps:
            rx.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        tx.connect(rx.getsockname())
        yield rx, tx


class _Sender:
    """A thread that sends one datagram each time it is asked, after PAUSE_S, noting the
    CLOCK_REALTIME of each send. It never receives SIGIO (blocked), and always ends."""

    def __init__(self, tx: socket.socket, samples: int) -> None:
        self.tx = tx
        self.sent_ns = [0] * samples
        self.go = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(samples,), daemon=True)

    def _run(self, samples: int) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGIO})
        for i in range(samples):
            while not self.go.wait(0.1):
                if self.stop.is_set():
                    return
            self.go.clear()
            if self.stop.is_set():
                return
            time.sleep(PAUSE_S)
            self.sent_ns[i] = time.time_ns()
            self.tx.send(b"x")

    def __enter__(self) -> _Sender:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.go.set()
        self.thread.join(timeout=2 * GIVE_UP_S)


# --- the measurements ---------------------------------------------------------------------


def measure_syscall(seconds: float) -> float:
    """A hot recv_into on an empty non-blocking socket: EWOULDBLOCK, the call the models
    make most."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
        buf = bytearray(64)
        recv_into = s.recv_into

        def calls(n: int) -> None:
            for _ in range(n):
                try:
                    recv_into(buf)
                except BlockingIOError:
                    pass
        return per_call_us(calls, seconds)


def _send_after_gaps(tx: socket.socket, gaps_ms: list[float]) -> list[int]:
    """Send one datagram after each idle gap, as the capture's client does (sleep, then spin
    the last SPIN_NS, send); the time_ns of each send."""
    sent = []
    t = time.time_ns() + int(START_S * 1e9)
    for gap in gaps_ms:
        t += int(gap * 1e6)
        wait_until(t)
        sent.append(time.time_ns())
        tx.send(b"x")
    return sent


def _peer_reads(rx: socket.socket, out: Connection, count: int, busy: bool) -> None:
    """In the peer process: ``count`` reads, blocked in recvmsg (``busy`` False) or in a
    SIGIO handler while spinning (True); sends back stamp -> return of each read, in ns."""
    got: list[int] = []

    def read() -> None:
        try:
            _, anc, _, _ = rx.recvmsg(16, socket.CMSG_SPACE(16))
        except BlockingIOError:
            return
        returned = time.time_ns()
        stamp = _stamp_ns(anc)
        got.append(returned - stamp if stamp else -1)

    try:
        if busy:
            signal.signal(signal.SIGIO, lambda _s, _f: read())
            rx.setblocking(False)
            fcntl.fcntl(rx, fcntl.F_SETOWN, os.getpid())
            fcntl.fcntl(rx, fcntl.F_SETFL, fcntl.fcntl(rx, fcntl.F_GETFL) | os.O_ASYNC)
        else:
            rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                          struct.pack("ll", int(GIVE_UP_S), 0))
        out.send("ready")
        deadline = time.perf_counter() + GIVE_UP_S + count * max(IDLE_GAPS_MS) / 1000
        while len(got) < count and time.perf_counter() < deadline:
            if not busy:
                read()
    finally:
        out.send([g for g in got if g >= 0])
        out.close()


def _cross_process(samples: int, busy: bool) -> dict[float, list[float]] | None:
    """Stamp -> return of reads in another process (the way a capture's server reads: its
    own process, woken by a datagram another process sends), by idle gap before each, µs."""
    gaps = [IDLE_GAPS_MS[i % len(IDLE_GAPS_MS)] for i in range(samples)]
    ctx = multiprocessing.get_context("fork")
    with _udp_pair(stamps=True) as (rx, tx):
        here, there = ctx.Pipe()
        peer = ctx.Process(target=_peer_reads, args=(rx, there, samples, busy), daemon=True)
        peer.start()
        try:
            there.close()
            if not here.poll(5.0):
                return None
            here.recv()
            _send_after_gaps(tx, gaps)
            got = here.recv() if here.poll(2 * GIVE_UP_S) else []
        finally:
            here.close()
            peer.join(2 * GIVE_UP_S)
            if peer.is_alive():
                peer.kill()
                peer.join()
    if len(got) != samples:
        return None
    by_gap: dict[float, list[float]] = {}
    for gap, ns in zip(gaps, got, strict=True):
        by_gap.setdefault(gap, []).append(ns / 1000.0)
    return by_gap


def measure_wakeup_and_network(samples: int) -> tuple[float | None, float | None,
                                                      float | None]:
    """Wake-up of another process asleep in recvmsg, less a read of data already queued, at
    two idle gaps: (wake-up, its growth per ms asleep, loopback delay send -> stamp)."""
    by_gap = _cross_process(samples, busy=False)
    queued, network = [], []
    with _udp_pair(stamps=True) as (rx, tx):
        for _ in range(samples):
            sent = time.time_ns()
            tx.send(b"x")
            if not select.select([rx], [], [], GIVE_UP_S)[0]:
                break
            called = time.time_ns()
            _, anc, _, _ = rx.recvmsg(16, socket.CMSG_SPACE(16))
            queued.append(time.time_ns() - called)
            stamp = _stamp_ns(anc)
            if stamp is not None:
                network.append(stamp - sent)
    if not by_gap or not queued:
        return None, None, None
    hot = statistics.median(queued) / 1000.0
    (short, w_short), (long, w_long) = sorted(
        (gap, max(0.0, statistics.median(v) - hot)) for gap, v in by_gap.items())
    per_ms = max(0.0, (w_long - w_short) / (long - short))
    base = max(0.0, w_short - per_ms * short)
    return base, per_ms, statistics.median(network) / 1000.0


def measure_signal_cross_process(samples: int) -> float | None:
    """Arrival stamp to the return of the read in the SIGIO handler of another process that
    is busy (as the sigio server is), less a read of data already queued."""
    by_gap = _cross_process(samples, busy=True)
    if not by_gap:
        return None
    return statistics.median(v for vs in by_gap.values() for v in vs)


class _Delivered(Exception):
    """Raised by the SIGIO handler to cut the main thread's sleep short."""


def measure_signal(samples: int, asleep: bool) -> float | None:
    """Arrival stamp to the Python SIGIO handler running in the main thread, which is either
    asleep (time.sleep) or busy running Python code. None outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return None
    seen: list[int] = []
    armed = [False]

    def handler(_signum: int, _frame: object) -> None:
        seen.append(time.time_ns())
        if armed[0]:
            armed[0] = False
            raise _Delivered

    latencies = []
    with _udp_pair(stamps=True) as (rx, tx), ExitStack() as stack:
        previous = signal.signal(signal.SIGIO, handler)
        stack.callback(signal.signal, signal.SIGIO, previous)
        rx.setblocking(False)
        fcntl.fcntl(rx, F_SETOWN_EX, struct.pack("ii", F_OWNER_TID, threading.get_native_id()))
        fcntl.fcntl(rx, fcntl.F_SETFL, fcntl.fcntl(rx, fcntl.F_GETFL) | os.O_ASYNC)
        stack.callback(fcntl.fcntl, rx, fcntl.F_SETFL, os.O_NONBLOCK)
        with _Sender(tx, samples) as sender:
            for _ in range(samples):
                seen.clear()
                armed[0] = asleep
                try:
                    sender.go.set()
                    if asleep:
                        time.sleep(GIVE_UP_S)
                    else:
                        _spin_until(seen, GIVE_UP_S)
                except _Delivered:
                    pass
                armed[0] = False
                try:
                    _, anc, _, _ = rx.recvmsg(16, socket.CMSG_SPACE(16))
                except BlockingIOError:
                    break
                stamp = _stamp_ns(anc)
                if seen and stamp is not None:
                    latencies.append(seen[0] - stamp)
    return statistics.median(latencies) / 1000.0 if latencies else None


def _spin_until(seen: list[int], seconds: float) -> None:
    """Run Python code (where signal handlers run at once) until ``seen`` fills."""
    deadline = time.perf_counter() + seconds
    while not seen and time.perf_counter() < deadline:
        pass


def measure_copy(sizes: tuple[int, ...], seconds: float) -> tuple[dict[int, float], list[str]]:
    """recv_into of ``size`` bytes already queued on a Unix stream socketpair, into a
    preallocated bytearray: per-call µs for each size the socket buffers can hold."""
    out: dict[int, float] = {}
    notes = []
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        for s in (a, b):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * max(sizes))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * max(sizes))
            s.setblocking(False)
        buf = bytearray(max(sizes))
        view = memoryview(buf)
        for size in sizes:
            data = bytes(size)
            times = []
            deadline = time.perf_counter() + seconds
            for _ in range(100_000):
                try:
                    sent = a.send(data)
                except BlockingIOError:
                    sent = 0
                if sent < size:
                    _drain(b, view)
                    notes.append(f"copy of {size} bytes not measured: the socket buffer "
                                 "holds less (raise net.core.wmem_max)")
                    break
                start = time.perf_counter_ns()
                got = b.recv_into(view, size)
                times.append((time.perf_counter_ns() - start) / 1000.0)
                if got < size:
                    _drain(b, view)
                    times.pop()
                if time.perf_counter() > deadline and len(times) >= 5:
                    break
            if times:
                out[size] = statistics.median(times)
    return out, notes


def _drain(s: socket.socket, view: memoryview) -> None:
    for _ in range(10_000):
        try:
            if not s.recv_into(view):
                return
        except BlockingIOError:
            return


def copy_gb_per_s(copy_us: dict[int, float]) -> float | None:
    """Bandwidth from the slope of time against size (the intercept is the call itself)."""
    if len(copy_us) >= 2:
        _, us_per_byte = fit_line(list(map(float, copy_us)), list(copy_us.values()))
        if us_per_byte > 0:
            return 1.0 / (us_per_byte * 1000.0)
    if copy_us:
        size, us = max(copy_us.items())
        return size / (us * 1000.0)
    return None


@contextmanager
def _open_files(needed: int) -> Iterator[int]:
    """Raise the soft RLIMIT_NOFILE towards ``needed`` (up to the hard limit) while measuring;
    yield how many more descriptors may be opened; put the limit back afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    infinite = resource.RLIM_INFINITY
    want = needed if hard == infinite else min(hard, needed)
    raised = soft != infinite and want > soft
    if raised:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    try:
        limit = needed if soft == infinite else max(soft, want)
        yield limit - len(os.listdir("/proc/self/fd")) - 16
    finally:
        if raised:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def measure_multiplexers(budget: Budget, measured: Measured, progress: Progress) -> None:
    """select, poll and epoll_wait on n UDP sockets of which one (or k) has a datagram
    queued; epoll_ctl ADD + DEL pairs. The one ready socket and the idle ones are opened
    first, so that select sees the lowest descriptors."""
    with ExitStack() as stack:
        room = stack.enter_context(_open_files(max(budget.fd_counts) + max(READY_COUNTS) + 64))
        counts = [n for n in budget.fd_counts if n - 1 + max(READY_COUNTS) <= room]
        measured.notes += [f"{n} descriptors not measured: RLIMIT_NOFILE allows about {room} "
                           "here" for n in budget.fd_counts if n not in counts]

        def udp() -> socket.socket:
            return stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))

        first = udp()
        idle = [udp() for _ in range(max(counts, default=1) - 1)]
        ready = [first] + [udp() for _ in range(max(READY_COUNTS) - 1)]
        tx = udp()
        for s in ready:
            s.bind(("127.0.0.1", 0))
            tx.sendto(b"x", s.getsockname())
        _wait_readable([s.fileno() for s in ready])
        for n in counts:
            fds = [first.fileno()] + [s.fileno() for s in idle[:n - 1]]
            if max(fds) < FD_SETSIZE:
                progress(f"select on {n} descriptors")
                measured.select_us[n] = per_call_us(_select_calls(fds), budget.seconds)
            progress(f"poll on {n} descriptors")
            measured.poll_us[n] = per_call_us(_poll_calls(fds), budget.seconds)
            progress(f"epoll_wait on {n} descriptors")
            measured.epoll_us[n] = _epoll_us(fds, budget.seconds)
        n = max(counts, default=0)
        for k in READY_COUNTS:
            fds = [s.fileno() for s in ready[:k]] + [s.fileno() for s in idle[:max(0, n - k)]]
            progress(f"epoll_wait with {k} of {len(fds)} descriptors ready")
            measured.epoll_ready_us[k] = _epoll_us(fds, budget.seconds)
        progress("epoll_ctl")
        measured.epoll_ctl_us = _epoll_ctl_us(first.fileno(), budget.seconds)


def _wait_readable(fds: list[int]) -> None:
    """Until every datagram sent to these sockets has arrived (poll: no FD_SETSIZE limit)."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + GIVE_UP_S
    while len(poller.poll(0)) < len(fds):
        if time.monotonic() > deadline:
            raise UserError("calibrate: loopback datagrams did not arrive within a second")
        time.sleep(0.001)


def _select_calls(fds: list[int]) -> Callable[[int], None]:
    sel = select.select

    def calls(n: int) -> None:
        for _ in range(n):
            sel(fds, (), (), 0)
    return calls


def _poll_calls(fds: list[int]) -> Callable[[int], None]:
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    poll = poller.poll

    def calls(n: int) -> None:
        for _ in range(n):
            poll(0)
    return calls


def _epoll_us(fds: list[int], seconds: float) -> float:
    with select.epoll() as ep:
        for fd in fds:
            ep.register(fd, select.EPOLLIN)
        poll = ep.poll

        def calls(n: int) -> None:
            for _ in range(n):
                poll(0)
        return per_call_us(calls, seconds)


def _epoll_ctl_us(fd: int, seconds: float) -> float:
    """One EPOLL_CTL_ADD and one EPOLL_CTL_DEL per round: half a round is one call."""
    with select.epoll() as ep:
        def calls(n: int) -> None:
            for _ in range(n):
                ep.register(fd, select.EPOLLIN)
                ep.unregister(fd)
        return per_call_us(calls, seconds) / 2


def measure(budget: Budget = Budget(), progress: Progress = _stderr_progress) -> Measured:
    """Every measurement in turn; sockets, signal handler and limits are restored even when
    interrupted."""
    if not sys.platform.startswith("linux"):
        raise UserError(f"calibrate measures Linux calls (epoll, SO_TIMESTAMPNS, SIGIO); "
                        f"this is {sys.platform}")
    m = Measured()
    progress("system call (recv -> EWOULDBLOCK)")
    m.syscall_us = measure_syscall(budget.seconds)
    progress(f"wake-up and loopback delay ({budget.samples} datagrams)")
    m.wakeup_us, m.wakeup_per_idle_ms_us, m.network_us = \
        measure_wakeup_and_network(budget.samples)
    progress(f"SIGIO delivery ({budget.samples} datagrams, asleep and busy)")
    m.signal_us = measure_signal(budget.samples, asleep=True)
    m.signal_busy_us = measure_signal(budget.samples, asleep=False)
    m.signal_cross_us = measure_signal_cross_process(budget.samples)
    progress("copy into a preallocated buffer (" +
             ", ".join(_size(s) for s in COPY_SIZES) + ")")
    m.copy_us, notes = measure_copy(COPY_SIZES, budget.seconds)
    m.notes.extend(notes)
    measure_multiplexers(budget, m, progress)
    progress(f"latency of the real servers ({', '.join(PROBE_MODELS)}: {budget.probes} "
             "captures each of a probe scenario)")
    try:
        m.servers = probe_servers(budget.probes)
    except UserError as exc:
        m.notes.append(f"the real servers could not be probed ({exc}): wake-up and SIGIO "
                       "come from the socket pairs alone")
    return m


# --- from measurements to costs -------------------------------------------------------------


def _sig(x: float) -> float:
    """Four significant digits: more would be noise."""
    return float(f"{x:.4g}")


def to_costs(m: Measured) -> tuple[Costs, list[str]]:
    """The cost profile; a key that could not be measured keeps its default (and is named)."""
    values: dict[str, float | None] = {
        "syscall_us": m.syscall_us,
        "wakeup_us": m.wakeup_us,
        "network_us": m.network_us,
        "copy_gb_per_s": copy_gb_per_s(m.copy_us),
        "wakeup_per_idle_ms_us": m.wakeup_per_idle_ms_us,
        "signal_us": m.signal_cross_us if m.signal_cross_us is not None else m.signal_us,
        "epoll_ctl_us": max(0.0, m.epoll_ctl_us - m.syscall_us),
    }
    for name, per_call, key in (("select", m.select_us, "per_fd"), ("poll", m.poll_us, "per_fd"),
                                ("epoll", m.epoll_ready_us, "per_ready")):
        if len(per_call) >= 2:
            base, slope = fit_line(list(map(float, per_call)), list(per_call.values()),
                                   floor=m.syscall_us)
            values[f"{name}_base_us"] = max(0.0, base - m.syscall_us)
            values[f"{name}_{key}_us"] = slope
    if m.servers is not None:
        values.update(server_terms(m.servers, m.syscall_us))
    measured = {k: _sig(v) for k, v in values.items() if v is not None}
    if measured.get("copy_gb_per_s") == 0.0:
        del measured["copy_gb_per_s"]
    costs = replace(Costs(), **measured)
    if m.servers is not None:
        cold = cold_terms(m.servers, costs)
        if cold is not None:
            measured["cold_start_us"], measured["cold_decay"] = map(_sig, cold)
            costs = replace(costs, cold_start_us=measured["cold_start_us"],
                            cold_decay=measured["cold_decay"])
    kept = [f.name for f in fields(Costs) if f.name not in measured]
    return costs, kept


def server_terms(servers: ServerLatencies, syscall_us: float) -> dict[str, float | None]:
    """The latency terms as the real servers pay them (probe captures), warm messages only:
    the blocking server's stamp -> return against the time it slept gives the wake-up (a
    line: base + per ms asleep); the sigio server's stamp -> read, less a hot call, against
    the time since its last handler, the signal's delivery (a line too); select's return ->
    recvfrom's return, less a hot call, the call after a multiplexer's wake-up."""
    out: dict[str, float | None] = {}
    by_gap = servers.by_gap("blocking")
    if len(by_gap) >= 2:
        base, per_ms = fit_line([ms for ms, _ in by_gap], [us for _, us in by_gap])
        out["wakeup_us"], out["wakeup_per_idle_ms_us"] = base, per_ms
    by_gap = servers.by_gap("select", after_wake=True)
    if len(by_gap) >= 2:
        base, per_ms = fit_line([ms for ms, _ in by_gap], [us for _, us in by_gap])
        out["call_after_wake_us"] = max(0.0, base - syscall_us)
        out["call_after_wake_per_idle_ms_us"] = per_ms
    by_gap = servers.by_gap("sigio")
    if len(by_gap) >= 2:
        base, per_ms = fit_line([ms for ms, _ in by_gap], [us for _, us in by_gap])
        out["signal_us"], out["signal_per_idle_ms_us"] = max(0.0, base - syscall_us), per_ms
    return out


def cold_terms(servers: ServerLatencies, warm_costs: Costs) -> tuple[float, float] | None:
    """The first reads' extra (cold_start_us, cold_decay): each probe run's first messages
    against the simulation of the probe with every other term fitted (which predicts warm
    reads). The first read's extra is the median over the servers; its decay, read after
    read, comes from the servers that sleep between reads (blocking, select): the median
    extra of their k-th read, k < WARM_FROM, taken as C * decay ** k. The first read after a
    wake-up pays only what the wake-up's idle part did not (Thread.cold_read): that part is
    added back to the first read's extra."""
    if servers.scenario is None:
        return None
    extra: dict[str, dict[int, list[float]]] = {}
    for model in PROBE_MODELS:
        cold = servers.cold(model)
        if not cold:
            continue
        run = simulate(servers.scenario, [model], warm_costs).runs[0]
        for s in cold:
            predicted = run.m_copy_end[s.index] - run.m_ready[s.index]
            got = s.latency_us - predicted
            if s.index == 0 and model in SLEEPING_MODELS and got > 0:
                got += warm_costs.wakeup_after_us(s.asleep_us) - warm_costs.wakeup_us  # absorbed
            extra.setdefault(model, {}).setdefault(s.index, []).append(got)
    firsts = [x for by_read in extra.values() for x in by_read.get(0, [])]
    if not firsts:
        return None
    sleepers = [by_read for model, by_read in extra.items() if model in SLEEPING_MODELS]
    by_read = [max(0.0, statistics.median(x for b in sleepers for x in b.get(k, [])))
               for k in range(WARM_FROM) if any(k in b for b in sleepers)]
    earlier, later = sum(by_read[:-1]), sum(by_read[1:])
    decay = min(MAX_COLD_DECAY, later / earlier) if earlier > 0 else 0.0
    return max(0.0, statistics.median(firsts)), decay


def _size(nbytes: int) -> str:
    return f"{nbytes >> 20} MB" if nbytes >= 1 << 20 else f"{nbytes >> 10} KB"


def _us(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f} ms" if value >= 1000 else f"{value:.2f} µs"


def report(m: Measured, costs: Costs, kept: list[str]) -> str:
    """The measured per-call figures beside TLPI Table 63-9, then the costs written."""
    lines = ["measured per call on this machine (median)"]
    single = [("system call (recv -> EWOULDBLOCK)", m.syscall_us),
              ("wake-up of a process asleep in recvmsg", m.wakeup_us),
              ("  more per ms asleep", m.wakeup_per_idle_ms_us),
              ("loopback delay (send -> kernel stamp)", m.network_us),
              ("SIGIO: kernel stamp -> handler, asleep", m.signal_us),
              ("SIGIO: kernel stamp -> handler, busy", m.signal_busy_us),
              ("SIGIO to another busy process: -> read", m.signal_cross_us),
              ("epoll_ctl", m.epoll_ctl_us)]
    single += [(f"recv_into {_size(size)}  ({size / us / 1000:.2f} GB/s)", us)
               for size, us in m.copy_us.items()]
    if m.servers is not None:
        single += m.servers.figures()
    width = max(len(name) for name, _ in single)
    lines += [f"  {name.ljust(width)}  {_us(value)}" for name, value in single]
    lines += ["", "  one descriptor ready     this machine                        "
                  "Kerrisk, TLPI Table 63-9",
              "  descriptors      select        poll       epoll      select        poll"
              "       epoll"]
    for n in sorted(set(m.select_us) | set(m.poll_us) | set(m.epoll_us) | set(TLPI_US)):
        ours = [_us(table.get(n)) for table in (m.select_us, m.poll_us, m.epoll_us)]
        if n <= max(m.poll_us, default=0) and n not in m.select_us:
            ours[0] = "FD_SETSIZE"
        theirs = [_us(v) for v in TLPI_US.get(n, (None, None, None))]
        lines.append(f"  {n:>11}" + "".join(c.rjust(12) for c in ours + theirs))
    if m.epoll_ready_us:
        lines.append("  epoll_wait with k ready: " + ", ".join(
            f"k={k} {_us(v)}" for k, v in m.epoll_ready_us.items()))
    lines += ["", "costs (the simulator adds syscall_us to every call's own cost)"]
    lines += [f"  {k} = {v!r}" + ("   (default: not measured)" if k in kept else "")
              for k, v in costs.to_dict().items()]
    lines += [f"note: {note}" for note in m.notes]
    return "\n".join(lines)


def header(seconds: float) -> str:
    uname = platform.uname()
    when = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    return (f"iosim calibrate, {when}\n"
            f"host {uname.node}: {uname.system} {uname.release} {uname.machine}, "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}; "
            f"measured in {seconds:.1f} s\n"
            "load with: iosim sim SCENARIO --costs THIS_FILE, or costs = \"THIS_FILE\" "
            "in a scenario")


def calibrate(budget: Budget = Budget(), progress: Progress = _stderr_progress
              ) -> tuple[str, str]:
    """Measure; return the costs file's text (TOML) and the report table."""
    start = time.perf_counter()
    m = measure(budget, progress)
    costs, kept = to_costs(m)
    seconds = time.perf_counter() - start
    table = report(m, costs, kept)
    text = dump_costs(costs, header(seconds) + "\n\n" + table)
    return text, f"{table}\n\nmeasured in {seconds:.1f} s"


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# --- the command ----------------------------------------------------------------------------


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate", help="measure this machine's costs (system call, wake-up, copy, select, "
                          "poll, epoll, signals)",
        description="Measure, in about 35 s, what each kernel operation costs on this machine "
                    "when made from Python: a system call, waking a blocked thread, the "
                    "loopback delay, copying into a buffer, select/poll/epoll with 10 to "
                    "10,000 descriptors, SIGIO delivery; then fit the latency terms (wake-up "
                    "after an idle gap, SIGIO, cold first reads) on short captures of a "
                    "probe scenario against iosim's real servers. Prints the figures beside "
                    "Kerrisk's (TLPI Table 63-9) and writes a costs file for 'iosim sim "
                    "--costs' or a scenario's costs = \"FILE\". Progress goes to stderr.")
    p.add_argument("-o", "--output", metavar="COSTS.toml",
                   help="write the costs file here and print the table on stdout; without it "
                        "the costs file (TOML, the table in its comments) goes to stdout and "
                        "the table to stderr")
    p.add_argument("--quick", action="store_true",
                   help="a rough profile in about 5 s (fewer repetitions and probe captures, "
                        "up to 1,000 descriptors)")
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    out = Path(args.output) if args.output else None
    if out is not None and not out.parent.is_dir():
        raise UserError(f"{out}: no such directory {str(out.parent)!r}")
    text, table = calibrate(QUICK if args.quick else Budget())
    if out is None:
        print(table, file=sys.stderr)
        sys.stdout.write(text)
        return 0
    try:
        write_atomically(out, text)
    except OSError as exc:
        raise UserError(f"{out}: cannot write ({exc.strerror})") from None
    print(table)
    print(f"wrote {out}")
    return 0
