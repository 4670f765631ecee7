"""What a first lecture run found: what-if keeps the visible range, names what changed in the
saved scenario's title and lists its models for ↑↓; a hover box never stays over another view;
End in the comparison shows each whole cycle with the playhead kept; c10k's epoll set-up is
labelled and not counted as waiting; a long span is drawn even where a frame samples events."""

from __future__ import annotations

import time

import pygame
import pytest

from iosim import scenario
from iosim.scenario import SIM_MODELS
from iosim.sim.run import simulate
from iosim.trace import Kind
from iosim.view import theme
from iosim.view.app import App
from iosim.view.braces import braces_of
from iosim.view.compare import column
from iosim.view.draw_compare import faint
from iosim.view.index import RunIndex
from iosim.view.layout import Viewport
from iosim.view.player import SCALE
from iosim.view.scene import ALL, COMPARE, ONE
from iosim.view.whatif import KNOBS, MODELS_ROW, WhatIf

DEADLINE_S = 30.0


def post_key(key: int, mod: int = 0) -> None:
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=mod, unicode=""))


def press(app: App, surface, key: int, mod: int = 0) -> None:
    pygame.event.clear()
    post_key(key, mod)
    app.pump(surface, 1)


def settle(app: App, surface) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while app.busy and time.monotonic() < deadline:
        app.pump(surface, 1)
    assert not app.busy


def knob(key: str) -> int:
    return next(k for k, kn in enumerate(KNOBS) if kn.key == key)


def whatif_app(name: str, surface) -> App:
    sc = scenario.load(name)
    app = App([simulate(sc)], simulator=simulate, scenario=sc)
    app.frame(surface, 0.0)
    press(app, surface, pygame.K_e)
    return app


def where(app: App, surface):
    screen = app.renderer.layout(surface.get_size(), app.scene)
    p = app.scene.player
    return screen, Viewport(p.axis, p.window, screen.timeline[0], screen.timeline[2])


def test_a_what_if_change_keeps_the_whole_run_in_view(display) -> None:
    """many-clients has more slots than the window opens on: F shows them all, and after a
    change the whole (new) run is still shown, not a zoomed window."""
    app = whatif_app("many-clients", display)
    p = app.scene.player
    assert p.window[1] < p.axis.length  # the default: a window of the first slots
    press(app, display, pygame.K_f)
    app.scene.whatif.selected = knob("process.work_us")
    press(app, display, pygame.K_RIGHT)
    settle(app, display)
    p = app.scene.player
    assert p.window == pytest.approx((0.0, p.axis.length))


def test_a_what_if_change_keeps_a_zoomed_time_range(display) -> None:
    app = whatif_app("many-clients", display)
    p = app.scene.player
    p.toggle_axis()
    p.set_window(5000.0, 15000.0)
    p.seek(10000.0)
    app.scene.whatif.selected = knob("costs.syscall_us")
    press(app, display, pygame.K_RIGHT)
    settle(app, display)
    p = app.scene.player
    assert p.axis.name == SCALE and p.window == pytest.approx((5000.0, 15000.0))


def test_a_saved_what_if_says_what_changed(display, tmp_path) -> None:
    app = whatif_app("one-datagram", display)
    app.screenshot_dir = tmp_path
    panel = app.scene.whatif
    panel.selected = knob("process.work_us")
    before = KNOBS[knob("process.work_us")].text(panel.data)
    press(app, display, pygame.K_RIGHT)
    after = KNOBS[knob("process.work_us")].text(panel.data)
    panel.selected, panel.model_cursor = MODELS_ROW, SIM_MODELS.index("poll")
    press(app, display, pygame.K_SPACE)
    settle(app, display)
    press(app, display, pygame.K_s, pygame.KMOD_CTRL)
    saved = scenario.load(str(next(tmp_path.glob("*.toml"))))
    original = scenario.load("one-datagram").title
    assert saved.title == f"{original} · what if: + poll; work per message {after} " \
                          f"(was {before})"
    assert app.traces[0].title == saved.title  # the window's header says it too
    panel.selected = knob("process.work_us")  # back to where it was: the title is too
    press(app, display, pygame.K_LEFT)
    panel.selected, panel.model_cursor = MODELS_ROW, SIM_MODELS.index("poll")
    press(app, display, pygame.K_SPACE)
    assert panel.scenario.title == original and panel.changes() == []


