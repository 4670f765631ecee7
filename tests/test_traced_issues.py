"""What ``iosim trace`` says about a run, checked on real programs: Ctrl-C leaves no
temporary folder and still writes the trace; a program that exits says so first, with its
status and last stderr line, and nothing is drawn after it; t = 0 is the first socket call;
a short-lived client is seen whole; --client-input; the wrong port or protocol named; a
shell-started program named after what it runs; TIME_WAIT is not "in use"."""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path

import pytest
from test_traced_cli import connect_when_listening
from tracehelp import (
    SERVERS,
    TCP_SCENARIO,
    UDP_SCENARIO,
    finish,
    free_port,
    iosim_trace,
    needs_perf_tracer,
    needs_strace,
    server_command,
    start,
)

from iosim.errors import UserError
from iosim.trace import Kind
from iosim.traced.session import check_port, program_name

pytestmark = needs_strace

SEND_AND_GO = ("import socket, sys; s = socket.create_connection(('127.0.0.1', {port})); "
               "s.sendall(b'hi'); s.close()")
LINES_CLIENT = ("import socket, sys; s = socket.create_connection(('127.0.0.1', {port}))\n"
                "for line in sys.stdin:\n    s.sendall(line.encode()); s.recv(16)\n")
ADDRESSES_PERF = ("the kernel's socket state changes (perf), the server side of each handshake "
                  "for an accepted connection")
CRASH_SERVER = ("import socket, sys\nl = socket.create_server(('127.0.0.1', {port}))\n"
                "c, _ = l.accept()\nc.recv(100)\nsys.exit('boom: a bad request')\n")


