"""``iosim trace`` on classic servers written as the textbooks write them (tests/servers: C
built here with the system's compiler and -g, Python, Node.js), each driven by a scenario:
the IO model named right, with its threads and processes; every call's lit source line one
the source marks (``/*@ call ... */`` in C, ``#@ call ...`` in Python) as making that call;
and what each model must look like (a SIGIO server asleep in sigsuspend is blocked, a
restarted accept is one call and SIGCHLD is named, ...)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from tracehelp import (
    SERVERS,
    TCP_SCENARIO,
    UDP_SCENARIO,
    Traced,
    needs_strace,
    server_command,
    shared_trace,
    spans,
)

from iosim import summary
from iosim.trace import Kind, Run, decode_column
from iosim.traced.model import model_sentence

pytestmark = needs_strace
needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc)")
MARKER = re.compile(r"(?:/\*@|#@)\s*([\w ]+?)\s*(?:\*/)?$")


def checked(done: Traced) -> Traced:
    assert done.left_running == []
    assert done.returncode == 0, done.stderr
    return done


def c_server(built: Callable[[str], Path], run_dir: Path, name: str,
             scenario: str = TCP_SCENARIO, args: tuple[str, ...] = ()) -> Run:
    """The C server traced with the scenario (once a test run: tests that read the same
    server and scenario share its trace)."""
    binary = built(name)
    return checked(shared_trace(run_dir, name + "".join(f"-{a}" for a in args), scenario,
                                lambda port: [str(binary), str(port), *args])).run


def lit_lines(run: Run) -> list[tuple[str, int, str]]:
    """(call, line number from 1, the line's text) of every system-call event whose line
    is known."""
    source = run.meta["source"]
    calls = decode_column("i", source["calls"], "source.calls")
    names = [run.labels[run.label[i]] for i in range(len(run)) if run.kind[i] == Kind.SYSCALL]
    return [(name, line + 1, source["lines"][line])
            for name, line in zip(names, calls, strict=True) if line >= 0]


def check_lit_lines(run: Run, least: int, anywhere: tuple[str, ...] = ()) -> None:
    """Every call with a known line lies on a line whose marker names it (but the calls
    ``anywhere``, which any line may make); at least ``least`` calls have one."""
    lit = lit_lines(run)
    assert len(lit) >= least, run.meta["source"]
    for name, number, text in lit:
        if name in anywhere:
            continue
        marked = MARKER.search(text)
        assert marked and name in marked.group(1).split(), f"{name} lit at line {number}: {text}"


def check_model(run: Run, model: str, threads: int, processes: int) -> None:
    guess = run.meta["model_guess"]
    assert (guess["model"], guess["threads"], guess["processes"]) == \
        (model, threads, processes), guess
    assert model_sentence(guess)


CASES = [  # (server, scenario, model, threads, processes, extra arguments)
    ("select_server", TCP_SCENARIO, "select", 1, 1, ()),
    ("poll_server", TCP_SCENARIO, "poll", 1, 1, ()),
    ("epoll_server", TCP_SCENARIO, "epoll", 1, 1, ()),
    ("epoll_et_server", TCP_SCENARIO, "epoll-et", 1, 1, ()),
    ("thread_server", TCP_SCENARIO, "threaded", 4, 1, ()),
    ("fork_server", TCP_SCENARIO, "fork", 1, 4, ()),
    ("nonblock_server", TCP_SCENARIO, "nonblocking", 1, 1, ()),
    ("udp_server", UDP_SCENARIO, "blocking", 1, 1, ()),
    ("sigio_server", UDP_SCENARIO, "sigio", 1, 1, ()),
    ("sigio_pause", UDP_SCENARIO, "sigio", 1, 1, ()),
    ("uring_server", TCP_SCENARIO, "aio", 1, 1, ()),
]


@needs_cc
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_each_c_server_is_named_and_its_lines_lit(built: Callable[[str], Path], run_dir: Path,
                                                    case: tuple) -> None:
    name, scenario, model, threads, processes, args = case
    run = c_server(built, run_dir, name, scenario, args)
    check_model(run, model, threads, processes)
    assert run.meta["source"]["language"] == "c"
    assert run.meta["source"]["path"] == str(SERVERS / f"{name}.c")
    check_lit_lines(run, least=5)


@needs_cc
def test_posix_aio_is_named_and_its_helper_threads_have_no_line(built: Callable[[str], Path],
                                                                run_dir: Path) -> None:
    """glibc's aio_read runs a blocking read in a helper thread: named aio (not threaded),
    the helper's calls have no line of the program (only the C library's frames)."""
    run = c_server(built, run_dir, "aio_server", args=("3",))
    guess = run.meta["model_guess"]
    assert guess["model"] == "aio" and "glibc" in guess["evidence"]
    assert "helper thread" in model_sentence(guess)
    check_lit_lines(run, least=3)
    lit_lanes = {run.lane[i] for i in range(len(run)) if run.kind[i] == Kind.SYSCALL}
    assert len(lit_lanes) > 1  # the helpers' lanes


@needs_cc
def test_a_sigio_server_asleep_in_sigsuspend_or_pause_is_blocked(built: Callable[[str], Path],
                                                                 run_dir: Path) -> None:
    """Every sigsuspend or pause is blocked time from its entry to its return (or the
    signal), never own work."""
    for name, call in (("sigio_server", "rt_sigsuspend"), ("sigio_pause", "pause")):
        run = c_server(built, run_dir, name, UDP_SCENARIO)
        calls = [run.t0[i] for i in range(len(run))
                 if run.kind[i] == Kind.SYSCALL and run.labels[run.label[i]] == call]
        blocked = {start for start, _, label in spans(run, Kind.BLOCKED, 0)
                   if label == f"process blocks in call to {call}"}
        assert calls and set(calls) <= blocked | {0.0}, name
        assert all(start not in calls for start, _, _ in spans(run, Kind.WORK, 0))


@needs_cc
def test_a_restarted_accept_is_one_call_and_sigchld_is_named(built: Callable[[str], Path],
                                                             run_dir: Path) -> None:
    """The fork server's accept, interrupted by SIGCHLD (ERESTARTSYS), runs its handler
    (wait4) and is restarted: one accept per connection (and the one still waiting), the
    signal drawn as SIGCHLD with its handler."""
    run = c_server(built, run_dir, "fork_server")
    accepts = [i for i in range(len(run)) if run.kind[i] == Kind.SYSCALL and run.lane[i] == 0
               and run.labels[run.label[i]] == "accept"]
    children = run.meta["model_guess"]["processes"] - 1
    assert len(accepts) <= children + 1
    delivered = [run.labels[run.label[i]] for i in range(len(run)) if run.kind[i] == Kind.SIGNAL]
    assert "deliver SIGCHLD" in delivered and "deliver SIGIO" not in delivered
    handlers = [label for _, _, label in spans(run, Kind.HANDLER, 0)]
    assert "signal handler (SIGCHLD)" in handlers
    assert "wait4" in run.code


PY_CASES = [  # (server, model, threads, processes)
    ("select_loop.py", "select", 1, 1),
    ("thread_per_conn.py", "threaded", 4, 1),
    ("asyncio_server.py", "epoll", 1, 1),
    ("socketserver_server.py", "threaded", 4, 1),
]


@pytest.mark.parametrize("case", PY_CASES, ids=[c[0] for c in PY_CASES])
def test_each_python_server_is_named_and_its_lines_lit(run_dir: Path, case: tuple) -> None:
    name, model, threads, processes = case
    run = checked(shared_trace(run_dir, name, TCP_SCENARIO,
                               lambda port: server_command(name, port))).run
    check_model(run, model, threads, processes)
    source = run.meta["source"]
    assert source["language"] == "python" and source["path"] == str(SERVERS / name)
    check_lit_lines(run, least=5, anywhere=("futex",))  # the GIL: taken back by any line
    if name == "asyncio_server.py":
        assert "asyncio's event loop" in run.meta["model_guess"]["evidence"]
        assert "event loop" in model_sentence(run.meta["model_guess"])


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_a_node_server_is_epoll_through_libuv_and_says_why_no_line(run_dir: Path) -> None:
    done = checked(shared_trace(run_dir, "net_server.js", TCP_SCENARIO,
                                lambda port: ["node", str(SERVERS / "net_server.js"), str(port)]))
    run = done.run
    guess = run.meta["model_guess"]
    assert guess["model"] == "epoll" and "Node.js (libuv)'s event loop" in guess["evidence"]
    assert "libuv" in run.meta["source"]["why"]
    assert model_sentence(guess) in done.stdout  # the summary table says it
    assert summary.summarize(done.run_trace)["runs"][0]["model_guess"] == guess
