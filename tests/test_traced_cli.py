"""``iosim trace`` as a person runs it: bad input (one line, exit status 2, nothing started),
the ways a run ends (the program crashes, exits at once, Ctrl-C, SIGTERM, --duration, a client
command that finishes), everything the program started stopped, and the trace it writes read by
summary, export and render like any other."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest
from tracehelp import (
    SERVERS,
    TCP_SCENARIO,
    TIMEOUT_S,
    finish,
    free_port,
    iosim_trace,
    needs_perf_tracer,
    needs_strace,
    server_command,
    shared_trace,
    start,
    stop_leftovers,
    subreaper,
)

from iosim import cli
from iosim import trace as trace_mod

CONNECT_TIMEOUT_S = 30.0


def one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("iosim: error: ") or "error:" in lines[0]
    return lines[0]


def refused(tmp_path: Path, args: list[str], command: list[str],
            env: dict[str, str] | None = None) -> str:
    """Bad input: exit status 2, one line on stderr, no trace, nothing left running."""
    done = iosim_trace(tmp_path, args, command, env=env)
    assert done.returncode == 2, done.stderr
    assert not done.output.exists()
    assert done.left_running == []
    return one_error_line(done.stderr)


def connect_when_listening(port: int) -> socket.socket:
    """A connection to the traced server, once it listens (a bounded wait on connect)."""
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT_S)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


# -- bad input -------------------------------------------------------------------------------


def test_a_program_that_does_not_exist(tmp_path: Path) -> None:
    line = refused(tmp_path, [], ["no-such-program-iosim", "--port", "1"])
    assert "no-such-program-iosim: command not found" in line


def test_strace_missing_says_how_to_install_it(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}
    line = refused(tmp_path, [], [sys.executable, "-c", "pass"], env=env)
    assert "strace is not installed" in line and "apt-get install strace" in line


@needs_strace
def test_ptrace_not_permitted_says_why(tmp_path: Path) -> None:
    """Under a tracer already (one tracer per program), strace may not trace."""
    output = tmp_path / "trace.json"
    outer = start(["--tracer", "strace"], [sys.executable, "-c", "pass"], output,
                  prefix=("strace", "-f", "-o", os.devnull))
    done = finish(outer, output)
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert "ptrace is not permitted" in line and "SYS_PTRACE" in line
    assert not output.exists()


@needs_strace
def test_port_in_use(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(TCP_SCENARIO)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = refused(tmp_path, ["--scenario", str(tmp_path / "s.toml"), "--port", str(port)],
                       server_command("select_loop.py", port))
    assert f"port {port} on 127.0.0.1 is in use" in line


@pytest.mark.parametrize("where, says", [("missing/t.json", "no such directory"),
                                         (".", "is a directory")])
def test_output_that_cannot_be_written(tmp_path: Path, where: str, says: str) -> None:
    done = iosim_trace(tmp_path, [], [sys.executable, "-c", "pass"],
                       output=tmp_path / where)
    assert done.returncode == 2 and says in one_error_line(done.stderr)


@pytest.mark.parametrize("args, command, says", [
    (["--scenario", "many-clients"], ["true"], "--scenario needs --port"),
    (["--port", "9"], ["true"], "--port goes with --scenario or --client"),
    (["--scenario", "many-clients", "--port", "0"], ["true"], "--port 0"),
    ([], [], "no program to trace"),
    (["--scenario", "no-such-scenario", "--port", "9"], ["true"], "no-such-scenario"),
    (["--client", "'unbalanced"], ["true"], "--client"),
    (["--client", "no-such-client-iosim"], ["true"], "client command not found"),
    (["--duration", "0"], ["true"], "seconds above 0"),
])
def test_usage_errors(tmp_path: Path, args: list[str], command: list[str], says: str) -> None:
    assert says in refused(tmp_path, args, command)


# -- how runs end ----------------------------------------------------------------------------


@needs_strace
def test_a_program_that_crashes_before_listening(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(TCP_SCENARIO)
    port = free_port()
    done = iosim_trace(tmp_path, ["--scenario", str(tmp_path / "s.toml"), "--port", str(port)],
                       [sys.executable, "-c", "raise SystemExit(4)"])
    assert done.returncode == 1 and done.left_running == []
    assert f"exited (status 4) before it listened on port {port}" in done.run.error
    assert "never opened a network socket" in done.run.error
    assert "exited (status 4)" in done.stderr.splitlines()[-1]


@needs_strace
def test_a_program_that_exits_at_once_without_a_socket(tmp_path: Path) -> None:
    done = iosim_trace(tmp_path, [], [sys.executable, "-c", "pass"])
    assert done.returncode == 0 and done.left_running == []
    assert done.run.error == "it never opened a network socket"
    assert done.run.meta["ended"] == "the program exited with status 0"


@needs_strace
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_tracing_and_writes_the_trace(tmp_path: Path, sig: int) -> None:
    port = free_port()
    output = tmp_path / "trace.json"
    command = server_command("select_loop.py", port)
    proc = start([], command, output)
    try:
        with connect_when_listening(port) as conn:
            conn.sendall(b"ping")
            assert conn.recv(16) == b"hello"
            proc.send_signal(sig)
            proc.wait(TIMEOUT_S)
    finally:
        done = finish(proc, output)
    assert done.returncode == 0, done.stderr
    assert done.left_running == []
    run = done.run
    assert run.meta["ended"] == f"stopped by {signal.Signals(sig).name}"
    assert [run.m_bytes[i] for i in range(run.message_count)] == [4]


@needs_strace
def test_duration_ends_the_trace(tmp_path: Path) -> None:
    port = free_port()
    done = iosim_trace(tmp_path, ["--duration", "0.5"], server_command("select_loop.py", port))
    assert done.returncode == 0 and done.left_running == []
    assert done.run.meta["ended"] == "the program was stopped"
    assert done.run.end_us + done.run.meta["startup_us"] >= 500_000  # t = 0: its first socket


@needs_strace
def test_a_client_command_runs_and_tracing_stops_when_it_exits(tmp_path: Path) -> None:
    port = free_port()
    client = f"{sys.executable} {SERVERS / 'ping_client.py'} {port} 6"
    done = iosim_trace(tmp_path, ["--client", client, "--port", str(port)],
                       server_command("select_loop.py", port))
    assert done.returncode == 0, done.stderr
    assert done.left_running == []
    run = done.run
    assert [run.m_bytes[i] for i in range(run.message_count)] == [4] * 6
    assert {run.m_conn[i] for i in range(run.message_count)} == {0}


@needs_strace
def test_everything_the_program_started_is_stopped(tmp_path: Path) -> None:
    port = free_port()
    done = iosim_trace(tmp_path, ["--client", "true"],  # ends once the child listens
                       [sys.executable, str(SERVERS / "spawns_server.py"), "select_loop.py",
                        str(port)])
    assert done.returncode == 0, done.stderr
    assert done.left_running == []
    run = done.run
    assert run.model == f"spawns_server.py select_loop.py {port}"
    assert run.meta["ended"] == "the program was stopped"
    assert "listen" in run.code  # the child's calls: strace followed it, iosim stopped it


# -- the trace is like any other -------------------------------------------------------------


@pytest.fixture(scope="module")
def traced_scenario(run_dir: Path, tmp_path_factory: pytest.TempPathFactory
                    ) -> tuple[Path, Path]:
    done = shared_trace(run_dir, "epoll_loop.py", TCP_SCENARIO,
                        lambda port: server_command("epoll_loop.py", port))
    assert done.returncode == 0 and done.left_running == []
    path = tmp_path_factory.mktemp("readers") / "s.toml"
    path.write_text(TCP_SCENARIO)
    return path, done.output


@needs_strace
def test_summary_export_and_render_read_the_trace(
        traced_scenario: tuple[Path, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    scenario_path, output = traced_scenario
    assert cli.main(["summary", str(output), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    (run,) = summary["runs"]
    assert run["source"] == "traced" and run["totals"]["syscalls"] > 0
    assert all(m["copy_end_us"] is not None for m in run["messages"])
    assert cli.main(["export", str(output), "--chrome", str(tmp_path / "c.json")]) == 0
    events = json.loads((tmp_path / "c.json").read_text())["traceEvents"]
    assert any("epoll_wait" in str(e.get("name")) for e in events)
    frame = tmp_path / "frame.png"
    assert cli.main(["render", str(scenario_path), str(output), "-o", str(frame)]) == 0
    assert frame.stat().st_size > 0
    trace = trace_mod.load(output)
    assert trace.scenario == "three-clients" and trace.runs[0].model.startswith("epoll_loop.py ")


@needs_strace
@pytest.mark.parametrize("tracer", ["strace", pytest.param("perf", marks=needs_perf_tracer)])
def test_a_trace_stops_when_it_holds_as_many_calls_as_it_may(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str], tracer: str) -> None:
    """Memory stays bounded: a busy polling server fills the (here lowered) limit, tracing
    stops and the trace says why."""
    if tracer == "strace":
        monkeypatch.setattr("iosim.traced.watch.MAX_RECORDS", 300)
    else:  # the perf tracer's bound is its recording's size, checked as it grows
        monkeypatch.setattr("iosim.traced.perf_tracer.MAX_DATA_BYTES", 1_000_000)
    output = tmp_path / "trace.json"
    subreaper(True)
    try:
        status = cli.main(["trace", "-o", str(output), "--duration", "60", "--tracer", tracer,
                           "--", *server_command("nonblocking_poll.py", free_port())])
    finally:
        left = stop_leftovers()
        subreaper(False)
    assert status == 0 and left == []
    (run,) = trace_mod.load(output).runs
    held = "300 system calls" if tracer == "strace" else "1 MB of perf's events"
    assert f"tracing stopped after {held}, as many as a trace holds" in run.error
    assert run.end_us < 60e6
    capfd.readouterr()
