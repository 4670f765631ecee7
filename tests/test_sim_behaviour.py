"""What the simulator must show at default costs: the time accounting, head-of-line blocking,
select's FD_SETSIZE and the cost shape of select/poll/epoll."""

from __future__ import annotations

from functools import cache

import pytest
from simhelp import run_of, summary_of

from iosim import scenario
from iosim.scenario import SIM_MODELS
from iosim.sim.run import simulate
from iosim.summary import summarize
from iosim.trace import IN_KERNEL_KINDS, Kind, Trace


@cache
def builtin(name: str) -> Trace:
    sc = scenario.load(name)
    return simulate(sc, SIM_MODELS)


@pytest.mark.parametrize("name", scenario.builtin_names())
def test_time_is_fully_accounted(name: str) -> None:
    """blocked + in_kernel + other_work + work * messages handled = end, for every model."""
    trace = builtin(name)
    for run, summary in zip(trace.runs, summarize(trace)["runs"], strict=True):
        t = summary["totals"]
        handled = sum(m["done_us"] is not None for m in summary["messages"])
        accounted = (t["blocked_us"] + t["in_kernel_us"] + t["other_work_us"]
                     + run.work_us * handled)
        assert accounted == pytest.approx(t["end_us"], rel=1e-9, abs=1e-6), run.model


@pytest.mark.parametrize("name", scenario.builtin_names())
def test_phases_are_ordered(name: str) -> None:
    for run in summarize(builtin(name))["runs"]:
        for m in run["messages"]:
            if m["done_us"] is None:
                continue
            assert m["sent_us"] <= m["ready_us"] <= m["copy_start_us"] <= m["copy_end_us"] \
                <= m["done_us"], (run["model"], m)


def test_application_lane_never_double_books() -> None:
    """On the application lane, blocked, in-kernel, own-work and processing spans tile time."""
    for run in builtin("many-clients").runs:
        spans = sorted((run.t0[i], run.t1[i]) for i in range(len(run))
                       if run.lane[i] == 0 and run.kind[i] in
                       (Kind.BLOCKED, *IN_KERNEL_KINDS, Kind.WORK, Kind.PROCESS))
        for (_, a1), (b0, _) in zip(spans, spans[1:], strict=False):
            assert b0 >= a1 - 1e-9, run.model


def test_head_of_line_blocking_in_many_clients() -> None:
    """Connection 0 sends last (30 ms). The single-threaded blocking server waits for it while
    connection 1's data, ready at 2 ms, sits queued; a thread per connection does not."""
    trace = builtin("many-clients")
    sc = scenario.load("many-clients")
    late = sc.connections[0][0].at_ms * 1000
    blocking = summary_of(trace, "blocking")["messages"]
    threaded = summary_of(trace, "threaded")["messages"]
    first_of_conn1 = next(m for m in blocking if m["conn"] == 1)
    assert first_of_conn1["ready_us"] < late
    assert first_of_conn1["copy_start_us"] > late
    costs = sc.costs
    prompt = costs.syscall_us + costs.wakeup_us + costs.network_us
    for m in threaded:
        assert m["copy_start_us"] - m["ready_us"] <= prompt + sc.process.work_us * 2
    assert max(m["copy_start_us"] - m["ready_us"] for m in blocking) > 20_000


def test_nonblocking_polls_in_passes_in_many_clients() -> None:
    run = summary_of(builtin("many-clients"), "nonblocking")
    connections = len(scenario.load("many-clients").connections)
    assert run["totals"]["ewouldblock"] >= connections * 10
    assert run["totals"]["other_work_us"] > 0.5 * run["totals"]["end_us"]


def fd_scenario(idle: int, model: str = "select") -> scenario.Scenario:
    return scenario.parse(f"""
name = "fds"
protocol = "tcp"
models = ["{model}"]
idle_connections = {idle}
[[connections]]
sends = [[1.0, 100]]
""", "<fds>")


def test_select_refuses_descriptor_at_fd_setsize() -> None:
    # descriptors start at 3: with 1 active + 1020 idle the highest is 1023, then 1024
    ok = simulate(fd_scenario(1020)).runs[0]
    assert ok.error is None and ok.m_done[0] == ok.m_done[0]
    refused = simulate(fd_scenario(1021)).runs[0]
    assert refused.error is not None
    assert "1024" in refused.error and "FD_SETSIZE" in refused.error
    assert any(k == Kind.ERROR for k in refused.kind)


def test_c10k_select_fails_alone() -> None:
    trace = builtin("c10k")
    assert "FD_SETSIZE" in (run_of(trace, "select").error or "")
    for model in ("poll", "epoll", "threaded", "nonblocking"):
        run = summary_of(trace, model)
        assert run["error"] is None, model
        assert all(m["done_us"] is not None for m in run["messages"]), model


def test_c10k_single_threaded_blocking_is_stuck_on_an_idle_connection() -> None:
    run = run_of(builtin("c10k"), "blocking")
    assert run.error is not None and "blocked forever" in run.error
    assert "connection 100" in run.error


def per_call_us(idle: int, model: str, call: str) -> float:
    run = simulate(fd_scenario(idle, model)).runs[0]
    calls = sum(1 for i in range(len(run)) if run.kind[i] == Kind.SYSCALL
                and run.labels[run.label[i]] == call)
    spent = sum(run.t1[i] - run.t0[i] for i in range(len(run))
                if run.kind[i] == Kind.IN_KERNEL and run.lane[i] == 0
                and run.labels[run.label[i]].startswith(call))
    return spent / calls


def test_cost_shape_linear_for_poll_flat_for_epoll() -> None:
    """TLPI Table 63-9's shape: poll grows with the descriptors, epoll does not."""
    poll_10, poll_10k = per_call_us(9, "poll", "poll"), per_call_us(9999, "poll", "poll")
    epoll_10 = per_call_us(9, "epoll", "epoll_wait")
    epoll_10k = per_call_us(9999, "epoll", "epoll_wait")
    assert poll_10k >= 100 * poll_10
    assert max(epoll_10, epoll_10k) <= 1.5 * min(epoll_10, epoll_10k)
