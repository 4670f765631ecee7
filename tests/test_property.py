"""Bad input never crashes, hangs or eats the machine (hypothesis).

Mutated built-in scenarios (type changes, NaN/inf, huge and negative numbers, deep nesting, keys
removed) and mutated saved traces (bit flips in the base64 columns, columns swapped, resized or
given NaN/inf, fields of the wrong type, deep nesting, files cut short) go through every
command that reads them. Each example's commands run one after another in a forked child
under a memory limit (RLIMIT_AS) and a deadline: every command must exit 0 or 2 with no
traceback, and the child must finish in time within its memory.

Forking a process that has already imported iosim and pygame costs a few milliseconds, where
a fresh interpreter costs half a second, so the examples stay many and the test stays fast.
The examples are derandomized and bounded in number.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import math
import os
import resource
import select
import signal
import struct
import tomllib
import traceback
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iosim import scenario
from iosim import trace as trace_mod
from iosim.cli import main
from iosim.sim.run import simulate

DEADLINE_S = 60.0  # per example: every command of it together (a loaded machine is slow)
MEMORY_HEADROOM = 1536 * 1024 * 1024  # address space a child may add to what it inherits
FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])

# Values a mutation puts in place of another: type changes, non-finite, huge, negative.
BAD_NUMBERS = [math.nan, math.inf, -math.inf, 2**63, 2**64 + 1, 10**30, 10**400, 1e300, -1,
               -1e300, -(2**63), 3.6e9 + 1, 1e12]
OTHER_TYPES = ["", "x" * 300, "\u00e9\u202e", True, [], [1, 2], {}, {"a": 1}, 0, 0.5, 7]
DEPTHS = [3, 40, 300, 600, 3000]


# -- running commands under limits ------------------------------------------------------------


def _memory_limit() -> int:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE") + MEMORY_HEADROOM


def run_limited(argvs: list[list[str]], cwd: Path) -> list[tuple[int, str]]:
    """(exit status, stderr) of each command, run in turn in a forked child with RLIMIT_AS and
    a deadline; the child is killed (and the test fails) when it does not finish in time."""
    result = cwd / "results.json"
    limit = _memory_limit()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 70
        try:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            os.chdir(cwd)
            result.write_text(json.dumps([_run_one(argv) for argv in argvs]))
            status = 0
        finally:
            os._exit(status)
    pidfd = os.pidfd_open(pid)
    ready: list[int] = []
    try:
        ready, _, _ = select.select([pidfd], [], [], DEADLINE_S)
    finally:
        if not ready:  # late, or the test was interrupted: the child is stopped here
            os.kill(pid, signal.SIGKILL)
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
    assert ready, f"hang: {argvs} did not finish within {DEADLINE_S} s"
    assert os.waitstatus_to_exitcode(status) == 0, f"the child died ({status}) on {argvs}"
    return [tuple(r) for r in json.loads(result.read_text())]


def _run_one(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException:  # what the test looks for: a traceback
            traceback.print_exc(file=err)
            code = 1
    return code, err.getvalue()


def assert_clean(argvs: list[list[str]], results: list[tuple[int, str]], what: str) -> None:
    for argv, (code, err) in zip(argvs, results, strict=True):
        assert "Traceback" not in err, f"{what}: {argv}\n{err}"
        assert code in (0, 2), f"{what}: {argv} exited {code}\n{err}"
        if code == 2:
            assert len(err.strip().splitlines()) == 1, f"{what}: {argv}: not one line\n{err}"


# -- scenarios ------------------------------------------------------------------------------


def _toml(value: Any) -> str:
    """Any value as TOML (inline tables and arrays), NaN and inf included."""
    if isinstance(value, Deep):
        return "[" * value.depth + _toml(value.inner) + "]" * value.depth
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if value != value else ("inf" if value > 0 else "-inf") \
            if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value) if abs(value) < 10**4000 else "1" + "0" * 4400
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


class Deep:
    """A value wrapped in ``depth`` arrays, written as text (no recursion needed to write it)."""

    def __init__(self, inner: Any, depth: int) -> None:
        self.inner, self.depth = inner, depth


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    items = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else ()
    for key, child in items:
        out += _paths(child, (*prefix, key))
    return out


BUILTIN = {name: tomllib.loads(scenario.resolve(name).read_text())
           for name in scenario.builtin_names()}
PATHS = {name: _paths(data) for name, data in BUILTIN.items()}


def _set(data: Any, path: tuple, value: Any) -> Any:
    """A copy of ``data`` with ``path`` replaced by ``value`` (removed when value is DROP);
    ``data`` itself where an earlier mutation took the path away."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if not isinstance(data, dict | list) or isinstance(data, dict) != isinstance(head, str) \
            or (isinstance(data, list) and head >= len(data)) or \
            (isinstance(data, dict) and head not in data):
        return data
    copy = dict(data) if isinstance(data, dict) else list(data)
    if rest or value is not DROP:
        copy[head] = _set(data[head], rest, value)
    else:
        del copy[head]
    return copy


