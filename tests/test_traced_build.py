"""The Run built from strace's calls, on the recorded fixtures (tests/fixtures/strace): lanes,
connections, blocked and in-kernel time, EWOULDBLOCKs, and each message's arrival, bracketed
from the calls or, with kernel records, taken from them. The kernel records here are written
by the test (an arrival 50 ms into a select, a receive 5 µs into a read), so every expected
time is exact arithmetic on the recorded lines."""

from __future__ import annotations

import math
from pathlib import Path

from iosim.trace import COPY_LABEL, READY_ESTIMATED, Kind, Run
from iosim.traced.build import (
    COPY_UNKNOWN_LABEL,
    ENTRY_LABEL,
    KERNEL_COPY_UNKNOWN,
    TRACER_LABEL,
    build_run,
    multiplexer_label,
)
from iosim.traced.kernel import KernelEvents
from iosim.traced.strace import Call, Record, Signal, StraceParser

FIXTURES = Path(__file__).parent / "fixtures" / "strace"
SK, SK_UDP = 0xFFFF0001, 0xFFFF0002


def records(name: str) -> list[Record]:
    parser = StraceParser()
    return [r for line in (FIXTURES / name).read_text().splitlines() for r in parser.feed(line)]


def first_ns(recs: list[Record]) -> int:
    return min(r.enter_ns if isinstance(r, Call) else r.t_ns for r in recs)


def last_ns(recs: list[Record]) -> int:
    return max(r.return_ns if isinstance(r, Call) else r.t_ns for r in recs)


def build(name: str, kernel: KernelEvents | None = None) -> tuple[Run, list[Record], int]:
    recs = records(name)
    t0 = first_ns(recs)
    run = build_run(recs, t0, last_ns(recs), model="exercise", protocol="tcp", scripted=None,
                    kernel=kernel, error=None)
    return run, recs, t0


def inet_reads(recs: list[Record]) -> list[Call]:
    """The receives that got data on TCP/UDP sockets, in order."""
    return [r for r in recs if isinstance(r, Call) and (r.result or 0) > 0
            and r.name in ("read", "readv", "recvfrom", "recvmsg")
            and ("<TCP" in r.args or "<UDP" in r.args)]


def named(recs: list[Record], name: str, result: int | None = 1) -> list[Call]:
    return [r for r in recs if isinstance(r, Call) and r.name == name and r.result == result]


def us(t_ns: int, t0: int) -> float:
    return (t_ns - t0) / 1000.0


def test_lanes_connections_and_counts() -> None:
    run, recs, _ = build("exercise_py.strace")
    threads = [lane for lane in run.lanes if lane.role == "thread"]
    assert run.lanes[0].name == "application"
    assert [lane.name for lane in threads] == ["thread " + str(
        next(r.result for r in recs if isinstance(r, Call) and r.name == "clone3"))]
    assert threads[0].conn == 0  # its read was on the first TCP connection
    reads = inet_reads(recs)
    assert run.message_count == len(reads) == 7
    assert [run.m_bytes[i] for i in range(7)] == [r.result for r in reads]
    assert [run.m_conn[i] for i in range(7)] == [0, 0, 0, 0, 1, 1, 2]  # TCP, UDP, TCPv6
    kernel = [lane.conn for lane in run.lanes if lane.role == "kernel"]
    assert kernel == [0, 1, 2]
    eagain = [r for r in recs if isinstance(r, Call) and r.errno == "EAGAIN"
              and "<TCP" in r.args]
    assert len([k for k in run.kind if k == Kind.EWOULDBLOCK]) == len(eagain) == 2


