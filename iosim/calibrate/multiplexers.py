"""Per-call cost of select, poll and epoll_wait with 10 to 10,000 descriptors, and of
epoll_ctl: the whole call as Python makes it, with one descriptor ready, as in Kerrisk's TLPI
Table 63-9 (fit.py draws a line through them: base + per-descriptor cost)."""

from __future__ import annotations

import os
import resource
import select
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from iosim.calibrate.measured import Budget, Measured, Progress
from iosim.calibrate.micro import GIVE_UP_S, per_call_us
from iosim.errors import UserError

FD_SETSIZE = 1024
READY_COUNTS = (1, 10, 100)


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
