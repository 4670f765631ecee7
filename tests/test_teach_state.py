"""The state at the playhead (iosim.teach.state), on exact zero-cost timelines: receive queues
and what the next read takes, select's bits, poll's revents, epoll's interest and ready
lists, the pending SIGIO bit, aio's reads, the threads and the lit line's values; and on
every built-in scenario and model, at every event, without error and consistent with a
brute-force reading of the trace."""

from __future__ import annotations

import math

import pytest
from simhelp import copy_us, run_of, sim
from teachhelp import light_builtin_runs, sample_times, traced_like

from iosim import scenario
from iosim.sim.costs import Costs
from iosim.teach.state import Doing, Phase, StateIndex, state_at
from iosim.teach.state_words import blocks, tail
from iosim.trace import Kind, Run
from iosim.view.index import RunIndex
from iosim.view.player import distinct_times


def run_with(model: str, body: str, protocol: str = "udp", work_us: float = 50.0,
             buffer_bytes: int = 65536, **costs: float) -> Run:
    """A scenario with every cost 0 but the copy (4 GB/s) and ``costs``."""
    values = Costs.zero(4.0).to_dict() | costs
    text = "\n".join(f"{k} = {v}" for k, v in values.items())
    sc = scenario.parse(f'name = "t"\nprotocol = "{protocol}"\nmodels = ["{model}"]\n'
                        f"[costs]\n{text}\n[process]\nwork_us = {work_us}\n"
                        f"poll_interval_us = 1000.0\nbuffer_bytes = {buffer_bytes}\n{body}\n",
                        "<test>")
    return run_of(sim(sc), model)


def conns(*sends: list[tuple[float, int]]) -> str:
    return "\n".join(f"[[connections]]\nsends = {[list(s) for s in c]!r}" for c in sends)


def queue_of(state, conn: int) -> list[tuple[int, int | None, bool]]:
    sock = next(s for s in state.sockets if s.conn == conn)
    return [(c.msg, c.nbytes, c.copying) for c in sock.chunks]


def values(state) -> dict[str, str]:
    return {v.name: v.value for v in state.variables}


# -- every built-in scenario, every model, every event -------------------------------------


@pytest.mark.parametrize(("name", "run"), light_builtin_runs(),
                         ids=lambda x: x if isinstance(x, str) else x.model)
