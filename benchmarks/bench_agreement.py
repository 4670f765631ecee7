"""Agreement: the simulation with this machine's calibrated costs against real captures, for
every model with both a simulated and a real server, on one-datagram, many-clients and burst.

What is compared is what a student reads off the screen, per run: the per-message latency
(ready -> the read that took the message returned to the program) and handled time (ready ->
its processing done), their median and 90th percentile, the system calls, EWOULDBLOCKs and
signals. A real figure is the median over ROUNDS captures, reported with its spread (the
captures' interquartile range, as a share of that median). Target: latency p50 and handled
p50 within 30% (sim/real in [0.7, 1.43]), calls and EWOULDBLOCKs within 10%.

Two models are read a little differently, both sides alike: aio from the client's send (io_uring
gives no arrival stamp) to aio_return; threaded to the return of the read, which waits for
Python's GIL after the kernel's copy (a capture sees only the return).

The costs come from ``iosim calibrate``: its quick profile for the call costs, and the terms the
servers pay beyond their calls fitted on captures of calibrate's two probe scenarios, one round
of them in each round of the compared captures, so that the calibration and the captures see
the same spells of a shared machine. The cases take turns within a round for the same reason.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from iosim import scenario as scenario_mod
from iosim import summary
from iosim.calibrate import QUICK, measure, to_costs
from iosim.calibrate.probes import probe_scenarios
from iosim.calibrate.timeline import moments
from iosim.real.session import capture_run
from iosim.sim.run import simulate
from iosim.trace import Run

SCENARIOS = ("one-datagram", "many-clients", "burst")
MODELS = ("blocking", "nonblocking", "select", "poll", "epoll", "sigio", "threaded", "aio")
ROUNDS = 20
FIGURES = ("latency_p50", "latency_p90", "handled_p50", "handled_p90", "syscalls",
           "ewouldblock", "signals")
LATENCY_BOUNDS = (0.7, 1.43)  # latency and handled p50: within 30%
COUNT_BOUNDS = (0.9, 1.1)  # calls and EWOULDBLOCKs: within 10%


def figures(run: Run) -> dict[str, float]:
    """What a student reads off one run (see the module's docstring)."""
    latency, handled = [], []
    for m in moments(run):
        start = m.sent if run.model == "aio" else m.ready
        if m.returned == m.returned:
            latency.append(m.returned - start)
        if m.done == m.done:
            handled.append(m.done - start)
    latency.sort()
    handled.sort()
    totals = summary.totals(run)
    return {"latency_p50": statistics.median(latency), "latency_p90": summary.p90(latency),
            "handled_p50": statistics.median(handled), "handled_p90": summary.p90(handled),
            "syscalls": totals["syscalls"], "ewouldblock": totals["ewouldblock"],
            "signals": totals["signals"]}


def ratio(sim: float, real: float) -> float:
    return 1.0 if sim == real else (sim / real if real else float("inf"))


def spread(values: list[float]) -> float:
    """The interquartile range over the median (0 when all agree)."""
    mid = statistics.median(values)
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return (q3 - q1) / mid if mid else 0.0


def row(scenario: str, model: str, sim: dict[str, float], reals: list[dict[str, float]]
        ) -> dict[str, Any]:
    out: dict[str, Any] = {"scenario": scenario, "model": model}
    for key in FIGURES:
        values = [r[key] for r in reals]
        real = statistics.median(values)
        out[f"sim_{key}"] = round(sim[key], 2)
        out[f"real_{key}"] = round(real, 2)
        out[f"{key}_ratio"] = round(ratio(sim[key], real), 3)
        out[f"{key}_spread"] = round(spread(values), 3)
    out["latency_ratio"] = out["latency_p50_ratio"]
    out["within"] = (all(LATENCY_BOUNDS[0] <= out[f"{k}_ratio"] <= LATENCY_BOUNDS[1]
                         for k in ("latency_p50", "handled_p50"))
                     and all(COUNT_BOUNDS[0] <= out[f"{k}_ratio"] <= COUNT_BOUNDS[1]
                             for k in ("syscalls", "ewouldblock")))
    return out


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'scenario':13} {'model':11} {'lat p50 sim/real µs':>21} {'ratio':>5} "
            f"{'±':>4} {'p90':>5} {'handled p50 sim/real':>21} {'ratio':>5} {'±':>4} "
            f"{'p90':>5} {'calls':>9} {'EWOULDBLK':>9} {'signals':>7}")
    lines = [head]
    for r in rows:
        lines.append(
            f"{r['scenario']:13} {r['model']:11} "
            f"{r['sim_latency_p50']:10.1f}/{r['real_latency_p50']:<10.1f}"
            f"{r['latency_p50_ratio']:5.2f} {100 * r['latency_p50_spread']:3.0f}% "
            f"{r['latency_p90_ratio']:5.2f} "
            f"{r['sim_handled_p50']:10.1f}/{r['real_handled_p50']:<10.1f}"
            f"{r['handled_p50_ratio']:5.2f} {100 * r['handled_p50_spread']:3.0f}% "
            f"{r['handled_p90_ratio']:5.2f} "
            f"{r['sim_syscalls']:4.0f}/{r['real_syscalls']:<4.0f} "
            f"{r['sim_ewouldblock']:4.0f}/{r['real_ewouldblock']:<4.0f} "
            f"{r['sim_signals']:3.0f}/{r['real_signals']:<3.0f}"
            + ("" if r["within"] else "  <- outside"))
    return "\n".join(lines)


def run() -> dict[str, Any]:
    start = time.perf_counter()
    loads = [os.getloadavg()[0]]
    measured = measure(replace(QUICK, probes=0),
                       lambda text: print(f"calibrate: {text}", file=sys.stderr))
    cases = [(scenario_mod.load(name), model) for name in SCENARIOS for model in MODELS]
    reals: list[list[dict[str, float]]] = [[] for _ in cases]
    with tempfile.TemporaryDirectory(prefix="iosim-agreement-") as tmp:
        measured.probes = probe_scenarios(Path(tmp))
        for rnd in range(ROUNDS):  # the cases take turns: a slow spell falls on all of them
            measured.probes.add_round()
            for (sc, model), got in zip(cases, reals, strict=True):
                got.append(figures(capture_run(sc, model)))
            loads.append(os.getloadavg()[0])
            print(f"round {rnd + 1} of {ROUNDS}: probes and {len(cases)} captures, "
                  f"{time.perf_counter() - start:.0f} s, load {loads[-1]:.2f}",
                  file=sys.stderr, flush=True)
    costs, _ = to_costs(measured)
    rows = [row(sc.name, model, figures(simulate(sc, [model], costs).runs[0]), got)
            for (sc, model), got in zip(cases, reals, strict=True)]
    print(table(rows))
    within = all(r["within"] for r in rows)
    seconds = time.perf_counter() - start
    print(f"every row within target (latency and handled p50 30%, calls and EWOULDBLOCK 10%): "
          f"{within}; {ROUNDS} rounds in {seconds:.0f} s, load average "
          f"{min(loads):.2f}-{max(loads):.2f}")
    return {"name": "agreement", "rows": rows, "within_target": within,
            "rounds": ROUNDS, "seconds": round(seconds, 1), "max_load": round(max(loads), 2),
            "costs": costs.to_dict()}
