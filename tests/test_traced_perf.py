"""The perf tracer: the kernel's syscall tracepoints turned into the calls strace shows.

First its parts, on lines as perf_calls_script.py writes them (descriptor tables through fork,
threads and dup; an accept's addresses from the kernel's handshakes, oldest first; a restarted
call; rt_sigreturn; how a task ended); then real servers traced by both tracers, side by side:
the same model named, the same messages on the same connections, the same calls on the
program's lane, the same lines lit; and what each tracer costs, as the trace says it."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from tracehelp import (
    SERVERS,
    TCP_SCENARIO,
    UDP_SCENARIO,
    iosim_trace,
    needs_perf_tracer,
    server_command,
    shared_trace,
)

from iosim.summary import tracer_note
from iosim.teach.explain_command import moments
from iosim.trace import Kind, Run, decode_column
from iosim.traced.perf_calls import PerfCalls, records_of
from iosim.traced.strace import Call, Exit, Signal, first_fd, inet_socket

T0 = 1_000_000


def lines(*rows: str) -> list[str]:
    """Rows "KIND dt TID ..." with dt in µs from T0 -> perf_calls_script.py's lines (ns)."""
    out = []
    for row in rows:
        kind, dt, rest = row.split(" ", 2)
        out.append(f"{kind} {T0 + int(dt) * 1000} {rest}")
    return out


def calls(records: list) -> list[Call]:
    return [r for r in records if isinstance(r, Call)]


def test_a_servers_sockets_get_their_addresses_from_listen_and_the_handshakes() -> None:
    """socket -> listen (the LISTEN state change inside it) -> two accepts, each taking the
    oldest handshake on the port; reads name their connection; close forgets it."""
    handshakes = {9090: [(T0, ("127.0.0.1", 9090), ("127.0.0.1", 40001)),
                         (T0 + 1, ("127.0.0.1", 9090), ("127.0.0.1", 40002))]}
    records, _ = records_of(lines(
        "E 1 7 socket 2 524289 0", "X 2 7 socket 3",
        "E 3 7 bind 3 140000 16", "X 4 7 bind 0",
        "E 5 7 listen 3 128", "T 6 7 10 9090 0 127.0.0.1 -", "X 7 7 listen 0",
        "E 8 7 accept4 3 0 0 2048", "X 9 7 accept4 4",
        "E 10 7 accept 3 140000 140010", "X 11 7 accept 5",
        "E 12 7 read 5 140020 100", "X 13 7 read 6",
        "E 14 7 close 5", "X 15 7 close 0",
        "E 16 7 read 5 140020 100", "X 17 7 read -9",
    ), 0, T0 + 10**9, 1000, handshakes)
    sock, bind, listen, acc4, acc, read, close, bad = calls(records)
    assert inet_socket(sock.annotation).proto == "tcp" and "SOCK_NONBLOCK" not in sock.args
    assert bind.args.startswith("3<TCP:[1]>, 0x?")  # a TCP bind's address: learned at listen
    assert first_fd(listen.args) == (3, "TCP:[127.0.0.1:9090]")
    assert acc4.annotation == "TCP:[127.0.0.1:9090->127.0.0.1:40001]"
    assert acc4.args.endswith(", NULL, [16], SOCK_NONBLOCK")  # no address asked for
    assert acc.annotation == "TCP:[127.0.0.1:9090->127.0.0.1:40002]"
    assert 'sin_port=htons(40002), sin_addr=inet_addr("127.0.0.1")' in acc.args
    assert first_fd(read.args) == (5, acc.annotation) and read.result == 6
    assert read.args.endswith(', "", 100')  # what build.py reads: the buffer's size
    assert first_fd(close.args)[1] == acc.annotation
    assert (bad.args, bad.result, bad.errno) == ("5, \"\", 100", -1, "EBADF")
    assert (read.enter_ns, read.return_ns) == (T0 + 12_000, T0 + 13_000)


