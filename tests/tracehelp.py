"""Helpers for the ``iosim trace`` tests: the command run as a person runs it (a subprocess),
the small demo servers of tests/servers, and a check that nothing it started is left running.

Every process a test starts is stopped by process id when the test ends, pass or fail: iosim
itself (SIGTERM, which makes it stop its program and write the trace; SIGKILL if it does not go)
and then any process it left behind: the test process is a child subreaper, so those are its
own descendants, found in /proc and nothing else."""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from iosim import trace as trace_mod
from iosim.trace import Kind, Run
from iosim.traced import perf_tracer

SERVERS = Path(__file__).parent / "servers"
needs_strace = pytest.mark.skipif(shutil.which("strace") is None,
                                  reason="strace is not installed (apt-get install strace)")
needs_perf_tracer = pytest.mark.skipif(perf_tracer.why_not() is not None,
                                       reason=f"no perf tracer: {perf_tracer.why_not()}")
PR_SET_CHILD_SUBREAPER = 36
TIMEOUT_S = 90.0

# A short TCP scenario: three clients, one of them idle for a while, seven messages in 30 ms
TCP_SCENARIO = """
name = "three-clients"
title = "Three TCP clients"
protocol = "tcp"
models = ["select"]

[[connections]]
sends = [[4.0, 300], [14.0, 300], [24.0, 300]]

[[connections]]
sends = [[8.0, 1500], [20.0, 100]]

[[connections]]
sends = [[11.0, 700], [28.0, 64]]
"""

UDP_SCENARIO = """
name = "two-senders"
title = "Two UDP clients"
protocol = "udp"
models = ["sigio"]

[[connections]]
count = 2
first_ms = 4.0
every_ms = 7.0
messages = 3
bytes = 200
stagger_ms = 2.0
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def subreaper(on: bool) -> None:
    """While on, orphans of the processes this test process starts (a traced server whose
    iosim ended) become its own children, so that the test finds them, and only them."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def descendants(pid: int | None = None) -> list[int]:
    """Live (not zombie) descendants of this process, from /proc."""
    found = []
    for child in _children(os.getpid() if pid is None else pid):
        try:
            state = Path(f"/proc/{child}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.append(child)
        found.extend(descendants(child))
    return found


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
    return kids


def stop_leftovers() -> list[int]:
    """Kill (by pid) and reap whatever this process started that still runs; return them."""
    left = descendants()
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    for pid in left:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:  # not our direct child: its own parent reaps it
            pass
    return left


@dataclass
class Traced:
    returncode: int
    stdout: str
    stderr: str
    output: Path
    left_running: list[int]

    @property
    def run(self) -> Run:
        (run,) = self.run_trace.runs
        return run

    @property
    def run_trace(self) -> trace_mod.Trace:
        return trace_mod.load(self.output)


def server_command(server: str, port: int) -> list[str]:
    return [sys.executable, str(SERVERS / server), str(port)]


def start(args: list[str], command: list[str], output: Path,
          env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()
          ) -> subprocess.Popen[str]:
    """``[PREFIX] iosim trace -o OUTPUT ARGS -- COMMAND`` in the background."""
    subreaper(True)
    return subprocess.Popen(
        [*prefix, sys.executable, "-m", "iosim", "trace", "-o", str(output), *args, "--",
         *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def iosim_trace(tmp_path: Path, args: list[str], command: list[str],
                output: Path | None = None, env: dict[str, str] | None = None) -> Traced:
    """``iosim trace ARGS -- COMMAND``, to its end; what it printed; what it left running."""
    output = output or tmp_path / "trace.json"
    return finish(start(args, command, output, env), output)


def finish(proc: subprocess.Popen[str], output: Path) -> Traced:
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
        left = stop_leftovers()
        subreaper(False)
    return Traced(proc.returncode, out, err, output, left)


def shared_trace(run_dir: Path, name: str, scenario: str, command: Callable[[int], list[str]],
                 extra: tuple[str, ...] = ()) -> Traced:
    """``iosim trace --scenario --port PORT [EXTRA] -- COMMAND(PORT)`` on a free port, made
    once a test run and read by every test that asks for the same program (``name``),
    scenario and options: strace and perf start-up is most of a trace's cost. Whichever
    pytest-xdist worker asks first traces; the others wait for it (a lock on a file of
    ``run_dir``, the folder all workers share) and read what it wrote. A trace that failed
    is read as failed by each test that asks for it."""
    digest = hashlib.sha256(repr((scenario, extra)).encode()).hexdigest()[:12]
    folder = run_dir / "traces" / f"{name}-{digest}"
    folder.parent.mkdir(exist_ok=True)
    record = folder / "traced.json"
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or its holder exits
        if not record.exists():
            folder.mkdir(exist_ok=True)
            path = folder / "scenario.toml"
            path.write_text(scenario)
            port = free_port()
            done = iosim_trace(folder, ["--scenario", str(path), "--port", str(port), *extra],
                               command(port))
            fields = asdict(done)
            del fields["output"]
            record.write_text(json.dumps(fields))
    return Traced(output=folder / "trace.json", **json.loads(record.read_text()))


def spans(run: Run, kind: Kind, lane: int | None = None) -> list[tuple[float, float, str]]:
    return [(run.t0[i], run.t1[i], run.labels[run.label[i]]) for i in range(len(run))
            if run.kind[i] == kind and (lane is None or run.lane[i] == lane)]


def instants(run: Run, kind: Kind, lane: int | None = None) -> list[float]:
    return [run.t0[i] for i in range(len(run))
            if run.kind[i] == kind and (lane is None or run.lane[i] == lane)]