def test_every_model_is_reached_by_down_alone() -> None:
    """The models are a list: ↓ from the top visits each in order, then the other knobs."""
    panel = WhatIf(scenario.load("one-datagram"))
    seen = []
    for _ in range(len(SIM_MODELS)):
        seen.append((panel.selected, panel.model_cursor))
        panel.select(1)
    assert seen == [(MODELS_ROW, k) for k in range(len(SIM_MODELS))]
    assert panel.selected == 1
    panel.select(-1)
    assert (panel.selected, panel.model_cursor) == (MODELS_ROW, len(SIM_MODELS) - 1)
    panel.selected = 1
    for _ in range(len(KNOBS) - 1):
        panel.select(1)
    assert (panel.selected, panel.model_cursor) == (MODELS_ROW, 0)  # wrapped to the top


def test_a_hover_box_does_not_stay_over_another_view(one_datagram, display) -> None:
    app = App([one_datagram])
    app.scene.player.toggle_axis()
    app.frame(display, 0.0)
    screen, vp = where(app, display)
    run = one_datagram.runs[4]  # aio: its own-work span, far from anything in run 1
    work = next(i for i in range(len(run)) if run.kind[i] == Kind.WORK)
    app_row = screen.bands[4].app.box
    pos = (int((vp.x(run.t0[work]) + vp.x(run.t1[work])) / 2), app_row[1] + 4)
    pygame.event.clear()
    pygame.event.post(pygame.event.Event(pygame.MOUSEMOTION, pos=pos, rel=(0, 0),
                                         buttons=(0, 0, 0)))
    app.pump(display, 1)
    assert app.scene.hover == (4, work)
    press(app, display, pygame.K_1)  # the one-run view of blocking: nothing of aio there
    assert app.scene.view == ONE
    hover = app.scene.hover
    assert hover is None or hover[0] == 0  # what is under the pointer now, if anything
    press(app, display, pygame.K_c)
    assert app.scene.hover is None


def test_end_in_the_comparison_keeps_the_playhead(one_datagram, display) -> None:
    app = App([one_datagram])
    app.show(COMPARE)
    p = app.scene.player
    t = one_datagram.runs[0].m_ready[0] - 5000.0  # in phase 1: the copies still to come
    p.seek(t)
    app.frame(display, 0.0)
    blocked = faint(theme.BLOCKED)
    assert not _has_colour(display, blocked)
    press(app, display, pygame.K_END)
    assert p.t == t and app.scene.whole
    assert _has_colour(display, blocked)  # the rest of each cycle, faint
    press(app, display, pygame.K_END)
    assert p.t == p.end
    press(app, display, pygame.K_0)
    assert app.scene.view == ALL and not app.scene.whole


def _has_colour(surface: pygame.Surface, colour: tuple[int, int, int]) -> bool:
    w, h = surface.get_size()
    return any(tuple(surface.get_at((x, y)))[:3] == colour
               for x in range(0, w, 2) for y in range(0, h, 3))


@pytest.fixture(scope="module")
def c10k():
    return simulate(scenario.load("c10k"))


def test_epolls_set_up_is_labelled_and_not_waiting(c10k, display) -> None:
    epoll = c10k.runs[2]
    ri = RunIndex(epoll)
    setup = ri.setup
    first_wait = next(epoll.t0[i] for i in range(len(epoll))
                      if epoll.labels[epoll.label[i]] == "epoll_wait")
    idle = scenario.load("c10k").total_connections
    assert dict(setup.calls) == {"epoll_create": 1, "epoll_ctl": idle}
    assert setup.t0 == 0.0 and setup.t1 == first_wait
    assert all(t0 >= first_wait for t0, _, _ in braces_of(epoll))  # no "blocks in epoll_wait"
    assert column(ri, 2, first_wait / 2, {}).start == first_wait  # nor a wait of phase 1
    assert RunIndex(c10k.runs[1]).setup is None  # poll has no set-up
    app = App([c10k])
    app.scene.player.toggle_axis()
    texts: list = []
    app.renderer.text.record = texts
    app.scene.player.seek(first_wait / 2)
    app.frame(display, 0.0)
    assert any(t.startswith("set-up") and f"{idle:,} × epoll_ctl" in t for t, _, _ in texts)


def test_a_long_span_is_drawn_where_events_are_sampled(c10k, display) -> None:
    """poll's calls (4 ms each, in the kernel) among thousands of short events: the whole run
    to scale still shows them in their colour."""
    app = App([c10k])
    app.scene.player.toggle_axis()
    app.scene.player.go_end()
    app.frame(display, 0.0)
    screen, vp = where(app, display)
    poll = c10k.runs[1]
    first = next(i for i in range(len(poll)) if poll.kind[i] == Kind.IN_KERNEL)
    assert poll.t1[first] - poll.t0[first] > 1000.0
    row = screen.bands[1].app.box
    x = int(vp.x((poll.t0[first] + poll.t1[first]) / 2))
    assert tuple(display.get_at((x, row[1] + 3)))[:3] == theme.ARROW
