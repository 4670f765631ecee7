"""Chrome trace export: every built-in scenario, simulated and exported, follows the rules that
Perfetto and chrome://tracing rely on, and nothing of the trace is lost on the way."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from iosim import scenario
from iosim import trace as trace_mod
from iosim.cli import main
from iosim.export.chrome import chrome_trace
from iosim.sim.run import simulate
from iosim.trace import Kind, Lane, RunRecorder, Trace


def check_chrome_rules(doc: dict[str, Any]) -> None:
    """The rules of the issue, checked on the exported JSON object."""
    assert isinstance(doc["traceEvents"], list)
    assert doc["displayTimeUnit"] in ("ms", "ns")
    events = doc["traceEvents"]
    process_names = {e["pid"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    thread_names = {(e["pid"], e["tid"]) for e in events
                    if e["ph"] == "M" and e["name"] == "thread_name"}
    slices: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
    starts: dict[int, dict[str, Any]] = {}
    finishes: dict[int, dict[str, Any]] = {}
    for e in events:
        assert e["pid"] in process_names, e
        if e["ph"] == "M":
            continue
        assert (e["pid"], e["tid"]) in thread_names, e
        assert isinstance(e["ts"], int | float) and e["ts"] >= 0, e
        if e["ph"] == "X":
            assert e["dur"] >= 0, e
            slices[e["pid"], e["tid"]].append((e["ts"], e["dur"]))
        elif e["ph"] == "i":
            assert e["s"] == "t"
        elif e["ph"] == "s":
            assert e["id"] not in starts
            starts[e["id"]] = e
        elif e["ph"] == "f":
            assert e["id"] not in finishes
            finishes[e["id"]] = e
        else:
            pytest.fail(f"unexpected phase {e['ph']!r}")
    for thread, spans in slices.items():
        spans.sort()
        for (ts, dur), (next_ts, _) in pairwise(spans):
            assert next_ts >= ts + dur, f"overlap on {thread} at {next_ts}"
    assert starts.keys() == finishes.keys()
    for flow_id, start in starts.items():
        finish = finishes[flow_id]
        assert (finish["name"], finish["cat"], finish["pid"]) == \
            (start["name"], start["cat"], start["pid"])
        assert finish["ts"] >= start["ts"]


def check_nothing_lost(doc: dict[str, Any], trace: Trace) -> None:
    """Every span is a slice, every instant an instant event, every system call a flow."""
    events = doc["traceEvents"]
    for pid, run in enumerate(trace.runs, start=1):
        ours = [e for e in events if e["pid"] == pid]
        kinds = Counter(Kind(k) for k in run.kind)
        spans = sum(n for k, n in kinds.items() if k.is_span)
        assert sum(e["ph"] == "X" for e in ours) == spans
        assert sum(e["ph"] == "i" for e in ours) == len(run) - spans
        assert sum(e["ph"] == "s" for e in ours) == kinds[Kind.SYSCALL]
        name = next(e for e in ours if e["ph"] == "M" and e["name"] == "process_name")
        assert name["args"]["name"] == f"{run.model} ({run.source})"
        for kind in (Kind.EWOULDBLOCK, Kind.READABLE, Kind.SIGNAL, Kind.COMPLETE):
            assert sum(e["ph"] == "i" and e["cat"] == kind.name.lower()
                       for e in ours) == kinds[kind]


@pytest.mark.parametrize("name", scenario.builtin_names())
def test_every_builtin_scenario_exports_by_the_rules(name: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    trace = simulate(scenario.load(name))
    saved = tmp_path / "t.json"
    trace_mod.save(trace, saved)
    out = tmp_path / "chrome.json"
    assert main(["export", str(saved), "--chrome", str(out)]) == 0
    assert "perfetto" in capsys.readouterr().err
    doc = json.loads(out.read_text(encoding="utf-8"))
    check_chrome_rules(doc)
    check_nothing_lost(doc, trace)
    assert doc["otherData"]["scenario"] == trace.scenario
    assert not list(tmp_path.glob("*.tmp"))


def test_signal_handler_and_queued_messages_get_threads_of_their_own() -> None:
    trace = simulate(scenario.load("burst"), ["sigio"])
    doc = chrome_trace(trace)
    names = {e["args"]["name"] for e in doc["traceEvents"] if e.get("name") == "thread_name"}
    assert "application: signal handler" in names
    assert any(n.startswith("kernel conn") and n.endswith("(2)") for n in names)
    handler_tids = {e["tid"] for e in doc["traceEvents"]
                    if e.get("name") == "thread_name" and "signal handler" in e["args"]["name"]}
    assert {e["tid"] for e in doc["traceEvents"] if e.get("cat") == "handler"} <= handler_tids


def _tiny_trace() -> Trace:
    rec = RunRecorder("blocking", "real", [Lane("application", "app"),
                                           Lane("kernel conn 0", "kernel", 0)])
    rec.instant(Kind.SYSCALL, 0, 0.0, "recvfrom", 0)
    rec.span(Kind.IN_KERNEL, 0, 0.0, 1.0, "recvfrom", 0)
    rec.span(Kind.BLOCKED, 0, 1.0, 30.0, "process blocks in call to recvfrom", 0)
    rec.span(Kind.WAIT, 1, 0.0, 10.0, "wait for data", 0, 0)
    rec.span(Kind.QUEUED, 1, 10.0, 25.0, "datagram ready", 0, 0)
    rec.span(Kind.QUEUED, 1, 12.0, 28.0, "datagram ready", 0, 1)  # overlaps the one above
    rec.span(Kind.COPY, 1, 25.0, 25.5, "copy datagram", 0, 0)
    rec.instant(Kind.RETURN, 0, 30.0, "return OK", 0)
    rec.instant(Kind.SYSCALL, 0, 40.0, "fcntl", 0)  # no return instant: returns at its end
    rec.span(Kind.IN_KERNEL, 0, 40.0, 42.5, "fcntl", 0)
    rec.span(Kind.PROCESS, 0, 42.5, 50.0, "process datagram", 0, 0)
    return Trace("tiny", "tiny", "udp", [rec.finish(50.0)])


def test_overlapping_spans_are_dealt_to_separate_threads_and_calls_to_their_returns() -> None:
    doc = chrome_trace(_tiny_trace())
    check_chrome_rules(doc)
    events = doc["traceEvents"]
    queued = [e for e in events if e.get("cat") == "queued"]
    assert len(queued) == 2 and queued[0]["tid"] != queued[1]["tid"]
    copy = next(e for e in events if e.get("cat") == "copy")
    assert copy["tid"] == queued[0]["tid"]  # the first thread is free again at 25 µs
    flows = {e["name"]: [] for e in events if e["ph"] in "sf"}
    for e in events:
        if e["ph"] in "sf":
            flows[e["name"]].append(e["ts"])
    assert flows == {"recvfrom": [0.0, 30.0], "fcntl": [40.0, 42.5]}


def test_a_scenario_is_simulated_then_exported(tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    assert main(["export", "one-datagram", "--model", "nonblocking", "--chrome", str(out)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    check_chrome_rules(doc)
    names = [e["args"]["name"] for e in doc["traceEvents"] if e.get("name") == "process_name"]
    assert names == ["nonblocking (sim)"]
    assert any(e["ph"] == "i" and e["cat"] == "ewouldblock" for e in doc["traceEvents"])


@pytest.mark.parametrize("args", [
    ["one-datagram"],  # nothing to write
    ["no-such-scenario", "--chrome", "x.json"],
    ["one-datagram", "--chrome", "/no/such/dir/x.json"],
])
def test_bad_export_input_is_one_line_and_exit_2(args: list[str], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("iosim: error:") and err.count("\n") == 1


def test_model_option_is_refused_for_a_saved_trace(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "t.json"
    trace_mod.save(_tiny_trace(), saved)
    assert main(["export", str(saved), "--model", "epoll", "--chrome",
                 str(tmp_path / "c.json")]) == 2
    assert "--model" in capsys.readouterr().err
    assert not (tmp_path / "c.json").exists()
