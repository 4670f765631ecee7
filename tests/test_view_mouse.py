"""The mouse, as Perfetto and chrome://tracing use it: mouse events posted to the window change
the player's and the layout's state."""

import pygame
import pytest

from iosim.trace import Kind
from iosim.view.app import App
from iosim.view.hit import details
from iosim.view.layout import Viewport
from iosim.view.scene import ONE


def ready_app(trace, surface):
    app = App([trace])
    app.scene.player.toggle_axis()  # to scale: time and x are proportional
    app.frame(surface, 0.0)
    return app


def where(app, surface):
    screen = app.renderer.layout(surface.get_size(), app.scene)
    p = app.scene.player
    return screen, Viewport(p.axis, p.window, screen.timeline[0], screen.timeline[2])


def post(kind, **fields):
    pygame.event.post(pygame.event.Event(kind, **fields))


def test_a_click_on_the_axis_moves_the_playhead_and_a_drag_follows(one_datagram, display):
    app = ready_app(one_datagram, display)
    screen, vp = where(app, display)
    x = vp.x0 + vp.width * 0.4
    y = screen.ruler[1] + 5
    pygame.event.clear()
    post(pygame.MOUSEBUTTONDOWN, button=1, pos=(int(x), y))
    app.pump(display, 1)
    assert app.scene.player.t == pytest.approx(vp.time_at(int(x)))
    post(pygame.MOUSEMOTION, pos=(int(x) + 100, y), rel=(100, 0), buttons=(1, 0, 0))
    post(pygame.MOUSEBUTTONUP, button=1, pos=(int(x) + 100, y))
    app.pump(display, 1)
    assert app.scene.player.t == pytest.approx(vp.time_at(int(x) + 100))
    assert app.drag is None


def test_a_click_on_a_lane_seeks_there(one_datagram, display):
    app = ready_app(one_datagram, display)
    screen, vp = where(app, display)
    band = screen.bands[2]
    x = vp.x0 + vp.width * 0.7
    pygame.event.clear()
    post(pygame.MOUSEBUTTONDOWN, button=1, pos=(int(x), band.app.box[1] + 4))
    app.pump(display, 1)
    assert app.scene.player.t == pytest.approx(vp.time_at(int(x)))


def test_the_wheel_zooms_around_the_time_under_the_pointer(one_datagram, display):
    app = ready_app(one_datagram, display)
    screen, vp = where(app, display)
    x = int(vp.x0 + vp.width * 0.3)
    before = vp.time_at(x)
    width = vp.t_hi - vp.t_lo
    pygame.event.clear()
    post(pygame.MOUSEMOTION, pos=(x, screen.bands[0].app.box[1] + 3), rel=(0, 0),
         buttons=(0, 0, 0))
    post(pygame.MOUSEWHEEL, x=0, y=1)
    app.pump(display, 1)
    _, zoomed = where(app, display)
    assert zoomed.t_hi - zoomed.t_lo < width
    assert zoomed.time_at(x) == pytest.approx(before, rel=1e-6)
    post(pygame.MOUSEWHEEL, x=0, y=-1)
    app.pump(display, 1)
    _, back = where(app, display)
    assert back.t_hi - back.t_lo == pytest.approx(width)


def test_a_right_drag_pans(one_datagram, display):
    app = ready_app(one_datagram, display)
    app.scene.player.zoom(4.0)
    screen, vp = where(app, display)
    y = screen.bands[0].app.box[1] + 3
    start = app.scene.player.window
    pygame.event.clear()
    post(pygame.MOUSEBUTTONDOWN, button=3, pos=(700, y))
    post(pygame.MOUSEMOTION, pos=(600, y), rel=(-100, 0), buttons=(0, 0, 1))
    post(pygame.MOUSEBUTTONUP, button=3, pos=(600, y))
    app.pump(display, 1)
    lo, hi = app.scene.player.window
    assert lo - start[0] == pytest.approx(100 / vp.scale)
    assert hi - lo == pytest.approx(start[1] - start[0])


def test_hovering_a_span_shows_its_details(one_datagram, display):
    app = ready_app(one_datagram, display)
    screen, vp = where(app, display)
    blocking = one_datagram.runs[0]
    wait = next(i for i in range(len(blocking)) if blocking.kind[i] == Kind.WAIT)
    kernel_row = screen.bands[0].kernel.box
    x = int((vp.x(blocking.t0[wait]) + vp.x(blocking.t1[wait])) / 2)
    pygame.event.clear()
    post(pygame.MOUSEMOTION, pos=(x, kernel_row[1] + kernel_row[3] // 2), rel=(0, 0),
         buttons=(0, 0, 0))
    app.pump(display, 1)
    assert app.scene.hover == (0, wait)
    lines = details(app.scene.runs[0], 0, wait)
    assert lines[0] == "wait for data" and lines[1] == "phase 1: wait for data"
    assert lines[2] == "run 1: blocking · lane: kernel conn 0"
    assert lines[-1] == "0 µs → 20.040 ms (20.040 ms)"
    texts = []
    app.renderer.text.record = texts
    app.frame(display, 0.0)
    assert "0 µs → 20.040 ms (20.040 ms)" in [t for t, _, _ in texts]


def test_a_click_on_a_runs_name_opens_it_and_on_an_arrival_follows_it(one_datagram, display):
    app = ready_app(one_datagram, display)
    screen, vp = where(app, display)
    select = screen.bands[2]
    arrival = one_datagram.runs[2].m_ready[0]
    kernel = select.kernel.box
    pygame.event.clear()
    post(pygame.MOUSEBUTTONDOWN, button=1, pos=(int(vp.x(arrival)), kernel[1] + 2))
    app.pump(display, 1)
    assert app.scene.follow == 0
    post(pygame.MOUSEBUTTONDOWN, button=1, pos=(select.name_box[0] + 5, select.box[1] + 8))
    app.pump(display, 1)
    assert (app.scene.view, app.scene.focus) == (ONE, 2)
