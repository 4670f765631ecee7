"""Micro-measurements on socket pairs: a system call, a wake-up, the loopback delay, SIGIO
delivery and a copy, each as Python pays for it. A per-call cost is the least of batch means,
a latency the median of single round trips, so that the scheduler's interruptions do not move
them."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import select
import signal
import socket
import statistics
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from multiprocessing.connection import Connection

from iosim.real.client import wait_until
from iosim.real.record import enable_stamps, stamp_ns

F_SETOWN_EX = 15  # Linux; fcntl lacks it. Aims SIGIO at one thread (the main one)
F_OWNER_TID = 0
COPY_SIZES = (4096, 65536, 1 << 20)
BATCHES = 7
PAUSE_S = 0.002  # between datagrams: the receiver falls asleep, as between a scenario's sends
GIVE_UP_S = 1.0  # a datagram or signal not seen by then is counted lost
IDLE_GAPS_MS = (2.0, 20.0)  # sleeps before a datagram: the scale of the scenarios' gaps
START_S = 0.02  # the first datagram's gap is counted from this far ahead


def per_call_us(calls: Callable[[int], None], seconds: float, max_batch: int = 200_000
                ) -> float:
    """The least, over BATCHES batches, of the mean µs of one call; ``calls(n)`` makes n calls.
    The batch size is chosen from a first timing so that all batches take about ``seconds``.
    The least, not the median: another process only ever adds time to a batch, and on a busy
    machine most batches can be hit (the median of poll over 1,000 descriptors came out below
    the one over 10); on a quiet one the two agree within 1.5%."""
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
    return min(means)


@contextmanager
def _udp_pair(stamps: bool = False) -> Iterator[tuple[socket.socket, socket.socket]]:
    """A receiver bound on 127.0.0.1 (kernel arrival stamps on request) and a sender
    connected to it; both closed on the way out."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.bind(("127.0.0.1", 0))
        if stamps:
            enable_stamps(rx)
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
        stamp = stamp_ns(anc)
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


def measure_wakeup_and_network(samples: int) -> tuple[float | None, float | None]:
    """Wake-up of another process asleep in recvmsg, less a read of data already queued, at
    two idle gaps and drawn back to no idle; and the loopback delay send -> stamp."""
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
            stamp = stamp_ns(anc)
            if stamp:
                network.append(stamp - sent)
    if not by_gap or not queued:
        return None, None
    hot = statistics.median(queued) / 1000.0
    (short, w_short), (long, w_long) = sorted(
        (gap, max(0.0, statistics.median(v) - hot)) for gap, v in by_gap.items())
    per_ms = max(0.0, (w_long - w_short) / (long - short))
    return max(0.0, w_short - per_ms * short), statistics.median(network) / 1000.0


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
                stamp = stamp_ns(anc)
                if seen and stamp:
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
