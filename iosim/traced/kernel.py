"""The kernel's side of a trace: the moment data reached a socket's receive queue (phase 1
ends: the tracepoint sock:sk_data_ready) and which socket each receive of a traced task read
(sock:sock_recv_length: the socket's address, the task, the bytes) and when the copy to the
task's memory began (skb:skb_copy_datagram_iovec), recorded by perf.

Why perf: it is packaged with the kernel tools (Debian's linux-perf), runs as one process of
ours that goes when it is stopped (a tracefs instance would stay configured in the kernel if
iosim were killed), starts with its events disabled and says when they are on (its control
FIFO), and its script hook hands over the raw fields, the socket's address included, which the
tracepoints' text format leaves out. bpftrace would do as well but is one more package to
install.

The clock: strace stamps with CLOCK_REALTIME; perf may not (the kernel refuses CLOCK_REALTIME
for system-wide tracepoints: "wrong clockid"), so perf records CLOCK_MONOTONIC and the offset
between the two clocks, measured at start and at stop, moves its times onto strace's clock.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import select
import shutil
import signal
import subprocess
import time
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from iosim.processes import stop

TRACEPOINTS = ("sock:sk_data_ready", "sock:sock_recv_length", "sock:inet_sock_set_state",
               "skb:skb_copy_datagram_iovec")
INET_ONLY = "family == 2 || family == 10"  # AF_INET, AF_INET6
FILTERS = {"sock:inet_sock_set_state": "newstate == 1",  # TCP_ESTABLISHED: a connection's birth
           "skb:skb_copy_datagram_iovec": "len > 0"}  # a copy to user memory begins
SCRIPT = Path(__file__).with_name("perf_script.py")
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 20.0
SCRIPT_TIMEOUT_S = 120.0
PERF_HINT = "perf is not installed (Debian: apt-get install linux-perf)"


def clock_offset_ns() -> int:
    """CLOCK_REALTIME - CLOCK_MONOTONIC, from the tightest of a few bracketed reads."""
    best = None
    for _ in range(7):
        a = time.clock_gettime_ns(time.CLOCK_REALTIME)
        m = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        b = time.clock_gettime_ns(time.CLOCK_REALTIME)
        if best is None or b - a < best[0]:
            best = (b - a, (a + b) // 2 - m)
    assert best is not None
    return best[1]


Address = tuple[str, int]
SYN_RECV = 3  # the state a server's side of a connection leaves when it is established


def _address(family: int, number: int, port: int) -> Address:
    host = ipaddress.IPv4Address(number) if family == 2 else ipaddress.IPv6Address(number)
    return str(host), port


@dataclass
class KernelEvents:
    """Times on CLOCK_REALTIME (ns). ``arrivals``: per socket address, the sorted times data
    (or a FIN) reached it. ``receives``: per task, sorted (time, socket address, result) of
    its receives. ``born``: per socket address, when a TCP connection on it was established
    (an address is reused once its socket is freed)."""

    arrivals: dict[int, list[int]] = field(default_factory=dict)
    born: dict[int, list[int]] = field(default_factory=dict)
    receives: dict[int, list[tuple[int, int, int]]] = field(default_factory=dict)
    copies: dict[int, list[int]] = field(default_factory=dict)  # task -> copy starts
    # per local port, sorted (time, local, peer) of each connection a server's side
    # established (SYN_RECV -> ESTABLISHED): what its accept() will return, oldest first
    handshakes: dict[int, list[tuple[int, Address, Address]]] = field(default_factory=dict)
    offset_ns: int = 0
    drift_ns: int = 0

    def receive(self, tid: int, enter_ns: int, before_ns: int,
                result: int) -> tuple[int, int] | None:
        """(time, socket address) of the kernel's record of the receive a task made in a
        call strace saw enter at ``enter_ns``; the task's next call began at ``before_ns``."""
        events = self.receives.get(tid, [])
        i = bisect_left(events, (enter_ns, 0, 0))
        found = None
        while i < len(events) and events[i][0] < before_ns:
            t, sk, ret = events[i]
            if ret == result:
                return t, sk
            found = found or (t, sk)
            i += 1
        return found

    def copy_start(self, tid: int, enter_ns: int, done_ns: int) -> int | None:
        """When the kernel began copying data to the task's memory in a receive that
        entered at ``enter_ns`` and ended at ``done_ns`` (its first chunk), or None."""
        times = self.copies.get(tid, [])
        i = bisect_left(times, enter_ns)
        return times[i] if i < len(times) and times[i] <= done_ns else None


