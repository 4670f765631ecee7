"""What tracing costs a server: request/reply round trips per second against a small Python
echo server run bare and run under ``iosim trace`` with each of its tracers (the perf tracer
where the machine allows it, and strace), in the same run, taking turns, the median of the
ratios to the bare run beside it. The client is this process; the
timing covers only its round trips, not the start of the server, of strace or of perf. Every
process (client, server, iosim, strace, perf) runs on one CPU, which they inherit from this one:
on a 2-vCPU VM whether the scheduler spreads them over one CPU or two changes a loopback round
trip more than the cost being measured.

Then, in the same run, what each way of tracing adds to one system call (a hot recv on an
empty non-blocking UDP socket, the call a polling server makes most), bare and traced, the
best of five batches: strace as iosim runs it; the perf tracer as iosim runs it (the entry and
exit tracepoints of the calls iosim reads, with its task, signal and socket events); perf
recording the traced calls' entries with their stacks (how iosim lights a compiled program's
lines); and iosim's Python recorder (how it lights a Python script's lines).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from iosim import trace as trace_mod

ROUND_TRIPS = 2000
PAIRS = 5
START_TIMEOUT_S = 60.0

ECHO_SERVER = """
import socket, sys
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(sys.argv[1])))
listener.listen()
while True:
    conn, _ = listener.accept()
    with conn:
        while data := conn.recv(4096):
            conn.sendall(data)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def connect(port: int, proc: subprocess.Popen[bytes]) -> socket.socket:
    """A connection once the server listens (bounded; the server may take a while under
    strace)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port))
        except ConnectionRefusedError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the echo server did not start") from None
            time.sleep(0.01)


def round_trips(port: int, proc: subprocess.Popen[bytes]) -> float:
    with connect(port, proc) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = time.perf_counter()
        for _ in range(ROUND_TRIPS):
            conn.sendall(b"x")
            conn.recv(16)
        return ROUND_TRIPS / (time.perf_counter() - start)


def measure(tracer: str | None, workdir: Path) -> tuple[float, dict]:
    """Round trips per second against a fresh server, bare (``tracer`` None) or under
    ``iosim trace --tracer TRACER``; with the trace's meta when traced."""
    port = free_port()
    server = [sys.executable, "-c", ECHO_SERVER, str(port)]
    output = workdir / f"trace-{port}.json"
    command = [sys.executable, "-m", "iosim", "trace", "-o", str(output), "--tracer", tracer,
               "--", *server] if tracer else server
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        rate = round_trips(port, proc)
    finally:
        proc.send_signal(signal.SIGTERM)  # iosim writes its trace; the bare server just ends
        proc.wait(60)
    meta = trace_mod.load(output).runs[0].meta if tracer else {}
    return rate, meta


COST_CALLS = 20_000
COST_CODE = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.setblocking(False)
best = float("inf")
for _ in range(5):
    t = time.perf_counter_ns()
    for _ in range({n}):
        try:
            s.recv(1)
        except BlockingIOError:
            pass
    best = min(best, (time.perf_counter_ns() - t) / {n})
print(best / 1000)
"""


def per_call_us(prefix: list[str], workdir: Path, env: dict | None = None) -> float:
    """µs a hot recv takes under ``prefix`` (a tracer's command line; [] for none)."""
    script = workdir / "cost.py"
    script.write_text(COST_CODE.format(n=COST_CALLS))
    done = subprocess.run([*prefix, sys.executable, str(script)], capture_output=True,
                          text=True, timeout=300, env=env)
    return float(done.stdout.split()[-1])


def tracer_costs(workdir: Path) -> dict[str, float]:
    """µs each tracer adds to a call, measured now, side by side."""
    from iosim.traced import perf_tracer
    from iosim.traced.runner import strace_command, strace_path
    from iosim.traced.sources import PYREC_DIR
    from iosim.traced.stacks import STACK_BYTES, available_events
    bare = per_call_us([], workdir)
    costs = {"strace": per_call_us(strace_command(strace_path(), workdir / "s.out", [])[:-1],
                                   workdir) - bare}
    perf = shutil.which("perf")
    if perf and perf_tracer.why_not() is None:
        costs["perf tracer"] = per_call_us(
            perf_tracer.perf_command(perf, workdir / "p0.data", []), workdir) - bare
    if perf and available_events():
        events = [a for e in available_events() for a in ("-e", e)]
        costs["perf stacks"] = per_call_us(
            [perf, "record", "-q", "-o", str(workdir / "p1.data"), "--call-graph",
             f"dwarf,{STACK_BYTES}", *events, "--"], workdir) - bare
    env = {**os.environ, "PYTHONPATH": str(PYREC_DIR), "IOSIM_PYREC": str(workdir / "rec"),
           "IOSIM_PYREC_MAIN": str(workdir / "cost.py")}
    costs["python recorder"] = per_call_us([], workdir, env) - bare
    return {name: round(max(us, 0.0), 2) for name, us in costs.items()} | {"bare": round(bare, 2)}


def run() -> dict:
    """Turns of bare, then each tracer; the ratios; then what each way of tracing adds to a
    call. ``ratio`` is the cheapest tracer's (the one ``iosim trace`` picks by default)."""
    from iosim.traced import perf_tracer
    tracers = ["perf", "strace"] if perf_tracer.why_not() is None else ["strace"]
    bare: list[float] = []
    traced: dict[str, list[float]] = {t: [] for t in tracers}
    costs: dict[str, list[float]] = {t: [] for t in tracers}
    sides = set()
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {max(cpus)})
    with tempfile.TemporaryDirectory(prefix="bench-trace-cmd-") as tmp:
        for turn in range(PAIRS):
            bare.append(measure(None, Path(tmp))[0])
            said = [f"turn {turn + 1}: bare {bare[-1]:,.0f} round trips/s"]
            for tracer in tracers:
                rate, meta = measure(tracer, Path(tmp))
                traced[tracer].append(rate / bare[-1])
                costs[tracer].append(meta["tracer_cost_us"])
                sides.add(meta["kernel_side"])
                said.append(f"{tracer} {rate:,.0f} ({rate / bare[-1]:.3f}; "
                            f"~{costs[tracer][-1]:.1f} µs a call)")
            print(", ".join(said))
        added = tracer_costs(Path(tmp))
    os.sched_setaffinity(0, cpus)
    ratios = {t: round(statistics.median(r), 3) for t, r in traced.items()}
    print(f"median traced / bare: {ratios}; kernel side: {', '.join(sorted(sides))}")
    for name, us in added.items():
        print(f"{name}: {us:.2f} µs a call" + ("" if name == "bare" else " added"))
    return {"name": "trace-cmd", "ratio": ratios[tracers[0]], "tracer": tracers[0],
            "ratios": ratios, "bare_round_trips_per_s": round(statistics.median(bare)),
            "cost_us_said": {t: statistics.median(c) for t, c in costs.items()},
            "round_trips": ROUND_TRIPS, "pairs": PAIRS, "us_added_per_call": added}
