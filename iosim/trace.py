"""The Trace: the one seam between the sources of timelines (simulator, real servers) and
everything that reads them (view, summary, exporters).

A run's events are stored in columns (``array``) rather than one object per event, so that a
trace of a million events loads quickly, stays small in memory and can be searched with bisect
(events are sorted by start time).
Every event has a kind, a lane, a start and end time in µs (equal for instants), a label (an
index into the run's string table), the connection it concerns, the message it belongs to and
the line of the model's program it belongs to (an index into the run's table of line keys; -1
where none). The line keys are written by the source of the run (simulator, real server), so the
code pane lights a line from data, never from a guess of the view.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
import struct
import sys
from array import array
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from itertools import compress, islice
from operator import gt, itemgetter, lt, ne
from typing import Any

from iosim.checks import number_problem, show
from iosim.errors import UserError
from iosim.files import atomic_open, is_regular_file, read_small_bytes

FORMAT = "iosim-trace"
VERSION = 2
READS_VERSIONS = (1, 2)  # version 1 has no line keys and no message flags
SOURCES = ("sim", "real", "traced")
AXES = ("schematic", "scale")  # the window's time axis a trace opens on


class TraceError(UserError):
    """A trace file that cannot be read: wrong format, wrong version, truncated."""


class Kind(IntEnum):
    """What an event is. Spans first, then instants (``is_span`` tells them apart)."""

    WAIT = 0  # kernel: phase 1, wait for data
    COPY = 1  # kernel: phase 2, copy data from kernel to user
    QUEUED = 2  # kernel: data ready in the receive queue, not yet copied
    BLOCKED = 3  # application: cannot run (waiting in a call, for a wake-up or a copy)
    IN_KERNEL = 4  # application: running inside a system call (its own cost)
    WORK = 5  # application: own work while no message is handled
    PROCESS = 6  # application: processing a received message (work_us)
    HANDLER = 7  # application: inside a signal handler (drawn over the other spans)
    DELIVERY = 8  # application: the kernel delivering a signal (in-kernel time)
    OVERHEAD = 9  # application: a real run's time between two recorded calls (in-kernel time)
    SYSCALL = 20  # instant: a system call is made ("system call" arrow)
    RETURN = 21  # instant: a call returns with data or success ("return OK")
    EWOULDBLOCK = 22  # instant: a non-blocking call returns EWOULDBLOCK
    READABLE = 23  # instant: select/poll/epoll returns readable
    SIGNAL = 24  # instant: SIGIO (or the aio completion signal) is delivered
    COMPLETE = 25  # instant: the kernel finished an asynchronous copy
    ARRIVAL = 26  # instant: data arrived in the receive queue ("datagram ready")
    WAKEUP = 27  # instant: a blocked process or thread is woken
    ERROR = 28  # instant: the run stopped with an error
    EOF = 29  # instant: a read returned 0 bytes (the peer closed)

    @property
    def is_span(self) -> bool:
        return self < 20


# Spans that count as time the process spent running inside the kernel (summary's in_kernel_us)
IN_KERNEL_KINDS = frozenset({Kind.IN_KERNEL, Kind.DELIVERY, Kind.OVERHEAD})

# Message flags (the m_flags column)
READY_ESTIMATED = 1  # the ready time is bracketed from system calls, not a kernel stamp


@dataclass(frozen=True)
class Lane:
    """A horizontal lane of a run: ``role`` is "app", "thread" or "kernel"."""

    name: str
    role: str
    conn: int = -1


# The label of a read's phase 2 on the application's lane, whoever records it (simulator, real
# capture) and whoever finds it again (the comparison view, the braces).
COPY_LABEL = "process blocks while data copied into application buffer"

MESSAGE_FIELDS = ("conn", "bytes", "sent_us", "ready_us", "copy_start_us", "copy_end_us", "done_us")
NAN = float("nan")


@dataclass
class Run:
    """One server (IO model) run over one scenario, simulated or captured."""

    model: str
    source: str  # "sim" or "real"
    lanes: list[Lane]
    labels: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)  # line keys, indexed by the line column
    error: str | None = None
    work_us: float = 0.0
    sim_events: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    kind: array = field(default_factory=lambda: array("b"))
    lane: array = field(default_factory=lambda: array("i"))
    t0: array = field(default_factory=lambda: array("d"))
    t1: array = field(default_factory=lambda: array("d"))
    label: array = field(default_factory=lambda: array("i"))
    conn: array = field(default_factory=lambda: array("i"))
    msg: array = field(default_factory=lambda: array("i"))
    line: array = field(default_factory=lambda: array("i"))
    # messages, one row each; times are NaN where a message was never copied or handled
    m_conn: array = field(default_factory=lambda: array("i"))
    m_bytes: array = field(default_factory=lambda: array("q"))
    m_sent: array = field(default_factory=lambda: array("d"))
    m_ready: array = field(default_factory=lambda: array("d"))
    m_copy_start: array = field(default_factory=lambda: array("d"))
    m_copy_end: array = field(default_factory=lambda: array("d"))
    m_done: array = field(default_factory=lambda: array("d"))
    m_flags: array = field(default_factory=lambda: array("b"))

    def __len__(self) -> int:
        return len(self.kind)

    @property
    def end_us(self) -> float:
        return float(self.meta.get("end_us", 0.0))

    def event(self, i: int) -> Event:
        line = self.line[i]
        return Event(
            Kind(self.kind[i]), self.lane[i], self.t0[i], self.t1[i],
            self.labels[self.label[i]], self.conn[i], self.msg[i],
            self.code[line] if line >= 0 else "",
        )

    def events(self) -> list[Event]:
        return [self.event(i) for i in range(len(self))]

    def message(self, i: int) -> dict[str, float | int | None]:
        row = (self.m_conn[i], self.m_bytes[i], self.m_sent[i], self.m_ready[i],
               self.m_copy_start[i], self.m_copy_end[i], self.m_done[i])
        return {k: (None if isinstance(v, float) and v != v else v)
                for k, v in zip(MESSAGE_FIELDS, row, strict=True)}

    @property
    def message_count(self) -> int:
        return len(self.m_conn)


@dataclass(frozen=True)
class Event:
    kind: Kind
    lane: int
    t0: float
    t1: float
    label: str
    conn: int = -1
    msg: int = -1
    line: str = ""


@dataclass
class Trace:
    """Runs of one scenario, each from the simulator or from real sockets."""

    scenario: str
    title: str
    protocol: str
    runs: list[Run] = field(default_factory=list)
    axis: str = "schematic"  # the time axis the window opens on (the scenario's choice)


class RunRecorder:
    """Builds a Run event by event; both the simulator and the real capture use it.

    Events are kept as tuples (kind, lane, t0, t1, label, conn, msg, line key) while recording
    (one append each) and turned into sorted columns once, in ``finish``. The line key is the
    line of the model's program the event belongs to ("" where none)."""

    def __init__(self, model: str, source: str, lanes: list[Lane], work_us: float = 0.0) -> None:
        self.run = Run(model=model, source=source, lanes=lanes, work_us=work_us)
        self.rows: list[tuple[int, int, float, float, str, int, int, str]] = []

    def add(self, kind: Kind, lane: int, t0: float, t1: float, label: str,
            conn: int = -1, msg: int = -1, line: str = "") -> None:
        self.rows.append((kind, lane, t0, t1, label, conn, msg, line))

    def instant(self, kind: Kind, lane: int, t: float, label: str,
                conn: int = -1, msg: int = -1, line: str = "") -> None:
        self.rows.append((kind, lane, t, t, label, conn, msg, line))

    def span(self, kind: Kind, lane: int, t0: float, t1: float, label: str,
             conn: int = -1, msg: int = -1, line: str = "") -> None:
        """Spans of zero length carry no time and are left out."""
        if t1 > t0:
            self.rows.append((kind, lane, t0, t1, label, conn, msg, line))

    def message(self, conn: int, nbytes: int, sent_us: float, ready_us: float) -> int:
        return self.messages([(conn, nbytes, sent_us, ready_us)])

    def messages(self, rows: list[tuple[int, int, float, float]]) -> int:
        """Add messages (conn, bytes, sent, ready), not yet copied; returns the first's index."""
        r = self.run
        first = len(r.m_conn)
        for column, values in zip((r.m_conn, r.m_bytes, r.m_sent, r.m_ready),
                                  zip(*rows, strict=True), strict=True):
            column.extend(_column(column.typecode, values))  # array to array: one copy
        not_yet = array("d", [NAN]) * len(rows)
        for column in (r.m_copy_start, r.m_copy_end, r.m_done):
            column.extend(not_yet)
        r.m_flags.extend(bytes(len(rows)))
        return first

    def finish(self, end_us: float, error: str | None = None, sim_events: int = 0,
               **meta: Any) -> Run:
        """Drop what starts after the end, clip spans to it, sort by start time, seal the run."""
        r = self.run
        r.error = error
        r.sim_events = sim_events
        rows = self.rows
        self.rows = []
        rows.sort(key=itemgetter(2))
        del rows[bisect_right(rows, end_us, key=itemgetter(2)):]
        ids: dict[str, int] = {}
        keys: dict[str, int] = {"": -1}
        if rows:
            kind, lane, t0, t1, label, conn, msg, line = zip(*rows, strict=True)
            if max(t1) > end_us:
                t1 = [t if t <= end_us else end_us for t in t1]
            ids = {text: i for i, text in enumerate(dict.fromkeys(label))}  # by first use
            for key in dict.fromkeys(line):
                keys.setdefault(key, len(keys) - 1)
            r.kind, r.lane, r.t0, r.t1, r.label, r.conn, r.msg, r.line = (
                _column(typecode, col) for typecode, col in
                (("b", kind), ("i", lane), ("d", t0), ("d", t1),
                 ("i", list(map(ids.__getitem__, label))), ("i", conn), ("i", msg),
                 ("i", list(map(keys.__getitem__, line)))))
        r.labels = list(ids)
        r.code = [key for key in keys if key]
        r.meta.update(meta)
        r.meta["end_us"] = end_us
        return r