def read_script_output(path: Path, offset_ns: int, tids: set[int]) -> KernelEvents:
    """perf_script.py's lines -> KernelEvents of the traced tasks, times moved to
    CLOCK_REALTIME. perf saw every socket of the machine: two passes over the file keep the
    receives of ``tids``, then the arrivals on the sockets those receives read."""
    events = KernelEvents(offset_ns=offset_ns)
    sockets: set[int] = set()
    for kind, fields in _script_lines(path):
        if kind == "r" and len(fields) == 4 and fields[1] in tids:
            t, tid, sk, ret = fields
            events.receives.setdefault(tid, []).append((t + offset_ns, sk, ret))
            sockets.add(sk)
        elif kind == "c" and len(fields) == 2 and fields[1] in tids:
            events.copies.setdefault(fields[1], []).append(fields[0] + offset_ns)
    for kind, fields in _script_lines(path):
        if kind == "e" and len(fields) == 8 and fields[2] == SYN_RECV:
            t, _, _, sport, dport, family, saddr, daddr = fields
            events.handshakes.setdefault(sport, []).append(
                (t + offset_ns, _address(family, saddr, sport), _address(family, daddr, dport)))
        if kind in ("d", "e") and len(fields) >= 2 and fields[1] in sockets:
            table = events.arrivals if kind == "d" else events.born
            table.setdefault(fields[1], []).append(fields[0] + offset_ns)
    for times in (*events.arrivals.values(), *events.born.values(), *events.copies.values()):
        times.sort()
    for rows in (*events.receives.values(), *events.handshakes.values()):
        rows.sort()
    return events


def _script_lines(path: Path) -> Iterator[tuple[str, list[int]]]:
    with open(path, encoding="ascii", errors="replace") as f:
        for line in f:
            kind, _, rest = line.partition(" ")
            try:
                yield kind, [int(x) for x in rest.split()]
            except ValueError:
                continue


def tracepoint_args() -> list[str]:
    """The kernel side's tracepoints, each with its filter, on every CPU."""
    args = ["-a"]
    for tracepoint in TRACEPOINTS:
        args += ["-e", tracepoint, "--filter", FILTERS.get(tracepoint, INET_ONLY)]
    return args


class Perf:
    """``perf record`` of some events (by default the kernel side's tracepoints on every
    CPU), its events enabled once it runs; ``name`` prefixes its files in ``workdir``."""

    def __init__(self, perf: str, workdir: Path, events: list[str] | None = None,
                 name: str = "perf") -> None:
        self.perf = perf
        self.data = workdir / f"{name}.data"
        self.errors = workdir / f"{name}.stderr"
        ctl, ack = workdir / f"{name}.ctl", workdir / f"{name}.ack"
        os.mkfifo(ctl)
        os.mkfifo(ack)
        self.ack = os.open(ack, os.O_RDONLY | os.O_NONBLOCK)
        # CLOCK_MONOTONIC, no build-ids, no BPF side band thread (it would hold the stop up
        # to its 1 s poll), events off until enabled
        command = [perf, "record", "-q", "-k", "mono", "-B", "-N", "--no-bpf-event",
                   "-o", str(self.data), "-D", "-1", "--control", f"fifo:{ctl},{ack}",
                   *(tracepoint_args() if events is None else events)]
        with open(self.errors, "wb") as err:
            self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err,
                                         start_new_session=True)
        self.ctl_path = ctl
        self.offset_ns = clock_offset_ns()

    def why_not(self) -> str:
        text = self.errors.read_text(errors="replace").strip() if self.errors.exists() else ""
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return lines[0] if lines else f"perf exited with status {self.proc.poll()}"

    def enable(self) -> str | None:
        """Turn the events on and wait for perf to say so; None when on, else why not."""
        deadline = time.monotonic() + START_TIMEOUT_S
        ctl = -1
        while ctl < 0:
            if self.proc.poll() is not None:
                return self.why_not()
            if time.monotonic() > deadline:
                return f"perf did not start within {START_TIMEOUT_S:.0f} s"
            try:
                ctl = os.open(self.ctl_path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: perf has not opened its end yet
                    raise
                time.sleep(0.005)
        try:
            os.write(ctl, b"enable\n")
        finally:
            os.close(ctl)
        reply = b""
        while b"ack" not in reply:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                return self.why_not() if self.proc.poll() is not None else \
                    f"perf did not enable its events within {START_TIMEOUT_S:.0f} s"
            if select.select([self.ack], [], [], min(left, 0.1))[0]:
                reply += os.read(self.ack, 64)
        return None

    def stop(self, tids: set[int]) -> KernelEvents:
        """Stop recording (SIGINT: perf writes its file) and read back the events of the
        traced tasks ``tids`` and of the sockets they read."""
        offset_end = clock_offset_ns()
        self.close()
        lines = self.data.with_name("perf.lines")
        with open(lines, "wb") as out:
            subprocess.run([self.perf, "script", "-i", str(self.data), "-s", str(SCRIPT)],
                           stdout=out, stderr=subprocess.DEVNULL, timeout=SCRIPT_TIMEOUT_S)
        events = read_script_output(lines, (self.offset_ns + offset_end) // 2, tids)
        events.drift_ns = offset_end - self.offset_ns
        return events

    def close(self) -> None:
        stop(self.proc, signal.SIGINT, STOP_TIMEOUT_S)
        if self.ack >= 0:
            os.close(self.ack)
            self.ack = -1


def start(workdir: Path) -> Perf | str:
    """perf recording with its events on, or the reason there is no kernel side."""
    perf = shutil.which("perf")
    if perf is None:
        return PERF_HINT
    recorder = Perf(perf, workdir)
    reason = recorder.enable()
    if reason is not None:
        recorder.close()
        return f"perf could not record {' and '.join(TRACEPOINTS)}: {reason}"
    return recorder
