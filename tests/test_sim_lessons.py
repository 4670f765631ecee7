"""The lessons past Figure 6.6, as exact timelines (every cost 0 but the copy, 4 GB/s):
edge- vs level-triggered epoll, a datagram with a bad checksum, the send side, the
thundering herd and SIGIO on TCP."""

from __future__ import annotations

import pytest
from simhelp import copy_us, run_of, sim, summary_of, zero_cost_scenario

from iosim.sim.run import STUCK_TAIL_SHARE
from iosim.trace import Kind, Run

WORK = 50.0


def events(run: Run, kind: Kind, line: str | None = None, lane: int | None = None
           ) -> list[tuple[float, str]]:
    """(time, label) of the run's events of ``kind`` (on ``line``, on ``lane``)."""
    return [(run.t0[i], run.labels[run.label[i]]) for i in range(len(run))
            if run.kind[i] == kind
            and (line is None or (run.line[i] >= 0 and run.code[run.line[i]] == line))
            and (lane is None or run.lane[i] == lane)]


def spans(run: Run, kind: Kind, label_start: str) -> list[tuple[float, float, str]]:
    return [(run.t0[i], run.t1[i], run.labels[run.label[i]]) for i in range(len(run))
            if run.kind[i] == kind and run.labels[run.label[i]].startswith(label_start)]


# -- edge-triggered ---------------------------------------------------------------------------

TWO_4K = "[[connections]]\nsends = [[2.0, 4096], [10.0, 4096]]"


def et_trace(buffer_bytes: int):
    sc = zero_cost_scenario(f"buffer_bytes = {buffer_bytes}\n{TWO_4K}", ["epoll", "epoll-et"],
                            protocol="tcp", work_us=WORK)
    return sim(sc)


def test_level_triggered_reports_again_until_the_message_is_read() -> None:
    """1 KB reads of a 4 KB message: four reads back to back, each after an epoll_wait that
    returns at once (the socket is still readable)."""
    trace = et_trace(1024)
    m0 = summary_of(trace, "epoll")["messages"][0]
    assert m0["copy_start_us"] == 2000.0
    assert m0["copy_end_us"] == pytest.approx(2000.0 + 4 * copy_us(1024))
    assert m0["done_us"] == pytest.approx(m0["copy_end_us"] + WORK)
    run = run_of(trace, "epoll")
    assert len(events(run, Kind.READABLE)) == 4 + 4  # the run ends with message 1
    assert run.error is None


def test_edge_triggered_read_once_stalls_until_the_next_arrival() -> None:
    """One read per report: the rest of message 0 waits, unreported, until message 1 arrives
    (10 ms), which gives one more read; then nothing more arrives, and the run is stuck."""
    trace = et_trace(1024)
    run = run_of(trace, "epoll-et")
    reads = events(run, Kind.RETURN, "recvfrom")
    assert [t for t, _ in reads] == [pytest.approx(2000.0 + copy_us(1024)),
                                     pytest.approx(10000.0 + copy_us(1024))]
    left = spans(run, Kind.QUEUED, "3,072 bytes left queued")
    assert left == [(pytest.approx(2000.0 + copy_us(1024)), 10000.0,
                     "3,072 bytes left queued after a read")]
    assert run.error is not None and "blocked forever" in run.error
    assert "6,144 bytes wait in the kernel, unread" in run.error
    last = 10000.0 + copy_us(1024)
    assert run.end_us == pytest.approx(last * (1 + STUCK_TAIL_SHARE))
    assert spans(run, Kind.QUEUED, "2,048 bytes left")[0][1] == pytest.approx(run.end_us)
    assert all(m["done_us"] is None for m in summary_of(trace, "epoll-et")["messages"])


def test_edge_triggered_with_reads_that_take_everything_is_level_triggered() -> None:
    trace = et_trace(65536)
    lt, et = summary_of(trace, "epoll")["messages"], summary_of(trace, "epoll-et")["messages"]
    assert [m["done_us"] for m in lt] == [m["done_us"] for m in et]
    assert run_of(trace, "epoll-et").error is None


# -- a datagram with a bad checksum --------------------------------------------------------------

LIES = """[[connections]]
sends = [[5.0, 512], [20.0, 512]]
corrupt = [0]
[[connections]]
sends = [[10.0, 512]]"""


def lies(models: list[str], rule: str):
    extra = f'[kernel]\nudp_checksum = "{rule}"'
    return sim(zero_cost_scenario(LIES, models, work_us=WORK, extra=extra))