def test_without_kernel_records_arrivals_are_bracketed_by_the_calls() -> None:
    run, recs, t0 = build("exercise_py.strace")
    reads = inet_reads(recs)
    waited = [named(recs, "pselect6")[0], named(recs, "poll")[0], named(recs, "epoll_wait")[0]]
    for msg, multiplexer in enumerate(waited):  # after a select/poll/epoll: its return
        assert run.m_ready[msg] == us(multiplexer.return_ns, t0)
    thread_read = reads[3]  # blocking, slept 0.1 s: its return
    assert run.m_ready[3] == us(thread_read.return_ns, t0)
    sigio = [r.t_ns for r in recs if isinstance(r, Signal) and r.name == "SIGIO"
             and r.t_ns <= reads[4].enter_ns]
    assert run.m_ready[4] == us(sigio[-1], t0)  # after SIGIO: the signal
    assert all(run.m_flags[i] & READY_ESTIMATED for i in range(run.message_count))
    for msg, read in enumerate(reads):
        assert run.m_copy_end[msg] == us(read.return_ns, t0)


def test_calls_that_slept_are_blocked_and_the_others_in_kernel() -> None:
    run, recs, t0 = build("exercise_py.strace")
    blocked = {(run.t0[i], run.labels[run.label[i]]) for i in range(len(run))
               if run.kind[i] == Kind.BLOCKED}
    select = named(recs, "pselect6")[0]
    assert (us(select.enter_ns, t0), multiplexer_label("select")) in blocked
    accept = [r for r in recs if isinstance(r, Call) and r.name == "accept4"
              and (r.result or -1) > 0 and r.annotation.startswith("TCP:")][0]
    assert (us(accept.enter_ns, t0), "process blocks in call to accept4") in blocked
    interrupted = [r for r in recs if isinstance(r, Call) and r.errno == "ERESTARTSYS"]
    for call in interrupted:
        assert (us(call.enter_ns, t0), "process blocks in call to recvfrom") in blocked
    killed = [r for r in recs if isinstance(r, Call) and r.name == "pselect6"][-1]
    assert (us(killed.enter_ns, t0), multiplexer_label("select")) in blocked
    quick = [i for i in range(len(run)) if run.kind[i] == Kind.IN_KERNEL
             and run.labels[run.label[i]] == "sendto"]
    assert quick


def test_kernel_records_give_arrival_wake_up_and_copy() -> None:
    """The copy runs from the kernel's stamp of its start (skb_copy_datagram_iovec, 3 µs
    into the read) to its record of the receive (5 µs); before it, the read is in the
    kernel; after it, strace holds the return."""
    recs = records("exercise_py.strace")
    t0 = first_ns(recs)
    select = named(recs, "pselect6")[0]
    read = inet_reads(recs)[0]
    arrival = select.enter_ns + 50_000_000
    kernel = KernelEvents(arrivals={SK: [arrival]},
                          receives={read.tid: [(read.enter_ns + 5_000, SK, read.result)]},
                          copies={read.tid: [read.enter_ns + 3_000]})
    run = build_run(recs, t0, last_ns(recs), model="exercise", protocol="tcp",
                    scripted=None, kernel=kernel, error=None)
    assert run.m_ready[0] == us(arrival, t0) and run.m_flags[0] == 0
    assert run.m_copy_start[0] == us(read.enter_ns + 3_000, t0)
    assert run.m_copy_end[0] == us(read.enter_ns + 5_000, t0)
    events = run.events()
    wake = [e for e in events if e.kind == Kind.WAKEUP and e.line == "pselect6"]
    assert wake[0].t0 == us(arrival, t0)
    entry = [e for e in events if e.kind == Kind.IN_KERNEL and e.label == ENTRY_LABEL][0]
    assert (entry.t0, entry.t1) == (us(read.enter_ns, t0), us(read.enter_ns + 3_000, t0))
    copy = [e for e in events if e.kind == Kind.BLOCKED and e.label == COPY_LABEL][0]
    assert (copy.t0, copy.t1) == (us(read.enter_ns + 3_000, t0), us(read.enter_ns + 5_000, t0))
    held = [e for e in events if e.kind == Kind.OVERHEAD and e.label == TRACER_LABEL][0]
    assert (held.t0, held.t1) == (copy.t1, us(read.return_ns, t0))
    assert math.isnan(run.m_ready[1]) is False and run.m_flags[1] & READY_ESTIMATED


