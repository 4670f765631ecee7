"""Capture overhead: request/reply round trips on loopback against the real select server
(serve mode: every call recorded) and against the same loop with nothing recorded, in the same
run, alternating so that the machine's mood affects both alike. Client and server share one
CPU: whether the scheduler puts them on one vCPU or two changes a VM's loopback round trip
twofold, which would drown the cost of the recording; the ratio is the median of the pairs.

Target (DESIGN.md): instrumented throughput / bare throughput >= 0.9.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import socket
import statistics
import time

from iosim.real import servers
from iosim.real.process import GREETING, Server
from iosim.real.record import STAMP_SPACE, Messages, enable_stamps

ROUND_TRIPS = 20_000
ROUNDS = 9  # pairs: the median of more moves less between runs of the bench


def bare_select_server(listener: socket.socket) -> None:
    """The same calls as the recorded server (select, recvmsg with the stamp, send), and
    nothing written down."""
    conns: dict[int, socket.socket] = {}
    buffers = [memoryview(bytearray(65536))]
    lfd = listener.fileno()
    while True:
        ready, _, _ = select.select([lfd, *conns], [], [])
        for fd in ready:
            if fd == lfd:
                sock, _ = listener.accept()
                enable_stamps(sock)
                sock.sendall(GREETING)
                conns[sock.fileno()] = sock
                continue
            sock = conns[fd]
            n, _anc, _flags, _peer = sock.recvmsg_into(buffers, STAMP_SPACE)
            if n == 0:
                del conns[fd]
                sock.close()
            else:
                sock.send(GREETING)


def recorded_select_server(listener: socket.socket) -> None:
    server = Server("tcp", [], Messages(None), 0.0, 1000.0, 65536, listener=listener)
    servers.run("select", server)


def serve(instrumented: bool, listener: socket.socket, cpu: int) -> None:
    os.sched_setaffinity(0, {cpu})
    (recorded_select_server if instrumented else bare_select_server)(listener)


def round_trips(instrumented: bool, cpu: int) -> float:
    """Round trips per second against a fresh server process."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=serve, args=(instrumented, listener, cpu), daemon=True)
    proc.start()
    try:
        with socket.create_connection(listener.getsockname()) as client:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            assert client.recv(16) == GREETING
            start = time.perf_counter()
            for _ in range(ROUND_TRIPS):
                client.send(b"x")
                client.recv(16)
            return ROUND_TRIPS / (time.perf_counter() - start)
    finally:
        listener.close()
        proc.terminate()
        proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join()


def run() -> dict[str, object]:
    cpus = os.sched_getaffinity(0)
    cpu = min(cpus)
    os.sched_setaffinity(0, {cpu})
    try:
        pairs = [(round_trips(False, cpu), round_trips(True, cpu)) for _ in range(ROUNDS)]
    finally:
        os.sched_setaffinity(0, cpus)
    bare = [b for b, _ in pairs]
    recorded = [r for _, r in pairs]
    ratio = statistics.median(r / b for b, r in pairs)
    print(f"round trips/s, bare select server:     {statistics.median(bare):10.0f}  "
          f"(runs: {', '.join(f'{x:.0f}' for x in bare)})")
    print(f"round trips/s, recorded select server: {statistics.median(recorded):10.0f}  "
          f"(runs: {', '.join(f'{x:.0f}' for x in recorded)})")
    print(f"ratio recorded / bare (median of {ROUNDS} pairs, one CPU): {ratio:.3f} "
          "(target >= 0.9)")
    return {"name": "capture", "ratio": round(ratio, 3),
            "bare_per_s": round(statistics.median(bare)),
            "recorded_per_s": round(statistics.median(recorded))}
