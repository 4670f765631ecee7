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
import shutil
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
from iosim.traced import perf_tracer, sources, stacks, watch
from iosim.traced.build import SLEPT_NS, build
from iosim.traced.model import guess_model
from iosim.traced.perf_calls import records_of
from iosim.traced.runner import (
    Traced,
    command_path,
    measure_cost,
    strace_command,
    strace_path,
    strace_version,
)
from iosim.traced.scan import READS, Scripted
from iosim.traced.sockets import port_states
from iosim.traced.strace import (
    Call,
    Exit,
    Record,
    first_fd,
)

HOST = "127.0.0.1"
READY_TIMEOUT_S = 30.0  # from the start of the program to its listening socket
ELSEWHERE_S = 1.0  # once it listens on another port than --port, how long to wait for that one
START_MARGIN_NS = 30_000_000  # t = 0 of a scenario lies this far after its connections opened
GRACE_S = 2.0  # after the last send, how long the program may take to read what is left
DRAIN_S = 10.0  # after a client command ended, how long the program may take to see its end
# (a bound, not a pause: tracing goes on as soon as it has; a loaded machine needed over 2 s)
POLL_S = 0.002  # how often strace's output is read while waiting for something in it
PERF_POLL_S = 0.02  # how often /proc is read while the perf tracer records
PROGRESS_S = 5.0  # how often a long run says how far it got
INTERPRETERS = re.compile(r"(python|pypy|node|ruby|perl|php|bash|sh|dash)[\d.]*")
MANY_SOCKETS = 256  # from this many connections on, strace -y rather than -yy (sockets.py)
NAME_CHARS = 48  # a run's name: the program and its arguments, cut to this
TIME_WAIT = "06"  # /proc/net/tcp's state of a socket in TIME_WAIT
LISTEN = "0A"
OPEN = ("01", "03", "08")  # ESTABLISHED, SYN_RECV, CLOSE_WAIT: a connection the program holds


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
    client_input: Path | None = None  # the client command's standard input (else /dev/null)
    tracer: str = "auto"  # "perf", "strace", or "auto": perf where it can, else strace


@dataclass
class Outcome:
    trace: Trace
    ended: str  # how the run ended, in words
    failed: bool  # the program failed by itself (crashed, exited before listening)


def program_name(command: list[str]) -> str:
    """What the run is called: the program (the script an interpreter runs, the command a
    shell runs) and its arguments, paths cut to their last part, so that two runs of one
    program with other arguments, or two programs of one name, are told apart."""
    command = sources.unwrap(command)
    name = Path(command[0]).name
    rest = command[1:]
    if INTERPRETERS.fullmatch(name):
        for i, arg in enumerate(rest):
            if arg == "-m" and i + 1 < len(rest):
                name, rest = rest[i + 1], rest[i + 2:]
                break
            if arg == "-c":
                rest = []
                break
            if not arg.startswith("-"):
                name, rest = Path(arg).name, rest[i + 1:]
                break
    words = [name] + [Path(arg).name if "/" in arg else arg for arg in rest]
    text = " ".join(words)
    return text if len(text) <= NAME_CHARS else text[:NAME_CHARS - 1] + "…"


def check_port(protocol: str, port: int, say: Callable[[str], None]) -> None:
    """A port already taken on loopback is the user's error, found before the program starts;
    sockets of an earlier run left in TIME_WAIT are not (said, and the run goes on: a server
    that sets SO_REUSEADDR binds over them)."""
    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise UserError(f"cannot use port {port} on {HOST}: {exc.strerror}") from None
            states = {state for proto, state, _, _, _ in port_states(port) if proto == protocol}
            if states and states <= {TIME_WAIT}:
                say(f"port {port} holds only TIME_WAIT sockets of an earlier run; going on (a "
                    "server that does not set SO_REUSEADDR cannot bind it for up to a minute)")
                return
            raise UserError(f"port {port} on {HOST} is in use ({protocol}): stop what "
                            "listens there or choose another port") from None


