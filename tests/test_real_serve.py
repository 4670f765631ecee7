"""``iosim serve`` as a person runs it: a subprocess on a loopback port, the classic demo
protocol, clients that reset, SIGTERM, and the trace it leaves behind."""

from __future__ import annotations

import multiprocessing
import re
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from servehelp import recv_exact

from iosim import cli
from iosim import trace as trace_mod
from iosim.real import servers
from iosim.real.process import Server
from iosim.real.record import Messages
from iosim.real.servers import REAL_MODELS

STARTUP_S = 20.0


class ServeProcess:
    """``python -m iosim serve`` on a free port; the port is read from its first line."""

    def __init__(self, model: str, proto: str, output: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "iosim", "serve", "--model", model, "--proto", proto,
             "--port", "0", "-o", str(output)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.port = self._port()

    def _port(self) -> int:
        assert self.proc.stderr is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stderr, selectors.EVENT_READ)
            if not sel.select(timeout=STARTUP_S):
                raise AssertionError("serve did not start")
            line = self.proc.stderr.readline().decode()
        found = re.search(r"port (\d+)", line)
        assert found, f"unexpected first line: {line!r}"
        return int(found.group(1))

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=STARTUP_S)
        return self.proc.returncode, err.decode()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[Callable[..., ServeProcess]]:
    started: list[ServeProcess] = []

    def start(model: str, proto: str = "tcp") -> ServeProcess:
        server = ServeProcess(model, proto, tmp_path / f"{model}.json")
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.kill()


def connect(port: int) -> socket.socket:
    """Connect once the port accepts: a bounded number of tries, no fixed sleep."""
    deadline = time.monotonic() + STARTUP_S
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=STARTUP_S)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise


@pytest.mark.parametrize("model", REAL_MODELS)
def test_reset_client_does_not_stop_the_server_and_sigterm_writes_the_trace(
        serve_process: Callable[..., ServeProcess], tmp_path: Path, model: str) -> None:
    server = serve_process(model)
    rude = connect(server.port)
    try:
        assert recv_exact(rude, 5) == b"hello"
        rude.sendall(b"before reset")
        assert recv_exact(rude, 5) == b"hello"
        rude.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        rude.close()  # with SO_LINGER 0: a reset, not a FIN
    polite = connect(server.port)
    try:
        assert recv_exact(polite, 5) == b"hello"
        for chunk in (b"one", b"two"):
            polite.sendall(chunk)
            assert recv_exact(polite, 5) == b"hello"
    finally:
        polite.close()
    status, err = server.stop()
    assert status == 0, err
    assert "wrote" in err
    trace = trace_mod.load(tmp_path / f"{model}.json")
    run = trace.runs[0]
    assert run.source == "real" and run.model == model
    assert sorted(run.m_bytes) == sorted([len(b"before reset"), 3, 3])
    assert all(run.m_ready[i] <= run.m_copy_end[i] for i in range(run.message_count))


def _serve_sigio(listener: socket.socket) -> None:
    servers.run("sigio", Server("tcp", [], Messages(None), 0.0, 1000.0, 4096,
                                listener=listener))


def test_sigio_serves_a_client_that_connected_before_its_signals_were_set() -> None:
    """A client that connects between listen() and O_ASYNC raises no SIGIO: the server must
    notice it waiting all the same (a busy machine makes that window wide)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.create_connection(listener.getsockname(), timeout=STARTUP_S) as early:
            server = multiprocessing.get_context("fork").Process(
                target=_serve_sigio, args=(listener,), daemon=True)
            server.start()
            try:
                assert recv_exact(early, 5) == b"hello"
                early.sendall(b"ping")
                assert recv_exact(early, 5) == b"hello"
            finally:
                server.terminate()
                server.join(STARTUP_S)
                if server.is_alive():
                    server.kill()
                    server.join()


def test_udp_serve_answers_every_datagram(serve_process: Callable[..., ServeProcess],
                                          tmp_path: Path) -> None:
    server = serve_process("select", "udp")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(STARTUP_S)
        for payload in (b"a", b"bb"):
            client.sendto(payload, ("127.0.0.1", server.port))
            assert client.recvfrom(16)[0] == b"hello"
    status, err = server.stop()
    assert status == 0, err
    run = trace_mod.load(tmp_path / "select.json").runs[0]
    assert list(run.m_bytes) == [1, 2]


def test_port_in_use_is_one_line_exit_2(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = cli.main(["serve", "--model", "select", "--port", str(port),
                           "-o", str(tmp_path / "x.json")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and f"port {port}" in err and "in use" in err
    assert not (tmp_path / "x.json").exists()


def test_duration_ends_serve_with_its_trace(tmp_path: Path) -> None:
    out = tmp_path / "d.json"
    assert cli.main(["serve", "--model", "epoll", "--port", "0", "--duration", "0.2",
                     "-o", str(out)]) == 0
    run = trace_mod.load(out).runs[0]
    assert run.end_us >= 200_000 and run.message_count == 0
