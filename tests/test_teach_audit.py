"""The audit of the words: every built-in scenario x every simulated model, through what
``iosim explain`` prints (the one-run view's pane, moment by moment) and the kernel lanes'
sentences, checked against a reading of the trace made here, independently of the Explainer:
no false statement of the kind a teaching tool slips into (epoll "scanning", "no data has
arrived" while data waits elsewhere, "datagram" on TCP, "uses no CPU" during a copy, a GIL wait
behind no Python code, "sleeps" where no wait is shown, POSIX aio told as Linux's ...), and
the lessons said where they happen (head-of-line blocking with its count, the buffer size of
big-copy, SIGIO's two reasons, where each duration comes from)."""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import pytest
from teachhelp import HEAVY, builtin_runs

from iosim.teach.explain import Explainer, run_summary
from iosim.teach.explain_command import moments
from iosim.teach.programs import program_for
from iosim.teach.words import noun_of
from iosim.trace import COPY_LABEL, Kind, Run

MOST_HEAVY = 1500  # moments looked at in a c10k run that is not the scenario's point
READ_BLOCK = "process blocks in call to recvfrom"
GIL = "waiting for the GIL"
NOT_ASLEEP = {COPY_LABEL, GIL, "all threads blocked",
              "the GIL handed over: the CPU switches threads"}
PYTHON = {Kind.PROCESS, Kind.OVERHEAD, Kind.WORK}
DURATION = re.compile(r"\d[\d,.]* (µs|ms|s)\b")
ORIGINS = ("ago", "the scenario's", "cost profile", "as measured", "as traced", "waiting for",
           "returned ")  # where a duration in a sentence comes from


def runs() -> list[tuple[str, Run]]:
    return list(builtin_runs())


def run_ids() -> list[str]:
    return [f"{name}-{run.model}" for name, run in runs()]


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
        """Messages ready by ``t`` whose copy has not begun, per connection."""
        run = self.run
        out: dict[int, int] = {}
        for m in range(run.message_count):
            start = run.m_copy_start[m]
            if run.m_ready[m] <= t and not (start == start and start <= t):
                out[run.m_conn[m]] = out.get(run.m_conn[m], 0) + 1
        return out

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


