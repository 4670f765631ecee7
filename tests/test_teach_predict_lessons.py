"""Predict mode asks the lessons of the scenarios after Fig 6.6, found in each run's events:
send on a full send buffer and the wait for POLLOUT / EPOLLOUT (send-side), who wakes for a
connection (thundering-herd), level- vs edge-triggered epoll_wait with bytes left queued
(edge-triggered), a read of a bad datagram after select said readable (select-lies), and what
raised a SIGIO on TCP (sigio-tcp). Every question is also checked against the brute-force
reading of the trace (predicthelp)."""

from __future__ import annotations

from predicthelp import check_questions
from teachhelp import builtin_runs

from iosim.teach.predict import MOST, Question, Quiz
from iosim.trace import Run


def run_of(name: str, model: str) -> Run:
    return next(run for n, run in builtin_runs() if n == name and run.model == model)


def asked(name: str, model: str) -> list[Question]:
    run = run_of(name, model)
    quiz = Quiz(run, seed=3)
    assert 1 <= check_questions(run, quiz) <= MOST
    return quiz.questions


def lesson(name: str, model: str, words: str) -> Question:
    return next(q for q in asked(name, model) if words in q.text)


def right(q: Question) -> str:
    return q.choices[q.answer]


def test_a_blocking_send_sleeps_until_a_third_of_the_buffer_is_free() -> None:
    q = lesson("send-side", "blocking", "calls send")
    assert q.kind == "send"
    assert q.text == ("The process calls send on connection 0's socket with its reply; its send "
                      "buffer (16,384 bytes) is empty. What does send do?")
    assert right(q) == ("send copies what fits into the send buffer, then puts the process to "
                        "sleep until a third of the send buffer is free")
    everything = q.choices.index("send puts the process to sleep until the client has read "
                                 "everything sent")
    assert q.reveal(everything).why.startswith("Wrong: a blocking send waits for room in the")


def test_a_nonblocking_send_returns_a_partial_count_then_ewouldblock() -> None:
    qs = [q for q in asked("send-side", "nonblocking") if q.kind == "send"]
    said = [right(q) for q in qs]
    assert said[0] == ("send copies what fits into the send buffer and returns at once with "
                       "that count (a partial count)")
    assert "send returns EWOULDBLOCK at once" in said
    refused = qs[said.index("send returns EWOULDBLOCK at once")]
    assert "its send buffer holds 16,384 of 16,384 bytes" in refused.text


def test_poll_and_epoll_wait_for_room_then_report_writable() -> None:
    for model, call, flag in (("poll", "poll", "POLLOUT"), ("epoll", "epoll_wait", "EPOLLOUT")):
        q = lesson("send-side", model, f"watches the socket for {flag}")
        assert right(q) == (f"{call} puts the process to sleep until the client has read "
                            "enough to make room, then returns, reporting the socket writable")
        assert f"{call} sends the rest of the reply itself, then returns" in q.choices


def test_accept_wakes_one_thread_select_and_epoll_wake_them_all() -> None:
    woken = {}
    for model in ("blocking", "select", "epoll"):
        q = lesson("thundering-herd", model, "How many threads does the kernel wake?")
        assert q.kind == "count" and q.text.startswith("4 threads sleep in ")
        woken[model] = right(q)
    assert woken == {"blocking": "1", "select": "4", "epoll": "4"}
    refused = lesson("thundering-herd", "select", "accepts return EWOULDBLOCK")
    assert int(right(refused)) >= 1 and "4" in refused.choices


def test_level_triggered_reports_again_edge_triggered_sleeps() -> None:
    level = lesson("edge-triggered", "epoll", "left queued")
    edge = lesson("edge-triggered", "epoll-et", "left queued")
    assert "registered level-triggered" in level.text
    assert right(level) == "epoll_wait returns at once, reporting the readable socket again"
    assert "registered edge-triggered" in edge.text
    assert right(edge) == ("epoll_wait puts the process to sleep until new data arrives on its "
                           "socket")


def test_select_said_readable_then_the_read_blocks() -> None:
    q = lesson("select-lies", "select", "bad checksum")
    assert q.text.startswith("select reported connection 0's socket readable")
    assert right(q) == ("recvfrom finds the checksum bad and drops the datagram, then puts the "
                        "process to sleep until data arrives on connection 0's socket")
    et = lesson("select-lies", "epoll-et", "bad checksum")
    assert right(et) == ("recvfrom finds the checksum bad and drops the datagram, then returns "
                         "EWOULDBLOCK at once")


def test_what_raised_each_sigio_on_tcp() -> None:
    """The SIGIO that data and the half-close raise together is asked as an arrival; the
    ones raised by a connection and by room to send are asked for their cause."""
    qs = [q for q in asked("sigio-tcp", "sigio") if q.kind == "sigio"]
    assert [right(q) for q in qs] == ["A client's connection set up on the listening socket",
                                      "Room made in a send buffer as the client read"]
    assert all(len(q.choices) == 4 for q in qs)
