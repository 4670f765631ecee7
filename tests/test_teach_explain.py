"""The sentences beside the timeline: exact words at known moments of the zero-cost arithmetic,
the lit line at known times, facts that hold against a brute-force reading of the trace, and
answers that never walk the event columns."""

from __future__ import annotations

import math
import re
from array import array

import pytest
from teachhelp import (
    app_lanes,
    builtin_runs,
    explain_everywhere,
    light_builtin_runs,
    one_datagram,
    sample_times,
    traced_like,
)

from iosim.scenario import SIM_MODELS
from iosim.teach import format_us
from iosim.teach.explain import Explainer, model_summary
from iosim.teach.moment import Doing
from iosim.teach.programs import program_for
from iosim.trace import Kind, Run

COPY_1024 = 0.256  # µs: 1,024 bytes at 4 GB/s
OTHER_COSTS = "a figure of this run's cost profile, not the defaults"


@pytest.mark.parametrize(("us", "text"), [
    (0.256, "0.256 µs"), (15.9, "15.9 µs"), (999.6, "999.6 µs"), (1240.0, "1.240 ms"),
    (20000.0, "20.000 ms"), (999.96, "1.000 ms"), (0.9996, "1.0 µs"), (0.0, "0 µs"),
    (-1240.0, "-1.240 ms"), (math.nan, "unknown"), (0.64, "0.640 µs"), (100.0, "100.0 µs"),
    (9_999_999.0, "9999.999 ms"), (12_500_000.0, "12.500 s"), (1e9, "1000.000 s"),
])
def test_format_us(us: float, text: str) -> None:
    assert format_us(us) == text


def test_format_us_never_scientific() -> None:
    for exponent in range(-9, 12):
        for mantissa in (1.0, 2.5, 9.99951):
            assert "e" not in format_us(mantissa * 10.0 ** exponent)


# -- exact sentences, one datagram at 20 ms, every cost 0 but the copy (and the one named) ------

MOMENTS = [
    ("blocking", {}, 10000.0, 0,
     ["Phase 1: no datagram has arrived yet; the process sleeps inside recvfrom and uses no "
      "CPU."]),
    ("blocking", {}, 20000.0 + COPY_1024 / 2, 0,
     ["Phase 2: the kernel copies 1,024 bytes into the process's buffer, CPU time in the "
      "kernel in this process; the process stays blocked in recvfrom until the copy ends."]),
    ("blocking", {}, 20010.0 + COPY_1024, 0,
     ["The process handles the datagram it received (50.0 µs of its own computation, the "
      "scenario's work_us).", "Its data reached the kernel 10.3 µs ago."]),
    ("blocking", {}, 20050.0 + COPY_1024, 0, ["The run is over: 1 of 1 datagram handled."]),
    ("blocking", {}, -1.0, 0, ["The run has not started yet."]),
    ("nonblocking", {}, 500.0, 0,
     ["recvfrom returned EWOULDBLOCK: nothing was queued, so the process does its own work "
      "for 1.000 ms (the scenario's poll interval) and asks again."]),
    ("select", {}, 10000.0, 0,
     ["Phase 1: no datagram has arrived yet; the process sleeps inside select and uses no CPU.",
      "select only reports readiness: recvfrom must still copy the data."]),
    ("select", {"wakeup_us": 100.0}, 20040.0, 0,
     ["The datagram arrived in the kernel 40.0 µs ago; the kernel has woken the process, "
      f"which runs again in about 60.0 µs ({OTHER_COSTS})."]),
    ("select", {"wakeup_us": 100.0}, 20000.0, 0,
     ["The datagram has just arrived in the kernel; the kernel has woken the process, which "
      f"runs again in about 100.0 µs ({OTHER_COSTS})."]),
    ("sigio", {}, 10000.0, 0,
     ["The process runs its own code; it does not wait for data.",
      "Phase 1: no datagram has arrived yet."]),
    ("sigio", {"signal_us": 120.0}, 20040.0, 0,
     ["The kernel delivers SIGIO: it interrupts the process, whose handler starts in about "
      f"80.0 µs ({OTHER_COSTS}).",
      "SIGIO only says a socket is readable: the data is still in the kernel.",
      "Plain SIGIO names no descriptor, so the handler reads every socket, and is not queued, "
      "so it reads each until EWOULDBLOCK (F_SETSIG would give a queued real-time signal "
      "with si_fd)."]),
    ("sigio", {}, 20000.0 + COPY_1024 / 2, 0,
     ["Phase 2: the kernel copies 1,024 bytes into the process's buffer, CPU time in the "
      "kernel in this process; the process stays blocked in recvfrom until the copy ends.",
      "SIGIO only said that the socket was readable: the handler's read still waits for the "
      "copy."]),
    ("aio", {}, 20000.0 + COPY_1024 / 2, 0,
     ["The process runs its own code; it does not wait for data.",
      "Meanwhile the kernel copies the datagram into the buffer given to aio_read (phase 2), "
      "without the process."]),
    ("aio", {}, 20010.0 + COPY_1024, 0,
     ["The process handles the datagram it received (50.0 µs of its own computation, the "
      "scenario's work_us).", "Its data reached the kernel 10.3 µs ago.",
      "The kernel had copied it before the handler ran: this process never blocks for its "
      "data."]),
    ("threaded", {}, 10000.0, 0,
     ["Every thread is blocked: the process uses no CPU.",
      "Phase 1: no datagram has arrived on any connection yet."]),
    ("threaded", {}, 10000.0, 2,
     ["Phase 1: no datagram has arrived yet; thread 0 sleeps inside recvfrom and uses no "
      "CPU."]),
]


