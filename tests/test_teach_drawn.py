"""What the sources record is what the words say: a real io_uring run drawn as what is known
(an estimated copy, a completion seen in the ring, no signal), a real read that returned 0 at
once told as time in the kernel, a UDP datagram larger than the buffer truncated, GIL waits
only behind Python code, a signal on the line it interrupts; and a pane that does not jump."""

from __future__ import annotations

from dataclasses import replace

import pygame
import pytest
from simhelp import copy_us, run_of, zero_cost_scenario
from teachhelp import builtin_runs

from iosim import scenario, summary
from iosim.real.capture import RING_LABEL, build_run
from iosim.real.record import CALL, HANDLER, PROCESS
from iosim.sim.run import simulate
from iosim.teach.explain import Explainer
from iosim.trace import READY_ESTIMATED, Kind, Run
from iosim.view.app import App
from iosim.view.braces import RUNS_BRACE, braces_of
from iosim.view.draw_code import LIT_MARK, PAD
from iosim.view.render import prepare

US = 1000  # ns


def events(run: Run, kind: Kind) -> list[tuple[int, float, float, str]]:
    return [(run.lane[i], run.t0[i], run.t1[i], run.labels[run.label[i]])
            for i in range(len(run)) if run.kind[i] == kind]


# -- iosim's real aio server is io_uring ------------------------------------------------------

def ring_capture() -> Run:
    """One 100-byte message sent at 100 µs; the server finds its completion at 150 µs."""
    rows = [(CALL, 0, "aio_read", 0, 10 * US, 12 * US, 0, 0),
            (CALL, 0, "aio_return", 0, 150 * US, 152 * US, 100, 0),
            (PROCESS, 0, "process data", 0, 152 * US, 162 * US, 0, 0),
            (HANDLER, 0, "completion handler", -1, 150 * US, 163 * US, 0, 0)]
    return build_run("aio", "tcp", rows, 0, 200 * US, plan=[[(0, 100)]], sent_ns=[100 * US],
                     connections=1, work_us=10.0)


def test_a_real_aio_run_draws_what_is_known() -> None:
    run = ring_capture()
    assert not events(run, Kind.SIGNAL) and not events(run, Kind.DELIVERY)
    assert events(run, Kind.COMPLETE) == [(0, 150.0, 150.0, RING_LABEL)]
    (copy,) = events(run, Kind.COPY)
    assert copy[0] == 1 and copy[1:3] == (100.0, 150.0) and "estimated" in copy[3]
    assert run.m_flags[0] & READY_ESTIMATED
    assert [label for *_, label in events(run, Kind.SYSCALL)] == ["aio_read"]  # a ring, no call
    assert summary.totals(run)["signals"] == 0
    assert (0.0, 150.0, RUNS_BRACE) in braces_of(run)
    words = " ".join(Explainer(run).now(151.0))
    assert "io_uring" in words and "signal" not in words


def test_a_read_that_returned_0_at_once_is_no_sleep() -> None:
    """A 3 µs recvfrom that returned 0 after the client said goodbye shows no wait; one made
    before the goodbye sleeps until it arrives."""
    def capture(enter_us: int, back_us: int) -> Run:
        """Connection 0 sends at 20 µs and says goodbye at 100 µs; connection 1 sends at
        250 µs, read after connection 0's last read (entered at ``enter_us``)."""
        rows = [(CALL, 0, "recvfrom", 0, 50 * US, 52 * US, 100, 30 * US),
                (PROCESS, 0, "process data", 0, 52 * US, 60 * US, 0, 0),
                (CALL, 0, "recvfrom", 0, enter_us * US, back_us * US, 0, 0),
                (CALL, 0, "recvfrom", 1, 240 * US, 292 * US, 100, 290 * US),
                (PROCESS, 0, "process data", 1, 292 * US, 300 * US, 0, 0)]
        return build_run("blocking", "tcp", rows, 0, 400 * US, plan=[[(0, 100)], [(1, 100)]],
                         sent_ns=[20 * US, 250 * US], closed_ns=[100 * US, 350 * US],
                         connections=2, work_us=8.0)

    late = capture(200, 203)
    (call,) = [e for e in events(late, Kind.IN_KERNEL) if e[1] == 200.0]
    assert call[2] == 203.0 and not [e for e in events(late, Kind.BLOCKED)
                                     if 200.0 <= e[1] < 203.0]
    words = " ".join(Explainer(late).now(201.0))
    assert "inside recvfrom" in words and "returns 0" in words and "sleep" not in words
    early = capture(70, 160)  # the goodbye left at 100 µs
    assert any(e[1] == 70.0 and e[2] >= 100.0 for e in events(early, Kind.BLOCKED))
    assert "sleeps" in " ".join(Explainer(early).now(80.0))


