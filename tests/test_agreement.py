"""The simulation and a real capture of the same scenario have the same structure: the same
lanes, the same system calls in the same order, every message handled on the same connection
(how close their times come is the agreement benchmark's: a shared machine's noise must not
fail a test). Then what each cost term the calibration fits does to a timeline, exactly, with
every other cost 0; and the capture's readings the comparison rests on (aio's ready, TCP's
stamp merged with the goodbye)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from iosim import scenario, summary
from iosim.calibrate.timeline import Moments, moments
from iosim.real.capture import build_run
from iosim.real.record import CALL, PROCESS
from iosim.real.session import capture_run
from iosim.sim.costs import Costs, CostsError
from iosim.sim.run import simulate
from iosim.trace import READY_ESTIMATED, Kind, Run

ZERO = Costs.zero(copy_gb_per_s=1.0)  # a 1000-byte copy takes 1 µs


def calls(run: Run) -> list[str]:
    return [run.labels[run.label[i]] for i, k in enumerate(run.kind) if k == Kind.SYSCALL]


@pytest.mark.parametrize("model", ["blocking", "select", "poll", "epoll", "sigio", "aio",
                                   "threaded"])
def test_simulation_and_capture_make_the_same_calls_on_the_same_lanes(model: str) -> None:
    """One datagram: whatever the machine's speed, each model makes the same calls for it in
    both (nonblocking's number of polls is a matter of time: the benchmark's)."""
    sc = scenario.load("one-datagram")
    sim = simulate(sc, [model], sc.costs).runs[0]
    real = capture_run(sc, model)
    assert real.error is None and real.source == "real"
    assert [(lane.name, lane.role) for lane in real.lanes] == \
        [(lane.name, lane.role) for lane in sim.lanes]
    assert calls(real) == calls(sim)
    assert list(zip(real.m_conn, real.m_bytes, strict=True)) == \
        list(zip(sim.m_conn, sim.m_bytes, strict=True))
    for run in (sim, real):
        kinds = {Kind(k) for k in run.kind}
        assert {Kind.ARRIVAL, Kind.PROCESS} <= kinds
        assert (Kind.SIGNAL in kinds) == (model in ("sigio", "aio"))
        assert (Kind.READABLE in kinds) == (model in ("select", "poll", "epoll"))


def parse(sends: str, protocol: str = "udp", work_us: float = 10.0, poll_us: float = 1000.0,
          connections: int = 1) -> scenario.Scenario:
    body = "".join(f"[[connections]]\nsends = [{s}]\n" for s in sends.split(";"))
    return scenario.parse(f'name = "t"\nprotocol = "{protocol}"\n[process]\n'
                          f"work_us = {work_us}\npoll_interval_us = {poll_us}\n{body}")


def run(sc: scenario.Scenario, model: str, costs: Costs) -> Run:
    return simulate(sc, [model], costs).runs[0]


def latencies(run: Run) -> list[float]:
    return latencies_of(moments(run))


def latencies_of(got: list[Moments]) -> list[float]:
    return [m.returned - m.ready for m in got]


THREE_DATAGRAMS = "[1.0, 1000], [3.0, 1000], [5.0, 1000]"


def test_a_server_goes_cold_as_it_idles_and_levels_off() -> None:
    costs = replace(ZERO, wakeup_us=10.0, wakeup_idle_us=40.0, idle_tau_ms=2.0,
                    first_idle_ms=1000.0)
    assert costs.wakeup_at(costs.coldness(0.0)) == 10.0
    assert costs.wakeup_at(costs.coldness(2000.0)) == pytest.approx(10.0 + 40 * (1 - 1 / math.e))
    assert costs.wakeup_at(costs.coldness(1e9)) == pytest.approx(50.0)
    # idle since t = 0 (1 ms), then since the previous datagram was processed (10 µs)
    got = moments(run(parse(THREE_DATAGRAMS), "blocking", costs))
    assert got[0].idle == 1000.0
    assert got[1].idle == pytest.approx(2000.0 - (costs.wakeup_at(costs.coldness(1000.0)) + 11))
    assert latencies_of(got) == pytest.approx(
        [1.0 + costs.wakeup_at(costs.coldness(m.idle)) for m in got])


def test_the_first_message_counts_at_most_first_idle_ms_and_later_ones_start_warm() -> None:
    costs = replace(ZERO, wakeup_idle_us=40.0, idle_tau_ms=2.0, first_idle_ms=0.5,
                    start_warm_ms=8.0)
    got = moments(run(parse("[4.0, 1000], [8.0, 1000]"), "blocking", costs))
    assert got[0].returned - got[0].ready == pytest.approx(1.0 + 40 * (1 - math.exp(-0.25)))
    early = 1.0 - math.exp(-1.0)  # 8 ms into the run
    assert got[1].returned - got[1].ready == pytest.approx(
        1.0 + 40 * (1.0 - math.exp(-got[1].idle / 2000.0)) * early)


def test_a_tcp_wakeup_is_a_share_of_a_udp_one() -> None:
    costs = replace(ZERO, wakeup_us=20.0, call_after_wake_us=6.0, tcp_wakeup_ratio=0.5)
    for protocol, share in (("udp", 1.0), ("tcp", 0.5)):
        sc = parse(THREE_DATAGRAMS, protocol=protocol)
        assert latencies(run(sc, "blocking", costs)) == pytest.approx([1.0 + 20 * share] * 3)
        assert latencies(run(sc, "select", costs)) == pytest.approx([1.0 + 26 * share] * 3)


def test_the_call_after_a_multiplexer_wakeup_costs_more() -> None:
    costs = replace(ZERO, call_after_wake_us=5.0)
    sc = parse(THREE_DATAGRAMS)
    assert latencies(run(sc, "select", costs)) == pytest.approx([6.0, 6.0, 6.0])
    assert latencies(run(sc, "epoll", costs)) == pytest.approx([6.0, 6.0, 6.0])
    assert latencies(run(sc, "blocking", costs)) == pytest.approx([1.0, 1.0, 1.0])


def test_only_a_first_read_without_a_wakeup_is_cold() -> None:
    costs = replace(ZERO, cold_start_us=40.0, signal_cold_us=30.0)
    sc = parse(THREE_DATAGRAMS)
    assert latencies(run(sc, "blocking", costs)) == pytest.approx([1.0, 1.0, 1.0])
    assert latencies(run(sc, "select", costs)) == pytest.approx([1.0, 1.0, 1.0])
    assert latencies(run(sc, "sigio", costs)) == pytest.approx([71.0, 1.0, 1.0])
    aio = run(sc, "aio", costs)  # from the send: the kernel's copy, then aio_return
    assert [m.returned - m.sent for m in moments(aio)] == pytest.approx([41.0, 1.0, 1.0])


def test_handling_a_read_and_each_message_in_it_cost_the_server() -> None:
    costs = replace(ZERO, handle_us=3.0, handle_per_message_us=0.5, process_extra_us=2.0)
    sc = parse("[1.0, 1000], [1.0, 1000], [1.0, 1000]", protocol="tcp", work_us=10.0)
    got = moments(run(sc, "blocking", costs))  # one read takes the three
    assert len({m.returned for m in got}) == 1
    assert [m.done - m.returned for m in got] == pytest.approx([4.5 + 10, 4.5 + 22, 4.5 + 34])


def test_a_tcp_read_pays_for_each_segment_it_takes() -> None:
    costs = replace(ZERO, segment_us=0.5)
    sc = parse("[1.0, 1000], [1.0, 1000]", protocol="tcp")
    got = moments(run(sc, "blocking", costs))
    assert [m.returned - m.ready for m in got] == pytest.approx([3.0, 3.0])  # 2 × (1 + 0.5)
    udp = moments(run(parse("[1.0, 1000]"), "blocking", costs))
    assert udp[0].returned - udp[0].ready == pytest.approx(1.0)


def test_polling_passes_pay_the_calls_overhead_and_the_way_back_from_own_work() -> None:
    costs = replace(ZERO, syscall_us=1.0, call_overhead_us=2.0, own_work_extra_us=3.0,
                    start_us=50.0)
    got = run(parse("[5.0, 1000]", poll_us=1000.0), "nonblocking", costs)
    calls = [got.t0[i] for i, k in enumerate(got.kind) if k == Kind.SYSCALL]
    assert calls[0] == pytest.approx(52.0)  # the start-up, then the overhead
    assert [b - a for a, b in zip(calls, calls[1:4], strict=False)] == pytest.approx(
        [1006.0] * 3)  # syscall + poll interval + the way back + overhead


def test_the_client_sends_one_at_a_time() -> None:
    costs = replace(ZERO, send_us=10.0, send_idle_us=30.0, idle_tau_ms=1000.0)
    got = moments(run(parse("[1.0, 100]; [1.0, 100]; [1.0, 100]"), "select", costs))
    assert [m.sent for m in got] == pytest.approx([1000.0, 1040.0, 1050.0], abs=0.01)  # idle: +30
    costs = replace(costs, network_us=5.0, network_idle_us=20.0)
    got = moments(run(parse("[1.0, 100]; [1.0, 100]"), "select", costs))
    assert [m.ready - m.sent for m in got] == pytest.approx([25.0, 5.0], abs=0.01)


def test_each_sigio_costs_its_sender_and_a_busy_receiver() -> None:
    """The SIGIOs of the second datagram and of the goodbye come while the handler processes
    the first: each costs the handler signal_taken_us (paid at its next call), and they make
    one more drain, not another handler; the sender's next send waits signal_send_us."""
    costs = replace(ZERO, signal_send_us=4.0, signal_taken_us=7.0)
    got = run(parse("[1.0, 1000], [1.0, 1000]", work_us=100.0), "sigio", costs)
    m = moments(got)
    assert m[1].sent - m[0].sent == pytest.approx(4.0)
    assert summary.totals(got)["signals"] == 1
    delivered = [got.t1[i] - got.t0[i] for i, k in enumerate(got.kind) if k == Kind.DELIVERY]
    assert delivered == pytest.approx([14.0])
    assert m[1].returned == pytest.approx(m[0].done + 14.0 + 1.0)