def test_threads_share_descriptors_and_a_fork_copies_them() -> None:
    records, _ = records_of(lines(
        "E 1 7 socket 2 2 0", "X 2 7 socket 3",  # UDP
        "E 3 7 bind 3 140000 16", "X 4 7 bind 0",
        "E 5 7 clone3 140000 88", "N 6 7 8 4001536", "X 7 7 clone3 8",  # a thread
        "E 8 7 clone 18874385 0", "N 9 7 9 18874368", "X 10 7 clone 9",  # a process (fork)
        "E 11 8 dup 3", "X 12 8 dup 4",
        "E 13 7 recvfrom 4 140000 64 64 140100 140200", "X 14 7 recvfrom -11",
        "E 15 9 close 3", "X 16 9 close 0",
        "E 17 7 recvfrom 3 140000 64 0 0 0", "X 18 7 recvfrom 5",
    ), 0, T0 + 10**9, 1000, bound={(7, 3): ("127.0.0.1", 9999)})
    _, bind, thread, fork, dup, polled, child_close, read = calls(records)
    assert 'sin_port=htons(9999)' in bind.args  # the UDP bind's address, as /proc showed it
    assert "CLONE_THREAD" in thread.args and "CLONE_THREAD" not in fork.args
    assert dup.annotation == "UDP:[127.0.0.1:9999]"
    assert first_fd(polled.args)[1] == "UDP:[127.0.0.1:9999]"  # the thread's dup, shared
    assert "MSG_DONTWAIT" in polled.args and polled.errno == "EAGAIN"
    assert first_fd(child_close.args)[1] == "UDP:[127.0.0.1:9999]"
    assert first_fd(read.args)[1] == "UDP:[127.0.0.1:9999]"  # the child closed its copy only


def test_an_interrupted_call_a_handler_and_its_restart() -> None:
    """accept -> ERESTARTSYS, SIGCHLD delivered to a handler, wait4 in it, rt_sigreturn (no
    exit tracepoint), the restarted accept; the handler named in rt_sigaction."""
    records, _ = records_of(lines(
        "E 1 7 rt_sigaction 17 140000 0 8", "X 2 7 rt_sigaction 0",
        "E 3 7 accept 3 0 0", "X 4 7 accept -512",
        "S 5 7 17 94625793131049",
        "E 6 7 wait4 4294967295 0 1 0", "X 7 7 wait4 12",
        "E 8 7 rt_sigreturn", "E 9 7 accept 3 0 0",
    ), 0, T0 + 50_000, 1000)
    action, first, delivered, wait, back, again = records
    assert action.args == f"SIGCHLD, {{sa_handler={hex(94625793131049)}}}"
    assert (first.result, first.errno) == (None, "ERESTARTSYS")
    assert delivered == Signal(7, T0 + 5_000, "SIGCHLD")
    assert "WNOHANG" in wait.args and wait.result == 12
    assert (back.name, back.enter_ns, back.return_ns) == ("rt_sigreturn", T0 + 8_000, T0 + 8_000)
    assert (again.name, again.returned, again.return_ns) == ("accept", False, T0 + 50_000)


def test_how_a_task_ended() -> None:
    parser = PerfCalls(0)
    exited = [r for line in lines("E 1 7 exit_group 3", "Q 2 7") for r in parser.feed(line)]
    assert exited == [Exit(7, T0 + 2_000, 3, "")]
    killed = [r for line in lines("E 1 8 pause", "S 2 8 15 0", "Q 3 8")
              for r in parser.feed(line)]
    assert killed[0] == Signal(8, T0 + 2_000, "SIGTERM")
    assert (killed[1].name, killed[1].returned, killed[1].return_ns) == ("pause", False,
                                                                         T0 + 3_000)
    assert killed[2] == Exit(8, T0 + 3_000, None, "SIGTERM")


def test_a_call_whose_exit_perf_lost_ends_where_the_next_begins() -> None:
    records, _ = records_of(lines("E 1 7 read 3 0 100", "E 5 7 close 3", "X 6 7 close 0"),
                            0, T0 + 10**9, 1000)
    read, close = records
    assert (read.name, read.returned, read.result, read.return_ns) == ("read", False, None,
                                                                       T0 + 5_000)
    assert (close.name, close.result) == ("close", 0)


def test_epoll_flags_come_from_proc_or_are_unknown() -> None:
    records, _ = records_of(lines(
        "E 1 7 epoll_create1 0", "X 2 7 epoll_create1 4",
        "E 3 7 epoll_ctl 4 1 3 140000", "X 4 7 epoll_ctl 0",
        "E 5 7 epoll_ctl 4 1 5 140000", "X 6 7 epoll_ctl 0",
    ), 0, T0 + 10**9, 1000, epoll_flags={(7, 4, 3): 0x80000001})
    made, seen, unseen = calls(records)
    assert made.annotation == "anon_inode:[eventpoll]"
    assert seen.args == "4<anon_inode:[eventpoll]>, EPOLL_CTL_ADD, 3, {events=EPOLLIN|EPOLLET}"
    assert unseen.args.endswith("{events=?}")