@pytest.mark.parametrize(("model", "costs", "t", "lane", "words"), MOMENTS)
def test_sentences_at_known_moments(model: str, costs: dict, t: float, lane: int,
                                    words: list[str]) -> None:
    assert Explainer(one_datagram(model, **costs)).now(t, lane) == words


@pytest.mark.parametrize(("model", "costs", "t", "words"), [
    ("select", {"wakeup_us": 100.0}, 20040.0,
     "The datagram arrived in the kernel 40.0 µs ago; the kernel has woken the process, which "
     "is not running yet."),
    ("nonblocking", {}, 500.0, "recvfrom returned EWOULDBLOCK: nothing was queued, so the "
     "process does its own work for 1.000 ms (the scenario's poll interval)."),
    ("sigio", {"signal_us": 120.0}, 20040.0,
     "The kernel delivers SIGIO: it interrupts the process, whose handler starts soon."),
])
def test_without_what_comes_later(model: str, costs: dict, t: float, words: str) -> None:
    """Predict mode asks about what comes next: ``ahead=False`` does not tell it."""
    assert Explainer(one_datagram(model, **costs)).now(t, ahead=False)[0] == words


# -- the lit line ---------------------------------------------------------------------------------

LINES = {  # one datagram at 20 ms, zero costs: (t, lane) -> key
    "blocking": {(10.0, 0): "recvfrom", (20000.1, 0): "recvfrom", (20010.0, 0): "process"},
    "nonblocking": {(500.0, 0): "work", (20000.1, 0): "recvfrom", (20010.0, 0): "process"},
    "select": {(10.0, 0): "select", (20000.1, 0): "recvfrom", (20010.0, 0): "process"},
    "poll": {(10.0, 0): "poll", (20000.1, 0): "recvfrom", (20010.0, 0): "process"},
    "epoll": {(10.0, 0): "epoll_wait", (20000.1, 0): "recvfrom", (20010.0, 0): "process"},
    "epoll-et": {(10.0, 0): "epoll_wait", (20000.1, 0): "recvfrom", (20010.0, 0): "process"},
    "sigio": {(10.0, 0): "work", (20000.1, 0): "recvfrom", (20010.0, 0): "process"},
    "aio": {(10.0, 0): "work", (20000.1, 0): "work", (20010.0, 0): "process"},
    "threaded": {(10.0, 2): "recvfrom", (20010.0, 2): "process", (10.0, 0): None,
                 (20010.0, 0): "process"},
}
SETUP_LINES = {  # default costs (a call 1.8 µs): the setup calls are lit while they run
    "epoll": {1.0: "epoll_create", 2.5: "epoll_ctl", 10.0: "epoll_wait"},
    "sigio": {1.0: "sigaction", 2.5: "fcntl F_SETOWN", 4.5: "fcntl O_ASYNC", 10.0: "work"},
    "aio": {1.0: "aio_read", 10.0: "work"},
}


