"""The lessons past Figure 6.6 on real loopback sockets: edge-triggered epoll leaves data
unread, a slow reader backs replies up into the send buffer, and several threads wait on one
listening socket. Counts of bytes and calls are asserted, never times."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_real_capture import children

from iosim import scenario
from iosim.errors import UserError
from iosim.real.session import capture, capture_run
from iosim.trace import Kind, Run


def events(run: Run, kind: Kind, line: str) -> list[tuple[int, str, int]]:
    """(lane, label, conn) of the run's events of ``kind`` on ``line``."""
    return [(run.lane[i], run.labels[run.label[i]], run.conn[i]) for i in range(len(run))
            if run.kind[i] == kind and run.line[i] >= 0 and run.code[run.line[i]] == line]


def write(tmp_path: Path, text: str) -> scenario.Scenario:
    path = tmp_path / "lesson.toml"
    path.write_text(text)
    return scenario.load(str(path))


EDGE = """protocol = "tcp"
[process]
work_us = 10
buffer_bytes = 1024
[[connections]]
sends = [[2.0, 4096], [6.0, 4096]]
"""


def test_edge_triggered_reads_at_most_once_per_arrival_and_leaves_data(tmp_path: Path) -> None:
    """Two 4 KB sends, 1 KB reads: level-triggered reads all 8 KB; edge-triggered reads once
    per report (a send, or the close), so at most 3 KB, and stops blocked."""
    sc = write(tmp_path, EDGE)
    trace = capture(sc, ["epoll", "epoll-et"])
    lt, et = trace.runs
    assert lt.error is None
    assert len(events(lt, Kind.RETURN, "recvfrom")) == 8
    reads = events(et, Kind.RETURN, "recvfrom")
    assert 1 <= len(reads) <= 3
    assert et.error is not None and "never handled" in et.error
    assert not children()


def reply_scenario(tmp_path: Path) -> scenario.Scenario:
    return write(tmp_path, """protocol = "tcp"
[process]
work_us = 10
poll_interval_us = 500
[server]
reply_bytes = 65536
send_buffer_bytes = 8192
[client]
read_bytes = 4096
read_every_ms = 1.0
[[connections]]
sends = [[1.0, 64]]
[[connections]]
sends = [[2.0, 64]]
""")


@pytest.fixture(scope="module")
def replies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    sc = reply_scenario(tmp_path_factory.mktemp("replies"))
    return {run.model: run for run in capture(sc, ["blocking", "nonblocking", "epoll"]).runs}


@pytest.mark.parametrize("model", ["blocking", "nonblocking", "epoll"])
def test_every_reply_reaches_the_slow_reader(replies: dict[str, Run], model: str) -> None:
    run = replies[model]
    assert run.error is None
    assert run.meta["replies_read"] == run.meta["replies_expected"] == [65536, 65536]
    assert run.meta["program"] == f"reply-{model}"


def test_blocking_sendall_never_says_ewouldblock(replies: dict[str, Run]) -> None:
    run = replies["blocking"]
    assert [label for _, label, _ in events(run, Kind.RETURN, "send")] == ["return OK"] * 2
    assert events(run, Kind.EWOULDBLOCK, "send") == []


def test_a_non_blocking_send_copies_what_fits_and_says_ewouldblock(replies: dict[str, Run]
                                                                   ) -> None:
    run = replies["nonblocking"]
    sent = sum(int(label.split()[1].replace(",", ""))
               for _, label, _ in events(run, Kind.RETURN, "send"))
    assert sent == 2 * 65536
    assert len(events(run, Kind.RETURN, "send")) > 2  # in pieces
    assert events(run, Kind.EWOULDBLOCK, "send")


def test_epoll_waits_for_epollout(replies: dict[str, Run]) -> None:
    run = replies["epoll"]
    said = [label for _, label, _ in events(run, Kind.READABLE, "epoll_wait")]
    assert "return writable" in said
    sent = sum(int(label.split()[1].replace(",", ""))
               for _, label, _ in events(run, Kind.RETURN, "send"))
    assert sent == 2 * 65536


HERD = """protocol = "tcp"
[process]
work_us = 10
[server]
accept = true
workers = 3{more}
[[connections]]
connect_ms = 1.0
sends = [[2.0, 256]]
[[connections]]
connect_ms = 4.0
sends = [[5.0, 256]]
"""


@pytest.mark.parametrize(("model", "more"), [("blocking", ""), ("select", ""), ("epoll", ""),
                                             ("epoll", "\nreuseport = true"),
                                             ("epoll", "\nepoll_exclusive = true")])
def test_each_connection_is_accepted_by_one_worker(tmp_path: Path, model: str,
                                                   more: str) -> None:
    """Whoever woke, one accept per connection got it; every other accept said EWOULDBLOCK
    (never a blocking accept, never with SO_REUSEPORT: each listener has its own worker)."""
    run = capture_run(write(tmp_path, HERD.format(more=more)), model)
    assert run.error is None
    got = events(run, Kind.RETURN, "accept")
    assert sorted(label for _, label, _ in got) == ["return connection 0",
                                                   "return connection 1"]
    assert {run.lanes[lane].role for lane, _, _ in got} == {"thread"}
    calls = events(run, Kind.SYSCALL, "accept")
    lost = events(run, Kind.EWOULDBLOCK, "accept")
    assert len(calls) >= len(got) + len(lost)
    if model == "blocking" or "reuseport" in more:
        assert lost == []
    assert len([ln for ln in run.lanes if ln.role == "thread"]) == 3
    handled = [run.m_done[i] for i in range(run.message_count)]
    assert all(t == t for t in handled)


@pytest.mark.parametrize(("name", "model", "words"), [
    ("sigio-tcp", "sigio", "real mode has no such server"),
    ("select-lies", "select", "cannot be sent on loopback"),
    ("send-side", "select", "real mode has it with blocking, nonblocking, poll, epoll"),
    ("thundering-herd", "threaded", "real mode has it with blocking, select, epoll"),
])
def test_what_loopback_cannot_show_is_refused(name: str, model: str, words: str) -> None:
    with pytest.raises(UserError, match=words):
        capture_run(scenario.load(name), model)
