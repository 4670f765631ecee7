"""The models where they used to fall short: the classic ping-pong client against the
non-blocking server, sigio (and the others) beside thousands of idle connections, and a capture
that leaves nothing behind when it is told to stop."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from servehelp import DEADLINE_S, ServeChild, recv_exact

from iosim import scenario
from iosim import trace as trace_mod
from iosim.real.session import capture
from iosim.trace import Kind

PING_PONGS = 2_000
POLL_US = 25
IDLE = """
name = "idle"
protocol = "tcp"
idle_connections = 2000
[process]
work_us = 20
[[connections]]
count = 5
first_ms = 5.0
stagger_ms = 0.5
every_ms = 10.0
messages = 2
bytes = 512
"""
LONG = """
name = "long"
protocol = "udp"
[[connections]]
sends = [[20000.0, 100]]
"""


def test_the_classic_client_is_answered_by_nonblocking_between_slices_of_own_work(
        tmp_path: Path) -> None:
    """Send, then wait for the reply, PING_PONGS times: every ping is answered and handled,
    and the server's own work (after a pass that found nothing) comes in slices of the
    --poll-us asked, a busy loop. How fast the client runs beside select is the pingpong
    benchmark's."""
    server = ServeChild(tmp_path, "nonblocking", "--keep", "all", "--poll-us", str(POLL_US))
    try:
        with server.connect() as client:
            assert recv_exact(client, 5) == b"hello"
            for _ in range(PING_PONGS):
                client.sendall(b"ping")
                assert recv_exact(client, 5) == b"hello"
        server.stop()
        assert server.status == 0, server.err
    finally:
        server.kill()
    run = trace_mod.load(server.output).runs[0]
    assert run.message_count == run.meta["kept"]["messages_total"] == PING_PONGS
    assert all(done == done for done in run.m_done)
    work = [t1 - t0 for k, t0, t1 in zip(run.kind, run.t0, run.t1, strict=True)
            if k == Kind.WORK]
    assert work and min(work) >= POLL_US


def test_every_message_is_handled_beside_2000_idle_connections(tmp_path: Path) -> None:
    path = tmp_path / "idle.toml"
    path.write_text(IDLE)
    sc = scenario.load(str(path))
    models = ["nonblocking", "poll", "epoll", "sigio", "threaded", "asyncio", "aio"]
    for run in capture(sc, models).runs:
        assert run.error is None, f"{run.model}: {run.error}"
        done = [d for d in run.m_done if d == d]
        assert len(done) == run.message_count == 10, run.model


def started(pid: int) -> str | None:
    """When process ``pid`` started (None: there is none): a pid alone may be another
    process's by the time it is looked at again, on a machine that starts many."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_stopped_capture_leaves_no_files_and_no_server(tmp_path: Path, sig: int) -> None:
    (tmp_path / "long.toml").write_text(LONG)
    temp = tmp_path / "temp"
    temp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "iosim", "capture", str(tmp_path / "long.toml"), "-m", "select",
         "-o", str(tmp_path / "out.json")], env={**os.environ, "TMPDIR": str(temp)},
        stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + DEADLINE_S
        servers: dict[int, str | None] = {}
        while not servers and time.monotonic() < deadline:  # its server is up and playing
            servers = {int(p): started(int(p)) for p in
                       Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()}
            select.select([], [], [], 0.01)
        assert servers and list(temp.iterdir())
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130 and err.decode().strip() == "iosim: interrupted"
    assert list(temp.iterdir()) == []
    assert not (tmp_path / "out.json").exists()
    assert all(started(pid) != start for pid, start in servers.items())
