"""One ``iosim trace``: everything checked before the program starts, the cost of tracing
measured, the kernel's side started where the machine allows it, the program run under strace,
a client (a scenario played at it, a client command, or none), then the program and everything
it started stopped and the trace written, whatever ended the run.

Ctrl-C and SIGTERM end the tracing, never the writing: once the first has arrived, the next
ones are noted and ignored until the trace is on disk.
"""

from __future__ import annotations

import errno
import os
import re
import shlex
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from time import time_ns
from types import FrameType
from typing import Any

from iosim import trace as trace_mod
from iosim.errors import UserError
from iosim.files import check_writable
from iosim.real.client import open_connections, play, raise_fd_limit
from iosim.real.record import message_plan
from iosim.scenario import Scenario
from iosim.trace import READY_ESTIMATED, Run, Trace
from iosim.traced import kernel as kernel_mod
from iosim.traced import watch
from iosim.traced.build import SLEPT_NS, build_run
from iosim.traced.runner import (
    Traced,
    command_path,
    measure_cost,
    strace_path,
    strace_version,
)
from iosim.traced.scan import READS, Scripted
from iosim.traced.strace import (
    Call,
    Record,
    first_fd,
    inet_socket,
)

HOST = "127.0.0.1"
READY_TIMEOUT_S = 30.0  # from the start of the program to its listening socket
START_MARGIN_NS = 30_000_000  # t = 0 of a scenario lies this far after its connections opened
GRACE_S = 2.0  # after the last send, how long the program may take to read what is left
DRAIN_S = 1.0  # after a client command ended, how long its connections may take to close
POLL_S = 0.002  # how often strace's output is read while waiting for something in it
INTERPRETERS = re.compile(r"(python|pypy|node|ruby|perl|php|bash|sh|dash)[\d.]*")


class Interrupted(Exception):
    """Ctrl-C or SIGTERM while tracing."""


@dataclass
class Options:
    command: list[str]
    output: Path
    duration_s: float | None = None
    scenario: Scenario | None = None
    port: int | None = None
    client: list[str] | None = None
    kernel: bool = True
    say: Callable[[str], None] = lambda text: None


@dataclass
class Outcome:
    trace: Trace
    ended: str  # how the run ended, in words
    failed: bool  # the program failed by itself (crashed, exited before listening)


def program_name(command: list[str]) -> str:
    """What the run is called: the script an interpreter runs, else the program."""
    name = Path(command[0]).name
    if INTERPRETERS.fullmatch(name):
        args = iter(command[1:])
        for arg in args:
            if arg == "-m":
                return next(args, name)
            if arg == "-c":
                return name
            if not arg.startswith("-"):
                return Path(arg).name
    return name


def check_port(protocol: str, port: int) -> None:
    """A port already taken on loopback is the user's error, found before the program starts."""
    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UserError(f"port {port} on {HOST} is in use ({protocol}): stop what "
                                "listens there or choose another port") from None
            raise UserError(f"cannot use port {port} on {HOST}: {exc.strerror}") from None


