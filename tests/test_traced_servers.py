"""``iosim trace`` on the classic demo servers of tests/servers, each driven by a scenario over
127.0.0.1: every byte the client sent is in a message; each server's IO model shows in its
calls; where the kernel's side is on, each message's arrival lies between its send and the
return of the read that took it; without it, the arrival is bracketed from the calls."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from tracehelp import (
    TCP_SCENARIO,
    UDP_SCENARIO,
    Traced,
    instants,
    server_command,
    shared_trace,
    spans,
)

from iosim import scenario
from iosim.real.record import message_plan
from iosim.summary import tracer_note
from iosim.trace import COPY_LABEL, READY_ESTIMATED, Kind, Run
from iosim.traced.build import COPY_UNKNOWN_LABEL, multiplexer_label
from iosim.traced.kernel import PERF_HINT, TRACEPOINTS


def trace_server(run_dir: Path, server: str, text: str = TCP_SCENARIO,
                 extra: tuple[str, ...] = ()) -> tuple[Traced, scenario.Scenario]:
    """The server traced with the scenario (once a test run: tests that read the same
    server, scenario and options share its trace)."""
    done = shared_trace(run_dir, server, text, lambda port: server_command(server, port),
                        extra)
    assert done.left_running == []
    assert done.returncode == 0, done.stderr
    return done, scenario.parse(text)


def kernel_side(run: Run) -> bool:
    """Whether the kernel's arrival times were recorded; only a machine without perf may
    have none (test_the_kernel_side_is_on_where_perf_is says so with a skip)."""
    side = run.meta["kernel_side"]
    if side.startswith("none") and "turned off" not in side and PERF_HINT not in side:
        raise AssertionError(f"the kernel side should work on this machine: {side}")
    return side.startswith("perf")


def check_every_byte(run: Run, sc: scenario.Scenario) -> None:
    """Every message of the scenario is in the trace, read in full, on its connection."""
    plan = message_plan([[(s.at_ms, s.nbytes) for s in sends] for sends in sc.connections])
    sizes = {msg: (conn, nbytes) for conn, sends in enumerate(plan) for msg, nbytes in sends}
    assert run.message_count == len(sizes)
    for msg, (conn, nbytes) in sizes.items():
        assert (run.m_conn[msg], run.m_bytes[msg]) == (conn, nbytes)
        assert not math.isnan(run.m_copy_end[msg]), f"message {msg} was never read"


def check_arrivals(run: Run) -> None:
    """Kernel stamps: sent <= ready <= the read's return; never flagged as estimates."""
    for i in range(run.message_count):
        assert run.m_flags[i] & READY_ESTIMATED == 0
        assert run.m_sent[i] <= run.m_ready[i] <= run.m_copy_end[i], run.message(i)


def traced_and_checked(run_dir: Path, server: str, text: str = TCP_SCENARIO,
                       extra: tuple[str, ...] = ()) -> tuple[Traced, Run]:
    """A server traced with a scenario; every byte sent is in a message, and where the
    kernel's side is on, every arrival lies between its send and its read's return."""
    done, sc = trace_server(run_dir, server, text, extra)
    run = done.run
    check_every_byte(run, sc)
    if kernel_side(run):
        check_arrivals(run)
    return done, run


SLEEP = "process blocks in call to clock_nanosleep"  # time.sleep: the program's own pause
GIL = "process blocks in call to futex"  # a thread waiting for CPython's GIL


def waits(run: Run, lane: int = 0) -> list[tuple[float, float, str]]:
    """Blocked time that is not a copy, the program's own sleep nor a wait for the GIL: the
    process waited in a call for data (or a connection)."""
    return [s for s in spans(run, Kind.BLOCKED, lane)
            if s[2] not in (COPY_LABEL, COPY_UNKNOWN_LABEL, SLEEP, GIL)]


def answered_waits(run: Run, label: str) -> list[tuple[float, float, str]]:
    """Waits of a multiplexer that returned readable (the last one lasts until the program
    is stopped): each blocked span with that label ending where a READABLE instant is."""
    readable = set(instants(run, Kind.READABLE, 0))
    return [s for s in waits(run) if s[2] == label and s[1] in readable]


def next_call(run: Run, t: float, lane: int = 0) -> str:
    for i in range(len(run)):
        if run.kind[i] == Kind.SYSCALL and run.lane[i] == lane and run.t0[i] >= t:
            return run.labels[run.label[i]]
    return ""


def test_nonblocking_polls_between_messages_and_never_waits(run_dir: Path) -> None:
    done, run = traced_and_checked(run_dir, "nonblocking_poll.py")
    assert waits(run) == []
    # it polls for nothing while it waits: EWOULDBLOCKs between the messages, at least one
    # a message (how many depends on how the machine schedules it, here shared)
    first = min(run.m_copy_end[m] for m in range(run.message_count))
    last = max(run.m_copy_start[m] for m in range(run.message_count))
    between = [t for t in instants(run, Kind.EWOULDBLOCK, 0) if first <= t <= last]
    assert len(between) >= run.message_count
    assert run.source == "traced" and run.model.startswith("nonblocking_poll.py ")
    assert run.meta["model_guess"]["model"] == "nonblocking"
    tracer = "perf" if run.meta["tracer"].startswith("perf") else "strace"
    note = tracer_note(run)
    assert note and note.startswith(f"traced with {tracer}: each call ") and note in done.stdout