def test_a_thread_handed_the_gil_pays_the_handover() -> None:
    """Both datagrams arrive at once: one thread runs, the other waits for the GIL."""
    costs = replace(ZERO, gil_handoff_us=15.0)
    got = moments(run(parse("[1.0, 1000]; [1.0, 1000]", work_us=100.0), "threaded", costs))
    first, second = sorted(got, key=lambda m: m.returned)
    assert second.returned - first.done == pytest.approx(15.0)


def test_an_outstanding_aio_read_completes_when_the_peer_closes() -> None:
    """Connection 1 closes long before the last message: its aio_read completes with 0 bytes
    and is not issued again (as io_uring's recv does)."""
    sc = parse("[1.0, 100]; [3.0, 100]", protocol="tcp")
    got = run(sc, "aio", ZERO)
    returns = [i for i, k in enumerate(got.kind) if k == Kind.SYSCALL
               and got.labels[got.label[i]] == "aio_return"]
    assert len(returns) == 3  # two messages, one close
    assert summary.totals(got)["syscalls"] == 2 + 3 + 1  # aio_reads: 2, again after message 0


@pytest.mark.parametrize(("key", "value"), [("idle_tau_ms", 70_000.0), ("tcp_wakeup_ratio", -1),
                                            ("start_warm_ms", "soon")])