def _column(typecode: str, values: Sequence[float]) -> array:
    """A column made in one struct.pack: array(typecode, values) converts value by value,
    two to three times slower on a run's tens of thousands of rows."""
    return array(typecode, struct.pack(f"{len(values)}{typecode}", *values))


_EVENT_COLUMNS = ("kind", "lane", "t0", "t1", "label", "conn", "msg", "line")
_MESSAGE_COLUMNS = ("m_conn", "m_bytes", "m_sent", "m_ready", "m_copy_start", "m_copy_end",
                    "m_done", "m_flags")
_ADDED_IN_2 = ("line", "m_flags")  # a version 1 file has none: -1 lines, no flags


def _encode(col: array) -> dict[str, Any]:
    """A column as little-endian bytes in base64: exact (NaN included), compact, and read back
    without making a Python object per value."""
    if sys.byteorder != "little":
        col = array(col.typecode, col)
        col.byteswap()
    return {"type": col.typecode, "size": col.itemsize, "n": len(col),
            "b64": base64.b64encode(col.tobytes()).decode("ascii")}


def _decode(typecode: str, data: Any, where: str) -> array:
    col = array(typecode)
    if not isinstance(data, dict) or data.get("type") != typecode or \
            data.get("size") != col.itemsize or not isinstance(data.get("b64"), str):
        raise TraceError(f"{where}: expected a column of type {typecode!r}")
    try:
        col.frombytes(base64.b64decode(data["b64"], validate=True))
    except (ValueError, binascii.Error):
        raise TraceError(f"{where}: damaged column data") from None
    if len(col) != data.get("n"):
        raise TraceError(f"{where}: {len(col)} values where {show(data.get('n'))} were written "
                         "(truncated?)")
    if sys.byteorder != "little":
        col.byteswap()
    return col