def test_select_says_readable_then_recvfrom_blocks() -> None:
    """Checked only at read: select returns readable at 5 ms, recvfrom copies the datagram,
    finds its checksum bad, drops it and sleeps until the next datagram (20 ms); connection
    1's datagram (10 ms) waits all that time."""
    trace = lies(["select"], "at-read")
    run = run_of(trace, "select")
    c = copy_us(512)
    assert events(run, Kind.READABLE)[0][0] == 5000.0
    dropped = spans(run, Kind.COPY, "copy data from kernel to user: checksum bad")
    assert dropped == [(5000.0, pytest.approx(5000.0 + c),
                        "copy data from kernel to user: checksum bad: the datagram is dropped")]
    hang = spans(run, Kind.BLOCKED, "process blocks in call to recvfrom")
    assert hang == [(pytest.approx(5000.0 + c), 20000.0, "process blocks in call to recvfrom")]
    msgs = summary_of(trace, "select")["messages"]
    assert len(msgs) == 2  # the corrupt datagram is no message
    conn1 = next(m for m in msgs if m["conn"] == 1)
    assert conn1["ready_us"] == 10000.0
    assert conn1["copy_start_us"] > 20000.0
    assert events(run, Kind.EWOULDBLOCK) == []


def test_a_non_blocking_socket_says_ewouldblock_instead() -> None:
    trace = lies(["epoll-et"], "at-read")
    run = run_of(trace, "epoll-et")
    c = copy_us(512)
    assert events(run, Kind.EWOULDBLOCK, "recvfrom") == [(pytest.approx(5000.0 + c),
                                                          "EWOULDBLOCK")]
    conn1 = next(m for m in summary_of(trace, "epoll-et")["messages"] if m["conn"] == 1)
    assert conn1["copy_start_us"] == 10000.0


def test_linux_checks_a_blocking_socket_when_select_looks() -> None:
    """Linux's udp_poll checks the first datagram of a blocking socket: select wakes at 5 ms,
    drops it while it scans and sleeps on; no recvfrom is made for it."""
    trace = lies(["select", "epoll-et"], "linux")
    run = run_of(trace, "select")
    assert [t for t, _ in events(run, Kind.WAKEUP, "select")] == [5000.0, 10000.0, 20000.0]
    assert events(run, Kind.READABLE)[0][0] == 10000.0
    assert spans(run, Kind.COPY, "copy data from kernel to user: checksum bad") == []
    assert events(run, Kind.SYSCALL, "recvfrom")[0][0] == 10000.0
    # a non-blocking socket is not checked when epoll looks: the read finds it
    assert len(events(run_of(trace, "epoll-et"), Kind.EWOULDBLOCK, "recvfrom")) == 1


@pytest.mark.parametrize("model", ["blocking", "threaded", "nonblocking", "sigio", "aio"])
def test_every_model_drops_the_datagram_and_handles_the_rest(model: str) -> None:
    trace = lies([model], "at-read")
    msgs = summary_of(trace, model)["messages"]
    assert [m["done_us"] is not None for m in msgs] == [True, True]
    assert run_of(trace, model).error is None


# -- the send side ---------------------------------------------------------------------------

def send_side(models: list[str], sends: str = "[[connections]]\nsends = [[1.0, 64]]"):
    extra = ("[server]\nreply_bytes = 65536\nsend_buffer_bytes = 16384\n"
             "[client]\nread_bytes = 4096\nread_every_ms = 2.0")
    return sim(zero_cost_scenario(sends, models, protocol="tcp", work_us=WORK, extra=extra))


def test_blocking_send_sleeps_until_a_third_of_the_buffer_is_free() -> None:
    """16 KB fill the buffer at once; the reader takes 4 KB every 2 ms; a third free (8 KB
    held) comes every 4 ms and lets 8 KB more in: the last 8 KB go in at 24 ms."""
    run = run_of(send_side(["blocking"]), "blocking")
    woke = [t for t, _ in events(run, Kind.WAKEUP, "send")]
    assert woke == [4000.0, 8000.0, 12000.0, 16000.0, 20000.0, 24000.0]
    assert run.end_us == pytest.approx(24000.0 + copy_us(8192))
    assert events(run, Kind.RETURN, "send") == [(pytest.approx(run.end_us), "return OK")]
    first = 1000.0 + copy_us(64) + WORK + copy_us(16384)
    assert run.meta["send_buffer"]["0"][:3] == [[pytest.approx(first), 16384],
                                                [2000.0, 12288], [4000.0, 8192]]


def test_epoll_waits_for_epollout_and_a_non_blocking_send_copies_what_fits() -> None:
    trace = send_side(["nonblocking", "epoll"])
    epoll = run_of(trace, "epoll")
    writable = [t for t, label in events(epoll, Kind.READABLE) if "writable" in label]
    assert writable == [4000.0, 8000.0, 12000.0, 16000.0, 20000.0, 24000.0]
    mod = "epoll_ctl EPOLL_CTL_MOD"
    assert events(epoll, Kind.IN_KERNEL, mod) == []  # zero costs: no time; the arrows are there
    assert len(events(epoll, Kind.SYSCALL, mod)) == 2  # EPOLLOUT asked for, then EPOLLIN dropped
    assert epoll.end_us == pytest.approx(24000.0 + copy_us(8192))
    nb = run_of(trace, "nonblocking")
    partial = events(nb, Kind.RETURN, "send")
    assert partial[0][1] == "return 16,384 of 65,536 bytes (the send buffer is full)"
    assert len(events(nb, Kind.EWOULDBLOCK, "send")) > 0
    # any room at all takes a non-blocking send's bytes: 4 KB every 2 ms after the first 16 KB
    assert nb.end_us > 24000.0


