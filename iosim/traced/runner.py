"""Running a program under strace: the command line, the cost of tracing measured before the
run, the output file read as it grows, and stopping the program and everything it started.

strace runs in a session of its own (its process group holds the traced program and all its
children), so a Ctrl-C typed at the terminal reaches iosim alone, and iosim stops the group
member by member, by process id, before it lets strace go.
"""

from __future__ import annotations

import inspect
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from iosim.errors import UserError

# The calls iosim reads (IO models, threads, signal set-up, every way a program waits);
# restart_syscall shows a call the kernel restarted after a signal, rt_sigreturn the end of a
# signal handler, pread64 on a socket (ESPIPE) glibc's POSIX aio. Everything else runs
# untraced (--seccomp-bpf).
CALLS = (
    "socket", "bind", "listen", "accept", "accept4", "connect", "close",
    "read", "readv", "recvfrom", "recvmsg", "recvmmsg", "pread64",
    "write", "writev", "sendto", "sendmsg", "sendmmsg",
    "select", "pselect6", "poll", "ppoll",
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
    "io_uring_setup", "io_uring_enter", "fcntl", "ioctl", "rt_sigaction", "rt_sigreturn",
    "rt_sigsuspend", "pause", "nanosleep", "clock_nanosleep", "futex", "wait4", "waitid",
    "rt_sigtimedwait",
    "clone", "clone3", "fork", "vfork", "restart_syscall",
)
INSTALL_HINT = ("strace is not installed; install it with your package manager "
                "(Debian/Ubuntu: apt-get install strace; Fedora: dnf install strace)")
STOP_TIMEOUT_S = 5.0
PROBE_TIMEOUT_S = 60.0
PROBE_CALLS, PROBE_BATCHES = 300, 5
CHUNK = 1 << 20
LAST_LINE_MAX = 4096  # a line of the program's stderr longer than this is cut


def strace_path() -> str:
    path = shutil.which("strace")
    if path is None:
        raise UserError(INSTALL_HINT)
    return path


def strace_command(strace: str, output: Path, command: Sequence[str],
                   stacks: bool = False, addresses: bool = True) -> list[str]:
    """strace as iosim runs it: follow threads and children (-f), wall-clock entry times to the
    microsecond (-ttt, the clock of the kernel's stamps), time spent in each call (-T), what
    each descriptor is with socket addresses (-yy; without ``addresses``, -y: the socket's
    inode only, whose addresses sockets.py learns from the calls, for runs of many sockets,
    where -yy's look-ups take milliseconds a call), no string contents (-s 0), no attach
    chatter (-q), and only the calls iosim reads stop the program (--seccomp-bpf); with
    ``stacks``, each call's stack (-k), for the line of the program that made it."""
    return [strace, "-f", "-q", "-ttt", "-T", "-yy" if addresses else "-y", "-s", "0",
            "--seccomp-bpf",
            *(["-k"] if stacks else []),
            "-e", "trace=" + ",".join(CALLS), "-o", str(output), "--", *command]