def encode_column(col: array) -> dict[str, Any]:
    """A column as a trace file writes it (also for a column kept in a run's meta)."""
    return _encode(col)


def decode_column(typecode: str, data: Any, where: str) -> array:
    """A column written by ``encode_column``, checked; TraceError if it is not one."""
    return _decode(typecode, data, where)


def run_to_json(run: Run) -> dict[str, Any]:
    return {
        "model": run.model,
        "source": run.source,
        "error": run.error,
        "work_us": run.work_us,
        "sim_events": run.sim_events,
        "meta": run.meta,
        "lanes": [[ln.name, ln.role, ln.conn] for ln in run.lanes],
        "labels": run.labels,
        "code": run.code,
        "events": {name: _encode(getattr(run, name)) for name in _EVENT_COLUMNS},
        "messages": {name: _encode(getattr(run, name)) for name in _MESSAGE_COLUMNS},
    }


def run_from_json(data: Any, where: str, version: int = VERSION) -> Run:
    """One run of a trace file, checked field by field (check_run then checks its columns)."""
    f = _Fields(data, where)
    run = Run(
        model=f.text("model"),
        source=f.choice("source", SOURCES),
        lanes=f.lanes("lanes"),
        labels=f.texts("labels"),
        code=f.texts("code") if version >= 2 else [],
        error=None if f.get("error", object) is None else f.text("error"),
        work_us=f.time("work_us", low=0.0),
        sim_events=f.count("sim_events"),
        meta=f.meta("meta"),
    )
    for part, names in (("events", _EVENT_COLUMNS), ("messages", _MESSAGE_COLUMNS)):
        group = f.get(part, dict)
        for name in names:
            if version < 2 and name in _ADDED_IN_2:
                continue
            if name not in group:
                raise TraceError(f"{where}: {part}.{name}: missing")
            setattr(run, name, _decode(getattr(run, name).typecode, group[name],
                                       f"{where}: {part}.{name}"))
    if version < 2:
        run.line = array("i", [-1]) * len(run.kind)
        run.m_flags = array("b", bytes(len(run.m_conn)))
    check_run(run, where)
    check_traced_meta(run, f"{where}: meta")
    return run


