"""The trace loader checks everything before anything uses it, in bounded memory; the
exporters' loops end whatever the data."""

from __future__ import annotations

import base64
import json
import os
import struct
import time
from array import array
from pathlib import Path
from typing import Any

import pytest

from iosim import scenario
from iosim import trace as trace_mod
from iosim.export.chrome import _duration, chrome_trace
from iosim.sim.run import simulate
from iosim.trace import Kind, Lane, Run, RunRecorder, Trace, TraceError


@pytest.fixture(scope="module")
def saved() -> dict[str, Any]:
    return trace_mod.trace_to_json(simulate(scenario.load("many-clients")))


def _column(values: list[Any], typecode: str) -> dict[str, Any]:
    return trace_mod._encode(array(typecode, values))


def _values(column: dict[str, Any]) -> list[Any]:
    col = array(column["type"])
    col.frombytes(base64.b64decode(column["b64"]))
    return col.tolist()


def _load(data: dict[str, Any] | str, tmp_path: Path) -> Trace:
    path = tmp_path / "t.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return trace_mod.load(path)


def _with(saved: dict[str, Any], part: str, name: str, index: int, value: Any
          ) -> dict[str, Any]:
    """The saved trace with one value of one column of run 2 (nonblocking) replaced."""
    data = json.loads(json.dumps(saved))
    column = data["runs"][2][part][name]
    values = _values(column)
    values[index] = value
    data["runs"][2][part][name] = _column(values, column["type"])
    return data


COLUMN_CASES = {  # (part, column, index, value): the words of the refusal
    ("events", "kind", 5, 99): "events.kind: 99 is not a kind",
    ("events", "kind", 5, 15): "events.kind: 15 is not a kind",
    ("events", "lane", 3, 50): "events.lane: 50 is out of range (0..",
    ("events", "lane", 3, -1): "events.lane: -1 is out of range",
    ("events", "label", 0, 10**6): "events.label: 1000000 is out of range",
    ("events", "line", 0, -2): "events.line: -2 is out of range",
    ("events", "conn", 0, -7): "events.conn: -7 is out of range (>= -1)",
    ("events", "msg", 0, 99): "events.msg: 99 is out of range (-1..6)",
    ("events", "t0", 9, float("nan")): "events.t0: nan is not a finite time",
    ("events", "t1", 9, float("inf")): "events.t1: inf is not a finite time",
    ("events", "t1", -1, 1e19): "events.t1: 1e+19 µs is beyond",
    ("events", "t0", 1, 5e4): "events are not sorted by start time",
    ("events", "t1", 20, -5.0): "a span ends before it starts",
    ("events", "t1", 0, 1e5): "an instant ends at another time than it starts",
    ("messages", "m_conn", 0, -1): "messages.m_conn: -1 is out of range (>= 0)",
    ("messages", "m_bytes", 0, -1): "messages.m_bytes: -1 is out of range",
    ("messages", "m_ready", 0, float("-inf")): "messages.m_ready: -inf is not a finite time",
    ("messages", "m_done", 0, 1e300): "messages.m_done: 1e+300 µs is beyond",
    ("messages", "m_flags", 0, 2): "messages.m_flags: unknown flags 2",
}


@pytest.mark.parametrize("case", sorted(COLUMN_CASES, key=str))
def test_column_values_out_of_range_are_refused(case: tuple, saved: dict[str, Any],
                                                tmp_path: Path) -> None:
    with pytest.raises(TraceError) as exc:
        _load(_with(saved, *case), tmp_path)
    message = str(exc.value)
    assert COLUMN_CASES[case] in message and ": run 2: " in message
    assert len(message.splitlines()) == 1


def test_a_time_that_never_happened_is_fine_in_messages(saved: dict[str, Any],
                                                        tmp_path: Path) -> None:
    trace = _load(_with(saved, "messages", "m_done", 0, float("nan")), tmp_path)
    assert trace.runs[2].message(0)["done_us"] is None


