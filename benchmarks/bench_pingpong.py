"""``iosim serve`` against the classic client, model by model: round trips per second of a
client that sends, then waits for the reply (the old non-blocking server, sleeping its poll
interval after every empty pass, was 30x slower than select here), and how long each takes to
stop (SIGTERM until it has exited with its trace written) while another client keeps sending.

These were assertions of the test suite (nonblocking at most 4x slower than select, a stop
within 5 s) until a machine with both cores busy failed them: a speed is measured, not
asserted. Targets: nonblocking's round trips at least a quarter of select's; every stop within
5 s (it takes milliseconds on a quiet machine).
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from iosim.real.servers import REAL_MODELS

ROUND_TRIPS = 20_000
STOP_DEADLINE_S = 30.0


class KeepsSending(threading.Thread):
    """A client that sends and never reads, until told to stop."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.settimeout(0.1)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.sock.send(b"x" * 1024)
            except TimeoutError:
                continue
            except OSError:
                break

    def finish(self) -> None:
        self.done.set()
        self.join()
        self.sock.close()


def one_model(model: str, tmp: Path) -> tuple[float, float]:
    """(round trips per second, seconds from SIGTERM to exit) of ``iosim serve --model``."""
    proc = subprocess.Popen([sys.executable, "-m", "iosim", "serve", "--model", model,
                             "--port", "0", "--keep", "first:1", "-o", str(tmp / model)],
                            stderr=subprocess.PIPE)
    sender: KeepsSending | None = None
    try:
        assert proc.stderr is not None
        port = int(re.search(rb"port (\d+)", proc.stderr.readline()).group(1))
        with socket.create_connection(("127.0.0.1", port)) as client:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.recv(16)
            start = time.perf_counter()
            for _ in range(ROUND_TRIPS):
                client.sendall(b"ping")
                client.recv(16)
            rate = ROUND_TRIPS / (time.perf_counter() - start)
        sender = KeepsSending(port)
        sender.start()
        stopped = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        proc.wait(STOP_DEADLINE_S)
        return rate, time.perf_counter() - stopped
    finally:
        if sender is not None:
            sender.finish()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def run() -> dict[str, Any]:
    rates: dict[str, float] = {}
    stops: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-pingpong-") as tmp:
        for model in REAL_MODELS:
            rate, stop_s = one_model(model, Path(tmp))
            rates[model], stops[model] = round(rate), round(stop_s, 3)
            print(f"{model:12} {rate:8.0f} round trips/s   stop {1000 * stop_s:7.1f} ms",
                  flush=True)
    ratio = rates["nonblocking"] / rates["select"]
    print(f"nonblocking / select: {ratio:.2f} (target >= 0.25); slowest stop "
          f"{max(stops.values()):.3f} s (target <= 5 s)")
    return {"name": "pingpong", "round_trips_per_s": rates, "nonblocking_vs_select":
            round(ratio, 3), "stop_s": stops, "max_stop_s": max(stops.values())}