def test_bad_lines_are_counted_not_fatal() -> None:
    parser = PerfCalls(0)
    for line in ("", "E", "X 1 2", "E x 7 read", "Z 1 2 3", "X 5 7 read 3"):
        assert parser.feed(line) == []
    assert parser.unreadable == 6


def test_a_perf_traced_runs_note_names_perf() -> None:
    run = Run(model="srv", source="traced", lanes=[])
    run.meta.update(tracer="perf version 6.1 (syscall tracepoints)", tracer_cost_us=2.4)
    assert tracer_note(run) == "traced with perf: each call ~2.4 µs slower"
    run.meta["tracer_cost_us"] = 0.0  # the probe's two measures within each other's noise
    assert tracer_note(run) == "traced with perf: each call under 0.5 µs slower"


# -- real servers, both tracers --------------------------------------------------------------


def both(run_dir: Path, name: str, command: Callable[[int], list[str]]) -> dict[str, Run]:
    """The server traced by each tracer with the TCP scenario (the perf run is --tracer
    auto's, shared with the tests that trace the same server by default)."""
    runs = {}
    for tracer, extra in (("perf", ()), ("strace", ("--tracer", "strace"))):
        done = shared_trace(run_dir, name, TCP_SCENARIO, command, extra)
        assert done.returncode == 0 and done.left_running == [], done.stderr
        runs[tracer] = done.run
        assert done.run.meta["tracer"].startswith(tracer)
    return runs


def messages(run: Run) -> list[tuple[int, int]]:
    return [(run.m_conn[i], run.m_bytes[i]) for i in range(run.message_count)]


def main_calls(run: Run) -> list[str]:
    return [run.labels[run.label[i]] for i in range(len(run))
            if run.kind[i] == Kind.SYSCALL and run.lane[i] == 0]


def lit(run: Run) -> list[tuple[str, str]]:
    source = run.meta["source"]
    lines_ = decode_column("i", source["calls"], "source.calls")
    names = [run.labels[run.label[i]] for i in range(len(run)) if run.kind[i] == Kind.SYSCALL]
    return [(name, source["lines"][n]) for name, n in zip(names, lines_, strict=True) if n >= 0]


@needs_perf_tracer
def test_a_fork_server_is_drawn_alike_by_both_tracers(built: Callable[[str], Path],
                                                     run_dir: Path) -> None:
    binary = built("fork_server")
    runs = both(run_dir, "fork_server", lambda port: [str(binary), str(port)])
    strace, perf = runs["strace"], runs["perf"]
    assert perf.meta["tracer"].startswith("perf") and strace.meta["tracer"].startswith("strace")
    # the evidence may differ: under strace a child starts so late that it reads several
    # messages at once (strace's own cost, which the perf tracer does not add)
    named = [{k: v for k, v in run.meta["model_guess"].items() if k != "evidence"}
             for run in (perf, strace)]
    assert named[0] == named[1] == {"model": "fork", "threads": 1, "processes": 4}
    assert messages(perf) == messages(strace)
    # the same kinds of calls on the parent's lane (how many fall before t = 0, the scenario's
    # start, depends on how fast each tracer lets the parent accept)
    assert set(main_calls(perf)) <= set(main_calls(strace)) | {"accept", "clone"}
    assert "wait4" in main_calls(perf)
    delivered = [perf.labels[perf.label[i]] for i in range(len(perf))
                 if perf.kind[i] == Kind.SIGNAL]
    assert "deliver SIGCHLD" in delivered
    assert "read" in {name for name, _ in lit(perf)} <= {name for name, _ in lit(strace)} | \
        {"accept", "clone", "close"}
    for name, text in lit(perf):
        assert name.split()[0] in text, (name, text)  # the line that makes the call
    assert "unseen" in perf.meta and "unseen" not in strace.meta
    # the words: each names its own tracer, never the other; never "Python code" for C
    for run, other in ((perf, "strace"), (strace, "perf")):
        said = [(m["line"], " ".join(m["sentences"])) for m in moments(run)]
        assert not any(other in words or "Python" in words for _, words in said)
        copying = [line for line, words in said if "Phase 2" in words or
                   "has copied its data" in words]  # the copy, then the return
        assert copying and all("read(" in line for line in copying), copying


@needs_perf_tracer
@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_a_node_server_is_drawn_alike_by_both_tracers(run_dir: Path) -> None:
    runs = both(run_dir, "net_server.js",
                lambda port: ["node", str(SERVERS / "net_server.js"), str(port)])
    assert runs["perf"].meta["model_guess"]["model"] == "epoll"
    assert messages(runs["perf"]) == messages(runs["strace"])