@pytest.mark.parametrize("model", SIM_MODELS)
def test_line_at_known_times(model: str) -> None:
    ex = Explainer(one_datagram(model))
    assert {key: ex.line_at(*key) for key in LINES[model]} == LINES[model]
    assert ex.line_at(-1.0) is None


@pytest.mark.parametrize("model", sorted(SETUP_LINES))
def test_line_at_setup_calls(model: str) -> None:
    run = next(run for name, run in builtin_runs() if name == "one-datagram"
               and run.model == model)
    ex = Explainer(run)
    assert {t: ex.line_at(t) for t in SETUP_LINES[model]} == SETUP_LINES[model]
    delivered = [run.t0[i] for i in range(len(run)) if run.kind[i] == Kind.DELIVERY]
    assert all(ex.line_at(t + 1.0) == "work" for t in delivered)  # the line interrupted
    assert bool(delivered) == (model != "epoll")


def test_lit_lines_are_lines_of_the_program() -> None:
    for _, run in light_builtin_runs():
        prog = program_for(run)  # None: a variant not modelled with this model (an error run)
        keys = set(prog.keys) if prog else set()
        ex = Explainer(run)
        for lane in app_lanes(run):
            lit = {ex.line_at(t, lane) for t in sample_times(run)}
            assert lit - {None} <= keys, (run.model, lit - keys)


# -- every fact a sentence states holds ------------------------------------------------------------

def test_facts_hold_on_every_builtin_run() -> None:
    checked = sum(explain_everywhere(run, 120) for _, run in light_builtin_runs())
    assert checked > 5000


def test_a_traced_run_says_less() -> None:
    """No line keys, ready times only estimated, send times unknown: no lit line, and no word
    on when data arrived or that it has not."""
    for name, run in light_builtin_runs():
        if name not in ("one-datagram", "many-clients"):
            continue
        traced = traced_like(run)
        ex = Explainer(traced)
        for t in sample_times(traced, 100):
            for lane in app_lanes(traced):
                assert ex.line_at(t, lane) is None
                m = ex.moment(t, lane)
                assert m.queued is None and m.oldest_ready is None and not m.nothing_yet
                text = " ".join(ex.now(t, lane))
                assert "arrived" not in text and "bytes" not in text, text
        explain_everywhere(traced, 60)


def test_lanes_are_checked() -> None:
    ex = Explainer(one_datagram("blocking"))
    with pytest.raises(ValueError, match="lane 7"):
        ex.now(1.0, 7)
    assert ex.now(10.0, 1) == ["Connection 0: phase 1, no datagram has arrived yet."]


# -- O(log n): answers read a bounded number of column cells, and never walk a column ------------

class Guarded(array):
    """A column that counts the cells read and refuses to be walked."""

    reads = 0

    def __iter__(self):  # type: ignore[override]
        raise AssertionError("a column was walked")

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            raise AssertionError("a column was sliced")
        Guarded.reads += 1
        return super().__getitem__(i)


COLUMNS = ("kind", "lane", "t0", "t1", "label", "conn", "msg", "line", "m_conn", "m_bytes",
           "m_sent", "m_ready", "m_copy_start", "m_copy_end", "m_done", "m_flags")


def most_reads_per_answer(run: Run) -> int:
    """The most column cells one answer (now and line_at) reads, over many times and lanes."""
    ex = Explainer(run)
    times, lanes = sample_times(run, 200), app_lanes(run)
    plain = {name: getattr(run, name) for name in COLUMNS}
    for name, col in plain.items():
        guarded = Guarded(col.typecode)
        guarded.frombytes(col.tobytes())
        setattr(run, name, guarded)
    most = 0
    try:
        for t in times:
            for lane in lanes:
                Guarded.reads = 0
                ex.now(t, lane)
                ex.line_at(t, lane)
                most = max(most, Guarded.reads)
    finally:
        for name, col in plain.items():
            setattr(run, name, col)
    return most


def test_answers_read_few_cells_whatever_the_size() -> None:
    small = one_datagram("select")
    big = next(run for name, run in builtin_runs() if name == "c10k" and run.model == "epoll")
    assert len(big) > 1000 * len(small)
    assert most_reads_per_answer(small) <= 64
    assert most_reads_per_answer(big) <= 64


