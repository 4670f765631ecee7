"""A traced program's own source in the code pane: which line is lit when (the latest call of
the lane's thread, or the call it is in at t = 0), the window of lines shown around it, the
one line that says why there is no source, and the lit row drawn in the rendered pane."""

from __future__ import annotations

from array import array
from pathlib import Path

import pygame

from iosim import cli
from iosim import trace as trace_mod
from iosim.teach.source import NO_SOURCE, traced_about, traced_source
from iosim.trace import Kind, Lane, RunRecorder, Trace, TraceError, encode_column
from iosim.view.draw_code import LIT

LINES = [f"line {n}" for n in range(60)]


def traced_run(calls: list[tuple[float, str, int]], at_zero: list[list[int]] | None = None
               ) -> trace_mod.Run:
    """A traced run whose lane 0 makes ``calls`` (time, name, source line) and waits in
    select from before t = 0 until the first."""
    rec = RunRecorder("server 9090", "traced", [Lane("application", "app")])
    rec.span(Kind.BLOCKED, 0, 0.0, calls[0][0], "process blocks in call to select", line="select")
    for t, name, _ in calls:
        rec.instant(Kind.SYSCALL, 0, t, name, line=name)
        rec.span(Kind.IN_KERNEL, 0, t, t + 5.0, name, line=name)
    run = rec.finish(calls[-1][0] + 10.0)
    run.meta["model_guess"] = {"model": "select", "threads": 1, "processes": 1,
                               "evidence": "7 of 7 reads came after a select"}
    run.meta["source"] = {"path": "/src/server.c", "language": "c", "lines": LINES,
                          "calls": encode_column(array("i", [line for _, _, line in calls])),
                          "at_zero": at_zero or []}
    return run


def test_the_latest_call_of_the_lane_is_lit_and_the_call_at_zero_before_it() -> None:
    run = traced_run([(100.0, "read", 40), (200.0, "write", 41), (300.0, "close", -1)],
                     at_zero=[[0, 38]])
    cache: dict = {}
    assert traced_source(cache, run, 50.0, 0, 20)[1] == 38  # in select since before t = 0
    assert traced_source(cache, run, 100.0, 0, 20)[1] == 40
    assert traced_source(cache, run, 250.0, 0, 20)[1] == 41
    assert traced_source(cache, run, 305.0, 0, 20)[1] is None  # a call of no line of its own
    program, lit = traced_source(cache, run, 150.0, 0, 20)
    shown = [n for n, text in enumerate(program.lines) if text]
    assert lit in shown and len(shown) == 20 and program.lines[lit] == "line 40"


def test_a_run_without_a_source_says_why_and_other_runs_have_none() -> None:
    run = traced_run([(100.0, "read", 1)])
    run.meta["source"] = {"why": "a Node.js program: libuv's event loop makes its calls"}
    assert traced_source({}, run, 100.0, 0, 20) == NO_SOURCE.format(
        why="a Node.js program: libuv's event loop makes its calls")
    run.source = "sim"
    assert traced_source({}, run, 100.0, 0, 20) is None and traced_about(run) is None


def test_the_loader_checks_the_source_and_the_model(tmp_path: Path) -> None:
    run = traced_run([(100.0, "read", 40), (200.0, "write", 41)])
    path = tmp_path / "t.json"
    trace_mod.save(Trace("trace", "t", "tcp", [run]), path)
    assert trace_mod.load(path).runs[0].meta["model_guess"]["model"] == "select"
    for bad, says in (({"calls": encode_column(array("i", [40]))}, "1 lines for 2"),
                      ({"calls": encode_column(array("i", [40, 99]))}, "out of range"),
                      ({"at_zero": [[5, 1]]}, "at_zero")):
        broken = traced_run([(100.0, "read", 40), (200.0, "write", 41)])
        broken.meta["source"].update(bad)
        trace_mod.save(Trace("trace", "t", "tcp", [broken]), path)
        try:
            trace_mod.load(path)
        except TraceError as exc:
            assert says in str(exc)
        else:
            raise AssertionError(f"{bad} was accepted")
    broken = traced_run([(100.0, "read", 40)])
    broken.meta["model_guess"]["model"] = "magic"
    trace_mod.save(Trace("trace", "t", "tcp", [broken]), path)
    try:
        trace_mod.load(path)
    except TraceError as exc:
        assert "model_guess: model: must be one of blocking" in str(exc)
    else:
        raise AssertionError("an unknown model was accepted")


def test_the_pane_draws_the_lit_line(tmp_path: Path) -> None:
    """The rendered one-run view at 0.15 ms: the row of line 41 (the read's) in the lit
    colour in the code pane, the model's sentence there too."""
    run = traced_run([(100.0, "read", 40), (200.0, "write", 41)])
    path = tmp_path / "t.json"
    trace_mod.save(Trace("trace", "t", "tcp", [run]), path)
    frame = tmp_path / "f.png"
    assert cli.main(["render", str(path), "--view", "1", "--at", "0.15", "--size",
                     "1280x720", "-o", str(frame)]) == 0
    image = pygame.image.load(str(frame))
    pane = [image.get_at((x, y))[:3] for x in range(800, 1270, 7) for y in range(40, 600, 3)]
    assert LIT in pane
