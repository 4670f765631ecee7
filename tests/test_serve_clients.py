"""Every client served, whatever the others do: clients that send and close without reading,
reset, vanish or never read, 500 clients at once; and a stop (SIGTERM after SIGTERM, while a
client keeps sending) that ends every model with its whole trace (how quickly is the pingpong
benchmark's; here the helper's deadline only tells a stop from a hang)."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from servehelp import DEADLINE_S, ServeChild, recv_exact

from iosim import trace as trace_mod
from iosim.real.process import GREETING, Conn, Server
from iosim.real.record import Messages
from iosim.real.servers import REAL_MODELS
from iosim.real.spooler import SpoolWriter

ROUNDS = 200
NOT_BLOCKING = [m for m in REAL_MODELS if m != "blocking"]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator:
    started: list[ServeChild] = []

    def start(model: str, *args: str, prepare: Callable[[], None] | None = None) -> ServeChild:
        child = ServeChild(tmp_path, model, *args, prepare=prepare)
        started.append(child)
        return child

    try:
        yield start
    finally:
        for child in started:
            child.kill()


def ping_pong(sock: socket.socket, rounds: int) -> None:
    for _ in range(rounds):
        sock.sendall(b"ping")
        assert recv_exact(sock, len(GREETING)) == GREETING


def signals_while_writing() -> None:
    """In the server: SIGTERM itself, twice, each time it writes a block after the stop and
    before its end record (a second signal that lands in the middle of the write)."""
    rows, finish = SpoolWriter.rows, SpoolWriter.finish

    def signalled(write: Callable[..., None]) -> Callable[..., None]:
        def write_signalled(self: SpoolWriter, *args: object) -> None:
            if threading.current_thread() is threading.main_thread():
                for _ in range(2):
                    os.kill(os.getpid(), signal.SIGTERM)
            write(self, *args)
        return write_signalled

    SpoolWriter.rows = signalled(rows)  # type: ignore[method-assign]
    SpoolWriter.finish = signalled(finish)  # type: ignore[method-assign]


def rude_clients(server: ServeChild) -> None:
    """Send then close without reading; send then reset; connect and vanish."""
    for _ in range(3):
        with server.connect() as sock:
            sock.sendall(b"no reading")
    for _ in range(3):
        sock = server.connect()
        sock.sendall(b"then a reset")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    server.connect().close()


class KeepsSending:
    """A client in a process of its own (this one must stay free to signal the server) that
    sends 1 KB chunks, reading its replies or not, until it is killed (or its deadline)."""

    def __init__(self, server: ServeChild, reads: bool) -> None:
        sock = server.connect()  # here, so that connections come in a known order
        if not reads:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.pid = os.fork()
        if self.pid == 0:
            try:
                sock.settimeout(0.2)
                deadline = time.monotonic() + 2 * DEADLINE_S
                while time.monotonic() < deadline:
                    try:
                        sock.sendall(b"x" * 1024)
                        if reads:
                            sock.recv(65536)
                    except TimeoutError:
                        continue
                    except OSError:
                        break
            finally:
                os._exit(0)
        sock.close()

    def finish(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


@pytest.mark.parametrize("model", REAL_MODELS)
def test_rude_and_greedy_clients_leave_the_others_served_and_the_stop_ends_serving(
        serve, model: str) -> None:
    server = serve(model, "--keep", "all", prepare=signals_while_writing)
    polite = server.connect()
    senders: list[KeepsSending] = []
    try:
        assert recv_exact(polite, 5) == GREETING
        ping_pong(polite, 1)
        if model == "blocking":  # one client at a time: the polite one first
            ping_pong(polite, ROUNDS - 1)
            polite.close()
            rude_clients(server)
        else:
            rude_clients(server)
            senders = [KeepsSending(server, reads=False), KeepsSending(server, reads=True)]
            ping_pong(polite, ROUNDS - 1)  # beside a client that never reads, and a busy one
            polite.close()
        with server.connect() as after:  # served once the rude ones were (blocking: in turn)
            assert recv_exact(after, 5) == GREETING
            ping_pong(after, 1)
        if model == "blocking":
            senders = [KeepsSending(server, reads=True)]
        server.stop(again=True)
    finally:
        for sender in senders:
            sender.finish()
        polite.close()
    err = server.err.decode()
    # SIGTERMs go as fast as they can: one that lands after the trace was written and the
    # handlers restored ends the process on its way out, its trace already whole.
    assert server.status == 0 or (server.status == -signal.SIGTERM and "wrote" in err), err
    assert "Traceback" not in err and "never retrieved" not in err, err
    assert "finishing the trace" in err and "wrote" in err
    run = trace_mod.load(server.output).runs[0]
    assert run.meta.get("note") is None
    assert list(run.m_conn).count(0) == ROUNDS  # the polite client came first: connection 0
    assert run.meta["kept"]["messages_total"] == run.message_count
    assert run.meta["clients"] >= 2


@pytest.mark.parametrize("model", NOT_BLOCKING)
def test_500_clients_at_once_are_all_served(serve, model: str) -> None:
    server = serve(model)
    clients = 500
    sel = selectors.DefaultSelector()
    got: dict[socket.socket, bytes] = {}
    try:
        for _ in range(clients):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", server.port))
            got[sock] = b""
            sel.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + DEADLINE_S
        greeted: set[socket.socket] = set()
        while sum(len(v) == 10 for v in got.values()) < clients and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=0.5):
                sock = key.fileobj
                try:
                    data = sock.recv(64)
                except BlockingIOError:
                    continue
                got[sock] += data
                if sock not in greeted and got[sock].startswith(GREETING):
                    greeted.add(sock)
                    sock.send(b"hi")
        served = sum(v == GREETING * 2 for v in got.values())
        assert served == clients
    finally:
        sel.close()
        for sock in got:
            sock.close()
    server.stop()
    assert server.status == 0, server.err
    assert trace_mod.load(server.output).runs[0].meta["clients"] == clients


def test_a_full_reply_queue_drops_its_connection_and_says_so() -> None:
    """A client that never reads: replies wait in its outbox up to the bound, then the
    connection is dropped and every reply not sent is counted."""
    mine, theirs = socket.socketpair()
    mine.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    server = Server("tcp", [], Messages(None), 0.0, 0.0, 4096, listener=None, queue_bytes=50)
    server.serving = True
    c = Conn(mine, 0)
    server.open[c] = None
    try:
        sent = 0
        while c in server.open:
            server.reply(c)
            sent += 1
            assert sent < 100_000
        server.reap()
        delivered = 0
        theirs.setblocking(False)
        try:
            while chunk := theirs.recv(65536):
                delivered += len(chunk)
        except BlockingIOError:
            pass
        assert server.dropped_queue_full == 1
        assert delivered // len(GREETING) + server.replies_unsent == sent
        assert mine.fileno() == -1
    finally:
        mine.close()
        theirs.close()