class Session:
    def __init__(self, opts: Options, strace: str | None, workdir: Path) -> None:
        self.opts = opts
        self.strace = strace  # None: the perf tracer (chosen in run_trace)
        self.proc = perf_tracer.ProcWatch()
        self.perf_data = workdir / "calls.data"
        self.offset_ns = 0  # CLOCK_REALTIME - CLOCK_MONOTONIC when the perf tracer started
        self.perf_lost = ""  # what perf said of the events it lost, if it lost any
        self.workdir = workdir
        self.program = sources.prepare(opts.command, workdir)
        # a compiled program's stacks: perf's, a few µs a call; else strace -k's (slow)
        self.strace_stacks = self.program.kind == "c" and not stacks.can_record() and \
            strace is not None
        self.stacks: stacks.Stacks | None = None
        self.stacks_tried = False
        self.watch = watch.Watch()
        self.watch.parser.binary = self.program.path if self.strace_stacks else None
        self.launch_ns = 0
        self.next_progress = 0.0
        self.traced: Traced | None = None
        self.client: subprocess.Popen[bytes] | None = None
        self.socks: list[socket.socket] = []
        self.perf: kernel_mod.Perf | None = None
        self.interrupted = ""
        self.raising = True  # False while a child process is started: noted, raised after
        self.stopping = False
        self.failed_early = False  # the program ended before it listened
        self.elsewhere_since = 0.0
        self.no_stacks = ""  # why perf could not record the program's stacks
        self.addresses = ""  # where the sockets' addresses come from

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
            began = time.monotonic()
            lines = self.traced.tail.lines() if self.strace else []
            self.watch.feed(lines)
            if not self.strace:
                self.proc.scan(self.traced.program_pids())
            self._progress()
            self._start_stacks()
            if until():
                return "done"
            if self.full:
                return "full"
            if not self.traced.running:
                self._read_to_end()
                return "done" if until() else "exited"
            if deadline is not None and time.monotonic() >= deadline:
                return "timeout"
            if not lines and self.strace:  # caught up with strace: wait for more
                time.sleep(POLL_S)
            elif not lines:  # /proc read at most a fifth of the time (c10k: 20,000 sockets)
                time.sleep(max(PERF_POLL_S, 4 * (time.monotonic() - began)))

    @property
    def full(self) -> bool:
        """The trace holds as many calls as it may (the perf tracer: its recording's size)."""
        if self.strace or self.watch.full:
            return self.watch.full
        try:
            return self.perf_data.stat().st_size >= perf_tracer.MAX_DATA_BYTES
        except OSError:
            return False

    @property
    def ports(self) -> dict[int, set[str]]:
        """The ports the program listens on (or is bound to, UDP), with their protocols."""
        return self.watch.listening if self.strace else self.proc.listening

    def _start_stacks(self) -> None:
        """Once the compiled program runs (its first traced call), perf records its stacks;
        iosim waits for perf to say it records before going on (before any client)."""
        if self.stacks_tried or self.program.kind != "c" or self.strace_stacks:
            return
        assert self.traced is not None
        pids = [r.tid for r in self.watch.records[:1]] if self.strace else \
            sorted(self.traced.program_pids())[:1]
        if not pids:
            return
        self.stacks_tried = True
        self.raising = False  # perf is recorded before a signal may interrupt
        started = stacks.start(pids[0], self.workdir)
        self.raising = True
        if isinstance(started, str):
            self.no_stacks = started
        else:
            self.stacks = started
        self._raise_if_interrupted()

    def _progress(self) -> None:
        """Every PROGRESS_S of a long run, how far it got (a c10k run takes a while)."""
        now = time.monotonic()
        if now < self.next_progress:
            return
        if self.next_progress and not self.strace:
            size = self.perf_data.stat().st_size if self.perf_data.exists() else 0
            self.opts.say(f"{time.time() - self.launch_ns / 1e9:.0f} s traced so far; perf has "
                          f"recorded {size / 1e6:,.1f} MB of events")
        elif self.next_progress:
            w = self.watch
            self.opts.say(f"{len(w.records):,} calls traced so far; {len(w.accepted):,} "
                          f"connections accepted, {sum(w.read_bytes.values()):,} bytes read")
        self.next_progress = now + PROGRESS_S

    def _read_to_end(self) -> None:
        """What strace wrote and iosim has not read yet (strace has ended)."""
        assert self.traced is not None
        if not self.strace:
            return
        while lines := self.traced.tail.lines():
            self.watch.feed(lines)
            if self.watch.full:
                return

    def listening(self) -> bool:
        port = self.opts.port
        return port in self.ports if port is not None else bool(self.ports)

    def listening_elsewhere(self) -> bool:
        """It listens, only not on --port, and has for ELSEWHERE_S: it will not."""
        if not self.ports or self.listening():
            return False
        if not self.elsewhere_since:
            self.elsewhere_since = time.monotonic()
        return time.monotonic() - self.elsewhere_since >= ELSEWHERE_S

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> Outcome:
        opts = self.opts
        previous = {sig: signal.signal(sig, self._on_signal)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            try:
                kernel_side = self._start_kernel()
                self._fall_back(kernel_side)
                cost_us, call_us = self._measure_cost()
            except Interrupted:
                raise KeyboardInterrupt from None  # nothing traced yet, nothing to write
            opts.say(f"{self.tracer_name}: each traced call ~{cost_us:.1f} µs slower; kernel "
                     "side: " + (kernel_side if self.perf else f"none ({kernel_side}); ready "
                                 "times are estimated from the calls"))
            scripted: Scripted | None = None
            error: str | None = None
            t0_ns = self.launch_ns = time_ns()
            env = {**os.environ, **self.program.env} if self.program.env else None
            try:
                self.raising = False  # the tracer is recorded before a signal may interrupt
                self.offset_ns = kernel_mod.clock_offset_ns()
                self.traced = self._launch(env)
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
            # the folder goes while Ctrl-C and SIGTERM are still only noted: a second one
            # during the clean-up never leaves it behind
            shutil.rmtree(self.workdir, ignore_errors=True)
            if self.program.records is not None:
                shutil.rmtree(self.program.records, ignore_errors=True)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @property
    def tracer_name(self) -> str:
        return "strace" if self.strace else "perf"

    @property
    def perf_path(self) -> str:
        return shutil.which("perf") or "perf"

    def _fall_back(self, kernel_side: str) -> None:
        """The perf tracer learns an accepted connection's addresses from the kernel side:
        without it, strace traces (--tracer auto) or the run cannot be made (--tracer perf)."""
        if self.strace or self.perf is not None:
            return
        if self.opts.tracer == "perf":
            raise UserError(f"--tracer perf needs the kernel side, which is off: {kernel_side}")
        self._use_strace(f"the perf tracer needs the kernel side ({kernel_side})")

    def _use_strace(self, why: str) -> None:
        self.strace = strace_path()
        self.strace_stacks = self.program.kind == "c" and not stacks.can_record()
        self.watch.parser.binary = self.program.path if self.strace_stacks else None
        self.opts.say(f"tracing with strace: {why}")

    def _measure_cost(self) -> tuple[float, float]:
        """What the tracer adds to a call, measured before the program starts; where perf
        turns out unable to trace (--tracer auto), strace's."""
        if not self.strace:
            try:
                return perf_tracer.measure_cost(self.perf_path, self.workdir)
            except UserError as exc:
                if self.opts.tracer == "perf":
                    raise
                self._use_strace(str(exc))
        assert self.strace is not None
        return measure_cost(self.strace, self.workdir)

    def _launch(self, env: dict[str, str] | None) -> Traced:
        """The program started under its tracer."""
        opts = self.opts
        if not self.strace:
            self.addresses = ("the kernel's socket state changes (perf), the server side of "
                              "each handshake for an accepted connection")
            command = perf_tracer.perf_command(self.perf_path, self.perf_data, opts.command)
            return Traced(command, self.perf_data, env)
        many = opts.scenario is not None and opts.scenario.total_connections >= MANY_SOCKETS
        self.addresses = "learned from the calls (strace -y)" if many else "strace -yy"
        output = self.workdir / "trace.strace"
        return Traced(strace_command(self.strace, output, opts.command, self.strace_stacks,
                                     not many), output, env)

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

    def _wait_listening(self, protocol: str | None = None) -> str | None:
        """None once the program listens (on --port with ``protocol``, else anywhere), or
        why it does not: it exited first, it listens on another port, or with the other
        protocol, or not at all within READY_TIMEOUT_S."""
        why = self.pump(lambda: self.listening() or self.listening_elsewhere(),
                        READY_TIMEOUT_S)
        port = self.opts.port
        where = f"on port {port}" if port is not None else "on any port"
        if why == "done" and port is not None and port not in self.ports:
            self.failed_early = True
            ports = ", ".join(f"{p} ({'/'.join(sorted(protos))})"
                              for p, protos in sorted(self.ports.items()))
            return f"the program listens on port {ports}, not on --port {port}"
        if why == "done":
            protos = self.ports.get(port, set()) if port is not None else set()
            if protocol is not None and protos and protocol not in protos:
                self.failed_early = True
                return (f"the scenario is {protocol.upper()} but the program listens on port "
                        f"{port} with {'/'.join(sorted(protos)).upper()}: the protocols do "
                        "not match")
            return None
        self.failed_early = True
        if why == "exited":
            assert self.traced is not None
            return (f"the program exited (status {self.traced.proc.returncode}) before it "
                    f"listened {where}")
        return f"the program did not listen {where} within {READY_TIMEOUT_S:.0f} s"

    def _play(self, sc: Scenario) -> tuple[Scripted | None, int, str | None]:
        error = self._wait_listening(sc.protocol)
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
                    if conn < len(plan) and plan[conn]}  # idle connections send nothing
        grace = GRACE_S + 0.01 * sc.message_count
        budget = grace if self.opts.duration_s is None else \
            min(grace, max(self.opts.duration_s - (time_ns() - t0_ns) / 1e9, 0.0))
        why = self.pump(lambda: self.watch.drained(expected) or
                        self._kernel_drained(set(expected)), budget)
        error = None
        if why not in ("done", "exited"):  # a program that exited says so first, in _finish
            left = sum(max(n - self.watch.read_bytes.get(addr, 0), 0)
                       for addr, n in expected.items()) if self.strace else self._unread()
            error = (f"stopped {budget:.1f} s after the last send: {left} of "
                     f"{sum(expected.values())} bytes never read" if left else None)
        return Scripted(plan, sent_ns, peers), t0_ns, error

    def _run_client(self, client: list[str]) -> str | None:
        error = self._wait_listening()
        if error is not None:
            return error
        self.opts.say(f"the program listens; running the client: {shlex.join(client)}")
        self.raising = False  # the client is recorded before a signal may interrupt
        given = self.opts.client_input
        with open(given, "rb") if given is not None else open(os.devnull, "rb") as stdin:
            self.client = subprocess.Popen(client, stdin=stdin, start_new_session=True)
        self.raising = True
        self._raise_if_interrupted()
        client_proc = self.client
        self.pump(lambda: client_proc.poll() is not None, self.opts.duration_s)
        if client_proc.poll() is None:
            return None  # --duration ended it
        why = self.pump(self._client_seen, DRAIN_S)
        if why == "timeout":
            return (f"{DRAIN_S:.0f} s after the client exited, the program had still not "
                    "accepted, read or closed all of its connections")
        return None

    def _unread(self) -> int:
        """Bytes waiting in the receive queues of the program's connections on --port."""
        assert self.opts.port is not None
        return sum(rx for _, state, rx, _, _ in port_states(self.opts.port) if state != LISTEN)

    def _kernel_drained(self, peers: set[tuple[str, int]]) -> bool:
        """For a program whose reads iosim does not see as they happen (the perf tracer;
        io_uring under strace, where the kernel reads): the kernel's tables show no bytes left
        unread on its port and every connection of the scenario that sends (``peers``: an idle
        one stays open to the end) closed on its side."""
        if self.strace and not self.watch.kernel_reads:
            return False
        assert self.opts.port is not None
        rows = port_states(self.opts.port, with_peer=True)
        return all(rx == 0 for _, _, rx, _, _ in rows) and \
            not any(peer in peers for _, _, _, _, peer in rows)

    def _client_seen(self) -> bool:
        """The server has seen everything the client did: no connection waits in the
        listening socket's queue, none holds unread bytes, and every connection the program
        accepted has ended (end of file read, or closed)."""
        if self.opts.port is not None:
            states = port_states(self.opts.port)
            if any(rx > 0 for _, _, rx, _, _ in states):  # queued connections or bytes
                return False
        if self.strace:
            return self.watch.accepted <= self.watch.ended
        ports = [self.opts.port] if self.opts.port is not None else list(self.ports)
        return not any(rx > 0 or state in OPEN for port in ports
                       for _, state, rx, _, _ in port_states(port))

    def _until_stopped(self) -> None:
        until = f"for {self.opts.duration_s:g} s" if self.opts.duration_s else \
            "until the program exits, Ctrl-C or SIGTERM"
        self.opts.say(f"tracing {until}")
        self.pump(lambda: False, self.opts.duration_s)

    # -- the end ---------------------------------------------------------------------------

    def _finish(self, t0_ns: int, scripted: Scripted | None, error: str | None,
                kernel_side: str, cost_us: float, call_us: float) -> Outcome:
        assert self.traced is not None
        # perf record outlives its program by the time it takes to write its file
        by_itself = not self.traced.running or not self.strace and \
            not self.traced.program_pids()
        stop_ns = time_ns()
        if self.traced.running:
            self.traced.stop()
        status = self.traced.proc.returncode
        self._read_to_end()
        last_words = self.traced.stderr.wait()
        if self.strace:
            records = self.watch.records + self.watch.parser.close(stop_ns)
            tids = {r.tid for r in records}
            events = self.perf.stop(tids) if self.perf is not None else None
        else:
            records, events = self._perf_records(stop_ns)
        exit_ns = self._main_exit(records) if by_itself else None
        end_ns = stop_ns if exit_ns is None else exit_ns
        self._close_client()
        opts = self.opts
        first_ns = self._first_socket_call(records)
        if scripted is None or end_ns < t0_ns:  # no scenario, or it ended before it began
            t0_ns = first_ns if first_ns is not None else self.launch_ns
        end_ns = max(end_ns, t0_ns)
        failed = by_itself and status != 0 or self.failed_early
        if by_itself:
            ended = f"the program exited with status {status}" if status >= 0 else \
                f"the program was killed by {signal.Signals(-status).name}"
        else:
            ended = f"stopped by {self.interrupted}" if self.interrupted else \
                "the program was stopped"
        protocol = opts.scenario.protocol if opts.scenario else self._protocol(records)
        problems = []
        if by_itself and status != 0:  # said first: why the run ended, then what it left
            words = f"; its last line on stderr: {last_words[:200]!r}" if last_words else ""
            problems.append(f"{ended} at t = {(end_ns - t0_ns) / 1000:.3f} ms{words}")
        problems += [error] if error else []
        if self.watch.sockets == 0:
            problems.append("it never opened a network socket")
        if protocol == "udp" and not self.strace:
            problems.append("the perf tracer cannot see a datagram's sender (it is in the "
                            "program's memory), so datagrams are not told apart by sender; "
                            "--tracer strace sees them")
        if self.perf_lost:
            problems.append(f"perf's buffer overflowed ({self.perf_lost}): some calls are "
                            "missing from the trace")
        if self.full:
            problems.append(self._full_words())
        error = "; ".join(problems) or None
        meta: dict[str, Any] = {
            "tracer": strace_version(self.strace) if self.strace else
            perf_tracer.perf_version(self.perf_path), "tracer_cost_us": round(cost_us, 1),
            "tracer_call_us": round(call_us, 1), "kernel_side": kernel_side if events else
            f"none: {kernel_side}", "clock": "CLOCK_REALTIME",
            "command": opts.command, "ended": ended, "slept_threshold_us": SLEPT_NS / 1000,
            "host": HOST, "startup_us": round(max(t0_ns - self.launch_ns, 0) / 1000, 3),
            "socket_addresses": self.addresses}
        if self.strace:  # the names of earlier traces, kept for the programs that read them
            meta["strace_cost_us"], meta["strace_call_us"] = meta["tracer_cost_us"], \
                meta["tracer_call_us"]
        else:
            meta["unseen"] = perf_tracer.UNSEEN
        if opts.port is not None:
            meta["port"] = opts.port
        if events is not None:
            meta["perf_clock_offset_ns"] = events.offset_ns
            meta["perf_clock_drift_ns"] = events.drift_ns
        found = self._source(records)
        run, scan, lines, at_zero = build(records, t0_ns, end_ns, model=program_name(opts.command),
                                 protocol=protocol, scripted=scripted, kernel=events,
                                 error=error, sockets=self.watch.table,
                                 sites=found.sites if isinstance(found, sources.Source) else None,
                                 **meta)
        run.meta["ready_estimated"] = sum(1 for f in run.m_flags if f & READY_ESTIMATED)
        run.meta["model_guess"] = guess_model(scan, self._runtime(found))
        run.meta["source"] = sources.source_meta(found, lines, at_zero)
        trace = self._trace(run, protocol)
        trace_mod.save(trace, opts.output)
        return Outcome(trace, ended, failed)

    def _full_words(self) -> str:
        if self.strace or self.watch.full:
            held = f"{watch.MAX_RECORDS:,} system calls"
        else:
            held = f"{perf_tracer.MAX_DATA_BYTES / 1e6:,.0f} MB of perf's events"
        return (f"tracing stopped after {held}, as many as a trace holds (use --duration or a "
                "shorter scenario)")

    def _perf_records(self, stop_ns: int) -> tuple[list[Record], kernel_mod.KernelEvents]:
        """The perf tracer's recording read back: the calls as strace would show them, and
        the kernel side's events (an accepted connection's addresses come from them)."""
        assert self.perf is not None
        self.opts.say("reading perf's recording")
        offset_ns = (self.offset_ns + kernel_mod.clock_offset_ns()) // 2
        lines, self.perf_lost = perf_tracer.script_lines(self.perf_path, self.perf_data)
        events = self.perf.stop(perf_tracer.traced_tasks(lines))
        records, _ = records_of(lines, offset_ns, stop_ns, watch.MAX_RECORDS,
                                events.handshakes, self.proc.bound, self.proc.epoll_flags)
        self.watch.add(records)
        if self.stacks is not None:
            self.stacks.offset_ns = offset_ns  # one clock for both: each call finds its sample
        return records, events

    def _main_exit(self, records: list[Record]) -> int | None:
        """When the program (the first process strace ran) ended, if it did."""
        first = min((r for r in records if isinstance(r, Call)), key=lambda r: r.enter_ns,
                    default=None)
        if first is None:
            return None
        return next((r.t_ns for r in records if isinstance(r, Exit) and r.tid == first.tid),
                    None)

    def _first_socket_call(self, records: list[Record]) -> int | None:
        """When the program first called socket() (or another call on a TCP or UDP socket):
        the run starts there; everything before is start-up."""
        table = self.watch.table
        starts = [r.enter_ns for r in records if isinstance(r, Call) and r.result is not None
                  and table.inet(r.annotation if r.name == "socket" else first_fd(r.args)[1])]
        return min(starts, default=None)

    def _source(self, records: list[Record]) -> sources.Source | str:
        """The program's source and each call's line in it, or why there is none."""
        program = self.program
        if program.kind == "c" and self.stacks is not None:
            calls = [r for r in records if isinstance(r, Call)]
            sites = self.stacks.sites(program.path, calls, same_tracepoint=not self.strace)
            return sources.c_source(program.path, sites)
        if program.kind == "c" and self.strace_stacks:
            return sources.c_source(program.path, self.watch.parser.sites)
        if program.kind == "c":
            return f"perf could not record the program's stacks: {self.no_stacks}"
        if program.kind == "python":
            calls = [r for r in records if isinstance(r, Call)]
            assert program.records is not None
            return sources.python_source(program.path, program.records / "calls", calls)
        return program.why

    def _runtime(self, found: sources.Source | str) -> str:
        """The event-loop runtime the program runs on, where the command or source says."""
        if Path(sources.unwrap(self.opts.command)[0]).name.startswith("node"):
            return "Node.js (libuv)"
        if isinstance(found, sources.Source) and found.language == "python" and any(
                re.match(r"\s*(import|from) asyncio\b", line) for line in found.lines):
            return "asyncio"
        return ""

    def _trace(self, run: Run, protocol: str) -> Trace:
        sc = self.opts.scenario
        if sc is not None:
            return Trace(sc.name, sc.title, sc.protocol, [run])
        return Trace("trace", f"iosim trace -- {shlex.join(self.opts.command)}", protocol, [run])

    def _protocol(self, records: list[Record]) -> str:
        """udp when the program read datagrams and no TCP stream, else tcp."""
        table = self.watch.table
        seen = {inet.proto for r in records if isinstance(r, Call) and r.name in READS
                for inet in [table.inet(first_fd(r.args)[1])] if inet is not None}
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
        if self.stacks is not None:
            self.stacks.close()


