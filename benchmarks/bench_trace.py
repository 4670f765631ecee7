"""Write and read a trace of about a million events; the reading is done in a fresh process so
that its peak memory (ru_maxrss) is the reader's alone."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from iosim import scenario
from iosim import trace as trace_mod
from iosim.sim.run import simulate

# a burst on 100 connections: ~1M events over the nonblocking and epoll runs
SCENARIO = """
name = "million"
title = "about a million events"
protocol = "tcp"
models = ["nonblocking", "epoll"]
[process]
work_us = 5
poll_interval_us = 100
[[connections]]
count = 100
first_ms = 1.0
stagger_ms = 0.013
every_ms = 0.7
messages = 640
bytes = 700
"""

READER = """
import json, resource, sys, time
from iosim import trace
start = time.perf_counter()
t = trace.load(sys.argv[1])
seconds = time.perf_counter() - start
events = sum(len(r) for r in t.runs)
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"read_s": seconds, "events": events, "peak_mb": peak_mb}))
"""


def run() -> dict[str, Any]:
    start = time.perf_counter()
    trace = simulate(scenario.parse(SCENARIO, "<bench>"))
    events = sum(len(r) for r in trace.runs)
    print(f"simulated {events:,} events in {time.perf_counter() - start:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "million.trace.json"
        start = time.perf_counter()
        trace_mod.save(trace, path)
        write_s = time.perf_counter() - start
        size_mb = path.stat().st_size / 1e6
        del trace
        out = subprocess.run([sys.executable, "-c", READER, str(path)], capture_output=True,
                             text=True, check=True, timeout=120).stdout
    read = json.loads(out)
    print(f"write  {write_s:.3f} s  ({size_mb:.1f} MB)")
    print(f"read   {read['read_s']:.3f} s  ({read['events']:,} events)")
    print(f"peak   {read['peak_mb']:.0f} MB in the reading process (target <= 400 MB)")
    return {"name": "trace", "write_s": round(write_s, 3), "read_s": round(read["read_s"], 3),
            "peak_mb": round(read["peak_mb"], 1), "events": events}
