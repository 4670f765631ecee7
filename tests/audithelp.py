"""The audit's reading of a trace and its rules for the words, shared by the audit of the
built-in simulations (test_teach_audit.py) and of real captures (test_teach_real.py): each rule
reads the trace itself, independently of the Explainer, and fails on a false statement."""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from dataclasses import dataclass

from iosim.sim.notes import CORRUPT_NOTE
from iosim.teach.words import noun_of
from iosim.trace import COPY_LABEL, Kind, Run

MOST_HEAVY = 1500  # moments looked at in a c10k run that is not the scenario's point
READ_BLOCK = "process blocks in call to recvfrom"
SEND_BLOCK = "process blocks in call to send"
ACCEPT_BLOCK = "process blocks in call to accept"
ANY_READY = "to become ready"  # a server variant's multiplexer: readable, writable, accept
GIL = "waiting for the GIL"
NOT_ASLEEP = {COPY_LABEL, GIL, "all threads blocked",
              "the GIL handed over: the CPU switches threads"}
PYTHON = {Kind.PROCESS, Kind.OVERHEAD, Kind.WORK}
DURATION = re.compile(r"\d[\d,.]* (µs|ms|s)\b")
ORIGINS = ("ago", "the scenario's", "cost profile", "as measured", "as traced", "waiting for",
           "returned ")  # where a duration in a sentence comes from


# -- the trace, read here ----------------------------------------------------------------------

class Reading:
    """What the trace says at a time, found by plain searches (not the Explainer's index)."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.spans: dict[int, list[tuple[float, float, int]]] = {}
        for i in range(len(run)):
            if Kind(run.kind[i]).is_span and run.kind[i] != Kind.HANDLER:
                self.spans.setdefault(run.lane[i], []).append((run.t0[i], run.t1[i], i))
        for spans in self.spans.values():
            spans.sort()
        self.starts = {lane: [s[0] for s in spans] for lane, spans in self.spans.items()}
        self.threads = [i for i, ln in enumerate(run.lanes) if ln.role == "thread"]
        self.corrupt: dict[int, float] = {}  # conn -> when its first bad-checksum datagram came
        for i in range(len(run)):
            if run.kind[i] == Kind.QUEUED and self.label(i).startswith(CORRUPT_NOTE):
                self.corrupt[run.conn[i]] = min(run.t0[i], self.corrupt.get(run.conn[i],
                                                                             math.inf))
        # what is queued changes only when a message is ready or its copy begins: between
        # two such times it is read once
        self._changes = sorted({t for t in (*run.m_ready, *run.m_copy_start) if t == t})
        self._queued: dict[int, dict[int, int]] = {}
        self._thread_ends: dict[int, float] = {}

    def covering(self, lane: int, t: float) -> int:
        """The latest-started span of ``lane`` with t0 <= t < t1 (-1: none)."""
        spans = self.spans.get(lane, [])
        k = bisect_right(self.starts.get(lane, []), t) - 1
        for j in range(k, max(-1, k - 64), -1):
            if spans[j][0] <= t < spans[j][1]:
                return spans[j][2]
        return -1

    def label(self, i: int) -> str:
        return self.run.labels[self.run.label[i]]

    def queued(self, t: float) -> dict[int, int]:
        """Messages ready by ``t`` whose copy has not begun, per connection (not to be
        changed by the caller: it is shared by every time until the next change)."""
        since = bisect_right(self._changes, t)
        found = self._queued.get(since)
        if found is not None:
            return found
        run = self.run
        out: dict[int, int] = {}
        for m in range(run.message_count):
            start = run.m_copy_start[m]
            if run.m_ready[m] <= t and not (start == start and start <= t):
                out[run.m_conn[m]] = out.get(run.m_conn[m], 0) + 1
        self._queued[since] = out
        return out

    def thread_end(self, lane: int) -> float:
        """thread_end, read once a lane."""
        if lane not in self._thread_ends:
            self._thread_ends[lane] = thread_end(self.run, lane)
        return self._thread_ends[lane]

    def copying(self, t: float) -> set[int]:
        """Connections whose data the kernel is copying at ``t``."""
        run = self.run
        return {run.m_conn[m] for m in range(run.message_count)
                if run.m_copy_start[m] <= t < run.m_copy_end[m]}

    def kernel_cpu(self, t: float) -> bool:
        """A thread runs in the kernel at ``t``: a call's own time or a copy."""
        for lane in self.threads or [0]:
            i = self.covering(lane, t)
            if i >= 0 and (self.run.kind[i] == Kind.IN_KERNEL or self.label(i) == COPY_LABEL):
                return True
        return bool(self.copying(t))


@dataclass
class Said:
    """One pane moment (or a kernel lane's sentences) with what the trace says then."""

    t: float
    lane: int
    line: str | None
    sentences: list[str]

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def check_said(reading: Reading, s: Said) -> None:
    """Every rule on one moment's words."""
    run = reading.run
    text = s.text
    _epoll_never_scans(run.model, text)
    _no_arrival_denied_while_queued(reading, s)
    _no_cpu_only_when_none_is_used(reading, s)
    _gil_waits_behind_python(reading, s)
    _sleeps_where_a_wait_is_shown(reading, s)
    _durations_say_where_they_come_from(s)
    _waits_named_for_what_they_wait_for(reading, s)
    _no_arrival_denied_after_a_bad_datagram(reading, s)
    assert "to find the readable ones" not in text, text  # a rescan may find writable ones
    for call, why in (("send", "send buffer is full"), ("accept", "accept queue")):
        if f"{call} returned EWOULDBLOCK" in text:
            assert why in text and "nothing was queued" not in text, text
    assert not re.search(r"(kernel|it) (does|handles) both phases|hands both phases", text)
    assert not re.search(r"one (system )?call per message", text, re.IGNORECASE)
    assert "buffer given to aio_read" not in text or (run.model == "aio"
                                                       and run.source == "sim"), text
    if noun_of(run) == "data":
        assert "datagram" not in text and "datagram" not in (s.line or ""), text
        assert "said that the socket was readable" not in text, text  # TCP's SIGIO says less
    else:
        assert "peer closed" not in text and "peer closing" not in text, text
    if run.lanes[s.lane].role == "thread" and s.t >= reading.thread_end(s.lane):
        assert "has ended" in text and s.line in ("return", None), (s, text)


