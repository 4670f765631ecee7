"""The c10k built-in (10,000 idle + 100 active connections) for select, poll and epoll: seconds
per run, and events per second against a bare SimPy timeout loop of the same event count.

Both sides are measured in each of ROUNDS rounds, one after the other, so that the machine's
mood affects both alike; the figures are the medians over the rounds. ``ratio_vs_bare_simpy``
counts SimPy events (the steps a run takes, ``sim_events``) against as many bare timeouts: the
cost of one event of the model against one of SimPy's own. ``ratio_trace_events_vs_bare_simpy``
counts the trace events a run produces instead (what "a 1M-event trace" counts), against as
many bare timeouts.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import simpy

from iosim import scenario
from iosim.sim.run import simulate

MODELS = ("select", "poll", "epoll")
ROUNDS = 5


def bare_simpy_seconds(events: int) -> float:
    """A process that does nothing but yield ``events`` timeouts."""
    env = simpy.Environment()

    def ticker() -> Any:
        for _ in range(events):
            yield env.timeout(1)

    env.process(ticker())
    start = time.perf_counter()
    env.run()
    return time.perf_counter() - start


def one_round(sc: scenario.Scenario) -> dict[str, Any]:
    seconds: dict[str, float] = {}
    sim_events: dict[str, int] = {}
    trace_events: dict[str, int] = {}
    errors: dict[str, str | None] = {}
    for model in MODELS:
        start = time.perf_counter()
        run = simulate(sc, [model]).runs[0]
        seconds[model] = time.perf_counter() - start
        sim_events[model], trace_events[model], errors[model] = run.sim_events, len(run), run.error
    total = sum(seconds.values())
    steps, rows = sum(sim_events.values()), sum(trace_events.values())
    return {"seconds": seconds, "sim_events": sim_events, "trace_events": trace_events,
            "errors": errors,
            "ratio": (steps / total) / (steps / bare_simpy_seconds(steps)),
            "trace_ratio": (rows / total) / (rows / bare_simpy_seconds(rows))}


def run() -> dict[str, Any]:
    sc = scenario.load("c10k")
    rounds = []
    for i in range(ROUNDS):
        r = one_round(sc)
        rounds.append(r)
        print(f"round {i + 1}/{ROUNDS}: " + "  ".join(
            f"{m} {s * 1000:.1f} ms" for m, s in r["seconds"].items())
            + f"  ratio {r['ratio']:.3f}  (trace events: {r['trace_ratio']:.3f})", flush=True)
    last = rounds[-1]
    for model in MODELS:
        error = last["errors"][model]
        print(f"{model:7s} {last['sim_events'][model]:8d} SimPy events "
              f"{last['trace_events'][model]:8d} trace events" + (f"  (error: {error})"
                                                                  if error else ""))
    seconds = {m: round(statistics.median(r["seconds"][m] for r in rounds), 4) for m in MODELS}
    ratio = statistics.median(r["ratio"] for r in rounds)
    trace_ratio = statistics.median(r["trace_ratio"] for r in rounds)
    print(f"seconds (median of {ROUNDS} rounds): "
          + ", ".join(f"{m} {s:.4f}" for m, s in seconds.items()) + "  (target: each < 3 s)")
    print(f"SimPy events/s against a bare SimPy timeout loop: {ratio:.3f}  (target >= 0.333)")
    print(f"trace events/s against a bare SimPy timeout loop: {trace_ratio:.3f}")
    return {"name": "sim", "seconds": seconds, "ratio_vs_bare_simpy": round(ratio, 4),
            "ratio_trace_events_vs_bare_simpy": round(trace_ratio, 4),
            "events": last["sim_events"], "trace_events": last["trace_events"]}