DROP = object()
bad_values = st.sampled_from(BAD_NUMBERS) | st.sampled_from(OTHER_TYPES)


@st.composite
def mutated_scenarios(draw: st.DrawFn, refused_only: bool = False) -> str:
    name = draw(st.sampled_from(sorted(BUILTIN)))
    data = BUILTIN[name]
    for _ in range(draw(st.integers(1, 2))):
        path = draw(st.sampled_from(PATHS[name]))
        kind = draw(st.sampled_from(["value", "deep"] if refused_only else
                                    ["value", "value", "deep", "drop"]))
        if kind == "value":
            pool = BAD_NUMBERS if refused_only else None
            value = draw(st.sampled_from(pool) if pool else bad_values)
        elif kind == "deep":
            value = Deep(draw(st.sampled_from([1, "x", math.nan])), draw(st.sampled_from(DEPTHS)))
        else:
            value = DROP
        data = _set(data, path, value)
    return "\n".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in data.items()) + "\n"


@settings(FUZZ, max_examples=35)
@given(text=mutated_scenarios())
def test_mutated_scenarios_exit_0_or_2(text: str, tmp_path_factory: pytest.TempPathFactory
                                       ) -> None:
    """sim, its saved trace through summary, export, render and quiz: exit 0 or 2, one line,
    no traceback, within time and memory. A trace the simulator writes always loads."""
    cwd = tmp_path_factory.mktemp("scenario")
    (cwd / "s.toml").write_text(text)
    argvs = [["sim", "s.toml", "-o", "t.json"], ["summary", "t.json"],
             ["export", "s.toml", "--chrome", "c.json", "--csv", "c.csv"],
             ["render", "s.toml", "-o", "f.png", "--size", "160x120"],
             ["quiz", "s.toml", "--json", "-c"]]
    results = run_limited(argvs, cwd)
    assert_clean(argvs, results, text[:2000])
    if results[0][0] == 0:
        assert results[1][0] == 0, results[1][1]