FIELD_CASES = [  # (field of run 0, or "top." and a field of the file; value; the refusal)
    ("source", "made-up", "source: must be one of sim, real, traced"),
    ("model", 5, "model: must be a JSON string, not 5"),
    ("model", "a\u0000b", "model: holds a NUL"),
    ("labels", ["ok", "\ud800"], "labels[1]: holds a NUL or an unpaired surrogate"),
    ("labels", ["x" * 5000], "labels[0]: longer than 4096 characters"),
    ("error", 5, "error: must be a JSON string"),
    ("work_us", -1, "work_us: must not be negative"),
    ("work_us", "@1e999@", "work_us: must be a finite number"),
    ("sim_events", True, "sim_events: must be an integer, not true"),
    ("meta", [], "meta: must be a JSON object"),
    ("meta", {"end_us": "soon"}, "meta: end_us: must be a JSON number"),
    ("meta", {"end_us": "@1e999@"}, "meta: end_us: must be a finite number"),
    ("lanes", [], "lanes: a run has 1 to 250,000 lanes, not 0"),
    ("lanes", [["application", "cpu", -1]], "lanes[0]: role: must be one of app, thread"),
    ("lanes", [["application", "app"]], "lanes[0]: must be [name, role, conn]"),
    ("lanes", [["application", "app", -2]], "lanes[0]: conn: must be a connection number"),
    ("events", "columns", "events: must be a JSON object"),
    ("top.version", True, "trace version true"),
    ("top.runs", {}, "runs: must be a JSON array"),
    ("top.scenario", None, "scenario: must be a JSON string"),
]


@pytest.mark.parametrize(("field", "value", "words"), FIELD_CASES,
                         ids=[f"{f}={str(v)[:20]}" for f, v, _ in FIELD_CASES])
def test_fields_of_the_wrong_type_are_refused(field: str, value: Any, words: str,
                                              saved: dict[str, Any], tmp_path: Path) -> None:
    data = json.loads(json.dumps(saved))
    if field.startswith("top."):
        data[field[4:]] = value
    else:
        data["runs"][0][field] = value
    text = json.dumps(data).replace('"@1e999@"', "1e999")  # JSON reads it as inf
    with pytest.raises(TraceError) as exc:
        _load(text, tmp_path)
    assert words in str(exc.value)


def test_meta_may_not_nest_deeper_than_sixteen(saved: dict[str, Any], tmp_path: Path) -> None:
    data = json.loads(json.dumps(saved))
    deep: list[Any] = []
    for _ in range(20):
        deep = [deep]
    data["runs"][0]["meta"]["x"] = deep
    with pytest.raises(TraceError, match="meta: nested deeper than 16"):
        _load(data, tmp_path)


def test_json_nested_far_too_deep_or_too_many_values(saved: dict[str, Any],
                                                     tmp_path: Path) -> None:
    text = json.dumps(saved)
    deep = text.replace('"meta": {', '"meta": {"x": ' + "[" * 100_000 + "]" * 100_000 + ", ", 1)
    with pytest.raises(TraceError, match="nested too deeply"):
        _load(deep, tmp_path)
    many = text.replace('"meta": {', '"meta": {"x": [' + "0," * 4_000_000 + "0], ", 1)
    with pytest.raises(TraceError, match="more than 4,000,000 JSON values"):
        _load(many, tmp_path)
    with pytest.raises(TraceError, match="NaN is not a JSON number"):
        _load(text.replace('"work_us": 1000.0', '"work_us": NaN', 1).replace(
            '"work_us": 200.0', '"work_us": NaN', 1), tmp_path)


def test_files_that_are_no_trace_are_refused_without_reading_them(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="not a regular file"):
        trace_mod.load("/dev/zero")
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(TraceError, match="not a regular file"):
        trace_mod.load(fifo)
    assert not trace_mod.looks_like_trace(fifo)
    (tmp_path / "bin.json").write_bytes(b"{\xff\xfe}")
    with pytest.raises(TraceError, match="not UTF-8"):
        trace_mod.load(tmp_path / "bin.json")


