"""The simulation with costs calibrated here agrees with a real capture of the same scenario:
the same system calls, and a median latency of the same order (the tight 30% check is the
agreement benchmark's; a shared machine's noise must not fail a test)."""

from __future__ import annotations

import pytest

from iosim import scenario, summary
from iosim.calibrate import QUICK, measure, to_costs
from iosim.real.session import capture_run
from iosim.sim.costs import Costs
from iosim.sim.run import simulate
from iosim.trace import Trace

LATENCY_FACTOR = 6.0


@pytest.fixture(scope="module")
def calibrated() -> Costs:
    costs, _ = to_costs(measure(QUICK, lambda _text: None))
    return costs


def totals(trace: Trace) -> dict:
    return summary.summarize(trace)["runs"][0]["totals"]


@pytest.mark.parametrize("model", ["blocking", "select"])
def test_simulation_agrees_with_capture(calibrated: Costs, model: str) -> None:
    sc = scenario.load("one-datagram")
    sim = totals(simulate(sc, [model], calibrated))
    real = totals(Trace(sc.name, sc.title, sc.protocol, [capture_run(sc, model)]))
    assert sim["syscalls"] == real["syscalls"]
    ratio = sim["latency_p50_us"] / real["latency_p50_us"]
    assert 1 / LATENCY_FACTOR <= ratio <= LATENCY_FACTOR, (sim, real)


def test_wakeup_grows_with_the_time_asleep() -> None:
    costs = Costs(wakeup_us=10.0, wakeup_per_idle_ms_us=2.0)
    assert costs.wakeup_after_us(0.0) == 10.0
    assert costs.wakeup_after_us(20_000.0) == 50.0
    assert costs.wakeup_after_us(10_000_000.0) == costs.wakeup_after_us(50_000.0)
