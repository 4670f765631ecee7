"""The state pane for the servers that accept and reply, and for the lessons the five figures
leave out: exact zero-cost states of a moment of each (send buffers and POLLOUT/EPOLLOUT, the
listening socket and its herd, edge-triggered epoll's stall, a datagram dropped between select
and the read, SIGIO's causes on TCP)."""

from __future__ import annotations

from simhelp import copy_us
from test_teach_state import run_with

from iosim.teach.state import Doing, Phase, StateIndex
from iosim.teach.state_words import blocks

SEND_SIDE = """[server]
reply_bytes = 65536
send_buffer_bytes = 16384
[client]
read_bytes = 4096
read_every_ms = 2.0
[[connections]]
sends = [[1.0, 64]]
"""
HERD = """[server]
accept = true
workers = 3
[[connections]]
connect_ms = 2.0
sends = [[5.0, 256]]
"""
LIES = """[kernel]
udp_checksum = "at-read"
[[connections]]
sends = [[5.0, 512], [20.0, 512]]
corrupt = [0]
[[connections]]
sends = [[10.0, 512]]
"""
SIGIO_TCP = """[server]
accept = true
reply_bytes = 32768
send_buffer_bytes = 16384
[client]
read_bytes = 8192
read_every_ms = 3.0
[[connections]]
connect_ms = 2.0
sends = [[6.0, 512]]
"""


def words(state) -> dict[str, list[tuple[str, str]]]:
    """Each block's rows as (label, longest words), by title."""
    return {b.title: [(r.label, r.words[0] if r.words else "") for r in b.rows]
            for b in blocks(state)}


def notes(state, title: str) -> list[str]:
    return [n[0] for b in blocks(state) if b.title == title for n in b.notes]


def test_send_side_epoll_the_full_send_buffer_and_epollout() -> None:
    """The reply's first send fills the 16 KB buffer at 1.05 ms; the client reads 4 KB every
    2 ms, so at 4 ms a third is free and epoll_wait reports the socket writable."""
    run = run_with("epoll", SEND_SIDE, protocol="tcp")
    si = StateIndex(run)
    full = si.at(1500.0)
    assert [(b.used, b.size, b.waiting) for b in full.sends] == [(16384, 16384, 49152)]
    assert words(full)["Send buffers (in the kernel)"] == [
        ("fd 3", "full: 16,384 bytes of 16,384, not yet read by the client; 49,152 more wait "
                 "in the outbox")]
    assert full.multiplexer.events == {0: "EPOLLOUT"}
    assert words(full)["Receive queues (in the kernel)"] == [
        ("fd 3", "the peer closed its side (a read returned 0); the reply still goes")]
    writable = si.at(4000.0)
    mux = writable.multiplexer
    assert (mux.phase, mux.returned, mux.only_writable) == (Phase.RETURNED, (0,), True)
    assert writable.sends[0].used == 8192
    assert "epoll_wait returned fd 3 writable: a third of the send buffer is free again; send " \
        "copies what fits." in notes(writable, "epoll (level-triggered): interest and ready lists")
    assert {v.name: v.value for v in writable.variables} == {}


def test_send_side_poll_asks_pollout_only_while_a_reply_waits() -> None:
    run = run_with("poll", SEND_SIDE, protocol="tcp")
    si = StateIndex(run)
    before = si.at(500.0)
    assert words(before)["poll: the pollfd array (1 entries)"] == [("fd 3", "events POLLIN")]
    assert before.sends == ()
    waiting = si.at(4000.0)
    assert words(waiting)["poll: the pollfd array (1 entries)"] == [
        ("fd 3", "events POLLOUT, revents POLLOUT")]


def test_send_side_blocking_send_sleeps_on_the_full_buffer() -> None:
    run = run_with("blocking", SEND_SIDE, protocol="tcp")
    state = StateIndex(run).at(3000.0)
    (buf,) = state.sends
    assert (buf.used, buf.blocked) == (12288, True)
    assert state.threads[0].doing is Doing.BLOCKED and state.threads[0].detail == "in send"
    assert words(state)["Send buffers (in the kernel)"][0][1].endswith(
        "send sleeps until a third is free")