def test_the_new_terms_are_checked(key: str, value: object) -> None:
    with pytest.raises(CostsError, match=key):
        Costs().with_overrides({key: value}, "test")


def test_p90_lies_between_the_two_nearest_messages() -> None:
    assert summary.p90([5.0]) == 5.0
    assert summary.p90([float(i) for i in range(1, 11)]) == pytest.approx(9.1)


# -- what the capture reads --------------------------------------------------------------------

US = 1000  # ns


def tcp_capture(stamps: list[int], model: str = "blocking") -> Run:
    """Two messages on one TCP connection, read one each: sent at 100 and 200 µs, the goodbye
    at 210 µs; the reads' stamps (µs) as given."""
    rows = []
    for i, stamp in enumerate(stamps):
        enter, back = (300 + 100 * i) * US, (305 + 100 * i) * US
        rows.append((CALL, 0, "recvfrom", 0, enter, back, 100, stamp * US))
        rows.append((PROCESS, 0, "process data", 0, back, back + 10 * US, 0, 0))
    return build_run(model, "tcp", rows, 0, 600 * US, plan=[[(0, 100), (1, 100)]],
                     sent_ns=[100 * US, 200 * US], closed_ns=[210 * US], connections=1,
                     work_us=10.0)


def test_a_tcp_stamp_merged_with_the_goodbye_is_not_the_data_s() -> None:
    got = tcp_capture([104, 250])  # the second read's stamp is the FIN's
    assert got.m_ready[0] == pytest.approx(104.0) and not got.m_flags[0]
    assert got.m_ready[1] == pytest.approx(204.0)  # its send + the other read's 4 µs
    assert got.m_flags[1] & READY_ESTIMATED


def test_a_tcp_stamp_before_the_goodbye_is_kept() -> None:
    got = tcp_capture([104, 206])
    assert got.m_ready[1] == pytest.approx(206.0) and not got.m_flags[1]


def test_a_captured_aio_message_is_ready_from_its_send(tmp_path: object) -> None:
    rows = [(CALL, 0, "aio_return", 0, 150 * US, 152 * US, 100, 0),
            (PROCESS, 0, "process data", 0, 152 * US, 162 * US, 0, 0)]
    got = build_run("aio", "tcp", rows, 0, 200 * US, plan=[[(0, 100)]], sent_ns=[100 * US],
                    connections=1, work_us=10.0)
    assert got.m_ready[0] == pytest.approx(100.0) and got.m_flags[0] & READY_ESTIMATED
    assert got.m_copy_end[0] == pytest.approx(150.0)
    assert math.isclose(moments(got)[0].returned, 150.0)