def test_the_file_size_is_checked_before_reading(monkeypatch: pytest.MonkeyPatch,
                                                 saved: dict[str, Any], tmp_path: Path) -> None:
    monkeypatch.setattr(trace_mod, "MAX_FILE_BYTES", 1000)
    with pytest.raises(TraceError, match="a trace file is at most 1,000 bytes"):
        _load(saved, tmp_path)


def _overlapping_run(spans: int) -> Run:
    """One kernel lane where ``spans`` messages are queued at once (all overlap)."""
    rec = RunRecorder("epoll", "sim", [Lane("application", "app"), Lane("kernel conn 0",
                                                                        "kernel", 0)])
    for k in range(spans):
        rec.span(Kind.QUEUED, 1, float(k) * 1e-4, 1000.0 + k, "data queued", 0, -1)
    return rec.finish(2000.0 + spans)


def test_chrome_export_of_many_overlapping_spans_is_fast_and_never_overlaps() -> None:
    """Each span goes to the first thread free when it starts, found in O(log threads): 5000
    spans that all overlap make 5000 threads, not 12.5 million comparisons."""
    run = _overlapping_run(5000)
    start = time.process_time()
    events = chrome_trace(Trace("x", "x", "tcp", [run]))["traceEvents"]
    assert time.process_time() - start < 5.0  # a bound for a hang, not a benchmark
    slices: dict[int, list[tuple[float, float]]] = {}
    for e in events:
        if e["ph"] == "X":
            slices.setdefault(e["tid"], []).append((e["ts"], e["ts"] + e["dur"]))
    assert len(slices) == 5000
    for spans in slices.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))


@pytest.mark.parametrize("ts", [20000.001, 1e6 + 0.123, 1e12 + 0.5, 4e17, 1e18])
def test_chrome_durations_end_by_bisection_far_from_zero(ts: float) -> None:
    """Where ts + the rounded duration overshoots the end by one ulp of ts, stepping the
    duration down by its own ulp took up to 10^14 steps; the bisection takes a few dozen."""
    for gap in (0.0, 0.001, 0.0014, 0.5, 1234.5678):
        end = ts + gap
        dur = _duration(ts, end)
        assert dur >= 0.0 and ts + dur <= end
        assert end - (ts + dur) <= max(0.001, 2 * (end - ts) * 2**-50 + 2 * (ts * 2**-52))


def test_an_accepted_version_1_file_and_an_empty_run_load(tmp_path: Path) -> None:
    empty = RunRecorder("blocking", "real", [Lane("application", "app")]).finish(0.0)
    path = tmp_path / "e.json"
    trace_mod.save(Trace("s", "t", "udp", [empty]), path)
    assert len(trace_mod.load(path).runs[0]) == 0
    raw = struct.pack("<d", 1.0)  # a column of the wrong byte count is damaged, not a crash
    data = json.loads(path.read_text())
    data["runs"][0]["events"]["t0"] = {"type": "d", "size": 8, "n": 1,
                                       "b64": base64.b64encode(raw[:5]).decode()}
    with pytest.raises(TraceError, match="damaged column data"):
        _load(data, tmp_path)


def test_render_on_the_scale_axis_of_runs_that_end_at_once(tmp_path: Path) -> None:
    """select refusing a descriptor >= FD_SETSIZE ends its run at t = 0: a valid scenario."""
    from iosim.cli import main

    path = tmp_path / "s.toml"
    path.write_text('models = ["select"]\nidle_connections = 2000\n'
                    '[[connections]]\nsends = [[1.0, 10]]\n')
    assert main(["render", str(path), "-o", str(tmp_path / "f.png"), "--axis", "scale"]) == 0
    assert main(["render", str(path), "-o", str(tmp_path / "f.gif"), "--axis", "scale",
                 "--size", "320x200"]) == 0