@needs_perf_tracer
def test_an_asyncio_server_is_drawn_alike_by_both_tracers(run_dir: Path) -> None:
    runs = both(run_dir, "asyncio_server.py",
                lambda port: server_command("asyncio_server.py", port))
    assert runs["perf"].meta["model_guess"]["model"] == "epoll"
    assert "asyncio" in runs["perf"].meta["model_guess"]["evidence"]
    assert messages(runs["perf"]) == messages(runs["strace"])


@needs_perf_tracer
def test_where_perf_cannot_record_auto_traces_with_strace_and_perf_is_refused(
        tmp_path: Path) -> None:
    """A perf that fails (here a stand-in on PATH): --tracer auto says why and traces with
    strace; --tracer perf is one line and exit status 2, nothing traced, nothing left."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "perf"
    fake.write_text("#!/bin/sh\necho 'perf_event_open: Permission denied' >&2\nexit 1\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    program = [sys.executable, "-c", "pass"]
    done = iosim_trace(tmp_path, [], program, env=env)
    assert done.returncode == 0 and done.left_running == [], done.stderr
    assert "iosim trace: tracing with strace: the perf tracer needs the kernel side" in \
        done.stderr
    assert done.run.meta["tracer"].startswith("strace")
    refused = iosim_trace(tmp_path, ["--tracer", "perf"], program,
                          output=tmp_path / "refused.json", env=env)
    assert refused.returncode == 2 and not (tmp_path / "refused.json").exists()
    (line,) = [ln for ln in refused.stderr.splitlines() if ln.strip()]
    assert line.startswith("iosim: error: --tracer perf needs the kernel side")


@needs_perf_tracer
def test_the_perf_tracer_refuses_a_udp_scenario(tmp_path: Path) -> None:
    """A UDP scenario needs each datagram's sender, which tracepoints do not carry."""
    (tmp_path / "s.toml").write_text(UDP_SCENARIO)
    done = iosim_trace(tmp_path, ["--scenario", str(tmp_path / "s.toml"), "--port", "9",
                                  "--tracer", "perf"], [sys.executable, "-c", "pass"])
    assert done.returncode == 2 and not done.output.exists() and done.left_running == []
    (line,) = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert line == ("iosim: error: --tracer perf cannot see a datagram's sender (it is in "
                    "the program's memory), which a UDP scenario needs: use --tracer strace "
                    "or auto")


@needs_perf_tracer
def test_a_dual_stack_servers_ipv4_clients_are_the_scenarios_connections(
        run_dir: Path) -> None:
    """On an IPv6 socket an IPv4 client is ::ffff:127.0.0.1: each tracer still finds the
    scenario's own connections (not new ones), every byte read."""
    runs = both(run_dir, "dual_stack_server.py",
                lambda port: server_command("dual_stack_server.py", port))
    expected = [(0, 300), (1, 1500), (2, 700), (0, 300), (1, 100), (0, 300), (2, 64)]
    for run in runs.values():
        assert messages(run) == expected and not run.error


def test_raw_syscall_lines_are_the_calls_by_number() -> None:
    """raw_syscalls (x86_64): a call by its number, six raw arguments (as many kept as the
    call has), a return perf handed over as unsigned."""
    parser = PerfCalls(0)
    out = [r for line in lines(
        "e 1 7 41 2 1 0 0 0 0", "x 2 7 41 3",
        "e 3 7 0 3 140000 100 9 9 9", f"x 4 7 0 {(1 << 64) - 11}",
        "e 5 7 999 0 0 0 0 0 0", "x 6 7 999 0") for r in parser.feed(line)]
    sock, read = out
    assert (sock.name, sock.args, sock.result) == ("socket", "AF_INET, SOCK_STREAM, 0", 3)
    assert (read.name, read.args, read.result, read.errno) == \
        ("read", '3<TCP:[1]>, "", 100', -1, "EAGAIN")


@needs_perf_tracer
def test_a_traced_programs_words_name_its_own_read_call(built: Callable[[str], Path],
                                                        run_dir: Path) -> None:
    """The C select server copies with read(): "select only reports readiness: read must
    still copy the data", never recvfrom, which it does not call."""
    binary = built("select_server")
    run = shared_trace(run_dir, "select_server", TCP_SCENARIO,
                       lambda port: [str(binary), str(port)]).run
    said = [s for m in moments(run) for s in m["sentences"] if "only reports readiness" in s]
    assert said and all("read must still copy" in s for s in said), said
    assert not any("recvfrom" in s for m in moments(run) for s in m["sentences"])