def test_ctrl_c_twice_leaves_no_folder_and_writes_the_trace(tmp_path: Path) -> None:
    """SIGINT to a real ``iosim trace`` (and a second one at once, while it stops and
    writes): the trace is written and its temporary folder is gone."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    port = free_port()
    output = tmp_path / "trace.json"
    proc = start([], server_command("select_loop.py", port), output,
                 env={**os.environ, "TMPDIR": str(folder)})
    try:
        with connect_when_listening(port) as conn:
            conn.sendall(b"ping")
            assert conn.recv(16) == b"hello"
            proc.send_signal(signal.SIGINT)
            proc.send_signal(signal.SIGINT)
            proc.wait(90)
    finally:
        done = finish(proc, output)
    assert done.returncode == 0, done.stderr
    assert done.run.meta["ended"] == "stopped by SIGINT"
    assert list(folder.iterdir()) == []


def test_a_program_that_crashes_says_so_first_and_nothing_is_drawn_after(
        tmp_path: Path) -> None:
    port = free_port()
    script = tmp_path / "crash.py"
    script.write_text(CRASH_SERVER.format(port=port))
    sc = tmp_path / "s.toml"
    sc.write_text(TCP_SCENARIO)
    done = iosim_trace(tmp_path, ["--scenario", str(sc), "--port", str(port)],
                       [sys.executable, str(script)])
    assert done.returncode == 1 and done.left_running == []
    run = done.run
    assert run.error.startswith("the program exited with status 1 at t = ")
    assert "its last line on stderr: 'boom: a bad request'" in run.error.split(";")[1]
    assert "never read" not in run.error
    assert max(run.t1) <= run.end_us and min(run.t0) >= 0.0
    assert run.end_us >= 0.0


def test_a_misspelled_script_ends_at_zero_or_later_and_says_why(tmp_path: Path) -> None:
    done = iosim_trace(tmp_path, [], [sys.executable, str(tmp_path / "no_such.py")])
    run = done.run
    assert done.returncode == 1
    assert run.end_us >= 0.0
    assert run.error.startswith("the program exited with status 2 at t = ")
    assert "No such file" in run.error


def test_a_poll_server_that_quits_early_ends_where_it_exited(tmp_path: Path) -> None:
    """The poll server from a book quits with "too many clients" when the scenario's third
    client comes: the run ends at its exit, at or after t = 0, and says so first."""
    port = free_port()
    sc = tmp_path / "s.toml"
    sc.write_text(TCP_SCENARIO)
    script = tmp_path / "tiny_poll.py"
    script.write_text("import select, socket, sys\n"
                      f"l = socket.create_server(('127.0.0.1', {port}))\n"
                      "p = select.poll(); p.register(l, select.POLLIN); n = 0\n"
                      "while True:\n    p.poll()\n    c, _ = l.accept(); n += 1\n"
                      "    if n > 2:\n        sys.exit('too many clients')\n")
    done = iosim_trace(tmp_path, ["--scenario", str(sc), "--port", str(port)],
                       [sys.executable, str(script)])
    run = done.run
    assert run.end_us >= 0.0 and max(run.t1) <= run.end_us
    assert run.error.startswith("the program exited with status 1")
    assert "too many clients" in run.error


def test_t0_is_the_first_socket_call_and_start_up_is_apart(tmp_path: Path) -> None:
    port = free_port()
    client = f"{sys.executable} {SERVERS / 'ping_client.py'} {port} 2"
    done = iosim_trace(tmp_path, ["--client", client, "--port", str(port)],
                       server_command("select_loop.py", port))
    run = done.run
    first = min(i for i in range(len(run)) if run.kind[i] == Kind.SYSCALL)
    assert run.t0[first] == 0.0 and run.labels[run.label[first]] == "socket"
    assert run.meta["startup_us"] > 0
    assert "of start-up before t = 0, not drawn" in done.stdout


def test_a_client_that_connects_sends_and_exits_is_seen(tmp_path: Path) -> None:
    """The client is gone before the server accepts: tracing waits until the server has
    accepted, read and closed its connection."""
    port = free_port()
    client = f"{sys.executable} -c \"{SEND_AND_GO.format(port=port)}\""
    done = iosim_trace(tmp_path, ["--client", client, "--port", str(port)],
                       server_command("select_loop.py", port))
    run = done.run
    assert done.returncode == 0, done.stderr
    assert [run.m_bytes[i] for i in range(run.message_count)] == [2]


def test_client_input_is_the_client_commands_standard_input(tmp_path: Path) -> None:
    port = free_port()
    lines = tmp_path / "lines.txt"
    lines.write_text("one\ntwo\nthree\n")
    script = tmp_path / "lines_client.py"
    script.write_text(LINES_CLIENT.format(port=port))
    done = iosim_trace(tmp_path, ["--client", f"{sys.executable} {script}", "--port",
                                  str(port), "--client-input", str(lines)],
                       server_command("select_loop.py", port))
    run = done.run
    assert [run.m_bytes[i] for i in range(run.message_count)] == [4, 4, 6]


def test_client_input_alone_is_refused(tmp_path: Path) -> None:
    done = iosim_trace(tmp_path, ["--client-input", str(tmp_path)], ["true"])
    assert done.returncode == 2
    assert done.stderr.strip() == "iosim: error: --client-input goes with --client"


def test_the_wrong_port_names_the_port_it_listens_on(tmp_path: Path) -> None:
    port = free_port()
    other = free_port()
    sc = tmp_path / "s.toml"
    sc.write_text(TCP_SCENARIO)
    done = iosim_trace(tmp_path, ["--scenario", str(sc), "--port", str(other)],
                       server_command("select_loop.py", port))
    assert done.returncode == 1
    assert done.run.error == (f"the program listens on port {port} (tcp), not on --port "
                              f"{other}")


def test_a_udp_scenario_at_a_tcp_server_says_the_protocols_differ(tmp_path: Path) -> None:
    port = free_port()
    sc = tmp_path / "s.toml"
    sc.write_text(UDP_SCENARIO)
    done = iosim_trace(tmp_path, ["--scenario", str(sc), "--port", str(port)],
                       server_command("select_loop.py", port))
    assert done.returncode == 1
    assert done.run.error == (f"the scenario is UDP but the program listens on port {port} "
                              "with TCP: the protocols do not match")


@pytest.mark.parametrize("tracer", ["strace", pytest.param("perf", marks=needs_perf_tracer)])
def test_many_connections_take_their_addresses_from_the_calls(tmp_path: Path,
                                                             tracer: str) -> None:
    """300 idle connections beside the three that send (c10k's shape, smaller): strace's
    -y, the sockets' addresses learned from the calls (the perf tracer: from the kernel's
    handshakes, in the order accept takes them); every byte read on its connection."""
    port = free_port()
    sc = tmp_path / "s.toml"
    sc.write_text(TCP_SCENARIO.replace('models = ["select"]',
                                       'models = ["select"]\nidle_connections = 300'))
    done = iosim_trace(tmp_path, ["--scenario", str(sc), "--port", str(port), "--tracer",
                                  tracer], server_command("select_loop.py", port))
    run = done.run
    assert done.returncode == 0, done.stderr
    assert run.meta["socket_addresses"] == ("learned from the calls (strace -y)"
                                            if tracer == "strace" else ADDRESSES_PERF)
    assert [(run.m_conn[i], run.m_bytes[i]) for i in range(run.message_count)] == \
        [(0, 300), (1, 1500), (2, 700), (0, 300), (1, 100), (0, 300), (2, 64)]


def test_a_probe_socket_is_no_connection_and_a_lane_waits_from_its_birth(
        tmp_path: Path) -> None:
    """A UDP socket connected and closed before serving (as glibc's address look-up probes)
    is not a connection: the client's is number 0; its kernel lane waits for data from its
    accept on (or from its first send, when the client sent before the accept), not from
    t = 0."""
    port = free_port()
    script = tmp_path / "probing.py"
    script.write_text("import socket, runpy, sys\n"
                      "probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                      "probe.connect(('127.0.0.1', 9)); probe.close()\n"
                      f"sys.argv = ['select_loop.py', '{port}']\n"
                      f"runpy.run_path({str(SERVERS / 'select_loop.py')!r})\n")
    client = f"{sys.executable} {SERVERS / 'ping_client.py'} {port} 3"
    done = iosim_trace(tmp_path, ["--client", client, "--port", str(port)],
                       [sys.executable, str(script)])
    run = done.run
    assert {run.m_conn[i] for i in range(run.message_count)} == {0}
    assert [lane.name for lane in run.lanes if lane.role == "kernel"] == ["kernel conn 0"]
    accepted = min(run.t0[i] for i in range(len(run)) if run.kind[i] == Kind.RETURN
                   and run.labels[run.label[i]] == "return OK" and run.conn[i] == 0)
    born = min(accepted, min(t for t in run.m_sent if t == t))
    waits = [run.t0[i] for i in range(len(run)) if run.kind[i] == Kind.WAIT]
    assert waits and min(waits) >= born > 0


def test_names_tell_runs_apart_and_see_through_a_shell() -> None:
    assert program_name(["sh", "-c", "exec ./build/server 9090"]) == "server 9090"
    assert program_name(["python3", "-u", "/x/select_loop.py", "9090"]) == \
        "select_loop.py 9090"
    assert program_name(["./a/server", "1"]) != program_name(["./b/server", "2"])


def test_time_wait_sockets_are_not_a_port_in_use() -> None:
    """A server without SO_REUSEADDR that closes first leaves TIME_WAIT on its port, which
    refuses even a bind with SO_REUSEADDR; the next run goes on and says why; a port
    something listens on is still refused."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = listener.accept()
    conn.close()  # the server's side closes first: it is the one in TIME_WAIT
    client.recv(1)
    client.close()
    with pytest.raises(UserError, match="in use"):
        check_port("tcp", port, lambda text: None)
    listener.close()
    said: list[str] = []
    check_port("tcp", port, said.append)
    assert said == [f"port {port} holds only TIME_WAIT sockets of an earlier run; going on (a "
                    "server that does not set SO_REUSEADDR cannot bind it for up to a minute)"]