# What a trace file may hold (docs/trace-format.md). A trace within these limits loads in
# bounded memory (about twice the file's size) and nothing that reads it can fail or hang.
MAX_FILE_BYTES = 2 * 1024**3
MAX_JSON_VALUES = 4_000_000  # JSON values besides the columns' base64 text
MAX_RUNS = 100
MAX_LANES = 250_000
MAX_TEXT_CHARS = 4096  # a name, a label, an error
MAX_META_DEPTH = 16
MAX_TIME_US = 1e18  # |time|: far beyond any run, and t1 - t0 never overflows
LANE_ROLES = ("app", "thread", "kernel")
_KIND_BYTES = bytes(k.value for k in Kind)  # the valid bytes of the kind column
_FLAG_BYTES = bytes((0, READY_ESTIMATED))  # the valid bytes of the m_flags column
_IS_INSTANT = bytes(int(20 <= b < 30) for b in range(256))  # kind byte -> 1 for an instant
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")  # what no font can draw and no file holds


class _Fields:
    """Reads the fields of one JSON object, each checked for its type and range; a bad one is
    a TraceError naming the place, the field and what is wrong."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise TraceError(f"{where}: must be a JSON object, not {show(data)}")
        self.data = data
        self.where = where

    def fail(self, key: str, problem: str) -> TraceError:
        return TraceError(f"{self.where}: {key}: {problem}")

    def get(self, key: str, kind: type) -> Any:
        if key not in self.data:
            raise self.fail(key, "missing")
        value = self.data[key]
        if not isinstance(value, kind):
            raise self.fail(key, f"must be a JSON {_JSON_NAMES.get(kind, 'value')}, "
                            f"not {show(value)}")
        return value

    def text(self, key: str) -> str:
        value = self.get(key, str)
        problem = _text_problem(value)
        if problem:
            raise self.fail(key, problem)
        return value

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        value = self.get(key, str)
        if value not in allowed:
            raise self.fail(key, f"must be one of {', '.join(allowed)}, not {show(value)}")
        return value

    def texts(self, key: str) -> list[str]:
        values = self.get(key, list)
        for i, value in enumerate(values):
            problem = "must be a string" if not isinstance(value, str) else _text_problem(value)
            if problem:
                raise self.fail(f"{key}[{i}]", f"{problem} ({show(value)})")
        return values

    def time(self, key: str, low: float = -MAX_TIME_US) -> float:
        value = self.get(key, (int, float))
        problem = number_problem(value, low=low, high=MAX_TIME_US, unit=" µs")
        if problem:
            raise self.fail(key, problem)
        return float(value)

    def count(self, key: str) -> int:
        value = self.get(key, int)
        problem = number_problem(value, integer=True, high=2**63 - 1)
        if problem:
            raise self.fail(key, problem)
        return value

    def lanes(self, key: str) -> list[Lane]:
        rows = self.get(key, list)
        if not 1 <= len(rows) <= MAX_LANES:
            raise self.fail(key, f"a run has 1 to {MAX_LANES:,} lanes, not {len(rows):,}")
        lanes = []
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != 3:
                raise self.fail(f"{key}[{i}]", f"must be [name, role, conn], not {show(row)}")
            lane = _Fields(dict(zip(("name", "role", "conn"), row, strict=True)),
                           f"{self.where}: {key}[{i}]")
            conn = lane.get("conn", int)
            if isinstance(conn, bool) or not -1 <= conn < 2**31:
                raise lane.fail("conn", f"must be a connection number or -1, not {show(conn)}")
            lanes.append(Lane(lane.text("name"), lane.choice("role", LANE_ROLES), conn))
        return lanes

    def meta(self, key: str) -> dict[str, Any]:
        meta = self.get(key, dict)
        if _depth(meta) > MAX_META_DEPTH:
            raise self.fail(key, f"nested deeper than {MAX_META_DEPTH} levels")
        if "end_us" in meta:
            _Fields(meta, f"{self.where}: {key}").time("end_us")
        return meta


_JSON_NAMES: dict[Any, str] = {str: "string", list: "array", dict: "object",
                               (int, float): "number", int: "integer"}


def _text_problem(value: str) -> str | None:
    if len(value) > MAX_TEXT_CHARS:
        return f"longer than {MAX_TEXT_CHARS} characters"
    if _BAD_TEXT.search(value):
        return "holds a NUL or an unpaired surrogate"
    return None


def _depth(value: Any) -> int:
    """How deep JSON arrays and objects nest in ``value`` (a scalar is 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item \
            if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
    return deepest


def check_run(run: Run, where: str) -> None:
    """Everything the readers of a run rely on, checked at C speed where it can be: columns of
    one length, kinds, lanes, labels, lines and messages within their tables, times finite and
    within range, spans that end at or after their start, events sorted by start time, known
    message flags. A run that passes cannot make the summary, the view or an exporter fail."""
    n, m = len(run.kind), len(run.m_conn)
    if any(len(getattr(run, c)) != n for c in _EVENT_COLUMNS) or \
            any(len(getattr(run, c)) != m for c in _MESSAGE_COLUMNS):
        raise TraceError(f"{where}: columns of different lengths (truncated?)")
    bad = run.kind.tobytes().translate(None, _KIND_BYTES)
    if bad:
        raise TraceError(f"{where}: events.kind: {array('b', bad[:1])[0]} is not a kind "
                         "(spans are 0-9, instants 20-29)")
    for name, low, high in (("lane", 0, len(run.lanes) - 1), ("label", 0, len(run.labels) - 1),
                            ("line", -1, len(run.code) - 1), ("conn", -1, None),
                            ("msg", -1, m - 1), ("m_conn", 0, None), ("m_bytes", 0, None)):
        _check_range(getattr(run, name), low, high, f"{where}: {_part(name)}.{name}")
    t0, t1 = run.t0, run.t1
    for name, col in (("t0", t0), ("t1", t1)):
        _check_finite(col, f"{where}: events.{name}")
    if any(map(gt, t0, islice(t0, 1, None))):
        raise TraceError(f"{where}: events.t0: events are not sorted by start time")
    if any(map(lt, t1, t0)):
        raise TraceError(f"{where}: events.t1: a span ends before it starts")
    instants = run.kind.tobytes().translate(_IS_INSTANT)  # 1 where an instant, 0 elsewhere
    if any(map(ne, compress(t0, instants), compress(t1, instants))):
        raise TraceError(f"{where}: events.t1: an instant ends at another time than it starts")
    if t0:  # sorted, and every end at or after its start: three values bound them all
        _check_bounds(t0[0], t0[-1], f"{where}: events.t0")
        _check_bounds(t0[0], max(t1), f"{where}: events.t1")
    for name in ("m_sent", "m_ready", "m_copy_start", "m_copy_end", "m_done"):
        values = _check_finite(getattr(run, name), f"{where}: messages.{name}", missing_ok=True)
        if values:
            _check_bounds(min(values), max(values), f"{where}: messages.{name}")
    bad = run.m_flags.tobytes().translate(None, _FLAG_BYTES)
    if bad:
        raise TraceError(f"{where}: messages.m_flags: unknown flags {array('b', bad[:1])[0]}")


MODEL_NAMES = ("blocking", "nonblocking", "select", "poll", "epoll", "epoll-et", "sigio", "aio",
               "threaded", "fork")
MAX_SOURCE_LINES = 20_000


def check_traced_meta(run: Run, where: str) -> None:
    """A traced run's ``model_guess`` and ``source`` (docs/trace-format.md), where present:
    every field of its type and range; the source's line of each system-call event within
    its lines, one per such event."""
    meta = run.meta
    if "model_guess" in meta:
        f = _Fields(meta["model_guess"], f"{where}.model_guess")
        f.choice("model", MODEL_NAMES)
        for key in ("threads", "processes"):
            if f.count(key) < 1:
                raise f.fail(key, "must be at least 1")
        f.text("evidence")
    if "source" in meta:
        f = _Fields(meta["source"], f"{where}.source")
        if "why" in meta["source"]:
            f.text("why")
            return
        f.text("path")
        f.choice("language", ("c", "python"))
        lines = f.texts("lines")
        if len(lines) > MAX_SOURCE_LINES:
            raise f.fail("lines", f"at most {MAX_SOURCE_LINES:,} lines, not {len(lines):,}")
        calls = decode_column("i", meta["source"].get("calls"), f"{where}.source.calls")
        syscalls = run.kind.tobytes().count(bytes([Kind.SYSCALL]))
        if len(calls) != syscalls:
            raise f.fail("calls", f"{len(calls)} lines for {syscalls} system-call events")
        _check_range(calls, -1, len(lines) - 1, f"{where}.source.calls")
        pairs = meta["source"].get("at_zero", [])
        if not isinstance(pairs, list):
            raise f.fail("at_zero", f"must be a JSON array, not {show(pairs)}")
        for pair in pairs:
            if not (isinstance(pair, list) and len(pair) == 2 and
                    all(isinstance(v, int) and not isinstance(v, bool) for v in pair) and
                    0 <= pair[0] < len(run.lanes) and 0 <= pair[1] < len(lines)):
                raise f.fail("at_zero", f"[lane, line] pairs within the run, not {show(pair)}")


def _part(column: str) -> str:
    return "messages" if column.startswith("m_") else "events"


def _check_range(col: array, low: int, high: int | None, where: str) -> None:
    if not col:
        return
    lowest = min(col)
    highest = max(col) if high is not None else low
    if lowest < low or (high is not None and highest > high):
        value = lowest if lowest < low else highest
        allowed = f">= {low}" if high is None else f"{low}..{high}" if high >= low else \
            "none: the table is empty"
        raise TraceError(f"{where}: {value} is out of range ({allowed})")


def _check_finite(col: array, where: str, missing_ok: bool = False) -> array:
    """The column's values, checked to be finite; NaN (a time that never happened) is left
    out where ``missing_ok``. A finite sum (one C loop) rules out NaN and inf at once; only a
    column that fails it is looked at value by value."""
    total = sum(col)
    if total != total and missing_ok:
        col = array("d", (t for t in col if t == t))
        total = sum(col)
    if not math.isfinite(total):
        bad = next((t for t in col if not math.isfinite(t)), None)
        if bad is not None:
            raise TraceError(f"{where}: {bad} is not a finite time")
        _check_bounds(min(col), max(col), where)  # finite values whose sum overflows
    return col


def _check_bounds(lowest: float, highest: float, where: str) -> None:
    if lowest < -MAX_TIME_US or highest > MAX_TIME_US:
        bad = lowest if lowest < -MAX_TIME_US else highest
        raise TraceError(f"{where}: {bad} µs is beyond ±{MAX_TIME_US:g} µs")


def trace_to_json(trace: Trace) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "scenario": trace.scenario,
        "title": trace.title,
        "protocol": trace.protocol,
        "axis": trace.axis,
        "runs": [run_to_json(r) for r in trace.runs],
    }