def test_thundering_herd_epoll_each_thread_its_own_epoll_and_who_took_it() -> None:
    """One connection at 2 ms wakes all three threads' epoll instances; thread 0's accept
    takes it, thread 1's and thread 2's say EWOULDBLOCK."""
    run = run_with("epoll", HERD, protocol="tcp", work_us=100.0)
    si = StateIndex(run)
    early = si.at(1000.0)
    assert early.sockets == () and early.listener.queue == ()
    assert notes(early, "Receive queues (in the kernel)")[0] == (
        "No connection accepted yet: a connection's socket is the program's only once accept "
        "returns it.")
    later = si.at(3000.0)
    ln = later.listener
    assert ln.accepted == ((0, "thread 0"),) and ln.latest == ("thread 2", -1)
    assert [s.name for s in later.sockets] == ["fd 3"]
    assert notes(later, "Listening socket: the accept queue") == [
        "thread 2's accept returned EWOULDBLOCK: another thread took the connection; its "
        "wake-up was for nothing.",
        "A connection wakes every thread whose epoll_wait watches the listening socket; one "
        "accept gets it."]
    mux = later.multiplexer
    assert (mux.owner, mux.listening, list(mux.watched.head(8))) == ("thread 0", True, [0])
    assert words(later)["thread 0: its own epoll (level-triggered)"][:2] == [
        ("listener", "the listening socket, registered"), ("interest", "")]
    assert [t.doing for t in later.threads] == [Doing.BLOCKED] * 3
    other = si.at(3000.0, lane=4)  # thread 2's own epoll: the listener only
    assert other.multiplexer.owner == "thread 2" and len(other.multiplexer.watched) == 0


def test_thundering_herd_blocking_accept_wakes_one() -> None:
    run = run_with("blocking", HERD, protocol="tcp", work_us=100.0)
    state = StateIndex(run).at(1000.0)
    assert state.listener.asleep == ("thread 0", "thread 1", "thread 2")
    assert words(state)["Listening socket: the accept queue"] == [
        ("queue", "empty: accept blocks"), ("accepted", "none yet"),
        ("in accept", "thread 0, thread 1, thread 2 asleep on it")]
    assert notes(state, "Listening socket: the accept queue") == [
        "accept's wait is exclusive: a connection wakes one sleeping thread, not all."]


def test_edge_triggered_stalls_with_data_queued() -> None:
    """1 KB reads of a 4 KB message: after the one read at 2 ms, 3,072 bytes wait, and
    edge-triggered epoll does not report them until the next arrival at 10 ms."""
    body = "[[connections]]\nsends = [[2.0, 4096], [10.0, 1024]]\n"
    run = run_with("epoll-et", body, protocol="tcp", buffer_bytes=1024)
    state = StateIndex(run).at(5000.0)
    mux = state.multiplexer
    assert (mux.phase, mux.ready, mux.edge, mux.events) == (Phase.ASLEEP, (), True,
                                                            {0: "EPOLLIN | EPOLLET"})
    title = "epoll (edge-triggered): interest and ready lists"
    assert "3,072 bytes wait on fd 3, but edge-triggered epoll reported it once and will not " \
        "again until new data arrives; reading until EAGAIN would have taken them." \
        in notes(state, title)
    level = StateIndex(run_with("epoll", body, protocol="tcp", buffer_bytes=1024)).at(2000.5)
    assert not any("wait on" in n for n in notes(
        level, "epoll (level-triggered): interest and ready lists"))


def test_select_lies_the_bad_datagram_and_the_read_that_sleeps() -> None:
    """select returns fd 3 readable for a datagram with a bad checksum at 5 ms; recvfrom
    checks and drops it, and sleeps until 20 ms although select said readable."""
    run = run_with("select", LIES)
    si = StateIndex(run)
    copying = si.at(5000.05)
    sock = copying.sockets[0]
    assert (sock.name, sock.bad, sock.chunks) == ("fd 3", "a read checks it and drops it", ())
    assert words(copying)["Receive queues (in the kernel)"][0] == (
        "fd 3", "a datagram with a bad checksum, not yet checked: the socket looks readable; "
                "a read checks it and drops it")
    asleep = si.at(8000.0)
    assert asleep.sockets[0].dropped == 5000.0 + copy_us(512)
    assert words(asleep)["Receive queues (in the kernel)"][0][1].startswith(
        "empty again: recvfrom dropped a datagram with a bad checksum at 5.000 ms; a blocking "
        "recvfrom sleeps on")
    assert (asleep.threads[0].doing, asleep.threads[0].detail) == (Doing.BLOCKED, "in recvfrom")
    assert asleep.multiplexer.returned == (0,)


def test_sigio_tcp_names_what_raised_each_signal() -> None:
    run = run_with("sigio", SIGIO_TCP, protocol="tcp", work_us=100.0)
    si = StateIndex(run)
    connect = si.at(2000.0)
    assert connect.signals.cause == "connection established"
    assert connect.listener.queue == (0,) or connect.listener.accepted == ((0, "the process"),)
    data = si.at(6000.0)
    assert data.signals.cause == "data arrived, the peer half-closed (FIN)"
    assert ("raised by", "data arrived, the peer half-closed (FIN) (the latest)") in \
        words(data)["SIGIO"]
    assert notes(data, "SIGIO") == [
        "On TCP, SIGIO is raised by a connection, data, the peer's close and room to send "
        "alike: the handler cannot tell which, so it tries everything (Stevens: next to "
        "useless with TCP)."]
