"""Runs for the teaching tests: every built-in scenario simulated once per session, zero-cost
scenarios with chosen latencies, and traced-like copies of runs (no line keys, estimated
ready times, no send times), as a program iosim did not write would give."""

from __future__ import annotations

import copy
import math
import re
from array import array
from functools import cache

from simhelp import run_of, sim, zero_cost_scenario

from iosim import scenario
from iosim.scenario import SIM_MODELS
from iosim.sim.costs import Costs
from iosim.sim.run import simulate
from iosim.teach import format_us
from iosim.teach.explain import Explainer
from iosim.teach.moment import Doing, Moment
from iosim.trace import COPY_LABEL, READY_ESTIMATED, Kind, Run

ONE = "[[connections]]\nsends = [[20.0, 1024]]"
HEAVY = {("c10k", "nonblocking"), ("c10k", "sigio"), ("c10k", "threaded"), ("c10k", "aio"),
         ("c10k", "blocking")}  # c10k's models that are not its point: tens of thousands of events


@cache
def builtin_runs() -> tuple[tuple[str, Run], ...]:
    """(scenario, run) for every built-in scenario and every simulated model."""
    out = []
    for name in scenario.builtin_names():
        for run in simulate(scenario.load(name), SIM_MODELS).runs:
            out.append((name, run))
    return tuple(out)


def light_builtin_runs() -> list[tuple[str, Run]]:
    return [(name, run) for name, run in builtin_runs() if (name, run.model) not in HEAVY]


def one_datagram(model: str, **costs: float) -> Run:
    """One 1,024-byte datagram at 20 ms, every cost 0 but the copy (4 GB/s) and ``costs``."""
    if not costs:
        return run_of(sim(zero_cost_scenario(ONE, [model])), model)
    values = Costs.zero(4.0).to_dict() | costs
    text = "\n".join(f"{k} = {v}" for k, v in values.items())
    sc = scenario.parse(f'name = "t"\nprotocol = "udp"\nmodels = ["{model}"]\n[costs]\n{text}\n'
                        f"[process]\nwork_us = 50.0\npoll_interval_us = 1000.0\n{ONE}\n", "<test>")
    return run_of(sim(sc), model)


def traced_like(run: Run) -> Run:
    """The run as a tracer without the program would see it: no line keys, ready times
    bracketed from the calls (flagged as estimates), send times unknown."""
    out = copy.deepcopy(run)
    out.source = "traced"
    out.model = "my_server.py"
    out.code = []
    out.line = array("i", [-1]) * len(out.kind)
    out.m_flags = array("b", [READY_ESTIMATED]) * out.message_count
    out.m_sent = array("d", [math.nan]) * out.message_count
    return out