# -- what a model is ------------------------------------------------------------------------------

@pytest.mark.parametrize("model", [*SIM_MODELS, "asyncio"])
def test_model_summary_is_one_to_three_sentences(model: str) -> None:
    for noun, source in (("datagram", "sim"), ("data", "sim"), ("data", "real")):
        text = model_summary(model, noun, source)
        assert text.endswith(".") and 1 <= len(re.findall(r"\.(?: |$)", text)) <= 3, text


def test_model_summaries_answer_the_misconceptions() -> None:
    assert "only reports readiness" in model_summary("select")
    assert "still blocks for the copy" in model_summary("select")
    assert "only reports readiness" in model_summary("sigio")
    assert "not queued" in model_summary("sigio")
    assert "POSIX" in model_summary("aio") and "helper thread" in model_summary("aio")
    assert "io_uring" in model_summary("aio") and "no signal" in model_summary("aio")
    assert "io_uring" in model_summary("aio", "data", "real")
    assert "no signal" in model_summary("aio", "data", "real")
    assert "datagram" not in model_summary("blocking", "data")
    assert "several messages" in model_summary("blocking", "data")
    assert "head-of-line" in model_summary("blocking")
    assert "ready list" in model_summary("epoll") and "scan" not in model_summary("epoll")
    assert "half-close" in model_summary("sigio", "data")
    assert "half-close" not in model_summary("sigio", "datagram")
    assert "F_SETSIG" in model_summary("sigio") and "names no descriptor" in model_summary("sigio")
    assert "copy (phase 2) still" in model_summary("nonblocking")
    assert "FD_SETSIZE" in model_summary("select")
    assert "GIL" in model_summary("threaded")
    assert "my_server.py" in model_summary("my_server.py")


def test_durations_say_which_cost_profile() -> None:
    """Every duration from the simulator's costs names its profile: the defaults, a calibrated
    one (with the terms only iosim calibrate fits), or another; a real run's are measured."""
    import copy as copying

    from iosim.sim.costs import Costs
    from iosim.teach.words import costs_note

    run = next(r for n, r in builtin_runs() if n == "one-datagram" and r.model == "select")
    assert costs_note(run) == "a figure of the default cost profile"
    other = copying.copy(run)
    other.meta = dict(run.meta, costs=Costs(wakeup_us=50.0).to_dict())
    assert costs_note(other) == "a figure of this run's cost profile, not the defaults"
    other.meta = dict(run.meta, costs=Costs(wakeup_idle_us=80.0).to_dict())
    assert "calibrated" in costs_note(other)
    other.source = "real"
    assert costs_note(other) == "as measured"
    assert "a figure of the default cost profile" in " ".join(Explainer(run).now(2.0))


@pytest.mark.parametrize("model", ["select", "epoll"])
def test_a_herd_threads_empty_accept_names_the_thread_that_took_the_connection(
        model: str) -> None:
    """thundering-herd: every thread woken on the listening socket calls accept; each that
    finds the queue empty and then waits for the GIL is told who took the connection, read
    from the trace."""
    run = next(r for name, r in builtin_runs() if name == "thundering-herd" and r.model == model)
    ex = Explainer(run)
    taken = [(run.t0[i], run.lanes[run.lane[i]].name) for i in range(len(run))
             if run.kind[i] == Kind.RETURN
             and run.labels[run.label[i]].startswith("return connection")]
    empty = [i for i in range(len(run)) if run.kind[i] == Kind.EWOULDBLOCK]
    after = [(i, math.nextafter(run.t0[i], math.inf)) for i in empty]
    waiting = [(i, t) for i, t in after if ex.moment(t, run.lane[i]).doing is Doing.GIL]
    assert taken and waiting
    for i, t in waiting:
        lane = run.lanes[run.lane[i]].name
        taker = max((at, who) for at, who in taken if at <= t and who != lane)[1]
        said = " ".join(ex.now(t, run.lane[i]))
        assert (f"{lane.capitalize()}'s accept returned EWOULDBLOCK: the accept queue is "
                f"empty, as {taker}'s accept took the connection first, so {lane} woke for "
                "nothing") in said, said
