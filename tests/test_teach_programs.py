"""Each model's program: short, valid Python, and its marked lines are exactly the line keys
the simulator and the real servers write."""

from __future__ import annotations

from pathlib import Path

import pytest
from teachhelp import builtin_runs, traced_like

from iosim.scenario import SIM_MODELS
from iosim.teach.programs import Program, parse, program, program_for

CODE = Path(__file__).resolve().parent.parent / "iosim" / "assets" / "code"


@pytest.mark.parametrize("model", SIM_MODELS)
def test_program_is_short_valid_python(model: str) -> None:
    prog = program(model)
    assert isinstance(prog, Program) and prog.model == model
    assert 10 <= len(prog.lines) <= 25
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
    used = keys_used()[model]
    prog = program(model)
    assert prog is not None
    assert used == set(prog.keys), (used ^ set(prog.keys))


def test_marked_lines_say_what_the_key_names() -> None:
    """A call's key marks the line that makes that call."""
    spelled = {"recvfrom": "recvfrom(", "select": "select.select(", "poll": ".poll()",
               "epoll_wait": "ep.poll()", "epoll_create": "select.epoll()",
               "epoll_ctl": "register(", "sigaction": "signal.signal(",
               "fcntl F_SETOWN": "F_SETOWN", "fcntl O_ASYNC": "O_ASYNC",
               "aio_read": "aio_read(", "aio_return": "aio_return(", "process": "process(",
               "work": "own_work()", "handler": "def on_"}
    for model in SIM_MODELS:
        prog = program(model)
        assert prog is not None
        for key, line in prog.keys.items():
            assert spelled[key] in prog.lines[line], (model, key, prog.lines[line])


def test_no_program_for_what_iosim_did_not_write() -> None:
    assert program("asyncio") is None
    assert program("my_server.py") is None
    assert program("../scenarios/one-datagram") is None
    run = next(run for _, run in builtin_runs() if run.model == "select")
    assert program_for(run) == program("select")
    assert program_for(traced_like(run)) is None


def test_markers_parse() -> None:
    prog = parse("x", "a = 1  #@ recvfrom\n\nb = 2  #@ fcntl F_SETOWN, fcntl O_ASYNC\n\n")
    assert prog.lines == ["a = 1", "", "b = 2"]
    assert prog.keys == {"recvfrom": 0, "fcntl F_SETOWN": 2, "fcntl O_ASYNC": 2}
    with pytest.raises(ValueError, match="recvfrom"):
        parse("x", "a  #@ recvfrom\nb  #@ recvfrom\n")