def sample_times(run: Run, most: int = 300) -> list[float]:
    """Event starts and the midpoints between them, at most ``most``, spread over the run."""
    starts = sorted(set(run.t0))
    step = max(1, len(starts) // (most // 2))
    picked = starts[::step]
    return picked + [(a + b) / 2 for a, b in zip(picked, picked[1:], strict=False)]


def app_lanes(run: Run) -> list[int]:
    lanes = [i for i, ln in enumerate(run.lanes) if ln.role in ("app", "thread")]
    return lanes[:4]


# -- facts and words, checked against a brute-force reading of the trace --------------------

SPAN_OF = {Doing.ASLEEP: Kind.BLOCKED, Doing.WAKING: Kind.BLOCKED, Doing.COPY: Kind.BLOCKED,
           Doing.GIL: Kind.BLOCKED, Doing.ALL_BLOCKED: Kind.BLOCKED,
           Doing.IN_CALL: Kind.IN_KERNEL, Doing.WORK: Kind.WORK, Doing.PROCESS: Kind.PROCESS,
           Doing.DELIVERY: Kind.DELIVERY, Doing.OVERHEAD: Kind.OVERHEAD}


def finite(t: float) -> float:
    return t if t == t else math.inf


class PlainReading:
    """The trace read once, plainly (none of the Explainer's indexes): each kind's spans on
    each lane, the copies on each lane and each connection's ends of file, so that checking
    a moment scans one lane's spans rather than the whole run."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.spans: dict[tuple[int, int], list[tuple[float, float]]] = {}
        self.copies: dict[int, list[tuple[float, float]]] = {}
        self.eofs: dict[int, list[float]] = {}
        for i in range(len(run)):
            kind, lane, span = run.kind[i], run.lane[i], (run.t0[i], run.t1[i])
            self.spans.setdefault((kind, lane), []).append(span)
            if run.labels[run.label[i]] == COPY_LABEL:
                self.copies.setdefault(lane, []).append(span)
            if kind == Kind.EOF:
                self.eofs.setdefault(run.conn[i], []).append(run.t0[i])


def covers(spans: list[tuple[float, float]], t: float) -> bool:
    return any(t0 <= t < t1 for t0, t1 in spans)


def check_facts(reading: PlainReading, m: Moment) -> None:
    """Each fact of a moment, checked by reading the whole trace (as the Explainer must not)."""
    run = reading.run
    t = m.t
    if m.doing in SPAN_OF:
        assert covers(reading.spans.get((SPAN_OF[m.doing], m.lane), []), t), m
    if m.doing is Doing.COPY:
        assert covers(reading.copies.get(m.lane, []), t), m
    assert (m.doing is Doing.ENDED) == (t >= run.end_us and len(run) > 0 and t >= 0), m
    scope = [i for i in range(run.message_count) if m.conn < 0 or run.m_conn[i] == m.conn]
    ready = {i: run.m_ready[i] for i in scope}
    queued = [i for i in scope if ready[i] <= t and not finite(run.m_copy_start[i]) <= t]
    if m.queued is not None:
        assert m.queued == len(queued), m
    if m.oldest_ready is not None:
        assert m.oldest_ready == min(ready[i] for i in queued), m
    if m.nothing_yet:
        assert not any(ready[i] <= t < finite(run.m_copy_end[i]) for i in scope), m
        later = [i for i in scope if ready[i] > t]
        assert later, m
        if run.source != "sim":
            assert run.m_sent[min(later, key=ready.get)] > t, m
        if m.conn < 0:
            for conn in {run.m_conn[i] for i in scope}:
                last = max(i for i in scope if run.m_conn[i] == conn)
                arrived = run.m_ready[last] if run.source == "sim" else run.m_sent[last]
                eof = min(reading.eofs.get(conn, []), default=math.inf)
                assert not (arrived <= t < eof), (m, conn)
    if m.no_more:
        assert not queued and not any(ready[i] > t for i in scope), m
    if m.nbytes is not None:
        copied = [i for i in scope if m.start < run.m_copy_end[i] <= m.end]
        assert m.nbytes == sum(run.m_bytes[i] for i in copied), m
    if m.copying is not None:
        assert m.copying == sum(1 for i in range(run.message_count)
                                if finite(run.m_copy_start[i]) <= t < finite(run.m_copy_end[i])
                                and (m.doing is not Doing.KERNEL or run.m_conn[i] == m.conn)), m


def check_words(m: Moment, words: list[str]) -> None:
    """The sentences say only what the facts hold."""
    text = " ".join(words)
    assert 1 <= len(words) <= 3 and all(w and w[-1] == "." for w in words), words
    if "has arrived" in text and ("no datagram" in text or "no data" in text
                                  or "no new" in text):
        assert m.nothing_yet, (m, words)
    if "arrived in the kernel" in text and "just" not in text:
        assert m.oldest_ready is not None, (m, words)
        assert f"{format_us(m.t - m.oldest_ready)} ago" in text, (m, words)
    if (found := re.search(r"copies ([\d,]+) bytes?", text)):
        assert m.nbytes == int(found[1].replace(",", "")), (m, words)
    assert not re.search(r"\b(\w+) \1\b", text, re.IGNORECASE), words
    for a, b in zip(words, words[1:], strict=False):
        assert a.rstrip(".").split()[-1].lower() != b.split()[0].lower(), words


def explain_everywhere(run: Run, most: int = 300) -> int:
    ex = Explainer(run)
    reading = PlainReading(run)
    lanes = app_lanes(run) + [i for i, ln in enumerate(run.lanes) if ln.role == "kernel"][:2]
    n = 0
    for t in sample_times(run, most) + [-1.0, run.end_us]:
        for lane in lanes:
            m = ex.moment(t, lane)
            check_facts(reading, m)
            check_words(m, ex.now(t, lane))
            n += 1
    return n

