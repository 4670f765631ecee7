"""Stepping follows what is shown, and one message can be followed across every run: keys
posted to the window change the player's state; pixels show the followed message lit."""

import pygame
import pytest

from iosim import scenario
from iosim.sim.run import simulate
from iosim.trace import Kind
from iosim.view import theme
from iosim.view.app import App
from iosim.view.follow import figures, journey
from iosim.view.index import RunIndex
from iosim.view.layout import Viewport
from iosim.view.scene import ALL, ONE


@pytest.fixture(scope="module")
def burst():
    return simulate(scenario.load("burst"), ["blocking", "select", "aio"])


def post_key(key, mod=0, char=""):
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=mod, unicode=char))


def press(app, surface, key, mod=0, char=""):
    pygame.event.clear()
    post_key(key, mod, char)
    app.pump(surface, 1)


def test_one_run_view_steps_through_that_run_only(one_datagram, display):
    """Key 1 shows blocking: → visits exactly its event times in order, ← goes back the same
    way; 0 returns to stepping through every run's events."""
    app = App([one_datagram])
    p = app.scene.player
    press(app, display, pygame.K_1)
    assert (app.scene.view, app.scene.focus) == (ONE, 0)
    blocking = one_datagram.runs[0]
    own = sorted({0.0, *blocking.t0, *blocking.t1, blocking.end_us})
    seen = []
    for _ in range(len(own) - 1):
        press(app, display, pygame.K_RIGHT)
        seen.append(p.t)
    assert seen == own[1:]
    back = []
    for _ in range(len(own) - 1):
        press(app, display, pygame.K_LEFT)
        back.append(p.t)
    assert back == own[-2::-1]
    press(app, display, pygame.K_0)
    assert app.scene.view == ALL and len(p.times) > len(own)  # nonblocking's polls too


def test_one_run_view_steps_through_that_runs_messages(burst, display):
    app = App([burst])
    p = app.scene.player
    press(app, display, pygame.K_2)
    ready = sorted(set(burst.runs[1].m_ready))
    for expected in ready[:5]:
        press(app, display, pygame.K_RIGHT, pygame.KMOD_SHIFT)
        assert p.t == expected
    press(app, display, pygame.K_LEFT, pygame.KMOD_SHIFT)
    assert p.t == ready[3]


def test_brackets_select_messages_in_order(burst, display):
    app = App([burst])
    press(app, display, pygame.K_RIGHTBRACKET, char="]")
    assert app.scene.follow == 0
    for expected in (1, 2, 3):
        press(app, display, pygame.K_RIGHTBRACKET, char="]")
        assert app.scene.follow == expected
    press(app, display, pygame.K_LEFTBRACKET, char="[")
    assert app.scene.follow == 2
    first_ready = min(r.m_ready[2] for r in burst.runs)
    assert app.scene.player.t == first_ready
    press(app, display, pygame.K_ESCAPE)
    assert app.scene.follow is None and app.running
    press(app, display, pygame.K_LEFTBRACKET, char="[")
    assert app.scene.follow == burst.runs[0].message_count - 1  # from the end, going back


def test_a_messages_journey_is_its_phases_and_the_read_that_took_it(one_datagram):
    select = RunIndex(next(r for r in one_datagram.runs if r.model == "select"))
    events = [select.run.event(i) for i in sorted(journey(select, 0))]
    kinds = {e.kind for e in events}
    assert {Kind.WAIT, Kind.ARRIVAL, Kind.COPY, Kind.READABLE, Kind.RETURN,
            Kind.PROCESS} <= kinds
    assert any(e.kind == Kind.SYSCALL and e.label == "recvfrom" for e in events)
    assert not any(e.kind == Kind.SYSCALL and e.label == "select" for e in events)
    f = figures(select, 0)
    run = select.run
    assert f.waited == pytest.approx(run.m_copy_start[0] - run.m_ready[0])
    assert f.copy == pytest.approx(run.m_copy_end[0] - run.m_copy_start[0])
    assert f.handled_at == run.m_done[0]


def colour_at(surface, x, y):
    return tuple(surface.get_at((int(x), int(y))))[:3]


def test_the_followed_message_is_lit_and_the_rest_dimmed(burst, display):
    """The blocking run of burst, to scale: the followed message's copy span keeps its colour
    while another message's copy on the same connection is faded."""
    app = App([burst])
    p = app.scene.player
    p.toggle_axis()
    app.scene.follow = 1
    run = burst.runs[0]
    p.go_end()
    app.frame(display, 0.0)
    screen = app.renderer.layout(display.get_size(), app.scene)
    vp = Viewport(p.axis, p.window, screen.timeline[0], screen.timeline[2])
    band = screen.bands[0]
    lit = next(e for e in run.events() if e.kind == Kind.PROCESS and e.msg == 1)
    other = next(e for e in run.events() if e.kind == Kind.PROCESS and e.msg == 5)
    row = band.app.row(0)
    y = row[1] + row[3] // 2
    assert colour_at(display, (vp.x(lit.t0) + vp.x(lit.t1)) / 2, y) == theme.PROCESS
    dimmed = colour_at(display, (vp.x(other.t0) + vp.x(other.t1)) / 2, y)
    assert dimmed != theme.PROCESS and sum(dimmed) > sum(theme.PROCESS) + 200
    app.scene.follow = None
    app.frame(display, 0.0)
    assert colour_at(display, (vp.x(other.t0) + vp.x(other.t1)) / 2, y) == theme.PROCESS
