"""Each model's program: short, valid Python, and its marked lines are exactly the line keys
the simulator and the real servers write."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from teachhelp import builtin_runs, traced_like

from iosim.scenario import SIM_MODELS
from iosim.teach.programs import THREAD_RETURNS, Program, parse, program, program_for

CODE = Path(__file__).resolve().parent.parent / "iosim" / "assets" / "code"


PROGRAMS = (*SIM_MODELS, "uring")  # uring: iosim's real aio server (io_uring)


@pytest.mark.parametrize("model", PROGRAMS)
def test_program_is_short_valid_python(model: str) -> None:
    prog = program(model)
    assert isinstance(prog, Program) and prog.model == model
    assert 10 <= len(prog.lines) <= 35
    compile("\n".join(prog.lines), f"{model}.py", "exec")
    compile((CODE / f"{model}.py").read_text(), f"{model}.py", "exec")
    assert not any("#@" in line or line != line.rstrip() for line in prog.lines)
    assert all(0 <= i < len(prog.lines) and prog.lines[i].strip() for i in prog.keys.values())


def keys_used() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for _, run in builtin_runs():
        used.setdefault(run.meta.get("program", run.model), set()).update(run.code)
    return used


@pytest.mark.parametrize("model", SIM_MODELS)
def test_every_key_a_run_writes_has_its_line_and_every_line_is_used(model: str) -> None:
    """Every marked line but a thread's ``return`` (the explainer derives it: a thread whose
    last read returned 0 has ended) is a key the runs write."""
    used = keys_used()[model]
    prog = program(model)
    assert prog is not None
    assert used == set(prog.keys) - {THREAD_RETURNS}, (used ^ set(prog.keys))
    assert (THREAD_RETURNS in prog.keys) == (model == "threaded")


def test_marked_lines_say_what_the_key_names() -> None:
    """A call's key marks the line that makes that call."""
    spelled = {"recvfrom": "recvfrom(", "select": "select.select(", "poll": ".poll()",
               "epoll_wait": "ep.poll()", "epoll_create": "select.epoll()",
               "epoll_ctl": "register(", "sigaction": "signal.signal(",
               "fcntl F_SETOWN": "F_SETOWN", "fcntl O_ASYNC": "O_ASYNC",
               "aio_read": "aio_read(", "aio_return": "aio_return(", "process": "process(",
               "work": "own_work()", "handler": "def on_", "return": "return"}
    uring = {"aio_read": "ring.recv(", "aio_return": "ring.pop()", "handler": "ring.ready()"}
    for model in PROGRAMS:
        prog = program(model)
        assert prog is not None
        for key, line in prog.keys.items():
            said = uring.get(key, spelled[key]) if model == "uring" else spelled[key]
            assert said in prog.lines[line], (model, key, prog.lines[line])


def test_programs_do_what_the_servers_do() -> None:
    """One process() per message a read completed (TCP framing), aio's end-of-file branch,
    sigio's bound of 16 reads a socket and pass (the real server's MAX_DRAIN, the simulator's
    too), and no "datagram" in a program that TCP runs too."""
    from iosim.real.servers import MAX_DRAIN
    from iosim.sim.models import MAX_DRAIN as SIM_DRAIN

    for model in PROGRAMS:
        prog = program(model)
        assert prog is not None
        text = "\n".join(prog.lines)
        assert "for message in messages(" in text and "process(message)" in text, model
        assert "datagram" not in text, model  # TCP runs show it too
    assert f"range({MAX_DRAIN})" in "\n".join(program("sigio").lines) and SIM_DRAIN == MAX_DRAIN
    for model in ("aio", "uring"):
        assert "if n == 0:" in "\n".join(program(model).lines)


def test_a_program_reads_into_the_runs_buffer() -> None:
    run = next(run for name, run in builtin_runs() if name == "big-copy"
               and run.model == "blocking")
    prog = program_for(run)
    assert prog is not None
    assert "recvfrom(8388608)" in prog.lines[prog.keys["recvfrom"]]
    assert "65536" in program("blocking").lines[prog.keys["recvfrom"]]


def test_no_program_for_what_iosim_did_not_write() -> None:
    assert program("asyncio") is None
    assert program("my_server.py") is None
    assert program("../scenarios/one-datagram") is None
    run = next(run for name, run in builtin_runs() if run.model == "select"
               and name == "one-datagram")
    assert program_for(run) == program("select")
    assert program_for(traced_like(run)) is None
    real_aio = next(run for name, run in builtin_runs() if run.model == "aio"
                    and name == "one-datagram")
    real_aio = copy.copy(real_aio)
    real_aio.source = "real"
    assert program_for(real_aio) == program("uring")


def test_markers_parse() -> None:
    prog = parse("x", "a = 1  #@ recvfrom\n\nb = 2  #@ fcntl F_SETOWN, fcntl O_ASYNC\n\n")
    assert prog.lines == ["a = 1", "", "b = 2"]
    assert prog.keys == {"recvfrom": 0, "fcntl F_SETOWN": 2, "fcntl O_ASYNC": 2}
    with pytest.raises(ValueError, match="recvfrom"):
        parse("x", "a  #@ recvfrom\nb  #@ recvfrom\n")
