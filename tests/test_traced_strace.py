"""The strace parser on real strace lines: fixtures recorded on Linux 6.x with strace 6.1 and
exactly the options ``iosim trace`` uses (tests/fixtures/strace/record.py: a C program that
makes every call the parser reads, a Python server and its client, a program killed in two
calls at once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from iosim.traced.runner import CALLS
from iosim.traced.sockets import SocketTable
from iosim.traced.strace import (
    Call,
    Exit,
    Inet,
    Record,
    Signal,
    StraceParser,
    first_fd,
    inet_socket,
    nth_arg,
    peer_of,
    sockaddr,
)

FIXTURES = Path(__file__).parent / "fixtures" / "strace"
FILES = ("exercise_c.strace", "exercise_py.strace", "killed.strace")


def lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


def parse(name: str) -> tuple[list[Record], StraceParser]:
    parser = StraceParser()
    records = [r for line in lines(name) for r in parser.feed(line)]
    return records, parser


def calls(name: str, call: str) -> list[Call]:
    return [r for r in parse(name)[0] if isinstance(r, Call) and r.name == call]


def ns(text: str) -> int:
    """Seconds with a decimal point -> ns, written out independently of the parser."""
    whole, _, frac = text.partition(".")
    return int(whole) * 10**9 + int((frac + "000000000")[:9])


@pytest.mark.parametrize("name", FILES)
def test_every_line_is_read_and_every_call_completed(name: str) -> None:
    records, parser = parse(name)
    assert parser.unreadable == 0
    assert parser.pending == {}
    assert records


# traced since the fixtures were recorded; their lines are read on real programs in
# test_traced_models.py (sigsuspend, pause, futex, wait4, rt_sigreturn, io_uring_setup, ...)
LATER = {"pread64", "io_uring_setup", "rt_sigreturn", "rt_sigsuspend", "pause", "nanosleep",
         "clock_nanosleep", "futex", "wait4", "waitid", "rt_sigtimedwait"}


def test_the_fixtures_hold_every_call_iosim_traces() -> None:
    seen = {r.name for name in FILES for r in parse(name)[0] if isinstance(r, Call)}
    assert set(CALLS) - LATER <= seen


@pytest.mark.parametrize("name", FILES)
def test_one_line_calls_keep_their_task_times_and_result(name: str) -> None:
    """Every complete one-line call, checked against the line taken apart by hand."""
    checked = 0
    for line in lines(name):
        pid, stamp, body = line.split(maxsplit=2)
        if "unfinished" in body or "resumed>" in body or body[:3] in ("---", "+++") \
                or not body.endswith(">"):
            continue
        head, _, duration = body.rpartition(" <")
        got = StraceParser().feed(line)
        assert len(got) == 1 and isinstance(got[0], Call), line
        call = got[0]
        assert call.tid == int(pid)
        assert call.name == body[:body.index("(")] or body.startswith("restart_syscall")
        assert call.enter_ns == ns(stamp)
        assert call.return_ns == ns(stamp) + ns(duration.rstrip(">"))
        value = head.rpartition("= ")[2].split()[0].split("<")[0]
        assert call.result == (None if value == "?" else int(value, 0))
        checked += 1
    assert checked > 50 if name != "killed.strace" else checked > 10


def test_a_call_another_task_interrupted_is_joined_from_its_halves() -> None:
    text = lines("exercise_c.strace")
    start = next(ln for ln in text if "read(" in ln and ln.endswith("<unfinished ...>"))
    end = next(ln for ln in text if "<... read resumed>" in ln)
    tid = int(start.split()[0])
    (joined,) = [c for c in calls("exercise_c.strace", "read") if c.tid == tid]
    assert joined.enter_ns == ns(start.split()[1])
    assert joined.return_ns == ns(start.split()[1]) + ns(end.rpartition("<")[2].rstrip(">"))
    assert joined.result == 4
    assert first_fd(joined.args)[0] == 5 and joined.returned


def test_socket_calls_say_what_their_descriptors_are() -> None:
    (accepted,) = calls("exercise_c.strace", "accept")
    assert accepted.result == 5
    inet = inet_socket(accepted.annotation)
    assert inet is not None and inet.proto == "tcp" and inet.peer is not None
    assert inet.local is not None and inet.local[0] == "127.0.0.1"
    (nonblocking,) = calls("exercise_c.strace", "accept4")
    assert "SOCK_NONBLOCK" in nonblocking.args
    eagain = [c for c in calls("exercise_c.strace", "recvfrom") if c.errno == "EAGAIN"]
    assert len(eagain) == 1 and eagain[0].result == -1
    (refused_or_pending,) = [c for c in calls("exercise_c.strace", "connect")
                             if c.errno == "EINPROGRESS"]
    assert refused_or_pending.result == -1
    (v6,) = [c for c in calls("exercise_py.strace", "accept4") if "TCPv6" in c.annotation]
    inet6 = inet_socket(v6.annotation)
    assert inet6 is not None and inet6.local is not None and inet6.peer is not None
    assert inet6.local[0] == inet6.peer[0] == "::1"


def test_multiplexers_show_what_they_returned() -> None:
    (select,) = calls("exercise_c.strace", "select")
    assert select.result == 1 and select.details.startswith(" (in [5]")
    (waited,) = [c for c in calls("exercise_py.strace", "pselect6")
                 if c.result == 1 and c.return_ns - c.enter_ns > 10_000_000]
    assert "(in [" in waited.details
    for name in ("poll", "ppoll", "epoll_wait", "epoll_pwait", "epoll_pwait2"):
        assert [c.result for c in calls("exercise_c.strace", name)][0] == 1, name


def test_interrupted_calls_have_no_value() -> None:
    restarted = [c for c in calls("exercise_py.strace", "recvfrom") if c.errno == "ERESTARTSYS"]
    assert restarted and all(c.result is None and c.returned for c in restarted)
    stopped = calls("exercise_c.strace", "poll")[1]
    assert stopped.errno == "ERESTART_RESTARTBLOCK" and stopped.result is None


def test_restart_syscall_is_named_after_the_call_it_continues() -> None:
    polls = calls("exercise_c.strace", "poll")
    assert len(polls) == 3  # the multiplexer, the stopped one and its restart
    assert polls[2].tid == polls[1].tid and polls[2].result == 0
    # the parent's restart (of a call strace did not trace) keeps its own name
    assert [c.tid for c in calls("exercise_c.strace", "restart_syscall")] != [polls[1].tid]


def test_threads_and_processes_are_created_by_clone() -> None:
    (thread,) = calls("exercise_c.strace", "clone3")
    assert "CLONE_THREAD" in thread.args and thread.result and thread.result > 0
    (child, stopped_child) = calls("exercise_c.strace", "clone")
    assert "CLONE_THREAD" not in child.args and child.result != stopped_child.result
    assert calls("exercise_c.strace", "fork")[0].result > 0  # "fork()   = N": padded
    assert calls("exercise_c.strace", "vfork")[0].result > 0


def test_signals_and_ends_of_tasks() -> None:
    records, _ = parse("exercise_c.strace")
    assert [r.name for r in records if isinstance(r, Signal) and r.name == "SIGIO"] == ["SIGIO"]
    exits = [r for r in records if isinstance(r, Exit)]
    assert exits and all(e.status == 0 and e.signal == "" for e in exits)
    records, _ = parse("exercise_py.strace")
    assert [r.signal for r in records if isinstance(r, Exit)][-1] == "SIGTERM"


def test_calls_a_task_died_in_return_when_it_ended() -> None:
    records, _ = parse("killed.strace")
    died = [r for r in records if isinstance(r, Call) and not r.returned]
    ends = {r.tid: r.t_ns for r in records if isinstance(r, Exit)}
    assert sorted(c.name for c in died) == ["pselect6", "recvfrom"]
    assert all(c.return_ns == ends[c.tid] and c.result is None for c in died)
    assert all(e.signal == "SIGKILL" for e in records if isinstance(e, Exit))


def test_calls_still_running_when_tracing_stops_end_there() -> None:
    parser = StraceParser()
    head = next(ln for ln in lines("exercise_c.strace") if ln.endswith("<unfinished ...>"))
    assert parser.feed(head) == []
    (running,) = parser.close(ns(head.split()[1]) + 5_000)
    assert not running.returned and running.return_ns - running.enter_ns == 5_000


def test_lines_that_are_not_strace_are_counted_not_fatal() -> None:
    parser = StraceParser()
    whole = next(ln for ln in lines("exercise_c.strace") if "listen(" in ln)
    for bad in ("strace: Process 12 attached", whole[:len(whole) // 2], "", "123 abc"):
        assert parser.feed(bad) == []
    assert parser.unreadable == 4


def test_addresses_in_arguments() -> None:
    (udp,) = [c for c in calls("exercise_py.strace", "recvfrom") if c.result == 5]
    sender = sockaddr(udp.args)
    assert sender is not None and sender[0] == "127.0.0.1"
    inet = inet_socket(first_fd(udp.args)[1])
    assert inet is not None and inet.proto == "udp" and inet.peer is None
    assert peer_of(udp, inet) == sender
    (bind6,) = [c for c in calls("exercise_py.strace", "bind") if "AF_INET6" in c.args]
    assert sockaddr(bind6.args) is not None and sockaddr(bind6.args)[0] == "::1"


def test_inet_socket_forms() -> None:
    assert inet_socket("TCP:[127.0.0.1:9090->127.0.0.1:41234]") == \
        Inet("tcp", ("127.0.0.1", 9090), ("127.0.0.1", 41234))
    assert inet_socket("TCPv6:[[::1]:9090->[::1]:5]") == Inet("tcp", ("::1", 9090), ("::1", 5))
    assert inet_socket("UDP:[127.0.0.1:53]") == Inet("udp", ("127.0.0.1", 53), None)
    assert inet_socket("TCP:[268161]") == Inet("tcp", None, None)
    for other in ("UNIX-STREAM:[123->124]", "anon_inode:[eventpoll]", "/dev/null", ""):
        assert inet_socket(other) is None


def test_nth_argument_skips_brackets_and_strings() -> None:
    args = '5, {events=EPOLLIN, data={u32=5, u64=5}}, ""..., [1, 2], 8'
    assert [nth_arg(args, i) for i in range(5)] == \
        ["5", "{events=EPOLLIN, data={u32=5, u64=5}}", '""...', "[1, 2]", "8"]
    assert nth_arg(args, 5) == ""
    assert first_fd("NULL, 0") == (-1, "")


# -- strace -y and -k: lines recorded on this machine from the C servers of tests/servers ----

Y_LINES = [
    '9232  1796586197.145889 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3<socket:[433989]> '
    '<0.000023>',
    '9232  1796586197.145992 bind(3<socket:[433989]>, {sa_family=AF_INET, sin_port=htons(9351), '
    'sin_addr=inet_addr("127.0.0.1")}, 16) = 0 <0.000020>',
    '9232  1796586197.146061 listen(3<socket:[433989]>, 1024) = 0 <0.000013>',
    '9232  1796586197.696422 accept(3<socket:[433989]>, {sa_family=AF_INET, '
    'sin_port=htons(49282), sin_addr=inet_addr("127.0.0.1")}, [16]) = 5<socket:[434024]> '
    '<0.000016>',
    '9232  1796586197.696575 read(5<socket:[434024]>, ""..., 4096) = 4 <0.000032>',
    '9232  1796586197.696700 accept(3<socket:[433989]>, NULL, NULL) = 6<socket:[434030]> '
    '<0.000016>',
]


def test_sockets_named_by_inode_get_their_addresses_from_the_calls() -> None:
    table = SocketTable()
    parser = StraceParser()
    calls = [r for line in Y_LINES for r in parser.feed(line)]
    for call in calls:
        table.learn(call)
    listener = table.inet("socket:[433989]")
    assert listener == Inet("tcp", ("127.0.0.1", 9351), None)
    assert table.inet(first_fd(calls[4].args)[1]) == \
        Inet("tcp", ("127.0.0.1", 9351), ("127.0.0.1", 49282))
    assert table.unresolved == {434030}  # accept(fd, NULL, NULL): looked up in /proc/net
    assert table.inet("TCP:[127.0.0.1:9090->127.0.0.1:41234]") == \
        Inet("tcp", ("127.0.0.1", 9090), ("127.0.0.1", 41234))  # strace -yy's form


K_LINES = [
    "26284 1796585527.932175 write(5<socket:[284150]>, \"\"..., 5) = 5 <0.000103>",
    " > /usr/lib/x86_64-linux-gnu/libc.so.6(__write+0x4f) [0xf838f]",
    " > /tmp/i19/thread_server(doit+0x44) [0x125d]",
    " > /usr/lib/x86_64-linux-gnu/libc.so.6(pthread_condattr_setpshared+0x515) [0x891f5]",
    "26283 1796585527.933044 <... read resumed>\"\", 4096) = 0 <0.002334>",
    " > /usr/lib/x86_64-linux-gnu/libc.so.6(read+0x4c) [0xf82ec]",
]


def test_strace_k_frames_give_the_first_address_in_the_program() -> None:
    """With -k, each completed call is followed by its stack; the first frame in the
    program's own file is the call's site; a call whose stack never enters it has none."""
    parser = StraceParser(binary="/tmp/i19/thread_server")
    parser.pending[26283] = ("read", 1796585527930000000, "4<socket:[284920]>, ")
    calls = [r for line in K_LINES for r in parser.feed(line)]
    assert [c.name for c in calls] == ["write", "read"]
    assert parser.sites == {(26284, calls[0].enter_ns): 0x125D}