def _time(record: Record) -> int:
    return record.return_ns if isinstance(record, Call) else record.t_ns


def choose_tracer(opts: Options) -> str | None:
    """strace's path, or None for the perf tracer: perf where it can record the calls and the
    run needs no datagram's sender (a UDP scenario), else strace (--tracer auto); the one
    asked for, or why it cannot (--tracer perf or strace)."""
    why = perf_tracer.why_not()
    udp = opts.scenario is not None and opts.scenario.protocol == "udp"
    if opts.tracer == "perf":
        if why is not None:
            raise UserError(f"--tracer perf: {why}")
        if not opts.kernel:
            raise UserError("--tracer perf needs the kernel side (drop --no-kernel)")
        if udp:
            raise UserError("--tracer perf cannot see a datagram's sender (it is in the "
                            "program's memory), which a UDP scenario needs: use --tracer "
                            "strace or auto")
        return None
    if opts.tracer == "auto" and why is None and opts.kernel and not udp:
        return None
    return strace_path()


def run_trace(opts: Options) -> Outcome:
    """Check everything a user gave before anything starts, then trace."""
    check_writable(opts.output)
    command_path(opts.command)
    if opts.client is not None:
        command_path(opts.client, "client command")
    strace = choose_tracer(opts)
    if opts.scenario is not None:
        assert opts.port is not None
        check_port(opts.scenario.protocol, opts.port, opts.say)
    workdir = Path(tempfile.mkdtemp(prefix="iosim-trace-"))
    try:
        session = Session(opts, strace, workdir)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return session.run()  # removes the folder before it gives Ctrl-C back
