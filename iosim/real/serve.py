"""``iosim serve``: one real server, the classic demo protocol, until told to stop.

On TCP it greets every client with b'hello' and answers every chunk with b'hello'; on UDP it
answers every datagram. Clients that reset, vanish or never read are dropped or queued, never
fatal. Its rows go to a spool file while it serves (memory stays flat however long it runs);
Ctrl-C, SIGTERM, SIGHUP or the end of --duration stop it within a moment, and finishing is
writing the last block: further signals only say how far it is.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from time import time_ns

from iosim.errors import UserError
from iosim.real.client import raise_fd_limit
from iosim.real.keep import DEFAULT_KEEP, Keep, parse_keep
from iosim.real.process import Conn, Server, Stop
from iosim.real.record import Messages, enable_stamps
from iosim.real.servers import run
from iosim.real.spool import Counters
from iosim.real.spooler import Spooler, SpoolWriter
from iosim.real.stopping import FirstSignalStops

SOMAXCONN = Path("/proc/sys/net/core/somaxconn")
DEFAULT_POLL_US = 10.0  # nonblocking's own work after an empty pass (see docs/serve.md)


@dataclass
class Served:
    counters: Counters
    kept: Keep
    stop_s: float  # from the stop to the trace written


def system_backlog() -> int:
    """The kernel's ceiling on a listen queue (listen() silently caps larger values)."""
    try:
        return max(int(SOMAXCONN.read_text()), 1)
    except (OSError, ValueError):
        return socket.SOMAXCONN


def bind(protocol: str, host: str, port: int, backlog: int | None = None) -> socket.socket:
    """The listening (TCP) or receiving (UDP) socket; a port in use is the user's error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM)
    try:
        if protocol == "tcp":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        if protocol == "tcp":
            sock.listen(backlog or system_backlog())
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UserError(f"port {port} on {host} is in use ({protocol}); "
                            "choose another with --port") from None
        raise UserError(f"cannot listen on {host} port {port}: {exc.strerror}") from None
    return sock


def _close_all(server: Server, listener: socket.socket) -> None:
    """Shut every connection (a thread blocked in recvfrom or send wakes up), then close."""
    listener.close()
    for c in (*server.conns, *server.open):
        try:
            c.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        c.sock.close()
    server.reap()


def serve(model: str, protocol: str, host: str, port: int, duration_s: float | None,
          output: str, on_ready: Callable[[int], None] | None = None, *,
          keep: Keep | None = None, backlog: int | None = None,
          poll_us: float = DEFAULT_POLL_US) -> Served:
    """Serve until SIGINT, SIGTERM, SIGHUP or ``duration_s``; the trace is at ``output``."""
    raise_fd_limit()
    sock = bind(protocol, host, port, backlog)
    if protocol == "tcp":
        server = Server(protocol, [], Messages(None), 0.0, poll_us, 65536, listener=sock)
    else:
        enable_stamps(sock)
        server = Server(protocol, [Conn(sock, 0)], Messages(None), 0.0, poll_us, 65536)
    port = sock.getsockname()[1]
    t0_ns = time_ns()
    keep = keep or parse_keep(DEFAULT_KEEP)
    try:
        writer = SpoolWriter(output, {"kind": "serve", "model": model, "protocol": protocol,
                                      "host": host, "port": port, "t0_ns": t0_ns}, keep)
    except UserError:
        sock.close()
        raise
    spooler = Spooler(server.rows, writer, server.count_into,
                      on_failure=lambda: os.kill(os.getpid(), signal.SIGTERM))
    signals = FirstSignalStops(
        Stop, lambda: f"iosim serve: finishing the trace, {server.messages.count} messages…")
    with signals:
        try:
            spooler.start()
            if on_ready is not None:
                on_ready(port)
            if duration_s:
                signal.setitimer(signal.ITIMER_REAL, duration_s)
            run(model, server)
        except Stop:
            pass
        finally:
            signals.finishing()
            end_ns = time_ns()
            _close_all(server, sock)
            server.close_open_calls(end_ns)
            spooler.stop()
            if spooler.failed is None:
                writer.finish({"end_ns": end_ns, "error": server.error})
            writer.close()
    if spooler.failed is not None:
        raise spooler.failed
    return Served(writer.counters, keep, (time_ns() - end_ns) / 1e9)
