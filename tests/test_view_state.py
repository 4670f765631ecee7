"""The state pane in the window: the I key toggles it, it is drawn under the one-run view's
timeline with its boxes in their colours, render and show open with it (--state), and the
help lists the key."""

import pygame
import pytest
from conftest import WINDOW_SIZE as SIZE
from PIL import Image

from iosim import scenario
from iosim.cli import main
from iosim.sim.run import simulate
from iosim.view import theme
from iosim.view.app import App
from iosim.view.draw_help import HELP_KEYS
from iosim.view.scene import ALL, ONE


@pytest.fixture(scope="module")
def many_clients():
    return simulate(scenario.load("many-clients"))


def post_key(key, char=""):
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode=char))


def test_i_opens_the_one_run_view_with_the_state_and_closes_it(many_clients, display):
    app = App([many_clients])
    pygame.event.clear()
    app.scene.player.seek(12500.0)
    post_key(pygame.K_i)
    app.pump(display, 1)
    scene = app.scene
    assert scene.view == ONE and scene.state_shown
    screen = app.renderer.layout(display.get_size(), scene)
    assert screen.state is not None
    x, y, w, h = screen.state
    assert screen.timeline[1] + screen.timeline[3] == y  # the timeline ends where it begins
    assert display.get_at((x + w - 3, y + h - 3))[:3] == (255, 255, 255)
    post_key(pygame.K_i)
    app.pump(display, 1)
    assert not scene.state_shown
    assert app.renderer.layout(display.get_size(), scene).state is None
    post_key(pygame.K_i)
    post_key(pygame.K_0)
    app.pump(display, 1)
    assert scene.view == ALL and not scene.state_shown  # beside all runs it is not drawn


def row_of(record, label, box):
    """Where the row label ``label`` was drawn inside the state pane."""
    pane = pygame.Rect(box)
    return next(rect for text, rect, _ in record if text == label and pane.contains(rect))


def colours_right_of(surface, rect, width=120):
    y = rect.centery
    return {tuple(surface.get_at((x, y)))[:3] for x in range(rect.right, rect.right + width)}


def state_frame(trace, display, focus, t):
    """The one-run view of run ``focus`` at ``t`` with the state pane: the texts drawn and
    the pane's box."""
    app = App([trace])
    app.show(ONE, focus)
    app.scene.state = True
    app.scene.player.seek(t)
    app.renderer.text.record = []
    app.frame(display, 0.0)
    return app.renderer.text.record, app.renderer.layout(display.get_size(), app.scene).state


def test_queued_data_and_a_blocked_thread_in_their_colours(many_clients, display):
    """blocking at 12.5 ms: recvfrom sleeps on fd 3 while fd 4, 5, 6 hold data (yellow
    boxes); the one thread is blocked (vermillion)."""
    record, box = state_frame(many_clients, display, 0, 12500.0)
    texts = [t for t, _, _ in record]
    assert "empty: recvfrom would block" in texts
    for label in ("fd 4", "fd 5", "fd 6"):
        assert theme.QUEUED in colours_right_of(display, row_of(record, label, box)), label
    assert theme.BLOCKED in colours_right_of(display, row_of(record, "main thread", box))
    assert "sock = fd 3" in texts


def test_select_bits_drawn_set_and_clear(many_clients, display):
    record, box = state_frame(many_clients, display, 3, 16100.0)
    bits = {t: rect for t, rect, _ in record if t in "0123456" and len(t) == 1
            and pygame.Rect(box).contains(rect)}
    assert set(bits) == set("0123456")
    filled = {t: tuple(display.get_at((r.x - 1, r.y + 1)))[:3] for t, r in bits.items()}
    assert {t for t, c in filled.items() if c == theme.ARROW_INK} == {"3", "4", "6"}
    assert {t for t, c in filled.items() if c == (255, 255, 255)} == {"0", "1", "2", "5"}
    assert "select: the fd_set (nfds = 7)" in [t for t, _, _ in record]


def test_render_and_show_open_with_the_state(tmp_path, capsys):
    out = tmp_path / "state.png"
    assert main(["render", "many-clients", "--view", "1", "--at", "12.5", "--state",
                 "-o", str(out)]) == 0
    with Image.open(out) as img:
        assert img.size == SIZE
        plain = tmp_path / "plain.png"
        assert main(["render", "many-clients", "--view", "1", "--at", "12.5",
                     "-o", str(plain)]) == 0
        with Image.open(plain) as other:
            assert img.tobytes() != other.tobytes()
    capsys.readouterr()
    for command in (["render", "many-clients", "-o", str(tmp_path / "x.png")],
                    ["show", "many-clients", "--view", "compare"]):
        assert main([*command, "--state"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--state: the state pane is part of the one-run view" in err[0]
    assert not (tmp_path / "x.png").exists()


def test_help_lists_the_key():
    assert ("I", "the state: queues, sets, signals, threads") in HELP_KEYS


def test_a_traced_run_says_what_it_cannot_know(many_clients, display):
    from teachhelp import traced_like

    from iosim.trace import Trace

    trace = Trace("t", "traced", "tcp", [traced_like(many_clients.runs[3])])
    record, _ = state_frame(trace, display, 0, 16100.0)
    texts = " ".join(t for t, _, _ in record)
    assert "What this trace cannot tell" in texts and "A traced run" in texts
    assert "conn 3" in texts


def test_the_state_pane_stays_open_when_what_if_simulates_again(display):
    """A knob changed (E): the new runs replace the old in place, the pane still open and
    computed from the new trace."""
    import time

    from iosim.view.whatif import KNOBS

    sc = scenario.load("one-datagram")
    app = App([simulate(sc)], simulator=simulate, scenario=sc)
    app.show(ONE, 0)
    app.toggle_state()
    app.scene.player.seek(20000.0)
    app.toggle_whatif()
    app.scene.whatif.selected = next(k for k, kn in enumerate(KNOBS)
                                     if kn.key == "process.work_us")
    old = app.traces[0]
    app.resimulate(app.scene.whatif.change(1))
    deadline = time.monotonic() + 30.0
    while (app.busy or app.traces[0] is old) and time.monotonic() < deadline:
        app.pump(display, 1)
    assert app.traces[0] is not old and app.scene.state_shown
    app.renderer.text.record = []
    app.frame(display, 0.0)
    assert "Receive queues (in the kernel)" in [t for t, _, _ in app.renderer.text.record]
