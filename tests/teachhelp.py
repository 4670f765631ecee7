"""Runs for the teaching tests: every built-in scenario simulated once per session, zero-cost
scenarios with chosen latencies, and traced-like copies of runs (no line keys, estimated
ready times, no send times), as a program iosim did not write would give."""

from __future__ import annotations

import copy
import math
from array import array
from functools import cache

from simhelp import run_of, sim, zero_cost_scenario

from iosim import scenario
from iosim.scenario import SIM_MODELS
from iosim.sim.costs import Costs
from iosim.sim.run import simulate
from iosim.trace import READY_ESTIMATED, Run

ONE = "[[connections]]\nsends = [[20.0, 1024]]"
HEAVY = {("c10k", "nonblocking"), ("c10k", "sigio"), ("c10k", "threaded"), ("c10k", "aio"),
         ("c10k", "blocking")}  # c10k's models that are not its point: tens of thousands of events


@cache
def builtin_runs() -> tuple[tuple[str, Run], ...]:
    """(scenario, run) for every built-in scenario and every simulated model."""
    out = []
    for name in scenario.builtin_names():
        for run in simulate(scenario.load(name), SIM_MODELS).runs:
            out.append((name, run))
    return tuple(out)


def light_builtin_runs() -> list[tuple[str, Run]]:
    return [(name, run) for name, run in builtin_runs() if (name, run.model) not in HEAVY]


def one_datagram(model: str, **costs: float) -> Run:
    """One 1,024-byte datagram at 20 ms, every cost 0 but the copy (4 GB/s) and ``costs``."""
    if not costs:
        return run_of(sim(zero_cost_scenario(ONE, [model])), model)
    values = Costs.zero(4.0).to_dict() | costs
    text = "\n".join(f"{k} = {v}" for k, v in values.items())
    sc = scenario.parse(f'name = "t"\nprotocol = "udp"\nmodels = ["{model}"]\n[costs]\n{text}\n'
                        f"[process]\nwork_us = 50.0\npoll_interval_us = 1000.0\n{ONE}\n", "<test>")
    return run_of(sim(sc), model)


def traced_like(run: Run) -> Run:
    """The run as a tracer without the program would see it: no line keys, ready times
    bracketed from the calls (flagged as estimates), send times unknown."""
    out = copy.deepcopy(run)
    out.source = "traced"
    out.model = "my_server.py"
    out.code = []
    out.line = array("i", [-1]) * len(out.kind)
    out.m_flags = array("b", [READY_ESTIMATED]) * out.message_count
    out.m_sent = array("d", [math.nan]) * out.message_count
    return out
