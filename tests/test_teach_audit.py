"""The audit of the words: every built-in scenario x every simulated model, through what
``iosim explain`` prints (the one-run view's pane, moment by moment) and the kernel lanes'
sentences, checked against a reading of the trace made here, independently of the Explainer:
no false statement of the kind a teaching tool slips into (epoll "scanning", "no data has
arrived" while data waits elsewhere, "datagram" on TCP, "uses no CPU" during a copy, a GIL wait
behind no Python code, "sleeps" where no wait is shown, POSIX aio told as Linux's ...), and
the lessons said where they happen (head-of-line blocking with its count, the buffer size of
big-copy, SIGIO's two reasons, where each duration comes from)."""

from __future__ import annotations

import re
from functools import cache

import pytest
from audithelp import READ_BLOCK, Reading, Said, check_said, thread_end
from teachhelp import HEAVY, builtin_runs

from iosim.teach.explain import Explainer, run_summary
from iosim.teach.explain_command import moments
from iosim.teach.programs import program_for
from iosim.teach.words import noun_of
from iosim.trace import Kind, Run

MOST_HEAVY = 1500  # moments looked at in a c10k run that is not the scenario's point


def runs() -> list[tuple[str, Run]]:
    return list(builtin_runs())


def modelled(model: str) -> list[tuple[str, str]]:
    """The built-in runs of ``model`` that ran (a scenario's server may not be modelled
    with it: that run only says why it stopped)."""
    return [(n, r.model) for n, r in runs() if r.model == model and len(r) > 1]


def run_ids() -> list[str]:
    return [f"{name}-{run.model}" for name, run in runs()]


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


# -- nothing false ------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "model"), [(n, r.model) for n, r in runs()], ids=run_ids())
def test_no_false_statement(name: str, model: str) -> None:
    reading, moments_said = said(name, model)
    run = reading.run
    tcp = noun_of(run) == "data"
    summary = run_summary(run)
    checked = 0
    for s in moments_said:
        check_said(reading, s)
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


# -- the lessons said where they happen ------------------------------------------------------------

@pytest.mark.parametrize(("name", "model"), modelled("blocking"), ids=lambda v: v)
def test_head_of_line_blocking_is_said_with_its_count(name: str, model: str) -> None:
    """While the single-threaded blocking server sleeps on a socket with nothing queued, the
    pane says how many messages wait on the other connections, held up behind it."""
    reading, moments_said = said(name, model)
    run = reading.run
    said_it = 0
    woken = wakeups(run)
    for s in moments_said:
        if s.lane != 0 or run.lanes[s.lane].role == "kernel":
            continue
        i = reading.covering(0, s.t)
        if i < 0 or reading.label(i) != READ_BLOCK or run.t0[i] in woken:
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


def wakeups(run: Run) -> set[float]:
    """When the process (lane 0) was woken."""
    return {run.t0[j] for j in range(len(run)) if run.kind[j] == Kind.WAKEUP and run.lane[j] == 0}


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
            assert "many recvfrom calls" in s.text and "tcp_rmem" in s.text, s
            assert s.line is not None and "recvfrom(8388608)" in s.line, s


@pytest.mark.parametrize(("name", "model"), modelled("sigio"), ids=lambda v: v)
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


@pytest.mark.parametrize(("name", "model"), modelled("aio"), ids=lambda v: v)
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
        end = thread_end(run, lane)
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
        _, moments_said = said(name, run.model)
        lines = {s.line for s in moments_said if s.line is not None}
        if len(run) <= 1:  # refused (not modelled with this server, FD_SETSIZE): says why
            assert run.error and not lines, (name, run.model)
            assert all(s.text.startswith("The run stopped") for s in moments_said
                       if run.lanes[s.lane].role != "kernel"), (name, run.model)
            continue
        assert prog is not None
        assert lines <= {line.strip() for line in prog.lines}, (name, run.model)


# -- the lessons past Figure 6.6 ------------------------------------------------------------------

def left_queued(run: Run, t: float) -> int:
    """Bytes a read left queued of a message at ``t``, read from the kernel lanes' notes."""
    for i in range(len(run)):
        label = run.labels[run.label[i]]
        if run.kind[i] == Kind.QUEUED and label.endswith("bytes left queued after a read") \
                and run.t0[i] <= t < run.t1[i]:
            return int(label.split()[0].replace(",", ""))
    return 0


def test_edge_triggered_epoll_says_what_a_read_left_and_why_it_waits() -> None:
    """epoll-et asleep in epoll_wait while a read's leftovers wait: said with their bytes and
    why (reported once); level-triggered epoll never sleeps then, and says it reports the
    socket again at once."""
    reading, moments_said = said("edge-triggered", "epoll-et")
    run = reading.run
    stalls = 0
    for s in moments_said:
        i = reading.covering(s.lane, s.t)
        if run.lanes[s.lane].role == "kernel" or i < 0 or "has woken" in s.text or \
                not reading.label(i).startswith("process blocks in call to epoll_wait"):
            continue
        left = left_queued(run, s.t)
        if left:
            assert f"A read left {left:,} bytes of a message queued" in s.text, s
            assert "edge-triggered epoll reported the socket once" in s.text, s
            stalls += 1
    assert stalls >= 2
    reading, moments_said = said("edge-triggered", "epoll")
    run = reading.run
    for s in moments_said:
        i = reading.covering(0, s.t)
        if i >= 0 and reading.label(i).startswith("process blocks in call to epoll_wait"):
            assert not left_queued(run, s.t), s
    again = [s for s in moments_said if "reports the socket again at once" in s.text]
    assert again and all(f"left {left_queued(run, s.t):,} bytes" in s.text for s in again)
    assert any("EPOLLET" in s.text for s in said("edge-triggered", "epoll-et")[1])
    assert not any("EPOLLET" in s.text for s in moments_said)


def test_a_bad_datagram_is_said_dropped_by_the_copy() -> None:
    for model in ("select", "blocking"):
        reading, moments_said = said("select-lies", model)
        assert reading.corrupt, model
        drops = [s for s in moments_said if "checksum, computed as it is copied, is bad" in s.text]
        assert drops and all(s.text.startswith("Phase 2") for s in drops), model


def test_send_and_accept_sleeps_say_what_they_wait_for() -> None:
    """The rules of check_said hold (test_no_false_statement); here, that they were met."""
    _, moments_said = said("send-side", "blocking")
    assert any("send buffer is full" in s.text and "held up behind this send" in s.text
               for s in moments_said)
    _, moments_said = said("send-side", "nonblocking")
    assert any("send returned EWOULDBLOCK: the socket's send buffer is full" in s.text
               for s in moments_said)
    _, moments_said = said("thundering-herd", "blocking")
    assert any("until a connection waits in the accept queue" in s.text
               and "The wait in accept is exclusive" in s.text for s in moments_said)
    _, moments_said = said("sigio-tcp", "sigio")
    assert any("SIGIO did not say which socket or why" in s.text for s in moments_said)