def save(trace: Trace, path: str | os.PathLike[str]) -> None:
    """Write atomically: a trace interrupted mid-write never replaces a good one. The bytes
    are those of ``json.dumps(trace_to_json(trace))``, made one run at a time, so a trace of
    eight large runs never holds all their text in memory at once (C encoder; dump() is not)."""
    compact = {"separators": (",", ":")}
    head = json.dumps(trace_to_json(Trace(trace.scenario, trace.title, trace.protocol,
                                          axis=trace.axis)), **compact)
    with atomic_open(path) as f:
        f.write(head.removesuffix("]}"))
        for i, run in enumerate(trace.runs):
            f.write(("," if i else "") + json.dumps(run_to_json(run), **compact))
        f.write("]}")


def load(path: str | os.PathLike[str]) -> Trace:
    """Read and check a trace file (JSON, or the spool iosim serve writes): anything this
    returns is safe for every reader."""
    from iosim.real.spool import is_spool  # iosim serve writes a spool of its own (real/)
    name = str(path)
    if is_regular_file(path) and is_spool(path):
        from iosim.real.reader import load_trace
        trace = load_trace(path)
        for k, run in enumerate(trace.runs):
            check_run(run, f"{name}: run {k}")
        return trace
    return trace_from_json(_read_json(path, name), name)