def test_a_blocked_send_holds_up_the_other_client_a_multiplexer_does_not() -> None:
    two = "[[connections]]\nsends = [[1.0, 64]]\n[[connections]]\nsends = [[3.0, 64]]"
    trace = send_side(["blocking", "poll"], two)
    late = [m["copy_start_us"] for m in summary_of(trace, "blocking")["messages"]]
    assert late[1] == pytest.approx(24000.0 + copy_us(8192))  # after the first reply is in
    prompt = [m["copy_start_us"] for m in summary_of(trace, "poll")["messages"]]
    assert prompt[1] == 3000.0


# -- the thundering herd ---------------------------------------------------------------------

HERD = """[[connections]]
connect_ms = 2.0
sends = [[5.0, 256]]
[[connections]]
connect_ms = 10.0
sends = [[12.0, 256]]"""


def herd(models: list[str], **server: bool):
    flags = "".join(f"\n{k} = {'true' if v else 'false'}" for k, v in server.items())
    extra = f"[server]\naccept = true\nworkers = 4{flags}"
    return sim(zero_cost_scenario(HERD, models, protocol="tcp", work_us=WORK, extra=extra))


def woken(run: Run, line: str) -> list[tuple[float, int]]:
    return sorted((run.t0[i], run.lane[i]) for i in range(len(run))
                  if run.kind[i] == Kind.WAKEUP and run.code[run.line[i]] == line)


def test_accept_wakes_one_thread() -> None:
    run = run_of(herd(["blocking"]), "blocking")
    assert [t for t, _ in woken(run, "accept")] == [2000.0, 10000.0]
    assert [label for _, label in events(run, Kind.RETURN, "accept")] == \
        ["return connection 0", "return connection 1"]
    assert events(run, Kind.EWOULDBLOCK) == []
    assert [ln.name for ln in run.lanes if ln.role == "thread"] == [f"thread {k}"
                                                                    for k in range(4)]


@pytest.mark.parametrize("model", ["select", "epoll"])
def test_a_multiplexer_wakes_every_thread_and_all_but_one_find_nothing(model: str) -> None:
    run = run_of(herd([model]), model)
    call = "epoll_wait" if model == "epoll" else "select"
    assert [t for t, _ in woken(run, call) if t in (2000.0, 10000.0)].count(2000.0) == 4
    assert len(events(run, Kind.RETURN, "accept")) == 2
    assert len(events(run, Kind.EWOULDBLOCK, "accept")) == 3 * 2
    assert all(m["done_us"] is not None for m in summary_of(herd([model]), model)["messages"])


def test_epollexclusive_wakes_one_thread() -> None:
    run = run_of(herd(["epoll"], epoll_exclusive=True), "epoll")
    assert [t for t, _ in woken(run, "epoll_wait") if t in (2000.0, 10000.0)] == [2000.0,
                                                                                  10000.0]
    assert events(run, Kind.EWOULDBLOCK) == []


def test_so_reuseport_wakes_only_the_socket_s_own_thread() -> None:
    """Each worker has its listening socket; connection c goes to worker c % 4."""
    run = run_of(herd(["blocking", "epoll"], reuseport=True), "epoll")
    lanes = {ln.name: i for i, ln in enumerate(run.lanes)}
    assert woken(run, "epoll_wait")[:1] == [(2000.0, lanes["thread 0"])]
    assert (10000.0, lanes["thread 1"]) in woken(run, "epoll_wait")
    assert events(run, Kind.EWOULDBLOCK) == []


# -- SIGIO on TCP ----------------------------------------------------------------------------

def test_sigio_on_tcp_is_raised_by_everything() -> None:
    extra = ("[server]\naccept = true\nreply_bytes = 32768\nsend_buffer_bytes = 16384\n"
             "[client]\nread_bytes = 8192\nread_every_ms = 3.0")
    body = "[[connections]]\nconnect_ms = 2.0\nsends = [[6.0, 512]]"
    trace = sim(zero_cost_scenario(body, ["sigio"], protocol="tcp", work_us=WORK, extra=extra))
    run = run_of(trace, "sigio")
    assert events(run, Kind.SIGNAL) == [
        (2000.0, "deliver SIGIO (raised by: connection established)"),
        (6000.0, "deliver SIGIO (raised by: data arrived, the peer half-closed (FIN))"),
        (9000.0, "deliver SIGIO (raised by: send space)"),
        (12000.0, "deliver SIGIO (raised by: send space)")]
    # the handler tries everything: accept finds nothing in three of the four
    assert len(events(run, Kind.EWOULDBLOCK, "accept")) >= 3
    assert run.end_us == pytest.approx(12000.0 + copy_us(8192))
    assert run.error is None