def test_every_event_of_every_builtin_run_has_a_state(name: str, run: Run) -> None:
    """The state and its words at every event; at a few hundred of them, each queue checked
    against a reading of the whole trace."""
    si = StateIndex(run)
    ri = RunIndex(run)
    times = distinct_times([run])
    checked = set(times[::max(1, len(times) // 300)])
    on_conn: dict[int, list[int]] = {}  # each connection's messages, in order
    for m in range(run.message_count):
        on_conn.setdefault(run.m_conn[m], []).append(m)
    threads = max(1, sum(1 for ln in run.lanes if ln.role == "thread"))
    for t in times:
        lane = ri.acting_thread(t)
        state = si.at(t, 0 if lane is None else lane)
        assert blocks(state)
        assert len(state.threads) == threads
        mux = state.multiplexer
        if mux is not None and mux.phase is Phase.RETURNED:
            assert mux.returned or mux.listener_ready, (name, run.model, t)
        if t in checked:
            check_queues(run, state, t, on_conn)


def kept_runs() -> list[tuple[str, Run]]:
    """c10k's multiplexers; every model on many clients; bad checksums, replies, a listening
    socket; two traced copies."""
    runs = [(name, run) for name, run in light_builtin_runs()
            if (name == "c10k" and run.model != "select") or name in (
                "many-clients", "select-lies", "send-side", "sigio-tcp", "thundering-herd")]
    return runs + [(f"{name} traced", traced_like(run)) for name, run in runs
                   if name == "many-clients" and run.model in ("select", "sigio")]


@pytest.mark.parametrize(("name", "run"), kept_runs(),
                         ids=lambda x: x if isinstance(x, str) else x.model)
def test_what_the_index_keeps_between_questions_never_goes_stale(name: str, run: Run) -> None:
    """The index keeps answers (a socket, the busy ones, epoll's ready list) until something
    they depend on changes. Asked at the same moments forwards, then backwards, one index
    answers alike: a change it missed would hand each moment the other side's answer."""
    si = StateIndex(run)
    times = sample_times(run, 100)
    forwards = [si.at(t) for t in times]
    backwards = [si.at(t) for t in reversed(times)][::-1]
    assert forwards == backwards, name
    assert list(map(blocks, forwards)) == list(map(blocks, backwards)), name


def check_queues(run: Run, state, t: float, on_conn: dict[int, list[int]]) -> None:
    arrived = sum(1 for m in range(run.message_count) if run.m_ready[m] <= t)
    copied = sum(1 for m in range(run.message_count) if run.m_copy_end[m] <= t)
    assert state.queued_msgs == arrived - copied, (run.model, t)
    for sock in state.sockets:
        queued = [m for m in on_conn.get(sock.conn, [])
                  if run.m_ready[m] <= t and not run.m_copy_end[m] <= t]
        assert [c.msg for c in sock.chunks] == sorted(queued, key=lambda m: run.m_ready[m])
        for chunk in sock.chunks:
            assert chunk.nbytes is not None and 0 < chunk.nbytes <= chunk.total
        if sock.take is not None and sock.take.nbytes is not None and state.buffer:
            assert sock.take.nbytes <= state.buffer


# -- receive queues --------------------------------------------------------------------------


def test_udp_queue_keeps_datagrams_and_blocking_waits_on_the_idle_socket() -> None:
    """Head-of-line blocking: recvfrom sleeps on fd 3 while fd 4 holds two datagrams."""
    run = run_with("blocking", conns([(10.0, 1024)], [(2.0, 1024), (4.0, 512)]))
    state = StateIndex(run).at(5000.0)
    assert queue_of(state, 0) == []
    assert queue_of(state, 1) == [(0, 1024, False), (1, 512, False)]
    take = next(s for s in state.sockets if s.conn == 1).take
    assert (take.nbytes, take.msgs, take.left_bytes, take.left_msgs) == (1024, (0,), 512, 1)
    assert [(t.doing, t.detail) for t in state.threads] == [(Doing.BLOCKED, "in recvfrom")]
    assert values(state) == {"sock": "fd 3", "data": "(not returned yet: recvfrom is under way)"}
    notes = [n[0] for n in blocks(state)[0].notes]
    assert "recvfrom waits on fd 3 while fd 4 hold data: head-of-line blocking." in notes


def test_a_copy_under_way_and_the_read_that_follows() -> None:
    run = run_with("blocking", conns([(10.0, 4096)]))
    si = StateIndex(run)
    assert queue_of(state_at(run, 10000.0 + copy_us(4096) / 2), 0) == [(0, 4096, True)]
    after = si.at(10000.0 + copy_us(4096))
    assert queue_of(after, 0) == []
    assert values(after)["data"] == "4,096 bytes = datagram 1"


def test_tcp_read_takes_several_messages_up_to_its_buffer() -> None:
    """Nonblocking polls at 0, 1, 2 ms: the poll at 1 ms takes both messages in one read."""
    run = run_with("nonblocking", conns([(0.2, 512), (0.5, 700)]), protocol="tcp")
    si = StateIndex(run)
    early = si.at(100.0)
    assert queue_of(early, 0) == [] and early.nonblocking
    assert blocks(early)[0].rows[0].words[0] == "empty: recvfrom returns EWOULDBLOCK"
    before = si.at(800.0)
    assert queue_of(before, 0) == [(0, 512, False), (1, 700, False)]
    take = before.sockets[0].take
    assert (take.nbytes, take.msgs, take.partial, take.left_bytes) == (1212, (0, 1), False, 0)
    assert before.sockets[0].closed  # the peer's FIN waits behind the data
    read = si.at(1000.0 + copy_us(1212))
    assert values(read)["data"] == "1,212 bytes = messages 1-2"


def test_a_message_larger_than_the_buffer_is_read_in_parts() -> None:
    """A 1,500-byte message, a 1,000-byte buffer: the first read (its call's 10 µs paid
    before it slept) leaves 500 bytes queued while the next call pays its 10 µs."""
    run = run_with("blocking", conns([(1.0, 1500)]), protocol="tcp", buffer_bytes=1000,
                   syscall_us=10.0)
    si = StateIndex(run)
    ready = 1000.0
    assert si.at(ready).sockets[0].take.nbytes == 1000
    assert si.at(ready).sockets[0].take.partial
    first_end = ready + copy_us(1000)
    between = si.at(first_end + 5.0)
    assert queue_of(between, 0) == [(0, 500, False)]
    assert between.sockets[0].take.nbytes == 500
    assert values(between)["data"] == "(not returned yet: recvfrom is under way)"
    second_end = first_end + 10.0 + copy_us(500)
    assert queue_of(si.at(second_end), 0) == []
    assert values(si.at(second_end + 1.0))["data"] == \
        "500 bytes = the last 500 of 1,500 bytes of message 1"
    assert si.read_words(si.reads[0][0]) == \
        "1,000 bytes = the first 1,000 of 1,500 bytes of message 1"


# -- select, poll, epoll ---------------------------------------------------------------------


def test_select_bits_in_and_out() -> None:
    """Three sockets; fd 4 and fd 5 both get a datagram at 5 ms; select costs 10 µs."""
    run = run_with("select", conns([(20.0, 100)], [(5.0, 100)], [(5.0, 100)]),
                   select_base_us=10.0)
    si = StateIndex(run)
    scan = si.at(4.0).multiplexer
    assert scan.phase is Phase.SCANNING and list(scan.watched.head(9)) == [0, 1, 2]
    asleep = si.at(3000.0)
    assert asleep.multiplexer.phase is Phase.ASLEEP
    assert values(asleep)["socks"] == "[fd 3, fd 4, fd 5]"
    back = si.at(5010.0)
    mux = back.multiplexer
    assert (mux.phase, mux.returned) == (Phase.RETURNED, (1, 2))
    assert values(back) == {"readable": "[fd 4, fd 5]", "sock": "fd 4",
                            "data": "(not returned yet: recvfrom is under way)"}
    rows = blocks(back)[1].rows
    assert [c.style.value for c in rows[0].cells] == ["clear"] * 3 + ["set"] * 3
    assert [c.style.value for c in rows[1].cells] == ["clear"] * 4 + ["set"] * 2
    assert blocks(back)[1].title == "select: the fd_set (nfds = 6)"


def test_select_drops_a_closed_socket_from_its_set() -> None:
    run = run_with("select", conns([(20.0, 100)], [(5.0, 100)]))
    si = StateIndex(run)
    eof = min(run.t0[i] for i in range(len(run)) if run.kind[i] == Kind.EOF)
    assert list(si.at(eof + 1.0).multiplexer.watched.head(9)) == [0]
    assert next(s for s in si.at(eof).sockets if s.conn == 1).done


def test_poll_revents() -> None:
    run = run_with("poll", conns([(20.0, 100)], [(5.0, 100)]))
    back = StateIndex(run).at(5000.0)
    assert back.multiplexer.returned == (1,)
    assert values(back)["poller.poll()"] == "[(4, POLLIN)]"
    words = [r.words[0] for r in blocks(back)[1].rows]
    assert words == ["events POLLIN, revents 0", "events POLLIN, revents POLLIN"]


def test_epoll_interest_list_ready_list_and_callback() -> None:
    """epoll_ctl costs 10 µs: the interest list grows one socket at a time; the arrival at
    5 ms runs fd 4's callback, epoll_wait returns it; level-triggered, it stays on the ready
    list until the next epoll_wait finds it drained."""
    run = run_with("epoll", conns([(20.0, 100)], [(5.0, 100)]), epoll_ctl_us=10.0)
    si = StateIndex(run)
    assert len(si.at(5.0).multiplexer.watched) == 1
    assert si.at(5.0).multiplexer.phase is Phase.BEFORE
    assert len(si.at(15.0).multiplexer.watched) == 2
    assert si.at(3000.0).multiplexer.ready == ()
    back = si.at(5000.0)
    assert back.multiplexer.ready == (1,) and back.multiplexer.callback == (1, 5000.0)
    assert back.multiplexer.returned == (1,)
    processing = si.at(5020.0)
    assert queue_of(processing, 1) == [] and processing.multiplexer.ready == (1,)
    again = si.at(5060.0)
    assert again.multiplexer.phase is Phase.ASLEEP and again.multiplexer.ready == ()


def test_edge_triggered_ready_list_is_filled_by_arrivals_only() -> None:
    """The same trace read as edge-triggered: what epoll_wait reported is not put back."""
    run = run_with("epoll", conns([(20.0, 100)], [(5.0, 100)]))
    run.model = "epoll-et"
    si = StateIndex(run)
    assert si.at(5000.0).multiplexer.edge
    assert si.at(5000.0).multiplexer.ready == ()
    assert si.at(4999.0).multiplexer.ready == ()
    assert "Edge-triggered" in " ".join(n[0] for n in blocks(si.at(5000.0))[1].notes)


# -- signals, aio, threads -------------------------------------------------------------------


def test_sigio_pending_bit_merges_arrivals_and_is_taken_by_the_next_pass() -> None:
    """SIGIO at 10 ms; the handler processes datagram 1 for 50 µs while datagram 2 arrives
    (10.01 ms): the bit is set, and stays set after datagram 2 is read, until the handler's
    next pass over the sockets takes it."""
    run = run_with("sigio", conns([(10.0, 1024), (10.01, 1024), (30.0, 1024)]))
    si = StateIndex(run)
    c = copy_us(1024)
    assert si.at(9000.0).signals.pending is False
    first = si.at(10000.0).signals
    assert (first.handler, first.delivered, first.pending) == (True, 1, False)
    assert si.at(10015.0).signals.pending and si.at(10015.0).signals.merged == 1
    reads = [e.t0 for e in run.events() if e.kind == Kind.SYSCALL and e.line == "recvfrom"]
    second_pass = reads[3]  # datagram 1, datagram 2, EWOULDBLOCK, then the pass again
    assert second_pass == pytest.approx(10000.0 + 2 * (c + 50.0))
    still = si.at(second_pass - 1.0).signals
    assert still.pending and queue_of(si.at(second_pass - 1.0), 0) == []
    assert si.at(second_pass).signals.pending is False
    assert si.at(20000.0).signals.handler is False
    assert values(si.at(10000.0)) == {"signum": "SIGIO", "sock": "fd 3",
                                      "data": "(not returned yet: recvfrom is under way)"}


def test_aio_read_waits_copies_completes_and_is_collected() -> None:
    run = run_with("aio", conns([(20.0, 1024)]))
    si = StateIndex(run)
    c = copy_us(1024)
    assert [r.phase for r in si.at(10000.0).aio.requests] == ["waiting"]
    assert [r.phase for r in si.at(20000.0 + c / 2).aio.requests] == ["copying"]
    done = si.at(20000.0 + c).aio
    assert [(r.phase, r.nbytes) for r in done.requests] == [("collected", 1024)]
    assert (done.submitted, done.collected) == (1, 1)
    assert values(si.at(20000.0 + c + 10.0)) == {"signum": "SIGUSR1", "sock": "fd 3", "n": "1,024",
                                                 "buf[:n]": "datagram 1",
                                                 "process()": "on datagram 1"}
    words = " ".join(n[0] for b in blocks(si.at(10000.0)) for n in b.notes)
    assert "glibc runs it as a blocking read() in a helper thread" in words
    assert "io_uring is the kernel's own completion model" in words


def test_threads_each_in_its_own_state() -> None:
    run = run_with("threaded", conns([(10.0, 100)], [(2.0, 100)]))
    si = StateIndex(run)
    ri = RunIndex(run)
    at = 2000.0 + copy_us(100) + 10.0
    state = si.at(at, ri.acting_thread(at))
    assert [(t.name, t.doing, t.detail) for t in state.threads] == [
        ("thread 0", Doing.BLOCKED, "in recvfrom"),
        ("thread 1", Doing.RUNNING, "process()")]
    assert values(state)["process()"] == "on datagram 1"
    assert [t.doing for t in si.at(run.end_us).threads] == [Doing.ENDED, Doing.ENDED]


# -- what a trace cannot tell ----------------------------------------------------------------


def test_a_traced_run_says_what_it_cannot_know_and_guesses_nothing() -> None:
    run = traced_like(run_with("sigio", conns([(10.0, 1024), (10.01, 1024)])))
    state = StateIndex(run).at(10015.0)
    assert state.unknown.startswith("A traced run: the calls strace saw")
    assert "arrivals are estimated from the calls" in state.unknown
    assert state.signals.pending is None and state.variables == ()
    assert [s.name for s in state.sockets] == ["conn 0"]
    assert [c.text for c in blocks(state)[1].rows[0].cells] == ["≈2"]  # its arrival estimated
    assert blocks(state)[0].title == "What this trace cannot tell"


def test_a_real_run_names_sockets_by_connection_and_leaves_kernel_lists_unknown() -> None:
    run = run_with("epoll", conns([(20.0, 100)], [(5.0, 100)]))
    run.source = "real"
    state = StateIndex(run).at(5000.0)
    assert state.multiplexer.ready is None and state.multiplexer.returned == (1,)
    assert values(state)["ep.poll()"] == "[((conn 1), EPOLLIN)]"
    assert "A real run" in state.unknown


def test_malformed_meta_is_ignored() -> None:
    run = run_with("select", conns([(5.0, 100)]))
    run.meta.update(connections="many", closes_us=[math.nan, "x", None, 1, 2, 3],
                    buffer_bytes=-4)
    state = StateIndex(run).at(5000.0)
    assert state.buffer is None and len(state.multiplexer.watched) == 1


def test_unlisted_sockets_are_counted() -> None:
    block = blocks(StateIndex(run_with("poll", conns([(5.0, 100)]) + "\n")).at(0.0))[0]
    assert tail(block, ()) == []
    assert tail(block, block.rows) == ["1 socket, empty"]


def test_f_setsig_queues_a_signal_per_arrival_carrying_its_descriptor() -> None:
    """Where a run uses F_SETSIG, each arrival queues its own signal and each delivery takes
    the oldest (here: the first arrival's was delivered, the second's waits)."""
    run = run_with("sigio", conns([(10.0, 1024), (20.0, 100)], [(10.01, 1024), (20.0, 100)]))
    run.code.append("fcntl F_SETSIG")
    signals = StateIndex(run).at(10015.0).signals
    assert signals.setsig and signals.queued == (1,)
    assert [r.label for r in signals_rows(StateIndex(run).at(10015.0))] == \
        ["pending", "handler", "delivered", "queued"]


def signals_rows(state):
    return next(b for b in blocks(state) if b.title == "SIGIO").rows


REAL_SMALL = """
name = "state-real"
protocol = "tcp"
[process]
work_us = 30
[[connections]]
sends = [[2.0, 700], [2.0, 300], [5.0, 200]]
[[connections]]
sends = [[3.5, 1200]]
"""


def test_real_runs_show_what_their_trace_knows(tmp_path) -> None:
    """Real servers on loopback: queues from the kernel's stamps (each message listed on its
    socket from its arrival), the sets their programs passed, and one line on the rest."""
    from test_real_capture import children

    from iosim.real.session import CaptureError, capture, check_model

    try:
        check_model("aio")  # io_uring, where the kernel allows it
        models = ["select", "epoll", "sigio", "aio"]
    except CaptureError:
        models = ["select", "epoll", "sigio"]
    path = tmp_path / "small.toml"
    path.write_text(REAL_SMALL)
    trace = capture(scenario.load(str(path)), models)
    assert children() == set()
    for run in trace.runs:
        si = StateIndex(run)
        for t in distinct_times([run]):
            state = si.at(t)
            assert blocks(state) and state.unknown.startswith("A real run")
            assert all(s.name == f"conn {s.conn}" for s in state.sockets)
        for m in range(run.message_count):
            ready, end = run.m_ready[m], run.m_copy_end[m]
            if ready < end:
                state = si.at(ready)
                assert m in [c.msg for s in state.sockets for c in s.chunks], (run.model, m)
        if run.model == "select":
            mux = si.at(run.end_us / 2).multiplexer
            assert mux.watched is not None and len(mux.watched) <= 2
        if run.model == "epoll":
            assert si.at(run.end_us).multiplexer.ready is None
            assert len(si.at(run.end_us).multiplexer.watched) <= 2
        if run.model == "sigio":
            assert si.at(run.end_us / 2).signals.pending is None
        if run.model == "aio":  # io_uring: reads in flight, completions reaped, both counted
            ring = si.at(run.end_us).aio
            assert ring.ring and ring.submitted >= ring.collected >= 1
            assert {r.phase for r in ring.requests} <= {"in flight", "reaped"}
            titles = [b.title for b in blocks(si.at(run.end_us))]
            assert "io_uring: submission and completion rings" in titles