def test_select_blocks_then_reads(run_dir: Path) -> None:
    done, run = traced_and_checked(run_dir, "select_loop.py")
    after = {next_call(run, end) for _, end, _ in answered_waits(run, multiplexer_label("select"))}
    assert "recvfrom" in after and after <= {"recvfrom", "accept4"}
    reads = [i for i in range(len(run)) if run.kind[i] == Kind.RETURN and run.lane[i] == 0
             and run.code[run.line[i]] == "recvfrom"]
    assert done.stdout.count("got ") == len(reads)  # a 10 KB line a read: all came through


def test_thread_per_connection_blocks_in_each_thread(run_dir: Path) -> None:
    done, run = traced_and_checked(run_dir, "thread_per_conn.py")
    threads = [i for i, lane in enumerate(run.lanes) if lane.role == "thread"]
    assert len(threads) == 3  # a thread per connection of TCP_SCENARIO
    for lane in threads:
        assert any(s[2] == "process blocks in call to recvfrom" for s in waits(run, lane))
    read_on = {run.lane[i] for i in range(len(run))
               if run.kind[i] == Kind.RETURN and run.labels[run.label[i]] == "return OK"}
    assert read_on >= set(threads)
    assert waits(run)[-1][2] == "process blocks in call to accept4"  # the main thread


def test_epoll_waits_then_reads(run_dir: Path) -> None:
    done, run = traced_and_checked(run_dir, "epoll_loop.py")
    after = {next_call(run, end)
             for _, end, _ in answered_waits(run, multiplexer_label("epoll_wait"))}
    assert "recvfrom" in after and after <= {"recvfrom", "accept4"}
    assert "epoll_ctl EPOLL_CTL_DEL" in run.code  # the ADDs came before t = 0


def test_sigio_reads_in_the_handler(run_dir: Path) -> None:
    done, run = traced_and_checked(run_dir, "sigio_udp.py", UDP_SCENARIO)
    signals = instants(run, Kind.SIGNAL, 0)
    emptied = instants(run, Kind.EWOULDBLOCK, 0)  # a handler's last read: the queue is empty
    assert signals and emptied
    for m in range(run.message_count):
        since = max((t for t in emptied if t <= run.m_ready[m]), default=-math.inf)
        assert any(since <= s <= run.m_copy_start[m] for s in signals), \
            f"message {m} was not read by a handler that a SIGIO started"
    assert waits(run) == []  # its main loop sleeps (blocked in clock_nanosleep), never reads
    assert SLEEP in {label for _, _, label in spans(run, Kind.BLOCKED, 0)}
    assert run.meta["calls_before_t0"] > 0  # the set-up: socket, bind, sigaction, fcntl
    assert run.meta["model_guess"]["model"] == "sigio"


def test_without_the_kernel_select_brackets_arrivals_by_its_return(run_dir: Path) -> None:
    done, run = traced_and_checked(run_dir, "select_loop.py", extra=("--no-kernel",))
    assert run.meta["kernel_side"] == "none: turned off (--no-kernel)"
    readable = instants(run, Kind.READABLE, 0)
    for m in range(run.message_count):
        assert run.m_flags[m] & READY_ESTIMATED
        before = [t for t in readable if t <= run.m_copy_start[m]]
        assert run.m_ready[m] == max(before[-1], run.m_sent[m])
    assert "ready times estimated from the calls" in done.stdout


def test_without_the_kernel_polling_brackets_arrivals_by_the_last_ewouldblock(
        run_dir: Path) -> None:
    """Each arrival lies between the send and the read that took it; where the program found
    that connection empty (EWOULDBLOCK) since its previous read of it, the arrival is the last
    such refusal (or the send, if that came later)."""
    done, run = traced_and_checked(run_dir, "nonblocking_poll.py", extra=("--no-kernel",))
    exact = 0
    for m in range(run.message_count):
        conn, start = run.m_conn[m], run.m_copy_start[m]
        assert run.m_flags[m] & READY_ESTIMATED
        assert run.m_sent[m] <= run.m_ready[m] <= start
        on_conn = [i for i in range(len(run)) if run.conn[i] == conn and run.t0[i] < start]
        read = max((run.t0[i] for i in on_conn if run.kind[i] == Kind.RETURN), default=0.0)
        refused = [run.t0[i] for i in on_conn
                   if run.kind[i] == Kind.EWOULDBLOCK and run.t0[i] > read]
        if refused:
            assert run.m_ready[m] == max(refused[-1], run.m_sent[m])
            exact += 1
    assert exact


def test_the_kernel_side_is_on_where_perf_is(run_dir: Path) -> None:
    done, _ = trace_server(run_dir, "epoll_loop.py")
    side = done.run.meta["kernel_side"]
    if PERF_HINT in side:
        pytest.skip(f"no kernel side on this machine: {side}")
    assert side == f"perf ({', '.join(TRACEPOINTS)})"
    assert abs(done.run.meta["perf_clock_drift_ns"]) < 1_000_000
    assert done.run.meta["ready_estimated"] == 0
