"""The scripted client: opens a scenario's connections over loopback and plays its sends at
their times, relative to an agreed t = 0 (an absolute ``time.time_ns()``, the clock of the
kernel's arrival stamps). With server.accept the connections are made at their times too;
with server.reply_bytes a reader (replies.py) takes the replies, slowly if the scenario's
[client] says so."""

from __future__ import annotations

import errno
import resource
import socket
import time
from time import time_ns

from iosim.errors import UserError
from iosim.scenario import Scenario

SPIN_NS = 300_000  # sleep until this close to a send time, then spin: sleep alone is late
SERVER_GONE = (errno.ENOTCONN, errno.ECONNRESET, errno.EPIPE, errno.ECONNREFUSED)


def raise_fd_limit() -> int:
    """Raise this process's descriptor limit (RLIMIT_NOFILE) to the hard limit; return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def wait_until(deadline_ns: int) -> None:
    while True:
        left = deadline_ns - time_ns()
        if left <= 0:
            return
        if left > SPIN_NS:
            time.sleep((left - SPIN_NS) / 1e9)


RECEIVE_BUFFER_MIN = 2304  # Linux's least SO_RCVBUF (it doubles what is asked)


def open_connections(scenario: Scenario, host: str, ports: list[int]) -> list[socket.socket]:
    """One socket per connection, active ones first (connection numbers follow this order):
    TCP connects to the one listening port, UDP connects to the port of its own socket. With
    server.accept a socket is only bound here (its port tells the server which connection it
    is); ``play`` connects it at its time. A slow reader's socket gets a small receive buffer
    (about read_bytes), so that the replies back up into the server's send buffer."""
    tcp = scenario.protocol == "tcp"
    later = scenario.server.accept
    socks: list[socket.socket] = []
    try:
        for conn in range(scenario.total_connections):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
            socks.append(sock)
            if tcp:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scenario.client.read_bytes:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                max(RECEIVE_BUFFER_MIN, scenario.client.read_bytes) // 2)
            if later:
                sock.bind((host, 0))
                continue
            sock.connect((host, ports[0] if tcp else ports[conn]))
    except OSError as exc:
        for sock in socks:
            sock.close()
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            raise UserError(
                f"{scenario.name}: cannot open {scenario.total_connections} connections: "
                f"the descriptor limit is {raise_fd_limit()} per process (ulimit -n); "
                "use fewer idle_connections") from None
        raise UserError(f"{scenario.name}: connection {len(socks) - 1} failed: {exc}") from None
    return socks


GOODBYE, CONNECT = -1, -2  # schedule's message field: not a message


def schedule(scenario: Scenario, plan: list[list[tuple[int, int]]]
             ) -> list[tuple[float, int, int, int]]:
    """(at_ms, order, conn, message, or GOODBYE, or CONNECT) in time order: with
    server.accept each connection connects first; after its last send each says goodbye (TCP:
    close, a FIN; UDP: an empty datagram)."""
    events = []
    for conn, sends in enumerate(scenario.connections):
        if scenario.server.accept:
            events.append((scenario.connect_ms[conn], -1, conn, CONNECT))
        for send, (msg, _) in zip(sends, plan[conn], strict=True):
            events.append((send.at_ms, 0, conn, msg))
        events.append((sends[-1].at_ms, 1, conn, GOODBYE))
    return sorted(events)


def play(scenario: Scenario, plan: list[list[tuple[int, int]]], socks: list[socket.socket],
         t0_ns: int, closed: list[int] | None = None,
         address: tuple[str, int] | None = None) -> list[int]:
    """Send every message at t0 + its time (with server.accept, connect each socket to
    ``address`` first, at its time); return when each was sent (time_ns, by id), and fill
    ``closed`` (one per connection) with when each said goodbye. A server that has
    already stopped (select refusing its descriptors, say) has reset its connections: what is
    left to send to it is dropped, the server's run says why."""
    sizes = {msg: nbytes for sends in plan for msg, nbytes in sends}
    sent = [0] * len(sizes)
    payload = b"x" * max(sizes.values(), default=0)
    view = memoryview(payload)
    tcp = scenario.protocol == "tcp"
    for at_ms, _, conn, msg in schedule(scenario, plan):
        wait_until(t0_ns + int(at_ms * 1_000_000))
        sock = socks[conn]
        try:
            if msg == CONNECT:
                assert address is not None
                sock.connect(address)
                continue
            if msg < 0:
                if closed is not None:
                    closed[conn] = time_ns()
                if tcp:
                    sock.shutdown(socket.SHUT_WR)
                else:
                    sock.send(b"")
                continue
            sent[msg] = time_ns()
            if tcp:
                sock.sendall(view[:sizes[msg]])
            else:
                sock.send(view[:sizes[msg]])
        except OSError as exc:
            if exc.errno not in SERVER_GONE:
                raise
    return sent
