"""The simulation with costs calibrated here agrees with a real capture of the same scenario:
the same system calls, and a median latency of the same order (the tight 30% check is the
agreement benchmark's; a shared machine's noise must not fail a test)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from iosim import scenario, summary
from iosim.calibrate import QUICK, measure, to_costs
from iosim.real.session import capture_run
from iosim.sim.costs import Costs, CostsError
from iosim.sim.run import simulate
from iosim.trace import Trace

LATENCY_FACTOR = 3.0


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


THREE_DATAGRAMS = """
name = "three"
protocol = "udp"
[process]
work_us = 10
[[connections]]
sends = [[1.0, 1000], [3.0, 1000], [5.0, 1000]]
"""


def latencies(model: str, costs: Costs) -> list[float]:
    run = simulate(scenario.parse(THREE_DATAGRAMS), [model], costs).runs[0]
    return [run.m_copy_end[i] - run.m_ready[i] for i in range(run.message_count)]


def test_first_reads_are_cold_and_warm_up_after_each_wakeup() -> None:
    zero = Costs.zero(copy_gb_per_s=1.0)  # a 1000-byte copy takes 1 µs
    cold = replace(zero, cold_start_us=40.0, cold_decay=0.5)
    assert latencies("blocking", zero) == pytest.approx([1.0, 1.0, 1.0])
    assert latencies("blocking", cold) == pytest.approx([41.0, 21.0, 11.0])
    assert latencies("select", cold) == pytest.approx([41.0, 21.0, 11.0])
    assert latencies("sigio", cold) == pytest.approx([41.0, 1.0, 1.0])  # never sleeps


def test_the_call_after_a_multiplexer_wakeup_costs_more() -> None:
    costs = replace(Costs.zero(copy_gb_per_s=1.0), call_after_wake_us=5.0)
    assert latencies("select", costs) == pytest.approx([6.0, 6.0, 6.0])
    assert latencies("epoll", costs) == pytest.approx([6.0, 6.0, 6.0])
    assert latencies("blocking", costs) == pytest.approx([1.0, 1.0, 1.0])


def test_cold_decay_is_a_ratio_below_one() -> None:
    with pytest.raises(CostsError, match="cold_decay"):
        Costs().with_overrides({"cold_decay": 1.0}, "test")