@cache
def said(name: str, model: str) -> tuple[Reading, tuple[Said, ...]]:
    run = next(r for n, r in builtin_runs() if n == name and r.model == model)
    times = sorted(set(run.t0))
    if (name, model) in HEAVY:
        step = max(1, len(times) // MOST_HEAVY)
        times = times[::step]
    out = []
    lane_of = {ln.name: i for i, ln in enumerate(run.lanes)}
    for m in moments(run, times):
        out.append(Said(m["t_us"], lane_of[m["lane"]], m["line"], m["sentences"]))
    ex = Explainer(run)
    kernel = [i for i, ln in enumerate(run.lanes) if ln.role == "kernel"][:4]
    for t in times[::3]:
        out.extend(Said(t, lane, None, ex.now(t, lane)) for lane in kernel)
    return Reading(run), tuple(out)


def everything() -> Iterator[tuple[str, Run, Reading, Said]]:
    for name, run in runs():
        reading, moments_said = said(name, run.model)
        for s in moments_said:
            yield name, run, reading, s


# -- nothing false ------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "model"), [(n, r.model) for n, r in runs()], ids=run_ids())
def test_no_false_statement(name: str, model: str) -> None:
    reading, moments_said = said(name, model)
    run = reading.run
    tcp = noun_of(run) == "data"
    summary = run_summary(run)
    checked = 0
    for s in moments_said:
        text = s.text
        subject = run.lanes[s.lane]
        _epoll_never_scans(model, text)
        _no_arrival_denied_while_queued(reading, s)
        _no_cpu_only_when_none_is_used(reading, s)
        _gil_waits_behind_python(reading, s)
        _sleeps_where_a_wait_is_shown(reading, s)
        _durations_say_where_they_come_from(s)
        assert not re.search(r"(kernel|it) (does|handles) both phases|hands both phases", text)
        assert not re.search(r"one (system )?call per message", text, re.IGNORECASE)
        assert "buffer given to aio_read" not in text or model == "aio", text
        if tcp:
            assert "datagram" not in text and "datagram" not in (s.line or ""), text
        else:
            assert "peer closed" not in text and "peer closing" not in text, text
        if subject.role == "thread" and s.t >= _thread_end(run, s.lane):
            assert "has ended" in text and s.line == "return", (s, text)
        checked += 1
    assert checked > 0
    assert not re.search(r"\bscan|check(s|ing)? which", summary) or model in ("select", "poll")
    assert not re.search(r"one (system )?call per message", summary, re.IGNORECASE)
    labels = " ".join(run.labels)
    assert "scan" not in labels or model in ("select", "poll")
    if tcp:
        assert "datagram" not in summary and "datagram" not in labels
    else:
        assert "peer closed" not in labels


def _epoll_never_scans(model: str, text: str) -> None:
    """epoll_wait takes the ready list its sockets' callbacks filled; only select and poll scan
    (or check every descriptor)."""
    for sentence in re.split(r"(?<=\.) ", text):
        if model == "epoll" or "epoll" in sentence:
            assert not re.search(r"\bscan|check(s|ing)? (which|every)", sentence), sentence


_NONE = re.compile(r"no (new )?(data|datagram) has arrived( on (connection (\d+)|any [a-z ]+))?")


def _no_arrival_denied_while_queued(reading: Reading, s: Said) -> None:
    """ "no data has arrived" is said of a connection with nothing queued; said of the
    process, of every connection (head-of-line blocking is the lesson, not to be hidden)."""
    queued = reading.queued(s.t)
    lane = reading.run.lanes[s.lane]
    for found in _NONE.finditer(s.text):
        if found[5] is not None:
            conns = {int(found[5])}
        elif lane.role == "kernel":
            conns = {lane.conn}
        else:
            conns = set(queued)  # of the process: every connection
        held = {c: queued[c] for c in conns if queued.get(c)}
        assert not held, (s, held)


def _no_cpu_only_when_none_is_used(reading: Reading, s: Said) -> None:
    text = s.text
    if "the process uses no CPU" in text:
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


def _durations_say_where_they_come_from(s: Said) -> None:
    for sentence in s.sentences:
        if DURATION.search(sentence) and not sentence.startswith("The run stopped"):
            assert any(origin in sentence for origin in ORIGINS), sentence


def _thread_end(run: Run, lane: int) -> float:
    """When a thread ended: its last event, a read that returned 0 (inf: it did not)."""
    last = max((i for i in range(len(run)) if run.lane[i] == lane),
               key=lambda i: (run.t1[i], run.kind[i] == Kind.EOF), default=-1)
    return run.t0[last] if last >= 0 and run.kind[last] == Kind.EOF else math.inf


# -- the lessons said where they happen ------------------------------------------------------------

@pytest.mark.parametrize(("name", "model"), [(n, r.model) for n, r in runs()
                                            if r.model == "blocking"], ids=lambda v: v)
def test_head_of_line_blocking_is_said_with_its_count(name: str, model: str) -> None:
    """While the single-threaded blocking server sleeps on a socket with nothing queued, the
    pane says how many messages wait on the other connections, held up behind it."""
    reading, moments_said = said(name, model)
    run = reading.run
    said_it = 0
    for s in moments_said:
        if s.lane != 0 or run.lanes[s.lane].role == "kernel":
            continue
        i = reading.covering(0, s.t)
        if i < 0 or reading.label(i) != READ_BLOCK or _woken(run, i):
            continue
        queued = reading.queued(s.t)
        waited = run.conn[i]
        elsewhere = sum(n for c, n in queued.items() if c != waited)
        if not elsewhere or queued.get(waited):
            continue
        noun = "datagram" if noun_of(run) == "datagram" else "message"
        count = f"{elsewhere} {noun}{'s are' if elsewhere > 1 else ' is'} queued"
        assert f"{count} on the other connections" in s.text, s
        assert f"held up behind connection {waited}" in s.text, s
        assert "head-of-line blocking" in s.text, s
        said_it += 1
    assert said_it >= (5 if name == "many-clients" else 0)  # burst's data is never late


def _woken(run: Run, i: int) -> bool:
    return any(run.kind[j] == Kind.WAKEUP and run.t0[j] == run.t0[i] and run.lane[j] == 0
               for j in range(len(run)))


def test_many_clients_blocking_between_2_and_30_ms() -> None:
    """The issue's case: connection 0 sends at 30 ms; meanwhile the others' data waits."""
    reading, moments_said = said("many-clients", "blocking")
    pane = [s for s in moments_said if s.lane == 0 and 2100.0 <= s.t < 30000.0]
    assert pane and all("head-of-line blocking" in s.text and "on connection 0" in s.text
                        for s in pane)
    assert "Meanwhile 6 messages are queued on the other connections" in pane[-1].text
    kernel = [s for s in moments_said if reading.run.lanes[s.lane].role == "kernel"
              and reading.run.lanes[s.lane].conn == 1 and 2100.0 <= s.t < 30000.0]
    assert kernel and all("behind connection 0" in s.text for s in kernel)


def test_big_copy_says_its_buffer_and_how_real_tcp_delivers_it() -> None:
    for model in ("blocking", "select", "sigio", "threaded"):
        reading, moments_said = said("big-copy", model)
        copies = [s for s in moments_said if "Phase 2" in s.text
                  and reading.run.lanes[s.lane].role != "kernel"]
        assert copies, model
        for s in copies:
            assert "8,388,608 bytes" in s.text and "segments" in s.text, s
            assert "many calls" in s.text and "tcp_rmem" in s.text, s
            assert s.line is not None and "recvfrom(8388608)" in s.line, s


@pytest.mark.parametrize(("name", "model"), [(n, r.model) for n, r in runs()
                                            if r.model == "sigio"], ids=lambda v: v)
def test_sigio_says_why_the_handler_reads_every_socket_to_the_end(name: str,
                                                                 model: str) -> None:
    reading, moments_said = said(name, model)
    tcp = noun_of(reading.run) == "data"
    deliveries = [s for s in moments_said if "delivers SIGIO" in s.text]
    assert deliveries
    for s in deliveries:
        assert "names no descriptor" in s.text and "not queued" in s.text, s
        assert "F_SETSIG" in s.text and "si_fd" in s.text, s
        assert ("half-close" in s.text) == tcp, s
        assert s.line is not None and "own_work()" in s.line, s  # the interrupted line
    setup = [s for s in moments_said if "O_ASYNC" in s.text]
    assert setup and all("O_NONBLOCK" in s.text for s in setup)
    assert ("half-close" in run_summary(reading.run)) == tcp


@pytest.mark.parametrize(("name", "model"), [(n, r.model) for n, r in runs()
                                            if r.model == "aio"], ids=lambda v: v)
def test_aio_is_posix_s_model_and_says_what_linux_does(name: str, model: str) -> None:
    reading, moments_said = said(name, model)
    summary = run_summary(reading.run)
    assert "POSIX" in summary and "glibc" in summary and "helper thread" in summary
    assert "io_uring" in summary and "no signal" in summary
    signals = [s for s in moments_said if "signal named in aio_read" in s.text]
    assert signals and all("POSIX" in s.text and "glibc" in s.text for s in signals)
    assert all("own_work()" in (s.line or "") for s in signals)
    for s in moments_said:
        if "aio_return collects" in s.text:
            assert ("returned 0" in s.text) != ("already in the buffer" in s.text), s


def test_an_aio_read_that_returns_0_is_said_so() -> None:
    _, moments_said = said("many-clients", "aio")
    assert any("aio_return collects a finished read that returned 0" in s.text
               and "the peer closed" in s.text for s in moments_said)


@pytest.mark.parametrize(("name", "model"), [(n, r.model) for n, r in runs()
                                            if r.model == "threaded"
                                            and (n, r.model) not in HEAVY], ids=lambda v: v)
def test_threads_run_in_parallel_in_c_and_end_on_their_return(name: str, model: str) -> None:
    reading, moments_said = said(name, model)
    run = reading.run
    assert "in parallel" in run_summary(run)
    gil = [s for s in moments_said if "waits for the GIL" in s.text]
    assert all("in parallel on several cores" in s.text for s in gil)
    ended = [s for s in moments_said if "has ended" in s.text]
    if name == "many-clients":
        assert ended and all(s.line == "return" for s in ended)
    ex = Explainer(run)
    for lane in reading.threads:
        end = _thread_end(run, lane)
        if end < run.end_us:
            assert ex.line_at((end + run.end_us) / 2, lane) == "return"
            assert "between recorded events" not in " ".join(ex.now((end + run.end_us) / 2,
                                                                    lane))


def test_copies_are_cpu_time_in_the_kernel() -> None:
    for name in ("one-datagram", "burst"):
        for model in ("blocking", "threaded"):
            _, moments_said = said(name, model)
            copies = [s for s in moments_said if s.text.startswith("Phase 2")]
            assert copies and all("CPU time in the kernel" in s.text for s in copies)
    reading, _ = said("burst", "threaded")
    ex = Explainer(reading.run)
    process_lane = [(t, " ".join(ex.now(t, 0))) for t in sorted(set(reading.run.t0))]
    in_kernel = [(t, text) for t, text in process_lane if "No thread runs Python code" in text]
    assert in_kernel and all(reading.kernel_cpu(t) for t, _ in in_kernel)
    assert all(not reading.kernel_cpu(t) for t, text in process_lane
               if "the process uses no CPU" in text)


def test_programs_shown_are_those_of_the_runs() -> None:
    for name, run in runs():
        prog = program_for(run)
        assert prog is not None
        _, moments_said = said(name, run.model)
        lines = {s.line for s in moments_said if s.line is not None}
        assert lines <= {line.strip() for line in prog.lines}, (name, run.model)
