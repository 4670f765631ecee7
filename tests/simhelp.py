"""Helpers for simulator tests: scenarios written inline, runs looked up by model."""

from __future__ import annotations

from iosim import scenario
from iosim.sim.costs import Costs
from iosim.sim.run import simulate
from iosim.summary import summarize
from iosim.trace import Run, Trace

COPY_GB_PER_S = 4.0


def copy_us(nbytes: int) -> float:
    return nbytes / (COPY_GB_PER_S * 1000.0)


def zero_cost_scenario(body: str, models: list[str], protocol: str = "udp",
                       work_us: float = 50.0, poll_us: float = 1000.0,
                       extra: str = "") -> scenario.Scenario:
    """A scenario whose costs are all 0 but the copy (4 GB/s): exact arithmetic."""
    zero = Costs.zero(COPY_GB_PER_S).to_dict()
    costs = "\n".join(f"{k} = {v}" for k, v in zero.items())
    text = f"""
name = "t"
protocol = "{protocol}"
models = {models!r}
{extra}
[costs]
{costs}
[process]
work_us = {work_us}
poll_interval_us = {poll_us}
{body}
"""
    return scenario.parse(text.replace("'", '"'), "<test>")


def run_of(trace: Trace, model: str) -> Run:
    return next(r for r in trace.runs if r.model == model)


def summary_of(trace: Trace, model: str) -> dict:
    return next(r for r in summarize(trace)["runs"] if r["model"] == model)


def sim(sc: scenario.Scenario) -> Trace:
    return simulate(sc)