# -- the simulator ---------------------------------------------------------------------------

def test_a_datagram_larger_than_the_buffer_is_truncated() -> None:
    base = zero_cost_scenario("[[connections]]\nsends = [[1.0, 3000]]", ["blocking"])
    small = replace(base, process=replace(base.process, buffer_bytes=1024))
    run = run_of(simulate(small), "blocking")
    start, end = run.m_copy_start[0], run.m_copy_end[0]
    assert end - start == pytest.approx(copy_us(1024))
    assert any("MSG_TRUNC" in label for *_, label in events(run, Kind.RETURN))
    (copy,) = events(run, Kind.COPY)
    assert "1,024 of 3,000 bytes" in copy[3] and "MSG_TRUNC" in copy[3]
    words = " ".join(Explainer(run).now((start + end) / 2))
    assert "copies 1,024 bytes" in words
    assert "drops the other 1,976 bytes (MSG_TRUNC)" in words


def test_gil_waits_only_while_another_thread_runs_python() -> None:
    """CPython lets the GIL go around system calls and copies: a thread waits for it only
    while another runs Python code (the process lane shows which)."""
    for name in ("burst", "many-clients", "big-copy"):
        run = run_of(simulate(scenario.load(name), ["threaded"]), "threaded")
        python = sorted((t0, t1) for lane, t0, t1, label in
                        events(run, Kind.PROCESS) + events(run, Kind.OVERHEAD)
                        + events(run, Kind.WORK) if lane == 0)
        for lane, t0, t1, label in events(run, Kind.BLOCKED):
            if label == "waiting for the GIL" and t1 > t0:
                covered = sum(max(0.0, min(t1, b) - max(t0, a)) for a, b in python)
                assert covered == pytest.approx(t1 - t0), (name, lane, t0, t1)


@pytest.mark.parametrize("model", ["sigio", "aio"])
def test_a_signal_lights_the_line_it_interrupts(model: str) -> None:
    run = next(r for n, r in builtin_runs() if n == "many-clients" and r.model == model) \
        if model == "sigio" else next(r for n, r in builtin_runs()
                                      if n == "one-datagram" and r.model == model)
    ex = Explainer(run)
    delivered = events(run, Kind.DELIVERY)
    assert delivered
    for lane, t0, t1, _ in delivered:
        assert ex.line_at((t0 + t1) / 2, lane) in ("work", "recvfrom")
    assert all(run.code[run.line[i]] == "work" for i in range(len(run))
               if run.kind[i] == Kind.SIGNAL)


# -- the pane does not jump ------------------------------------------------------------------

def lit_marks(surface: pygame.Surface, pane: tuple[int, int, int, int]) -> set[int]:
    """The rows (y) where the lit line's mark is drawn in the pane."""
    x = pane[0] + PAD - 5
    return {y for y in range(pane[1], pane[1] + pane[3])
            if tuple(surface.get_at((x, y)))[:3] == LIT_MARK}


@pytest.mark.parametrize(("name", "view", "size"), [
    ("many-clients", 6, (1024, 600)), ("one-datagram", 5, (1024, 600)),
    ("many-clients", 1, (1280, 720)), ("burst", 2, (1920, 1080)),
])
def test_each_line_is_lit_at_the_same_place_at_every_step(name: str, view: int,
                                                          size: tuple[int, int]) -> None:
    """One font size and one wrapping per run: a program line's mark is at the same height
    whatever the sentences beside it say."""
    trace = simulate(scenario.load(name))
    pygame.display.init()
    try:
        display = pygame.display.set_mode(size)
        app = App([trace], scene=prepare([trace], str(view), None, 0.0), scale=1.0)
        run = trace.runs[view - 1]
        ex = Explainer(run)
        ri = app.scene.runs[view - 1]
        screen = app.renderer.layout(display.get_size(), app.scene)
        where: dict[str, set[int]] = {}
        for t in sorted(set(run.t0))[::max(1, len(run) // 80)]:
            app.scene.player.seek(t)
            app.frame(display, 0.0)
            key = ex.line_at(t, ri.acting_thread(t) or 0)
            marks = lit_marks(display, screen.pane)
            if key and marks:
                where.setdefault(key, set()).add(min(marks))
    finally:
        pygame.display.quit()
    assert len(where) >= 2 and all(len(ys) == 1 for ys in where.values()), where
