"""``iosim serve`` over a long run: the server's resident memory after 10 s and after 60 s of
a fast ping-pong client (every round trip a message, every call recorded), and while it stops
(the peak, sampled every millisecond from SIGTERM until it has exited), with the trace it left.

Target: growth from 10 s to 60 s under 20 MB, and the stop's peak no higher than the peak
while serving (VmHWM before the stop: the stop writes the last block as the spooler wrote every
other one; it builds nothing).
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from iosim import trace as trace_mod
from iosim.real.spool import scan

MODEL = "select"
SAMPLES_S = (10, 60)


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """VmRSS (or VmHWM, its peak so far) of a process, in MB (0 once it has gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    found = re.search(rf"{field}:\s+(\d+) kB", text)
    return int(found.group(1)) / 1024 if found else 0.0


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-serve-memory-") as tmp:
        out = Path(tmp) / "serve.trace"
        proc = subprocess.Popen([sys.executable, "-m", "iosim", "serve", "--model", MODEL,
                                 "--port", "0", "-o", str(out)], stderr=subprocess.PIPE)
        try:
            assert proc.stderr is not None
            port = int(re.search(rb"port (\d+)", proc.stderr.readline()).group(1))
            rss: dict[str, float] = {}
            rounds = 0
            with socket.create_connection(("127.0.0.1", port)) as client:
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                client.recv(16)
                start = time.monotonic()
                for mark in SAMPLES_S:
                    while time.monotonic() - start < mark:
                        for _ in range(1000):
                            client.send(b"x")
                            client.recv(16)
                        rounds += 1000
                    rss[str(mark)] = round(rss_mb(proc.pid), 1)
                    print(f"after {mark:3d} s: {rounds:9d} round trips, server RSS "
                          f"{rss[str(mark)]:.1f} MB", flush=True)
                serving_peak = rss_mb(proc.pid, "VmHWM")
                stopped = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                peak = 0.0
                while proc.poll() is None:
                    peak = max(peak, rss_mb(proc.pid))
                    select.select([], [], [], 0.001)
                stop_s = time.monotonic() - stopped
            err = proc.stderr.read().decode()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        messages = int(re.search(r": (\d+) message", err).group(1))
        found = scan(out)
        kept = sum(e.messages for e in found.blocks)
        size = os.path.getsize(out)
        load_start = time.monotonic()
        run_ = trace_mod.load(out).runs[0]
        load_s = time.monotonic() - load_start
    growth = rss["60"] - rss["10"]
    print(f"growth 10 s -> 60 s: {growth:+.1f} MB (target < 20 MB)")
    print(f"stop: {stop_s:.2f} s to exit, peak RSS while stopping {peak:.1f} MB "
          f"(target: no higher than the peak while serving, {serving_peak:.1f} MB)")
    print(f"messages: {messages} served; on disk {kept} ({found.meta['keep']}), {size} bytes, "
          f"{size / max(kept, 1):.1f} bytes a message; the trace loads in {load_s:.1f} s "
          f"({run_.message_count} messages, {len(run_)} events)")
    return {"name": "serve-memory", "rss_mb": rss, "messages": messages,
            "serving_peak_mb": round(serving_peak, 1), "stop_peak_mb": round(peak, 1),
            "stop_s": round(stop_s, 2),
            "bytes_per_message": round(size / max(kept, 1), 1)}