def _epoll_never_scans(model: str, text: str) -> None:
    """epoll_wait takes the ready list its sockets' callbacks filled; only select and poll scan
    (or check every descriptor)."""
    for sentence in re.split(r"(?<=\.) ", text):
        if model == "epoll" or "epoll" in sentence:
            assert not re.search(r"\bscan|check(s|ing)? (which|every)", sentence), sentence


_NO_DATA = re.compile(r"no (new )?(data|datagram) has arrived")
_NOTHING_ON = re.compile(r"nothing (new )?has arrived on (connection (\d+)|it)")


def _no_arrival_denied_while_queued(reading: Reading, s: Said) -> None:
    """ "no data has arrived" (the process's words) is said only while no connection holds
    queued data: head-of-line blocking is the lesson, not to be hidden; "nothing has arrived
    on connection N" only while N holds none."""
    queued = reading.queued(s.t)
    if _NO_DATA.search(s.text):
        assert not queued, (s, queued)
    for found in _NOTHING_ON.finditer(s.text):
        conn = int(found[3]) if found[3] is not None else reading.run.lanes[s.lane].conn
        assert not queued.get(conn), (s, queued)


def _no_cpu_only_when_none_is_used(reading: Reading, s: Said) -> None:
    text = s.text
    if "uses no CPU" in text:  # never during a copy, whoever's
        assert not reading.copying(s.t), s
    if "the process uses no CPU" in text:  # nor while a thread runs a call
        assert not reading.kernel_cpu(s.t), s
    if "and uses no CPU" in text:
        i = reading.covering(s.lane, s.t)
        assert i >= 0 and reading.run.kind[i] == Kind.BLOCKED, s
        assert reading.label(i) not in NOT_ASLEEP, s


def _gil_waits_behind_python(reading: Reading, s: Said) -> None:
    """A thread waits for the GIL only while another runs Python code (the process lane)."""
    if "waits for the GIL" not in s.text:
        return
    run = reading.run
    i = reading.covering(0, s.t)
    assert i >= 0 and Kind(run.kind[i]) in PYTHON, s
    assert run.lanes[s.lane].role != "thread" or run.conn[i] != run.lanes[s.lane].conn, s


def _sleeps_where_a_wait_is_shown(reading: Reading, s: Said) -> None:
    if not re.search(r"\bsleeps\b|\basleep\b", s.text) or reading.run.lanes[s.lane].role == \
            "kernel":
        return
    i = reading.covering(s.lane, s.t)
    assert i >= 0 and reading.run.kind[i] == Kind.BLOCKED, s
    assert reading.label(i) not in NOT_ASLEEP, s


def _waits_named_for_what_they_wait_for(reading: Reading, s: Said) -> None:
    """A sleep in send waits for room in the send buffer, one in accept for a connection,
    one in a server variant's multiplexer for any readiness: none is told as a wait for data
    that only the peer's close can end."""
    run = reading.run
    if run.lanes[s.lane].role == "kernel" or "has woken" in s.text:
        return
    i = reading.covering(s.lane, s.t)
    if i < 0 or run.kind[i] != Kind.BLOCKED:
        return
    label = reading.label(i)
    if label.startswith(SEND_BLOCK):
        assert "send buffer is full" in s.sentences[0], s
    elif label.startswith(ACCEPT_BLOCK):
        assert "accept queue" in s.sentences[0] and "data" not in s.sentences[0], s
    if label.startswith((SEND_BLOCK, ACCEPT_BLOCK)) or label.endswith(ANY_READY):
        assert "can wake it" not in s.text and not _NO_DATA.search(s.text), s
        assert "recvfrom must still copy" not in s.text, s


def _no_arrival_denied_after_a_bad_datagram(reading: Reading, s: Said) -> None:
    """A datagram with a bad checksum is no message, but it did arrive: nothing is said not
    to have arrived on its connection (or on any, for the process) after it."""
    if not reading.corrupt:
        return
    for found in _NOTHING_ON.finditer(s.text):
        conn = int(found[3]) if found[3] is not None else reading.run.lanes[s.lane].conn
        assert reading.corrupt.get(conn, math.inf) > s.t, s
    if _NO_DATA.search(s.text):
        assert min(reading.corrupt.values()) > s.t, s


def _durations_say_where_they_come_from(s: Said) -> None:
    for sentence in s.sentences:
        if DURATION.search(sentence) and not sentence.startswith("The run stopped"):
            assert any(origin in sentence for origin in ORIGINS), sentence


def thread_end(run: Run, lane: int) -> float:
    """When a thread ended: its last event, a read that returned 0 (inf: it did not)."""
    last = max((i for i in range(len(run)) if run.lane[i] == lane),
               key=lambda i: (run.t1[i], run.kind[i] == Kind.EOF), default=-1)
    return run.t0[last] if last >= 0 and run.kind[last] == Kind.EOF else math.inf


