"""The server side of a capture, run as a child process: ``python -m iosim.real.child``.

It talks to the parent (session.py's ``capture``) through one-line JSON messages: it prints the
ports it listens on, accepts the scenario's connections (TCP; with server.accept it reads
the clients' ports instead, a JSON list, and its workers accept them during the run), prints
how many, reads t = 0 (an absolute time_ns) from stdin, waits for it, runs the model and
writes its rows to the result file, a spool (spool.py) written once the run is over, so that
nothing but the appends of its calls runs while it is measured. SIGTERM ends a run that
cannot finish (a blocked server) with what it has.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
from time import time_ns
from types import FrameType

from iosim import scenario as scenario_mod
from iosim.real.client import raise_fd_limit, wait_until
from iosim.real.keep import Keep
from iosim.real.process import Conn, Server, Stop
from iosim.real.record import Messages, enable_stamps, message_plan
from iosim.real.servers import program_of, run
from iosim.real.spooler import BLOCK_ROWS, SpoolWriter

ACCEPT_TIMEOUT_S = 30.0


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise Stop


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def listening(sc: scenario_mod.Scenario, host: str, port: int = 0,
              reuse: bool = False) -> socket.socket:
    """A listening socket; its connections inherit a send buffer of server.send_buffer_bytes
    when the server replies (Linux doubles what is asked: half is asked)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if reuse:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if sc.server.reply_bytes:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF,
                            sc.server.send_buffer_bytes // 2)
    listener.bind((host, port))
    listener.listen(min(sc.total_connections, 4096))
    return listener


def open_sockets(sc: scenario_mod.Scenario, host: str
                 ) -> tuple[socket.socket | None, list[socket.socket]]:
    if sc.protocol == "tcp":
        return listening(sc, host, reuse=sc.server.reuseport), []
    socks = []
    for _ in range(sc.total_connections):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((host, 0))
        socks.append(sock)
    return None, socks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m iosim.real.child")
    parser.add_argument("scenario")
    parser.add_argument("--model", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--result", required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    # The capture holds these signals while it starts this process, and a mask is inherited:
    # let them through, or the SIGTERM that asks a stalled server to save would never come.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, (signal.SIGINT, signal.SIGTERM, signal.SIGHUP))
    raise_fd_limit()
    sc = scenario_mod.load(args.scenario)
    listener, socks = open_sockets(sc, args.host)
    listeners: list[socket.socket] = []
    conn_of_port: dict[int, int] = {}
    if listener is not None and sc.server.accept:
        port = listener.getsockname()[1]
        listeners = [listener] + [listening(sc, args.host, port, True)
                                  for _ in range(sc.server.workers - 1) if sc.server.reuseport]
        say(ports=[port])
        conn_of_port = {p: conn for conn, p in enumerate(json.loads(sys.stdin.readline()))}
    elif listener is not None:
        say(ports=[listener.getsockname()[1]])
        listener.settimeout(ACCEPT_TIMEOUT_S)
        for _ in range(sc.total_connections):
            sock, _ = listener.accept()
            socks.append(sock)
        listener.close()
    else:
        say(ports=[s.getsockname()[1] for s in socks])
    for sock in socks:
        enable_stamps(sock)
    say(accepted=len(socks))
    t0_ns = int(sys.stdin.readline())
    plan = message_plan([[(s.at_ms, s.nbytes) for s in sends] for sends in sc.connections])
    server = Server(sc.protocol, [Conn(sock, conn) for conn, sock in enumerate(socks)],
                    Messages(plan), sc.process.work_us, sc.process.poll_interval_us,
                    sc.process.buffer_bytes, reply_bytes=sc.server.reply_bytes)
    server.listeners = listeners
    server.workers = sc.server.workers
    server.epoll_exclusive = sc.server.epoll_exclusive
    server.conn_of_port = conn_of_port
    stopped = False
    variant = "accept" if sc.server.accept else ""
    program_of(args.model, variant)
    wait_until(t0_ns)
    try:
        run(args.model, server, variant)
    except Stop:
        stopped = True
    end_ns = time_ns()
    server.close_open_calls(end_ns)
    writer = SpoolWriter(args.result, {"kind": "capture", "model": args.model,
                                       "protocol": sc.protocol, "t0_ns": t0_ns}, Keep("all"))
    rows = server.rows
    for start in range(0, len(rows), BLOCK_ROWS):
        writer.rows(rows[start:start + BLOCK_ROWS])
    writer.finish({"end_ns": end_ns, "error": server.error, "stopped": stopped,
                   "remaining": server.messages.remaining})
    writer.close()
    say(done=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