class Session:
    def __init__(self, opts: Options, strace: str, workdir: Path) -> None:
        self.opts = opts
        self.strace = strace
        self.workdir = workdir
        self.watch = watch.Watch()
        self.traced: Traced | None = None
        self.client: subprocess.Popen[bytes] | None = None
        self.socks: list[socket.socket] = []
        self.perf: kernel_mod.Perf | None = None
        self.interrupted = ""
        self.raising = True  # False while a child process is started: noted, raised after
        self.stopping = False
        self.failed_early = False  # the program ended before it listened

    # -- signals ---------------------------------------------------------------------------

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self.interrupted:
            self.interrupted = signal.Signals(signum).name
            self._raise_if_interrupted()
        # a second Ctrl-C while the trace is written: noted, ignored

    def _raise_if_interrupted(self) -> None:
        if self.interrupted and self.raising and not self.stopping:
            raise Interrupted

    # -- waiting on strace's output ---------------------------------------------------------

    def pump(self, until: Callable[[], bool], timeout_s: float | None) -> str:
        """Read strace's output until ``until()`` holds ("done"), the program has ended
        ("exited"), ``timeout_s`` has passed ("timeout") or the trace is full ("full")."""
        assert self.traced is not None
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            lines = self.traced.tail.lines()
            self.watch.feed(lines)
            if until():
                return "done"
            if self.watch.full:
                return "full"
            if not self.traced.running:
                self._read_to_end()
                return "done" if until() else "exited"
            if deadline is not None and time.monotonic() >= deadline:
                return "timeout"
            if not lines:  # caught up with strace: wait for more
                time.sleep(POLL_S)

    def _read_to_end(self) -> None:
        """What strace wrote and iosim has not read yet (strace has ended)."""
        assert self.traced is not None
        while lines := self.traced.tail.lines():
            self.watch.feed(lines)
            if self.watch.full:
                return

    def listening(self) -> bool:
        port = self.opts.port
        return port in self.watch.listening if port is not None else bool(self.watch.listening)

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> Outcome:
        opts = self.opts
        previous = {sig: signal.signal(sig, self._on_signal)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            try:
                cost_us, call_us = measure_cost(self.strace, self.workdir)
                kernel_side = self._start_kernel()
            except Interrupted:
                raise KeyboardInterrupt from None  # nothing traced yet, nothing to write
            opts.say(f"strace: each traced call ~{cost_us:.0f} µs slower; kernel side: "
                     + (kernel_side if self.perf else f"none ({kernel_side}); ready times "
                        "are estimated from the calls"))
            scripted: Scripted | None = None
            error: str | None = None
            t0_ns = time_ns()
            try:
                self.raising = False  # strace is recorded before a signal may interrupt
                self.traced = Traced(self.strace, self.workdir / "trace.strace", opts.command)
                self.raising = True
                self._raise_if_interrupted()
                if opts.scenario is not None:
                    scripted, t0_ns, error = self._play(opts.scenario)
                elif opts.client is not None:
                    error = self._run_client(opts.client)
                else:
                    self._until_stopped()
            except Interrupted:
                pass
            self.stopping = True
            return self._finish(t0_ns, scripted, error, kernel_side, cost_us, call_us)
        finally:
            self.stopping = True
            self.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _start_kernel(self) -> str:
        if not self.opts.kernel:
            return "turned off (--no-kernel)"
        self.raising = False  # perf is recorded before a signal may interrupt
        started = kernel_mod.start(self.workdir)
        self.raising = True
        if isinstance(started, str):
            self._raise_if_interrupted()
            return started
        self.perf = started
        self._raise_if_interrupted()
        return f"perf ({', '.join(kernel_mod.TRACEPOINTS)})"

    def _wait_listening(self) -> str | None:
        """None once the program listens (on --port, else anywhere), or why it does not."""
        why = self.pump(self.listening, READY_TIMEOUT_S)
        if why == "done":
            return None
        where = f"on port {self.opts.port}" if self.opts.port is not None else "on any port"
        self.failed_early = True
        if why == "exited":
            assert self.traced is not None
            return (f"the program exited (status {self.traced.proc.returncode}) before it "
                    f"listened {where}")
        return f"the program did not listen {where} within {READY_TIMEOUT_S:.0f} s"

    def _play(self, sc: Scenario) -> tuple[Scripted | None, int, str | None]:
        error = self._wait_listening()
        if error is not None:
            return None, time_ns(), error
        assert self.opts.port is not None
        raise_fd_limit()
        plan = message_plan([[(s.at_ms, s.nbytes) for s in sends] for sends in sc.connections])
        self.opts.say(f"the program listens on port {self.opts.port}; playing {sc.name} "
                      f"({sc.total_connections} connections, {sc.message_count} messages)")
        try:
            self.socks = open_connections(sc, HOST, [self.opts.port] * sc.total_connections)
        except UserError as exc:
            return None, time_ns(), str(exc)
        peers = {sock.getsockname()[:2]: conn for conn, sock in enumerate(self.socks)}
        t0_ns = time_ns() + START_MARGIN_NS
        sent_ns = play(sc, plan, self.socks, t0_ns)
        expected = {addr: sum(n for _, n in plan[conn]) for addr, conn in peers.items()
                    if plan[conn]}
        grace = GRACE_S + 0.01 * sc.message_count
        budget = grace if self.opts.duration_s is None else \
            min(grace, max(self.opts.duration_s - (time_ns() - t0_ns) / 1e9, 0.0))
        why = self.pump(lambda: self.watch.drained(expected), budget)
        error = None
        if why != "done":
            left = sum(max(n - self.watch.read_bytes.get(addr, 0), 0)
                       for addr, n in expected.items())
            error = (f"stopped {budget:.1f} s after the last send: {left} of "
                     f"{sum(expected.values())} bytes never read" if left else None)
        return Scripted(plan, sent_ns, peers), t0_ns, error

    def _run_client(self, client: list[str]) -> str | None:
        error = self._wait_listening()
        if error is not None:
            return error
        self.opts.say(f"the program listens; running the client: {shlex.join(client)}")
        self.raising = False  # the client is recorded before a signal may interrupt
        self.client = subprocess.Popen(client, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        self.raising = True
        self._raise_if_interrupted()
        client_proc = self.client
        self.pump(lambda: client_proc.poll() is not None, self.opts.duration_s)
        if client_proc.poll() is None:
            return None  # --duration ended it
        accepted = self.watch.accepted
        self.pump(lambda: accepted <= self.watch.ended, DRAIN_S)
        return None

    def _until_stopped(self) -> None:
        until = f"for {self.opts.duration_s:g} s" if self.opts.duration_s else \
            "until the program exits, Ctrl-C or SIGTERM"
        self.opts.say(f"tracing {until}")
        self.pump(lambda: False, self.opts.duration_s)

    # -- the end ---------------------------------------------------------------------------

    def _finish(self, t0_ns: int, scripted: Scripted | None, error: str | None,
                kernel_side: str, cost_us: float, call_us: float) -> Outcome:
        assert self.traced is not None
        by_itself = not self.traced.running
        stop_ns = time_ns()
        if not by_itself:
            self.traced.stop()
        status = self.traced.proc.returncode
        self._read_to_end()
        records = self.watch.records + self.watch.parser.close(stop_ns)
        end_ns = stop_ns if not by_itself else max((_time(r) for r in records),
                                                    default=stop_ns)
        tids = {r.tid for r in records}
        events = self.perf.stop(tids) if self.perf is not None else None
        self._close_client()
        opts = self.opts
        failed = by_itself and status != 0 or self.failed_early
        if by_itself:
            ended = f"the program exited with status {status}" if status >= 0 else \
                f"the program was killed by {signal.Signals(-status).name}"
        else:
            ended = f"stopped by {self.interrupted}" if self.interrupted else \
                "the program was stopped"
        problems = [error] if error else []
        if by_itself and status != 0 and not self.failed_early:
            problems.append(ended)
        if self.watch.sockets == 0:
            problems.append("it never opened a network socket")
        if self.watch.full:
            problems.append(f"tracing stopped after {watch.MAX_RECORDS:,} system calls, as many as "
                            "a trace holds (use --duration or a shorter scenario)")
        error = "; ".join(problems) or None
        protocol = opts.scenario.protocol if opts.scenario else self._protocol(records)
        meta: dict[str, Any] = {
            "tracer": strace_version(self.strace), "strace_cost_us": round(cost_us, 1),
            "strace_call_us": round(call_us, 1), "kernel_side": kernel_side if events else
            f"none: {kernel_side}", "clock": "CLOCK_REALTIME",
            "command": opts.command, "ended": ended, "slept_threshold_us": SLEPT_NS / 1000,
            "host": HOST}
        if opts.port is not None:
            meta["port"] = opts.port
        if events is not None:
            meta["perf_clock_offset_ns"] = events.offset_ns
            meta["perf_clock_drift_ns"] = events.drift_ns
        run = build_run(records, t0_ns, end_ns, model=program_name(opts.command),
                        protocol=protocol, scripted=scripted, kernel=events, error=error,
                        **meta)
        run.meta["ready_estimated"] = sum(1 for f in run.m_flags if f & READY_ESTIMATED)
        trace = self._trace(run, protocol)
        trace_mod.save(trace, opts.output)
        return Outcome(trace, ended, failed)

    def _trace(self, run: Run, protocol: str) -> Trace:
        sc = self.opts.scenario
        if sc is not None:
            return Trace(sc.name, sc.title, sc.protocol, [run])
        return Trace("trace", f"iosim trace -- {shlex.join(self.opts.command)}", protocol, [run])

    @staticmethod
    def _protocol(records: list[Record]) -> str:
        """udp when the program read datagrams and no TCP stream, else tcp."""
        seen = {inet.proto for r in records if isinstance(r, Call) and r.name in READS
                for inet in [inet_socket(first_fd(r.args)[1])] if inet is not None}
        return "udp" if seen == {"udp"} else "tcp"

    def _close_client(self) -> None:
        for sock in self.socks:
            sock.close()
        self.socks = []
        client = self.client
        if client is not None and client.poll() is None:
            try:
                os.killpg(client.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            client.wait()

    def close(self) -> None:
        """Whatever happened: nothing this session started is left running."""
        self._close_client()
        if self.traced is not None:
            self.traced.close()
        if self.perf is not None:
            self.perf.close()


def _time(record: Record) -> int:
    return record.return_ns if isinstance(record, Call) else record.t_ns


def run_trace(opts: Options) -> Outcome:
    """Check everything a user gave before anything starts, then trace."""
    check_writable(opts.output)
    command_path(opts.command)
    if opts.client is not None:
        command_path(opts.client, "client command")
    strace = strace_path()
    if opts.scenario is not None:
        assert opts.port is not None
        check_port(opts.scenario.protocol, opts.port)
    with tempfile.TemporaryDirectory(prefix="iosim-trace-") as tmp:
        return Session(opts, strace, Path(tmp)).run()
