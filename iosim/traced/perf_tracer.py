"""The perf tracer: ``perf record`` runs the program and records its calls at the kernel's
own syscall tracepoints (each call's entry with its raw arguments, and its exit), with the
events that let perf_calls.py write them as strace would (tasks made and ended, signals
delivered, the socket state changes of listen and connect). Tracepoints stop nobody: the
program pays the few µs of writing two events into perf's buffer, where strace stops it twice
a call (about 40 µs here), which bends the very timings iosim draws. perf reads its buffer on
another CPU and the calls are turned into records after the run.

While the program runs, iosim learns what it waits for from /proc instead of from strace's
lines: which ports the program's own sockets listen on (``ProcWatch``), and from the kernel's
socket tables whether it has read what was sent and closed its connections (session.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from iosim.errors import UserError
from iosim.traced.runner import CALLS, probe_costs, run_probe
from iosim.traced.sockets import PROC_TABLES, proc_sockets

EVENTS_DIR = Path("/sys/kernel/tracing/events")
EXTRA_CALLS = ("dup", "dup2", "dup3", "exit_group")  # followed for the descriptor tables
TASK_EVENTS = ("task:task_newtask", "signal:signal_deliver", "sched:sched_process_exit",
               "sock:inet_sock_set_state")
SCRIPT = Path(__file__).with_name("perf_calls_script.py")
RING_PAGES = 1024  # perf's buffer per CPU (4 MB): a burst of calls loses no event
MAX_DATA_BYTES = 256 << 20  # about MAX_RECORDS calls: the run stops there
SCRIPT_TIMEOUT_S = 600.0
SCAN_S = 0.02  # how often /proc is read while the program runs
MAX_FDS = 1024  # a process with more descriptors is not searched for new ones (c10k)
EVENTPOLL = "anon_inode:[eventpoll]"
Address = tuple[str, int]
LOST = re.compile(r"Processed \d+ events and lost \d+ chunks")
UNSEEN = ("what the calls' pointers point to, which tracepoints do not read: epoll_ctl's "
          "event flags (level- or edge-triggered), the value FIONBIO sets, a datagram's "
          "sender; an accepted connection's addresses come from the kernel's handshakes")


def syscall_events() -> list[str]:
    """The entry and exit tracepoints of every call iosim reads that this kernel has."""
    found = []
    for name in (*CALLS, *EXTRA_CALLS):
        enter, leave = f"sys_enter_{name}", f"sys_exit_{name}"
        if (EVENTS_DIR / "syscalls" / enter).is_dir() and \
                (EVENTS_DIR / "syscalls" / leave).is_dir():
            found += [f"syscalls:{enter}", f"syscalls:{leave}"]
    return found


def why_not() -> str | None:
    """None when the perf tracer can run here, else why not, in words."""
    if shutil.which("perf") is None:
        return "perf is not installed (Debian: apt-get install linux-perf)"
    if not syscall_events():
        return f"{EVENTS_DIR}/syscalls is not readable (perf needs root or CAP_PERFMON)"
    missing = [e for e in TASK_EVENTS if not (EVENTS_DIR / e.replace(":", "/")).is_dir()]
    return f"this kernel lacks {', '.join(missing)}" if missing else None


def perf_version(perf: str) -> str:
    try:
        out = subprocess.run([perf, "version"], capture_output=True, text=True,
                             timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return (out or "perf") + " (syscall tracepoints)"


def perf_command(perf: str, data: Path, command: Sequence[str]) -> list[str]:
    """perf record as the tracer: CLOCK_MONOTONIC (its times move to strace's clock by the
    offset measured now), no build-ids, no BPF side band, a large buffer, and the program
    started by perf itself so that its threads and children are followed from their start."""
    events = [arg for event in (*syscall_events(), *TASK_EVENTS) for arg in ("-e", event)]
    return [perf, "record", "-q", "-k", "mono", "-B", "-N", "--no-bpf-event",
            "-m", str(RING_PAGES), "-o", str(data), *events, "--", *command]


def measure_cost(perf: str, workdir: Path) -> tuple[float, float]:
    """probe_costs under the perf tracer with the run's options; also finds out, before the
    program starts, that perf may record."""
    done = run_probe("perf", lambda argv: perf_command(perf, workdir / "probe.data", argv))
    (workdir / "probe.data").unlink(missing_ok=True)
    if done.returncode != 0 or not done.stdout.strip():
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
        raise UserError(f"perf could not trace ({last or f'exit status {done.returncode}'}); "
                        "use --tracer strace")
    return probe_costs(done.stdout)


def script_lines(perf: str, data: Path) -> tuple[list[str], str]:
    """The recording, one line per event (perf_calls_script.py), in time order; and, where
    perf lost events (its buffer was full), what it said about it."""
    if not data.exists():
        return [], ""
    try:
        done = subprocess.run([perf, "script", "-i", str(data), "-s", str(SCRIPT)],
                              capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S,
                              errors="replace")
    except subprocess.TimeoutExpired:
        raise UserError(f"perf script did not read the recording within "
                        f"{SCRIPT_TIMEOUT_S:.0f} s") from None
    lost = LOST.search(done.stderr)
    return done.stdout.splitlines(), lost.group(0) if lost else ""


def traced_tasks(lines: list[str]) -> set[int]:
    """Every task the recording saw make a call."""
    return {int(line.split(maxsplit=3)[2]) for line in lines
            if line.startswith("E ") and line.count(" ") >= 3}


class ProcWatch:
    """The program's sockets as /proc shows them while it runs: the ports its own sockets
    listen on (TCP) or are bound to (UDP), each bound socket's address by (process,
    descriptor), which perf's tracepoints do not carry for a UDP bind, and the event flags of
    what each epoll instance watches (/proc/PID/fdinfo), which they do not carry for
    epoll_ctl: (process, epoll descriptor, watched descriptor) -> flags, as first seen."""

    def __init__(self) -> None:
        self.listening: dict[int, set[str]] = {}
        self.bound: dict[tuple[int, int], Address] = {}
        self.epoll_flags: dict[tuple[int, int, int], int] = {}
        self.targets: dict[tuple[int, int], str] = {}  # (process, descriptor) -> its link
        self.next_scan = 0.0

    def scan(self, pids: list[int]) -> None:
        """Every SCAN_S: the program's new descriptors, what its epoll instances watch, and
        (until it listens) the kernel's socket tables."""
        now = time.monotonic()
        if now < self.next_scan:
            return
        self.next_scan = now + SCAN_S
        for pid in pids:
            self._descriptors(pid)
        for (pid, fd), target in self.targets.items():
            if target == EVENTPOLL:
                self._epoll(pid, fd)
        if not self.listening:
            self._sockets()

    def _descriptors(self, pid: int) -> None:
        """Read the links of descriptors not seen before, or seen as something else than a
        socket or an epoll instance (a number is reused once closed: a Python program reads
        its modules through the number its listening socket gets next); every link until the
        program listens. At most MAX_FDS descriptors a process."""
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            return
        if len(fds) > MAX_FDS:
            return
        for fd in fds:
            seen = self.targets.get((pid, int(fd))) if fd.isdigit() else ""
            if seen is None or not self.listening or not seen.startswith(("socket:", EVENTPOLL)):
                try:
                    self.targets[(pid, int(fd))] = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue

    def _epoll(self, pid: int, fd: int) -> None:
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                text = f.read(1 << 20)
        except OSError:
            return
        for line in text.splitlines():
            fields = line.split()
            if len(fields) >= 4 and fields[0] == "tfd:" and fields[2] == "events:":
                try:
                    key = (pid, fd, int(fields[1]))
                    self.epoll_flags.setdefault(key, int(fields[3], 16))
                except ValueError:
                    continue

    def _sockets(self) -> None:
        owners = {int(target[8:-1]): key for key, target in self.targets.items()
                  if target.startswith("socket:[") and target[8:-1].isdigit()}
        if not owners:
            return
        for proto, path in PROC_TABLES:
            for inode, local, peer, state in proc_sockets(path):
                owner = owners.get(inode)
                if owner is None or local is None or not local[1] or peer is not None:
                    continue
                if proto == "tcp" and state != "0A":
                    continue
                self.listening.setdefault(local[1], set()).add(proto)
                self.bound[owner] = local
