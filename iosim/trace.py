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
import os
import struct
import sys
from array import array
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from operator import itemgetter
from typing import Any

from iosim.errors import UserError
from iosim.files import atomic_open

FORMAT = "iosim-trace"
VERSION = 2
READS_VERSIONS = (1, 2)  # version 1 has no line keys and no message flags
SOURCES = ("sim", "real", "traced")


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
        raise TraceError(f"{where}: {len(col)} values where {data.get('n')} were written "
                         "(truncated?)")
    if sys.byteorder != "little":
        col.byteswap()
    return col


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


def run_from_json(data: dict[str, Any], where: str, version: int = VERSION) -> Run:
    try:
        run = Run(
            model=str(data["model"]),
            source=str(data["source"]),
            lanes=[Lane(str(n), str(r), int(c)) for n, r, c in data["lanes"]],
            labels=[str(s) for s in data["labels"]],
            code=[str(s) for s in data["code"]] if version >= 2 else [],
            error=data["error"],
            work_us=float(data["work_us"]),
            sim_events=int(data["sim_events"]),
            meta=dict(data["meta"]),
        )
        events, messages = data["events"], data["messages"]
        for part, group, names in (("events", events, _EVENT_COLUMNS),
                                   ("messages", messages, _MESSAGE_COLUMNS)):
            for name in names:
                if version < 2 and name in _ADDED_IN_2:
                    continue
                setattr(run, name, _decode(getattr(run, name).typecode, group[name],
                                           f"{where}: {part}.{name}"))
        if version < 2:
            run.line = array("i", [-1]) * len(run.kind)
            run.m_flags = array("b", bytes(len(run.m_conn)))
    except (KeyError, TypeError, ValueError) as exc:
        raise TraceError(f"{where}: missing or malformed field {exc}") from None
    if len({len(getattr(run, n)) for n in _EVENT_COLUMNS}) != 1 or \
            len({len(getattr(run, n)) for n in _MESSAGE_COLUMNS}) != 1:
        raise TraceError(f"{where}: columns of different lengths (truncated?)")
    if run.label and (max(run.label) >= len(run.labels) or min(run.label) < 0):
        raise TraceError(f"{where}: label index out of range")
    if run.line and (max(run.line) >= len(run.code) or min(run.line) < -1):
        raise TraceError(f"{where}: line index out of range")
    return run


def trace_to_json(trace: Trace) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "scenario": trace.scenario,
        "title": trace.title,
        "protocol": trace.protocol,
        "runs": [run_to_json(r) for r in trace.runs],
    }


def save(trace: Trace, path: str | os.PathLike[str]) -> None:
    """Write atomically: a trace interrupted mid-write never replaces a good one."""
    text = json.dumps(trace_to_json(trace), separators=(",", ":"))  # C encoder; dump() is not
    with atomic_open(path) as f:
        f.write(text)


def load(path: str | os.PathLike[str]) -> Trace:
    from iosim.real.spool import is_spool  # iosim serve writes a spool of its own (real/)
    if is_spool(path):
        from iosim.real.reader import load_trace
        return load_trace(path)
    name = str(path)
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise TraceError(f"{name}: no such file") from None
    except json.JSONDecodeError as exc:
        if not looks_like_trace(path):
            raise TraceError(f"{name}: not an iosim trace (not a JSON file)") from None
        raise TraceError(f"{name}: not a complete JSON trace ({exc.msg} at line {exc.lineno})"
                         ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{name}: cannot read ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TraceError(f"{name}: not an iosim trace (format is not {FORMAT!r})")
    version = data.get("version")
    if version not in READS_VERSIONS:
        raise TraceError(f"{name}: trace version {version!r}, this iosim reads versions "
                         f"{', '.join(map(str, READS_VERSIONS))}")
    try:
        runs = [run_from_json(r, f"{name}: run {i}", version)
                for i, r in enumerate(data["runs"])]
        return Trace(str(data["scenario"]), str(data["title"]), str(data["protocol"]), runs)
    except (KeyError, TypeError) as exc:
        raise TraceError(f"{name}: missing or malformed field {exc}") from None


def looks_like_trace(path: str | os.PathLike[str]) -> bool:
    """True when the file starts like a trace (JSON, or the spool iosim serve writes) rather
    than a scenario (TOML)."""
    from iosim.real.spool import is_spool
    try:
        with open(path, "rb") as f:
            return f.read(64).lstrip().startswith(b"{") or is_spool(path)
    except OSError:
        return False