def _read_json(path: str | os.PathLike[str], name: str) -> Any:
    """The file's JSON, read within bounds: its size, its number of values (counted in the
    bytes before parsing, at C speed: a file of a billion empty arrays is refused before it
    takes 60 GB), and its depth."""
    try:
        raw = read_small_bytes(path, MAX_FILE_BYTES, "trace file")
    except UserError as exc:
        raise TraceError(str(exc)) from None
    if not raw.lstrip().startswith(b"{"):
        raise TraceError(f"{name}: not an iosim trace (not a JSON file)")
    if raw.count(b",") + raw.count(b"[") + raw.count(b"{") > MAX_JSON_VALUES:
        raise TraceError(f"{name}: not an iosim trace (more than {MAX_JSON_VALUES:,} JSON "
                         "values)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TraceError(f"{name}: not an iosim trace (not UTF-8 at byte {exc.start})"
                         ) from None
    del raw  # the text alone from here: the peak stays near twice the file's size
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise TraceError(f"{name}: not a complete JSON trace ({exc.msg} at line {exc.lineno})"
                         ) from None
    except ValueError as exc:  # NaN or Infinity, an integer of more than 4300 digits
        raise TraceError(f"{name}: not a valid JSON trace ({exc})") from None
    except RecursionError:
        raise TraceError(f"{name}: not an iosim trace (JSON nested too deeply)") from None