def test_without_a_kernel_stamp_of_the_copy_its_length_is_unknown() -> None:
    """No stamp of the copy's start: the read is drawn as one span that says the copy's
    length is unknown, never as a copy from strace's entry stamp; the run counts them."""
    recs = records("exercise_py.strace")
    t0 = first_ns(recs)
    run = build_run(recs, t0, last_ns(recs), model="exercise", protocol="tcp",
                    scripted=None, kernel=None, error=None)
    labels = {e.label for e in run.events() if e.kind in (Kind.BLOCKED, Kind.COPY)}
    assert COPY_LABEL not in labels and "copy data from kernel to user" not in labels
    assert COPY_UNKNOWN_LABEL in labels and KERNEL_COPY_UNKNOWN in labels
    assert run.meta["copies_unknown"] == run.message_count == 7


def test_a_kernel_return_later_than_strace_says_is_the_return() -> None:
    """strace's entry time plus duration can end before the call did: the kernel's record
    (here 30 µs later, before the task's next call) moves the return."""
    recs = records("exercise_py.strace")
    t0 = first_ns(recs)
    read = inet_reads(recs)[0]
    late = read.return_ns + 30_000
    kernel = KernelEvents(arrivals={SK: [read.enter_ns - 1_000]},
                          receives={read.tid: [(late, SK, read.result)]})
    run = build_run(recs, t0, last_ns(recs), model="exercise", protocol="tcp",
                    scripted=None, kernel=kernel, error=None)
    assert run.m_copy_end[0] == us(late, t0)
    returns = [e.t0 for e in run.events() if e.kind == Kind.RETURN and e.line == "recvfrom"]
    assert us(late, t0) in returns


def test_a_udp_socket_hands_out_its_datagrams_in_order() -> None:
    recs = records("exercise_py.strace")
    t0 = first_ns(recs)
    first, second = inet_reads(recs)[4:6]
    a1, a2 = first.enter_ns - 2_000, first.enter_ns - 1_000  # both queued before the 1st read
    kernel = KernelEvents(arrivals={SK_UDP: [a1, a2]},
                          receives={first.tid: [(first.return_ns - 1_000, SK_UDP, 5),
                                                (second.return_ns - 1_000, SK_UDP, 6)]})
    run = build_run(recs, t0, last_ns(recs), model="exercise", protocol="udp",
                    scripted=None, kernel=kernel, error=None)
    assert (run.m_ready[4], run.m_ready[5]) == (us(a1, t0), us(a2, t0))
    assert run.m_flags[4] == run.m_flags[5] == 0


def test_helper_processes_without_sockets_get_no_lane() -> None:
    run, recs, _ = build("exercise_c.strace")
    clone3 = next(r for r in recs if isinstance(r, Call) and r.name == "clone3")
    assert [lane.name for lane in run.lanes if lane.role != "kernel"] == \
        ["application", f"thread {clone3.result}"]


def test_arrivals_on_a_reused_kernel_address_before_the_socket_was_born_are_not_its() -> None:
    """A kernel address is reused once a socket is freed: a UDP socket's arrivals count from
    its socket() call, a TCP socket's from its connection being established."""
    recs = records("exercise_py.strace")
    t0 = first_ns(recs)
    udp_socket = next(r for r in recs if isinstance(r, Call) and r.name == "socket"
                      and r.annotation.startswith("UDP:"))
    tcp_read, udp_read = inet_reads(recs)[0], inet_reads(recs)[4]
    stale, own = udp_socket.enter_ns - 1_000, udp_read.enter_ns - 1_000
    tcp_stale, born, tcp_own = (tcp_read.enter_ns - 3_000, tcp_read.enter_ns - 2_000,
                                tcp_read.enter_ns - 1_000)
    kernel = KernelEvents(arrivals={SK_UDP: [stale, own], SK: [tcp_stale, tcp_own]},
                          born={SK: [born]},
                          receives={udp_read.tid: [(tcp_read.enter_ns + 1_000, SK, 3),
                                                   (udp_read.return_ns - 1_000, SK_UDP, 5)]})
    run = build_run(recs, t0, last_ns(recs), model="exercise", protocol="udp",
                    scripted=None, kernel=kernel, error=None)
    assert run.m_ready[0] == us(tcp_own, t0)
    assert run.m_ready[4] == us(own, t0)
