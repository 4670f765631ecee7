"""A capture session: a real server in a child process, the scripted client in this one, both
on loopback, and the Trace made from what they recorded.

Server and client run on CPUs of their own when there are two: a send wakes the server with a
"sync" wake-up (the kernel expects the sender to sleep next), which places the server on the
client's CPU, where it waits for whatever the client does after that send. On a 2-vCPU VM the
client's goodbye right after a scenario's last message then held that message up by 40 µs
(by 300 µs when the client spun for its next send), and a burst's server ran in the gaps
between the client's sends: the harness, not the server. A network server's data comes from a
NIC, not from a program on its own CPU.

Whatever happens (an error, Ctrl-C), the child is stopped and every socket closed before this
returns: ``try``/``finally`` around everything that was started.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from time import time_ns
from typing import IO, Any

from iosim.errors import UserError
from iosim.processes import stop
from iosim.real.capture import build_run
from iosim.real.client import open_connections, play, raise_fd_limit
from iosim.real.reader import read_all
from iosim.real.record import message_plan
from iosim.real.replies import ReplyReader, replies_meta
from iosim.real.servers import REAL_MODELS, REAL_VARIANTS
from iosim.real.stopping import FirstSignalStops
from iosim.scenario import Scenario
from iosim.trace import Run, Trace

HOST = "127.0.0.1"
START_MARGIN_NS = 30_000_000  # t = 0 lies this far ahead, so that both sides are waiting for it
SETUP_TIMEOUT_S = 60.0  # opening the connections (10,000 of them take a few seconds)
GRACE_S = 2.0  # after the last send, how long a server may take to handle what is left
# ... and more with many connections: threaded starts a thread for each at t = 0 (2,000 take
# half a second on an idle machine)
GRACE_PER_CONNECTION_S = 0.001
STOP_TIMEOUT_S = 5.0
INTERRUPTING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class CaptureError(UserError):
    """A capture that could not be made; the message says why."""


def check_model(model: str, scenario: Scenario | None = None) -> None:
    if model not in REAL_MODELS:
        raise CaptureError(f"unknown real model {model!r} (known: {', '.join(REAL_MODELS)})")
    if scenario is not None:
        _check_scenario(model, scenario)
    if model == "aio":
        from iosim.real.aio import unavailable_reason

        reason = unavailable_reason()
        if reason:
            raise CaptureError(f"aio runs on real sockets need io_uring: {reason}")


def _check_scenario(model: str, scenario: Scenario) -> None:
    """What a real server on loopback can show of the scenario with this model."""
    if any(s.corrupt for sends in scenario.connections for s in sends):
        raise CaptureError(f"{scenario.name}: a datagram with a bad checksum cannot be sent on "
                           "loopback (the kernel trusts its own checksums there); simulate it")
    variant = scenario.server.variant
    known = REAL_VARIANTS[variant]
    if model not in known:
        what = f"real mode has it with {', '.join(known)}" if known else \
            "real mode has no such server; simulate it"
        raise CaptureError(f"{scenario.name}: {model} is not modelled with this server "
                           f"({variant}): {what}")


class _Child:
    """The server process and its line-by-line JSON conversation."""

    def __init__(self, scenario: Scenario, model: str, result: Path, stderr: IO[bytes]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "iosim.real.child", scenario.path, "--model", model,
             "--host", HOST, "--result", str(result)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)
        self.stderr = stderr
        self.pending = b""
        self.selector = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        self.selector.register(self.proc.stdout, selectors.EVENT_READ)

    def expect(self, key: str, timeout_s: float) -> Any:
        """Wait (bounded) for the child's next line; it must carry ``key``."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time_ns() + int(timeout_s * 1e9)
        while b"\n" not in self.pending:
            if time_ns() >= deadline:
                raise CaptureError(f"the server process did not answer within {timeout_s:.0f} s")
            if self.selector.select(timeout=(deadline - time_ns()) / 1e9):
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise CaptureError(f"the server process ended early: {self.last_error()}")
                self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return json.loads(line)[key]

    def tell(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def last_error(self) -> str:
        self.stderr.flush()
        self.stderr.seek(0)
        lines = self.stderr.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"exit status {self.proc.poll()}"

    def stop(self) -> None:
        """SIGTERM (the server saves what it has), then SIGKILL if it does not go."""
        stop(self.proc, signal.SIGTERM, STOP_TIMEOUT_S)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.selector.close()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


@contextmanager
def signals_held(signals: Sequence[int]) -> Iterator[None]:
    """The signals wait until the block ends. A signal that interrupted Popen between its fork
    and its return would leave the server running with no one to stop it (seen under load:
    Ctrl-C just as a capture started); held, it comes once the child is known."""
    before = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


@contextmanager
def own_cpus(server_pid: int) -> Iterator[None]:
    """The server on the last CPU this process may use, this process (the client) on the
    first, for as long as the capture lasts; nothing changes with a single CPU."""
    cpus = os.sched_getaffinity(0)
    if len(cpus) < 2:
        yield
        return
    try:
        os.sched_setaffinity(server_pid, {max(cpus)})
    except ProcessLookupError:  # it has ended already: the capture says why
        yield
        return
    os.sched_setaffinity(0, {min(cpus)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, cpus)


def capture_run(scenario: Scenario, model: str) -> Run:
    """Play the scenario against the real ``model`` server; return the run it recorded."""
    check_model(model, scenario)
    raise_fd_limit()
    plan = message_plan([[(s.at_ms, s.nbytes) for s in sends] for sends in scenario.connections])
    with tempfile.TemporaryDirectory(prefix="iosim-capture-") as tmp, \
            open(os.path.join(tmp, "stderr"), "w+b") as stderr:
        result = Path(tmp) / "rows.spool"
        child: _Child | None = None
        socks = []
        reader: ReplyReader | None = None
        try:
            with signals_held(INTERRUPTING):
                child = _Child(scenario, model, result, stderr)
            with own_cpus(child.proc.pid):
                ports = child.expect("ports", SETUP_TIMEOUT_S)
                socks = open_connections(scenario, HOST, ports)
                if scenario.server.accept:  # which connection each client port is
                    child.tell(json.dumps([sock.getsockname()[1] for sock in socks]))
                child.expect("accepted", SETUP_TIMEOUT_S)
                t0_ns = time_ns() + START_MARGIN_NS
                child.tell(str(t0_ns))
                closed_ns = [0] * scenario.total_connections
                if scenario.server.reply_bytes:
                    reader = ReplyReader(scenario, socks, t0_ns)
                    reader.start()
                sent_ns = play(scenario, plan, socks, t0_ns, closed_ns, (HOST, ports[0]))
                try:
                    child.expect("done", GRACE_S + 0.01 * scenario.message_count
                                 + GRACE_PER_CONNECTION_S * scenario.total_connections)
                except CaptureError:
                    child.stop()
                if child.proc.wait(STOP_TIMEOUT_S) != 0 or not result.exists():
                    raise CaptureError(f"the {model} server failed: {child.last_error()}")
        finally:
            if reader is not None:
                reader.stop(GRACE_S)
            for sock in socks:
                sock.close()
            if child is not None:
                child.close()
        rows, outcome, note = read_all(result)
    if outcome is None:
        raise CaptureError(f"the {model} server's rows do not read back: {note}")
    error = outcome.get("error")
    if error is None and outcome.get("stopped"):
        left = outcome.get("remaining")
        error = (f"stopped {GRACE_S:.0f} s after the last send: blocked, "
                 f"{left} message{'s' if left != 1 else ''} never handled")
    variant = scenario.server.variant
    meta: dict[str, Any] = replies_meta(reader)
    if variant:
        meta |= {"program": f"{variant}-{model}", "workers": scenario.server.workers,
                 "send_buffer_bytes": scenario.server.send_buffer_bytes}
    return build_run(model, scenario.protocol, rows, t0_ns, outcome["end_ns"],
                     plan=plan, sent_ns=sent_ns, closed_ns=closed_ns,
                     connections=scenario.total_connections,
                     work_us=scenario.process.work_us, error=error, host=HOST,
                     buffer_bytes=scenario.process.buffer_bytes,
                     poll_interval_us=scenario.process.poll_interval_us,
                     worker_lanes=scenario.server.workers if scenario.server.accept else 0,
                     **meta)


def capture(scenario: Scenario, models: Sequence[str],
            progress: Callable[[str], None] | None = None) -> Trace:
    """One real run per model, one after the other, in one Trace. SIGTERM and SIGHUP end it
    as Ctrl-C does (KeyboardInterrupt): the server process stopped, its files removed; a
    second signal cannot interrupt that cleaning."""
    for model in models:
        check_model(model, scenario)
    trace = Trace(scenario.name, scenario.title, scenario.protocol, axis=scenario.axis)
    with FirstSignalStops(KeyboardInterrupt, signals=INTERRUPTING):
        for model in models:
            if progress:
                progress(model)
            trace.runs.append(capture_run(scenario, model))
    return trace