def _no_constant(word: str) -> None:
    raise ValueError(f"{word} is not a JSON number")


def trace_from_json(data: Any, name: str) -> Trace:
    """A Trace from a trace file's JSON, every field and column checked."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TraceError(f"{name}: not an iosim trace (format is not {FORMAT!r})")
    version = data.get("version")
    if isinstance(version, bool) or version not in READS_VERSIONS:
        raise TraceError(f"{name}: trace version {show(version)}, this iosim reads versions "
                         f"{', '.join(map(str, READS_VERSIONS))}")
    f = _Fields(data, name)
    head = f.text("scenario"), f.text("title"), f.text("protocol")
    axis = f.choice("axis", AXES) if "axis" in data else AXES[0]  # older files: none
    runs = f.get("runs", list)
    if len(runs) > MAX_RUNS:
        raise f.fail("runs", f"at most {MAX_RUNS} runs, not {len(runs):,}")
    return Trace(*head, [run_from_json(r, f"{name}: run {i}", version)
                         for i, r in enumerate(runs)], axis)


def looks_like_trace(path: str | os.PathLike[str]) -> bool:
    """True when the file is a regular file that starts like a trace (JSON, or the spool
    iosim serve writes) rather than a scenario (TOML); a pipe or a device is never opened
    here."""
    from iosim.real.spool import is_spool
    if not is_regular_file(path):
        return False
    try:
        with open(path, "rb") as f:
            return f.read(64).lstrip().startswith(b"{") or is_spool(path)
    except OSError:
        return False
