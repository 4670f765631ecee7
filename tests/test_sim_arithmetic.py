"""With every cost 0 but the copy, each model's timeline is exact arithmetic (DESIGN.md)."""

from __future__ import annotations

import math

import pytest
from simhelp import copy_us, sim, summary_of, zero_cost_scenario

ONE = "[[connections]]\nsends = [[{at}, {nbytes}]]"
WORK = 50.0
POLL = 1000.0


def one_datagram(model: str, at_ms: float, nbytes: int = 1024) -> dict:
    sc = zero_cost_scenario(ONE.format(at=at_ms, nbytes=nbytes), [model], work_us=WORK,
                            poll_us=POLL)
    return summary_of(sim(sc), model)


def phases(run: dict) -> tuple[float, float, float, float]:
    m = run["messages"][0]
    return m["ready_us"], m["copy_start_us"], m["copy_end_us"], m["done_us"]


@pytest.mark.parametrize("model", ["blocking", "select", "poll", "epoll", "sigio", "threaded"])
@pytest.mark.parametrize("at_ms", [0.0, 7.5, 20.0])
def test_copy_at_ready(model: str, at_ms: float) -> None:
    run = one_datagram(model, at_ms)
    ready, start, end, done = phases(run)
    c = copy_us(1024)
    assert ready == at_ms * 1000
    assert start == pytest.approx(ready, abs=1e-9)
    assert end == pytest.approx(ready + c, abs=1e-9)
    assert done == pytest.approx(ready + c + WORK, abs=1e-9)
    assert run["totals"]["end_us"] == pytest.approx(done, abs=1e-9)
    assert run["totals"]["latency_p50_us"] == pytest.approx(c, abs=1e-9)


@pytest.mark.parametrize("at_ms", [0.0, 0.4, 20.0, 20.5, 33.3])
def test_nonblocking_copies_at_first_poll_at_or_after_ready(at_ms: float) -> None:
    run = one_datagram("nonblocking", at_ms)
    ready, start, end, done = phases(run)
    polls_before = math.ceil(ready / POLL)
    first_poll = polls_before * POLL
    assert start == pytest.approx(first_poll, abs=1e-9)
    assert end == pytest.approx(first_poll + copy_us(1024), abs=1e-9)
    totals = run["totals"]
    assert totals["ewouldblock"] == polls_before
    assert totals["syscalls"] == polls_before + 1
    assert totals["other_work_us"] == pytest.approx(polls_before * POLL, abs=1e-9)
    assert totals["blocked_us"] == pytest.approx(copy_us(1024), abs=1e-9)


def test_aio_copies_at_ready_and_notifies_at_copy_end() -> None:
    run = one_datagram("aio", 20.0, 4096)
    ready, start, end, done = phases(run)
    c = copy_us(4096)
    assert (start, end) == (pytest.approx(ready), pytest.approx(ready + c))
    assert done == pytest.approx(ready + c + WORK, abs=1e-9)
    totals = run["totals"]
    assert totals["signals"] == 1
    assert totals["blocked_us"] == 0.0
    # the process ran its own work through both phases: the kernel waited and copied
    assert totals["other_work_us"] == pytest.approx(ready + c, abs=1e-9)


@pytest.mark.parametrize(("model", "syscalls", "wakeups", "signals"), [
    ("blocking", 1, 1, 0),            # recvfrom
    ("select", 2, 1, 0),              # select, recvfrom
    ("poll", 2, 1, 0),
    ("epoll", 4, 1, 0),               # epoll_create, epoll_ctl, epoll_wait, recvfrom
    ("sigio", 4, 0, 1),               # sigaction, F_SETOWN, O_ASYNC, recvfrom in the handler
    ("aio", 2, 0, 1),                 # aio_read, aio_return
])
def test_counters_for_one_datagram(model: str, syscalls: int, wakeups: int,
                                   signals: int) -> None:
    totals = one_datagram(model, 20.0)["totals"]
    assert (totals["syscalls"], totals["wakeups"], totals["signals"]) == \
        (syscalls, wakeups, signals)


def test_blocking_time_is_wait_plus_copy() -> None:
    totals = one_datagram("blocking", 20.0)["totals"]
    assert totals["blocked_us"] == pytest.approx(20000 + copy_us(1024), abs=1e-9)
    assert totals["in_kernel_us"] == 0.0
    assert totals["other_work_us"] == 0.0


def test_next_call_follows_work_at_once() -> None:
    """A second datagram that arrives during the first one's processing is copied the moment
    the process calls again: right after work_us, with no wake-up."""
    body = "[[connections]]\nsends = [[10.0, 1000], [10.01, 2000]]"
    sc = zero_cost_scenario(body, ["blocking"], work_us=WORK)
    run = summary_of(sim(sc), "blocking")
    first, second = run["messages"]
    assert second["ready_us"] == pytest.approx(10010.0)
    assert second["copy_start_us"] == pytest.approx(first["done_us"], abs=1e-9)
    assert second["copy_end_us"] == pytest.approx(first["done_us"] + copy_us(2000), abs=1e-9)
    assert run["totals"]["wakeups"] == 1


def test_nonblocking_own_work_only_after_an_empty_pass() -> None:
    """Two connections: a pass that finds data starts the next pass at once."""
    body = ("[[connections]]\nsends = [[2.5, 100]]\n"
            "[[connections]]\nsends = [[2.5, 100]]")
    sc = zero_cost_scenario(body, ["nonblocking"], work_us=WORK)
    run = summary_of(sim(sc), "nonblocking")
    a, b = run["messages"]
    assert a["copy_start_us"] == pytest.approx(3000.0)
    assert b["copy_start_us"] == pytest.approx(a["done_us"], abs=1e-9)
    # passes at 0, 1000, 2000 found nothing on either connection
    assert run["totals"]["ewouldblock"] == 6


def test_tcp_read_takes_what_is_queued() -> None:
    """Three segments queued before the read: one recv copies all of them (TCP)."""
    body = "[[connections]]\nsends = [[1.0, 100], [1.0, 200], [1.0, 300]]"
    sc = zero_cost_scenario(body, ["blocking"], protocol="tcp", work_us=WORK)
    run = summary_of(sim(sc), "blocking")
    starts = [m["copy_start_us"] for m in run["messages"]]
    ends = [m["copy_end_us"] for m in run["messages"]]
    assert starts == pytest.approx([1000.0, 1000 + copy_us(100), 1000 + copy_us(300)])
    assert ends == pytest.approx([1000 + copy_us(100), 1000 + copy_us(300),
                                  1000 + copy_us(600)])
    assert run["totals"]["syscalls"] == 1
    assert [m["done_us"] for m in run["messages"]] == pytest.approx(
        [1000 + copy_us(600) + WORK * k for k in (1, 2, 3)])


def test_tcp_read_larger_than_the_buffer_takes_several_calls() -> None:
    body = "[[connections]]\nsends = [[1.0, 10000]]"
    sc = zero_cost_scenario(body, ["blocking"], protocol="tcp", extra="",
                            work_us=WORK)
    sc.process = type(sc.process)(sc.process.poll_interval_us, WORK, 4096)
    run = summary_of(sim(sc), "blocking")
    m = run["messages"][0]
    assert m["copy_end_us"] - m["copy_start_us"] == pytest.approx(copy_us(10000))
    assert run["totals"]["syscalls"] == 3  # 4096 + 4096 + 1808
