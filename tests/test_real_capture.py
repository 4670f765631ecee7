"""Captures on real loopback sockets: every byte arrives, every phase is ordered, each model
shows what it is known for, and nothing is left running afterwards."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from iosim import cli, scenario, summary
from iosim import trace as trace_mod
from iosim.real.record import Messages, message_plan
from iosim.real.servers import REAL_MODELS
from iosim.real.session import capture, capture_run
from iosim.trace import IN_KERNEL_KINDS, Kind, Run

# The servers that read all they are told of: epoll-et reads once per report by design, and two
# datagrams that arrive before it looks make one report (tests/test_real_lessons.py has it)
READ_ALL = tuple(m for m in REAL_MODELS if m != "epoll-et")

TWO_CLIENTS = """
name = "two-clients"
protocol = "{protocol}"
[process]
poll_interval_us = 300
work_us = 30
[[connections]]
sends = [[2.0, 700], [8.0, 300]]
[[connections]]
sends = [[5.0, 1200]]
"""


def write_scenario(tmp_path: Path, text: str, name: str = "s.toml") -> scenario.Scenario:
    path = tmp_path / name
    path.write_text(text)
    return scenario.load(str(path))


def children() -> set[int]:
    """Live child processes of this process (from /proc)."""
    pids: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        text = (task / "children").read_text().split()
        pids.update(int(p) for p in text)
    return {p for p in pids if Path(f"/proc/{p}").exists()
            and Path(f"/proc/{p}/stat").read_text().split()[2] != "Z"}


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def kinds(run: Run) -> list[Kind]:
    return [Kind(k) for k in run.kind]


def app_lane_tiled(run: Run) -> float:
    """blocked + in-kernel + own work + processing on the application lane, over end_us."""
    used = sum(t1 - t0 for k, lane, t0, t1 in zip(run.kind, run.lane, run.t0, run.t1,
                                                   strict=True)
               if lane == 0 and k in (Kind.BLOCKED, *IN_KERNEL_KINDS, Kind.WORK, Kind.PROCESS))
    return used / run.end_us


@pytest.fixture(scope="module", params=["udp", "tcp"])
def captured(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[scenario.Scenario, dict[str, Run]]:
    """Every real model on the same small scenario (about 8 ms of sends each)."""
    sc = write_scenario(tmp_path_factory.mktemp("real"),
                        TWO_CLIENTS.format(protocol=request.param))
    before = open_fds()
    trace = capture(sc, READ_ALL)
    assert children() == set(), "a server process was left running"
    assert open_fds() == before, "a socket or pipe was left open"
    return sc, {run.model: run for run in trace.runs}


@pytest.mark.parametrize("model", READ_ALL)
def test_every_byte_is_captured_in_order(captured: tuple[scenario.Scenario, dict[str, Run]],
                                         model: str) -> None:
    sc, runs = captured
    run = runs[model]
    assert run.source == "real" and run.error is None
    sent_bytes = sorted((c, s.nbytes) for c, sends in enumerate(sc.connections) for s in sends)
    assert sorted(zip(run.m_conn, run.m_bytes, strict=True)) == sent_bytes
    for i in range(run.message_count):
        m = run.message(i)
        assert None not in m.values(), f"message {i} of {model} not handled: {m}"
        assert m["sent_us"] <= m["ready_us"] <= m["copy_start_us"] <= m["copy_end_us"] \
            <= m["done_us"] <= run.end_us
        assert m["done_us"] - m["copy_end_us"] >= sc.process.work_us


@pytest.mark.parametrize("model", READ_ALL)
def test_application_lane_is_tiled(captured: tuple[scenario.Scenario, dict[str, Run]],
                                   model: str) -> None:
    run = captured[1][model]
    assert app_lane_tiled(run) == pytest.approx(1.0, abs=0.01)
    assert run.end_us == max(run.m_done)


def test_each_model_shows_its_calls(captured: tuple[scenario.Scenario, dict[str, Run]]
                                    ) -> None:
    runs = captured[1]
    totals = {m: summary.totals(r) for m, r in runs.items()}
    check_polling(runs["nonblocking"])
    assert totals["sigio"]["signals"] > 0  # a SIGIO, or the one it raises for data before it
    assert Kind.HANDLER in kinds(runs["sigio"])
    assert Kind.READABLE in kinds(runs["select"])
    labels = set(runs["epoll"].labels)
    assert {"epoll_create", "epoll_ctl", "epoll_wait", "recvfrom"} <= labels
    assert {"sigaction", "fcntl F_SETOWN", "fcntl O_ASYNC"} <= set(runs["sigio"].labels)
    assert {"aio_read", "aio_return"} <= set(runs["aio"].labels)
    assert any(lane.role == "thread" for lane in runs["threaded"].lanes)
    for model in ("blocking", "select", "poll", "epoll"):  # phase 2 at least: the copy
        assert totals[model]["blocked_us"] > 0, model
    for run in runs.values():
        arrivals = [i for i, k in enumerate(run.kind) if k == Kind.ARRIVAL]
        assert len(arrivals) == run.message_count
        assert all(run.lanes[run.lane[i]].role == "kernel" for i in arrivals)


def check_polling(run: Run) -> None:
    """What non-blocking's timeline shows whatever the machine's speed: a call that returned
    before any data was ready found nothing (EWOULDBLOCK); a first pass over every connection
    that found nothing is followed by own work; every slice of own work comes right after an
    EWOULDBLOCK (a pass that found nothing). On a machine busy enough, the server may start
    after every message has arrived and never poll: these hold then too."""
    first_ready = min(run.m_ready)
    instants = sorted((run.t0[i], Kind(k)) for i, k in enumerate(run.kind)
                      if run.lane[i] == 0 and k in (Kind.RETURN, Kind.EWOULDBLOCK))
    early = [kind for t, kind in instants if t < first_ready]
    assert all(kind == Kind.EWOULDBLOCK for kind in early)
    totals = summary.totals(run)
    assert totals["ewouldblock"] == sum(kind == Kind.EWOULDBLOCK for _, kind in instants)
    if len(early) >= len(set(run.m_conn)):
        assert totals["other_work_us"] > 0
    for i, kind in enumerate(run.kind):
        if kind == Kind.WORK and run.t1[i] > run.t0[i]:
            before = [k for t, k in instants if t <= run.t0[i]]
            assert before and before[-1] == Kind.EWOULDBLOCK, run.t0[i]


CALL_ENDS = (Kind.RETURN, Kind.READABLE, Kind.EWOULDBLOCK, Kind.EOF, Kind.ERROR)


def calls_and_blocked(run: Run, lane: int) -> tuple[list[tuple[float, float]],
                                                    list[tuple[float, float]]]:
    """The (entry, return) of each system call made on ``lane``, and its blocked spans."""
    order = sorted((i for i, on in enumerate(run.lane) if on == lane),
                   key=lambda i: (run.t0[i], Kind(run.kind[i]).is_span))
    calls, blocked, entered = [], [], None
    for i in order:
        kind = Kind(run.kind[i])
        if kind == Kind.SYSCALL:
            entered = run.t0[i]
        elif kind in CALL_ENDS and entered is not None:
            calls.append((entered, run.t0[i]))
            entered = None
        elif kind == Kind.BLOCKED:
            blocked.append((run.t0[i], run.t1[i]))
    return calls, blocked


@pytest.mark.parametrize("model", READ_ALL)
def test_a_process_blocks_only_inside_its_calls(
        captured: tuple[scenario.Scenario, dict[str, Run]], model: str) -> None:
    """On every lane that makes system calls (the process, or each thread), each blocked
    span lies between a call's entry and its return."""
    run = captured[1][model]
    lanes = {run.lane[i] for i, k in enumerate(run.kind) if k == Kind.SYSCALL}
    assert lanes
    for lane in lanes:
        calls, blocked = calls_and_blocked(run, lane)
        for t0, t1 in blocked:
            assert any(entry <= t0 and t1 <= back for entry, back in calls), (lane, t0, t1)


