"""``iosim serve``: one real server, the classic demo protocol, until told to stop.

On TCP it greets every client with b'hello' and answers every chunk with b'hello'; on UDP it
answers every datagram. Clients that reset or vanish are dropped, never fatal. Ctrl-C, SIGTERM
or the end of --duration stop it, and it writes its trace (atomically) before it exits.
"""

from __future__ import annotations

import errno
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from time import time_ns
from types import FrameType

from iosim.errors import UserError
from iosim.real.capture import build_run
from iosim.real.client import raise_fd_limit
from iosim.real.process import Conn, Server, Stop
from iosim.real.record import Messages, enable_stamps
from iosim.real.servers import run
from iosim.trace import Trace, save


@dataclass
class Served:
    trace: Trace
    clients: int
    messages: int


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise Stop


def bind(protocol: str, host: str, port: int) -> socket.socket:
    """The listening (TCP) or receiving (UDP) socket; a port in use is the user's error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM)
    try:
        if protocol == "tcp":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        if protocol == "tcp":
            sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UserError(f"port {port} on {host} is in use ({protocol}); "
                            "choose another with --port") from None
        raise UserError(f"cannot listen on {host} port {port}: {exc.strerror}") from None
    return sock


def serve(model: str, protocol: str, host: str, port: int, duration_s: float | None,
          output: str, on_ready: Callable[[int], None] | None = None) -> Served:
    """Serve until SIGINT, SIGTERM or ``duration_s``; write the trace to ``output``."""
    raise_fd_limit()
    sock = bind(protocol, host, port)
    if protocol == "tcp":
        server = Server(protocol, [], Messages(None), 0.0, 1000.0, 65536, listener=sock)
    else:
        enable_stamps(sock)
        server = Server(protocol, [Conn(sock, 0)], Messages(None), 0.0, 1000.0, 65536)
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM,
                                                           signal.SIGALRM)}
    t0_ns = time_ns()
    port = sock.getsockname()[1]
    try:
        if on_ready is not None:
            on_ready(port)
        if duration_s:
            signal.setitimer(signal.ITIMER_REAL, duration_s)
        run(model, server)
    except Stop:
        pass
    finally:
        end_ns = time_ns()
        server.close_open_calls(end_ns)
        signal.setitimer(signal.ITIMER_REAL, 0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for c in server.conns:
            c.sock.close()
        sock.close()
    bound = f"{host}:{port}"
    result = build_run(model, protocol, server.finished_rows(), t0_ns, end_ns, plan=None,
                       sent_ns=None, connections=len(server.conns), work_us=0.0,
                       error=server.error,
                       host=host, port=port)
    trace = Trace("serve", f"iosim serve --model {model} ({protocol} {bound})", protocol,
                  [result])
    save(trace, output)
    return Served(trace, len(server.conns) if protocol == "tcp" else 0, result.message_count)