@settings(FUZZ, max_examples=6)
@given(text=mutated_scenarios(refused_only=True))
def test_capture_refuses_bad_scenarios_before_starting(
        text: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """NaN, inf, huge and negative numbers and deep nesting are refused by every command that
    loads a scenario, capture included, before any server starts."""
    cwd = tmp_path_factory.mktemp("capture")
    (cwd / "s.toml").write_text(text)
    argvs = [["capture", "s.toml", "-m", "select"], ["sim", "s.toml"]]
    results = run_limited(argvs, cwd)
    assert_clean(argvs, results, text[:2000])
    assert [code for code, _ in results] == [2, 2], results


# -- traces ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_traces() -> dict[str, dict[str, Any]]:
    out = {}
    for name in ("one-datagram", "many-clients"):
        trace = simulate(scenario.load(name))
        out[name] = trace_mod.trace_to_json(trace)
    return out


COLUMN_FIELDS = ("events", "messages")
RUN_FIELDS = ("model", "source", "error", "work_us", "sim_events", "meta", "lanes", "labels",
              "code", "events", "messages")
TOP_FIELDS = ("format", "version", "scenario", "title", "protocol", "runs")


def _columns(run: dict[str, Any]) -> list[tuple[str, str]]:
    return [(part, name) for part in COLUMN_FIELDS for name in run[part]]


def _flip_bits(column: dict[str, Any], positions: list[int]) -> None:
    raw = bytearray(base64.b64decode(column["b64"]))
    for p in positions:
        if raw:
            raw[p % len(raw)] ^= 1 << (p % 8)
    column["b64"] = base64.b64encode(bytes(raw)).decode()


def _put_float(column: dict[str, Any], index: int, value: float) -> None:
    raw = bytearray(base64.b64decode(column["b64"]))
    if column["type"] == "d" and raw:
        at = (index % (len(raw) // 8)) * 8
        raw[at:at + 8] = struct.pack("<d", value)
        column["b64"] = base64.b64encode(bytes(raw)).decode()


def _resize(column: dict[str, Any], delta: int) -> None:
    raw = base64.b64decode(column["b64"])
    size = column["size"]
    raw = raw[:max(0, len(raw) + delta * size)] if delta < 0 else raw + raw[-size:] * delta
    column["b64"] = base64.b64encode(raw).decode()
    column["n"] = len(raw) // size


@st.composite
def mutated_traces(draw: st.DrawFn, saved: dict[str, dict[str, Any]]) -> str:
    data = json.loads(json.dumps(saved[draw(st.sampled_from(sorted(saved)))]))
    runs = data["runs"]
    deep = None
    for _ in range(draw(st.integers(1, 3))):
        run = runs[draw(st.integers(0, len(runs) - 1))]
        kind = draw(st.sampled_from(["flip", "flip", "float", "swap", "resize", "shuffle",
                                     "field", "run field", "deep", "cut"]))
        with contextlib.suppress(TypeError, KeyError, IndexError, AttributeError):
            deep = _mutate(draw, data, run, kind) or deep
    text = json.dumps(data)
    if deep:
        text = text.replace('"@DEEP@"', "[" * deep + "]" * deep, 1)
    cut = data.get("cut")
    return text[: cut % len(text)] if isinstance(cut, int) and cut > 0 else text


def _mutate(draw: st.DrawFn, data: dict[str, Any], run: dict[str, Any], kind: str) -> int | None:
    """One mutation of ``kind`` in place; the depth of a deep nesting to write, if any. An
    earlier mutation may have taken away what this one changes (the caller skips it then)."""
    if kind == "field":
        data[draw(st.sampled_from(TOP_FIELDS))] = draw(bad_values)
    elif kind == "run field":
        key = draw(st.sampled_from(RUN_FIELDS + ("lanes.0", "labels.0", "meta.end_us")))
        field, _, sub = key.partition(".")
        if sub:
            target = run[field]
            target[int(sub) if isinstance(target, list) else sub] = draw(bad_values)
        else:
            run[field] = draw(bad_values)
    elif kind == "deep":
        run["meta"]["deep"] = "@DEEP@"
        return draw(st.sampled_from(DEPTHS))
    elif kind == "cut":
        data["cut"] = draw(st.integers(0, 10**6))
    else:
        _mutate_column(draw, run, kind)
    return None


def _mutate_column(draw: st.DrawFn, run: dict[str, Any], kind: str) -> None:
    part, name = draw(st.sampled_from(_columns(run)))
    column = run[part][name]
    if kind == "flip":
        _flip_bits(column, draw(st.lists(st.integers(0, 10**6), min_size=1, max_size=4)))
    elif kind == "float":
        _put_float(column, draw(st.integers(0, 10**6)),
                   draw(st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -1e300, -1.0,
                                         1e18 + 1e3])))
    elif kind == "swap":
        other = draw(st.sampled_from(list(run[part])))
        run[part][name], run[part][other] = run[part][other], column
    elif kind == "resize":
        _resize(column, draw(st.sampled_from([-5, -1, 1, 3])))
    else:  # shuffle: two rows swapped in every column of the part, the order broken
        i, j = draw(st.integers(0, 10**6)), draw(st.integers(0, 10**6))
        for col in run[part].values():
            raw = bytearray(base64.b64decode(col["b64"]))
            size = col["size"]
            rows = len(raw) // size
            if rows:
                a, b = (i % rows) * size, (j % rows) * size
                raw[a:a + size], raw[b:b + size] = raw[b:b + size], raw[a:a + size]
                col["b64"] = base64.b64encode(bytes(raw)).decode()


@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_mutated_traces_exit_0_or_2(data: st.DataObject, saved_traces: dict[str, Any],
                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    """summary (table, CSV), export (Chrome, CSV) and render (a view and an axis drawn by
    hypothesis): exit 0 or 2, one line, no traceback, within time and memory."""
    text = data.draw(mutated_traces(saved_traces))
    view = data.draw(st.sampled_from(["all", "compare", "1", "3"]))
    axis = data.draw(st.sampled_from(["schematic", "scale"]))
    cwd = tmp_path_factory.mktemp("trace")
    (cwd / "t.json").write_text(text)
    argvs = [["summary", "t.json"], ["summary", "t.json", "--csv"],
             ["export", "t.json", "--chrome", "c.json", "--csv", "c.csv"],
             ["render", "t.json", "-o", "f.png", "--size", "160x120", "--view", view,
              "--axis", axis]]
    results = run_limited(argvs, cwd)
    assert_clean(argvs, results, text[:300])
    codes = {code for code, _ in results[:3]}
    assert len(codes) == 1, results  # one loader: the trace is accepted by all or by none
