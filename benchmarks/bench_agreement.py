"""Agreement: the simulation with this machine's calibrated costs against real captures, for
every model with both a simulated and a real server, on one-datagram, many-clients and burst.

What is compared is what a student reads off the screen, per run: the per-message latency
(ready -> the read that took the message returned to the program) and handled time (ready ->
its processing done), their median and 90th percentile, the system calls, EWOULDBLOCKs and
signals, and the share of the run the process spent blocked. A real figure is the median over
ROUNDS captures, reported with its spread (the captures' interquartile range, as a share of
that median) and its 10th to 90th percentile.

A row agrees when each of its four judged figures (latency p50, handled p50, calls,
EWOULDBLOCKs) meets one of two rules, and the row says which:

- target: sim/real within 30% for latency and handled (0.7-1.43), within 10% for calls and
  EWOULDBLOCKs (0.9-1.1);
- spread: the simulated figure lies inside the real captures' own 10th-90th percentile. Reality
  is not one number: where the real figure moves more than the target from one capture to the
  next (burst x sigio's latency is bimodal: 600-900 or 1,350-1,650 µs per capture), the model
  is judged against that spread.

A row's rule is "target" when all four met the target, "spread" when all four met one rule and
some only the spread, "none" when one met neither.

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
           "ewouldblock", "signals", "blocked_share")
LATENCY_BOUNDS = (0.7, 1.43)  # latency and handled p50: within 30%
COUNT_BOUNDS = (0.9, 1.1)  # calls and EWOULDBLOCKs: within 10%
JUDGED = {"latency_p50": LATENCY_BOUNDS, "handled_p50": LATENCY_BOUNDS,
          "syscalls": COUNT_BOUNDS, "ewouldblock": COUNT_BOUNDS}
RULES = ("target", "spread", "none")


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
            "signals": totals["signals"],
            "blocked_share": totals["blocked_us"] / totals["end_us"] if totals["end_us"] else 0.0}


def ratio(sim: float, real: float) -> float:
    return 1.0 if sim == real else (sim / real if real else float("inf"))


def spread(values: list[float]) -> float:
    """The interquartile range over the median (0 when all agree)."""
    mid = statistics.median(values)
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return (q3 - q1) / mid if mid else 0.0


def p10_p90(values: list[float]) -> tuple[float, float]:
    """The 10th and 90th percentiles of the real captures' figures."""
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return deciles[0], deciles[-1]


def rule(sim: float, ratio_: float, bounds: tuple[float, float],
         p10: float, p90: float) -> str:
    """Which rule a simulated figure meets: the target first, else the real spread."""
    if bounds[0] <= ratio_ <= bounds[1]:
        return "target"
    return "spread" if p10 <= sim <= p90 else "none"


def row(scenario: str, model: str, sim: dict[str, float], reals: list[dict[str, float]]
        ) -> dict[str, Any]:
    out: dict[str, Any] = {"scenario": scenario, "model": model}
    for key in FIGURES:
        values = [r[key] for r in reals]
        real = statistics.median(values)
        p10, p90 = p10_p90(values)
        out[f"sim_{key}"] = round(sim[key], 3)
        out[f"real_{key}"] = round(real, 3)
        out[f"{key}_ratio"] = round(ratio(sim[key], real), 3)
        out[f"{key}_spread"] = round(spread(values), 3)
        out[f"real_{key}_p10"], out[f"real_{key}_p90"] = round(p10, 3), round(p90, 3)
        if key in JUDGED:
            out[f"{key}_rule"] = rule(sim[key], out[f"{key}_ratio"], JUDGED[key], p10, p90)
    out["latency_ratio"] = out["latency_p50_ratio"]
    met = {out[f"{key}_rule"] for key in JUDGED}
    out["rule"] = "none" if "none" in met else "spread" if "spread" in met else "target"
    out["agrees"] = out["rule"] != "none"
    return out


MARK = {"target": "T", "spread": "S", "none": "-"}


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'scenario':13} {'model':11} {'lat p50 sim/real µs':>21} {'ratio':>5} "
            f"{'real p10-p90':>13} {'handled p50 sim/real':>21} {'ratio':>5} "
            f"{'calls':>9} {'EWOULDBLK':>9} {'signals':>7} {'blocked %':>9}  rule")
    lines = [head]
    for r in rows:
        marks = "".join(MARK[r[f"{key}_rule"]] for key in JUDGED)
        lines.append(
            f"{r['scenario']:13} {r['model']:11} "
            f"{r['sim_latency_p50']:10.1f}/{r['real_latency_p50']:<10.1f}"
            f"{r['latency_p50_ratio']:5.2f} "
            f"{r['real_latency_p50_p10']:6.0f}-{r['real_latency_p50_p90']:<6.0f} "
            f"{r['sim_handled_p50']:10.1f}/{r['real_handled_p50']:<10.1f}"
            f"{r['handled_p50_ratio']:5.2f} "
            f"{r['sim_syscalls']:4.0f}/{r['real_syscalls']:<4.0f} "
            f"{r['sim_ewouldblock']:4.0f}/{r['real_ewouldblock']:<4.0f} "
            f"{r['sim_signals']:3.0f}/{r['real_signals']:<3.0f} "
            f"{100 * r['sim_blocked_share']:4.0f}/{100 * r['real_blocked_share']:<4.0f} "
            f" {r['rule']:6} {marks}")
    lines.append("rule: target = latency and handled p50 within 30%, calls and EWOULDBLOCK "
                 "within 10%; spread = inside the real captures' 10th-90th percentile; per "
                 "figure (latency, handled, calls, EWOULDBLOCK): T target, S spread, - none")
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
    rules = {name: sum(r["rule"] == name for r in rows) for name in RULES}
    seconds = time.perf_counter() - start
    print(f"{len(rows) - rules['none']} of {len(rows)} rows agree: {rules['target']} by the "
          f"target, {rules['spread']} by the real spread, {rules['none']} by neither; "
          f"{ROUNDS} rounds in {seconds:.0f} s, load average {min(loads):.2f}-{max(loads):.2f}")
    return {"name": "agreement", "rows": rows, "rules": rules,
            "all_agree": rules["none"] == 0, "within_target": rules["target"] == len(rows),
            "rounds": ROUNDS, "seconds": round(seconds, 1), "max_load": round(max(loads), 2),
            "costs": costs.to_dict()}