def strace_version(strace: str) -> str:
    try:
        out = subprocess.run([strace, "-V"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "strace"
    first = out.splitlines()[0] if out else "strace"
    return first.replace(" -- version", "")


def command_path(command: Sequence[str], what: str = "command") -> str:
    """The program CMD starts, found now: a missing one is the user's error, not a trace."""
    if not command:
        raise UserError(f"no {what} given (put it after --: iosim trace -- python server.py)")
    found = shutil.which(command[0])
    if found is None:
        raise UserError(f"{command[0]}: {what} not found")
    return found


# -- the cost of tracing ------------------------------------------------------------------------


def _recv_loop_ns(calls: int, batches: int) -> float:
    """The least mean time of a hot recv on an empty non-blocking UDP socket (EWOULDBLOCK, the
    call a polling server makes most), over ``batches`` batches of ``calls``."""
    import socket as sk
    import time as tm

    sock = sk.socket(sk.AF_INET, sk.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    best = float("inf")
    for _ in range(batches):
        start = tm.perf_counter_ns()
        for _ in range(calls):
            try:
                sock.recv(1)
            except BlockingIOError:
                pass
        best = min(best, (tm.perf_counter_ns() - start) / calls)
    sock.close()
    return best


def _ptrace_refused(stderr: str) -> str:
    """Why strace could not trace, in words a user can act on."""
    why = ["ptrace is not permitted here, so strace cannot trace",
           "a program has one tracer at most (is iosim itself run under strace or a debugger?)"]
    scope = Path("/proc/sys/kernel/yama/ptrace_scope")
    if scope.exists():
        why.append(f"/proc/sys/kernel/yama/ptrace_scope is {scope.read_text().strip()} (0 or 1 "
                   "let a user trace the programs it starts, 2 needs CAP_SYS_PTRACE, 3 "
                   "forbids ptrace until reboot)")
    why.append("in a container, give it the SYS_PTRACE capability (docker run "
               "--cap-add=SYS_PTRACE) and a seccomp profile that allows ptrace")
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    return "; ".join(why) + (f". strace said: {last}" if last else "")


def run_probe(tracer: str, command_of: Callable[[list[str]], list[str]]
              ) -> subprocess.CompletedProcess[str]:
    """The probe loop run under a tracer: ``command_of`` makes the tracer's command line of
    the program's."""
    code = (inspect.getsource(_recv_loop_ns)
            + f"\nprint(_recv_loop_ns({PROBE_CALLS}, {PROBE_BATCHES}))\n")
    try:
        return subprocess.run(command_of([sys.executable, "-c", code]), capture_output=True,
                              text=True, timeout=PROBE_TIMEOUT_S, start_new_session=True)
    except subprocess.TimeoutExpired:
        raise UserError(f"{tracer} did not finish a {PROBE_CALLS * PROBE_BATCHES}-call probe "
                        f"within {PROBE_TIMEOUT_S:.0f} s") from None


def probe_costs(stdout: str) -> tuple[float, float]:
    """(µs a traced call costs more than an untraced one, µs a traced call takes): the
    probe's figure beside the same loop run now, untraced."""
    traced_ns = float(stdout.split()[-1])
    bare_ns = _recv_loop_ns(PROBE_CALLS, PROBE_BATCHES)
    return max(traced_ns - bare_ns, 0.0) / 1000.0, traced_ns / 1000.0


def measure_cost(strace: str, workdir: Path) -> tuple[float, float]:
    """probe_costs under strace with the run's options; also finds out, before the program
    starts, that strace may trace at all (ptrace permitted)."""
    done = run_probe("strace", lambda argv: strace_command(strace, workdir / "probe.strace",
                                                           argv))
    if done.returncode != 0 or not done.stdout.strip():
        if "not permitted" in done.stderr or "EPERM" in done.stderr:
            raise UserError(_ptrace_refused(done.stderr))
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
        raise UserError(f"strace failed ({last or f'exit status {done.returncode}'})")
    return probe_costs(done.stdout)


# -- the output, as it grows --------------------------------------------------------------------


class Tail:
    """New complete lines of a file another process is writing (strace flushes each line),
    at most CHUNK bytes at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: BinaryIO | None = None
        self.partial = b""

    def lines(self) -> list[str]:
        if self.file is None:
            try:
                self.file = open(self.path, "rb")  # kept open while it grows
            except FileNotFoundError:
                return []
        chunk = self.file.read(CHUNK)
        if not chunk:
            return []
        data = self.partial + chunk
        cut = data.rfind(b"\n") + 1
        self.partial = data[cut:]
        return data[:cut].decode("utf-8", "replace").splitlines()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


# -- the traced program's process group ---------------------------------------------------------


def group_members(pgid: int) -> list[int]:
    """Live processes (not zombies) of a process group, read from /proc."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


class LastLine:
    """The program's standard error, passed on as it comes (a thread drains the pipe, so a
    chatty program never blocks on it) with its last non-empty line kept, to say why it
    exited."""

    def __init__(self, pipe: BinaryIO) -> None:
        self.pipe = pipe
        self.last = ""
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        out = sys.stderr.buffer
        for raw in iter(lambda: self.pipe.readline(LAST_LINE_MAX), b""):
            try:
                out.write(raw)
                out.flush()
            except (OSError, ValueError):
                pass
            text = raw.decode("utf-8", "replace").strip()
            if text:
                self.last = text

    def wait(self) -> str:
        self.thread.join(STOP_TIMEOUT_S)
        return self.last


class Traced:
    """A tracer (strace, or perf record) and the program it runs, in a session of their own,
    given as the tracer's whole command line; ``output``: the file it writes as it goes. The
    program's standard input is /dev/null; its standard output is iosim's; its standard error
    is passed on."""

    def __init__(self, argv: list[str], output: Path, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True, env=env)
        assert self.proc.stderr is not None
        self.stderr = LastLine(self.proc.stderr)
        self.tail = Tail(output)

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def program_pids(self) -> list[int]:
        return [pid for pid in group_members(self.proc.pid) if pid != self.proc.pid]

    def stop(self) -> None:
        """SIGTERM to each process of the group but the tracer (once each, also to those that
        appear meanwhile), SIGKILL after STOP_TIMEOUT_S; the tracer ends when the last of them
        has, and is killed if it still runs after twice that."""
        start = time.monotonic()
        termed: set[int] = set()
        while self.running and time.monotonic() - start < 2 * STOP_TIMEOUT_S:
            late = time.monotonic() - start >= STOP_TIMEOUT_S
            for pid in self.program_pids():
                if late or pid not in termed:
                    _signal(pid, signal.SIGKILL if late else signal.SIGTERM)
                    termed.add(pid)
            try:
                self.proc.wait(0.01)
            except subprocess.TimeoutExpired:
                pass
        if self.running:
            self.proc.kill()
            self.proc.wait()
        for pid in self.program_pids():  # left behind by a tracer that had to be killed
            _signal(pid, signal.SIGKILL)

    def close(self) -> None:
        if self.running:
            self.stop()
        self.stderr.wait()
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        self.tail.close()