def test_select_refuses_descriptors_past_fd_setsize(tmp_path: Path) -> None:
    sc = write_scenario(tmp_path, """
protocol = "tcp"
idle_connections = 1030
[[connections]]
sends = [[1.0, 100]]
""")
    run = capture_run(sc, "select")
    assert run.error is not None and "FD_SETSIZE (1024)" in run.error
    assert Kind.ERROR in kinds(run)
    assert Kind.SYSCALL not in kinds(run)
    assert children() == set()


def test_messages_follow_the_bytes_read() -> None:
    plan = message_plan([[(1.0, 100), (2.0, 50)], [(1.5, 10)]])
    assert plan == [[(0, 100), (2, 50)], [(1, 10)]]
    messages = Messages(plan)
    assert messages.take(0, 60) == [(0, 60, False)]
    assert messages.take(0, 90) == [(0, 40, True), (2, 50, True)]
    assert messages.take(1, 10) == [(1, 10, True)]
    assert messages.remaining == 0
    serving = Messages(None)
    assert serving.take(3, 7) == [(0, 7, True)] and serving.take(0, 1) == [(1, 1, True)]


def test_capture_command_writes_a_trace_summary_reads(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.json"
    assert cli.main(["capture", "one-datagram", "--model", "select", "-o", str(out),
                     "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["runs"][0]["source"] == "real"
    loaded = trace_mod.load(out)
    assert summary.summarize(loaded) == printed
    assert cli.main(["summary", str(out)]) == 0
    assert "select (real)" in capsys.readouterr().out


def test_unknown_scenario_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["capture", "no-such-scenario", "--model", "select"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("iosim: error:") and err.count("\n") == 1
