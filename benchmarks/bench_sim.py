"""The c10k built-in (10,000 idle + 100 active connections) for select, poll and epoll: seconds
per run, and events per second against a bare SimPy timeout loop of the same event count."""

from __future__ import annotations

import time
from typing import Any

import simpy

from iosim import scenario
from iosim.sim.run import simulate

MODELS = ("select", "poll", "epoll")


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


def run() -> dict[str, Any]:
    sc = scenario.load("c10k")
    seconds: dict[str, float] = {}
    events: dict[str, int] = {}
    for model in MODELS:
        start = time.perf_counter()
        trace = simulate(sc, [model])
        seconds[model] = round(time.perf_counter() - start, 4)
        events[model] = trace.runs[0].sim_events
        error = trace.runs[0].error
        print(f"{model:7s} {seconds[model]:8.3f} s  {events[model]:8d} events"
              f"  {len(trace.runs[0]):8d} trace events" + (f"  (error: {error})" if error else ""))
    total_events = sum(events.values())
    ours = total_events / sum(seconds.values())
    bare = total_events / bare_simpy_seconds(total_events)
    ratio = ours / bare
    print(f"iosim  {ours:12,.0f} events/s")
    print(f"bare   {bare:12,.0f} events/s (a SimPy timeout loop of {total_events} events)")
    print(f"ratio  {ratio:.3f}  (target >= 0.333; each run < 3 s)")
    return {"name": "sim", "seconds": seconds, "ratio_vs_bare_simpy": round(ratio, 4),
            "events": events}
