"""The trace file: a saved trace reads back identical; a foreign or broken file is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iosim import scenario
from iosim import trace as trace_mod
from iosim.sim.run import simulate
from iosim.summary import summarize
from iosim.trace import TraceError

COLUMNS = ("kind", "lane", "t0", "t1", "label", "conn", "msg", "line", "m_conn", "m_bytes",
           "m_sent", "m_ready", "m_copy_start", "m_copy_end", "m_done", "m_flags")


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[trace_mod.Trace, Path]:
    trace = simulate(scenario.load("many-clients"))
    path = tmp_path_factory.mktemp("t") / "many.trace.json"
    trace_mod.save(trace, path)
    return trace, path


def test_round_trip(saved: tuple[trace_mod.Trace, Path]) -> None:
    trace, path = saved
    back = trace_mod.load(path)
    assert (back.scenario, back.title, back.protocol) == \
        (trace.scenario, trace.title, trace.protocol)
    for a, b in zip(trace.runs, back.runs, strict=True):
        assert (a.model, a.source, a.error, a.lanes, a.labels, a.code, a.meta) == \
            (b.model, b.source, b.error, b.lanes, b.labels, b.code, b.meta)
        for col in COLUMNS:
            left, right = getattr(a, col).tolist(), getattr(b, col).tolist()
            assert [x if x == x else None for x in left] == \
                [x if x == x else None for x in right], col
    assert summarize(back) == summarize(trace)


def test_events_are_sorted_for_bisect(saved: tuple[trace_mod.Trace, Path]) -> None:
    for run in trace_mod.load(saved[1]).runs:
        assert list(run.t0) == sorted(run.t0)


def test_refuses_another_format(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"traceEvents": []}))
    with pytest.raises(TraceError, match="not an iosim trace"):
        trace_mod.load(path)


def test_refuses_another_version(saved: tuple[trace_mod.Trace, Path], tmp_path: Path) -> None:
    data = json.loads(saved[1].read_text())
    data["version"] = 99
    path = tmp_path / "v99.json"
    path.write_text(json.dumps(data))
    with pytest.raises(TraceError, match="version 99"):
        trace_mod.load(path)


def test_refuses_a_truncated_file(saved: tuple[trace_mod.Trace, Path], tmp_path: Path) -> None:
    text = saved[1].read_text()
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) // 2])
    with pytest.raises(TraceError, match="not a complete JSON trace"):
        trace_mod.load(path)


def test_refuses_columns_of_different_lengths(saved: tuple[trace_mod.Trace, Path],
                                              tmp_path: Path) -> None:
    data = json.loads(saved[1].read_text())
    run = trace_mod.load(saved[1]).runs[0]
    data["runs"][0]["events"]["t1"] = trace_mod._encode(run.t1[:-1])
    path = tmp_path / "short.json"
    path.write_text(json.dumps(data))
    with pytest.raises(TraceError, match="different lengths"):
        trace_mod.load(path)


def test_refuses_damaged_column_data(saved: tuple[trace_mod.Trace, Path],
                                     tmp_path: Path) -> None:
    data = json.loads(saved[1].read_text())
    column = data["runs"][0]["events"]["t0"]
    column["b64"] = column["b64"][:-8]
    path = tmp_path / "damaged.json"
    path.write_text(json.dumps(data))
    with pytest.raises(TraceError, match="events.t0"):
        trace_mod.load(path)


def test_a_version_1_file_reads_without_line_keys(saved: tuple[trace_mod.Trace, Path],
                                                  tmp_path: Path) -> None:
    """A trace written before line keys and message flags existed still loads: no event
    belongs to a line, no message is flagged, everything else is as saved."""
    data = json.loads(saved[1].read_text())
    data["version"] = 1
    for run in data["runs"]:
        del run["code"], run["events"]["line"], run["messages"]["m_flags"]
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(data))
    old = trace_mod.load(path)
    new = trace_mod.load(saved[1])
    for a, b in zip(old.runs, new.runs, strict=True):
        assert a.code == [] and set(a.line) == {-1} and len(a.line) == len(b.line)
        assert set(a.m_flags) <= {0} and len(a.m_flags) == len(b.m_flags)
        assert a.t0 == b.t0 and a.labels == b.labels
    assert summarize(old) == summarize(new)


def test_simulated_events_carry_their_program_line(saved: tuple[trace_mod.Trace, Path]
                                                   ) -> None:
    """Each application event names the line of its model's program; kernel events none."""
    for run in saved[0].runs:
        for i in range(len(run)):
            event = run.event(i)
            role = run.lanes[event.lane].role
            if role == "kernel":
                assert event.line == "", (run.model, event)
            elif event.kind == trace_mod.Kind.SYSCALL:
                assert event.line == event.label, (run.model, event)
        keys = {run.event(i).line for i in range(len(run))}
        assert "recvfrom" in keys and "process" in keys, run.model
