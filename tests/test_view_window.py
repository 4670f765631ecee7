"""Frames under SDL's dummy driver: colours where the phases must be, keys changing the state,
screenshots, ``iosim render`` (PNG and GIF) and ``iosim show`` without a display."""

import os
import subprocess
import sys

import pygame
import pytest
from conftest import WINDOW_SIZE as SIZE
from PIL import Image

from iosim import scenario
from iosim import trace as trace_mod
from iosim.cli import main
from iosim.sim.run import simulate
from iosim.trace import Kind
from iosim.view import theme
from iosim.view.app import App
from iosim.view.commands import NO_DISPLAY, has_display, load_inputs
from iosim.view.layout import Viewport
from iosim.view.player import SCALE, SCHEMATIC
from iosim.view.scene import ALL, COMPARE, ONE


def span(run, kind, lane=None):
    return next(e for e in run.events() if e.kind == kind and (lane is None or e.lane == lane))


def pixel(surface, x, box):
    """The colour near the top of a lane's row at x (labels are centred, clear of it)."""
    return tuple(surface.get_at((int(x), box[1] + 3)))[:3]


def frame_at(app, surface, t):
    app.scene.player.seek(t)
    app.frame(surface, 0.0)
    screen = app.renderer.layout(surface.get_size(), app.scene)
    p = app.scene.player
    return screen, Viewport(p.axis, p.window, screen.timeline[0], screen.timeline[2])


@pytest.mark.parametrize("axis", [SCHEMATIC, SCALE])
def test_phases_are_drawn_in_their_colours(one_datagram, display, axis):
    app = App([one_datagram])
    if axis == SCALE:
        app.scene.player.toggle_axis()
    end = app.scene.player.end
    screen, vp = frame_at(app, display, end)
    for band, run in zip(screen.bands, one_datagram.runs, strict=True):
        wait = span(run, Kind.WAIT)
        x = vp.x((wait.t0 + wait.t1) / 2)
        assert pixel(display, x, band.kernel.box) == theme.WAIT, run.model
        app_colour = pixel(display, x, band.app.box)
        expected = theme.WORK if run.model in ("sigio", "aio", "nonblocking") else theme.BLOCKED
        if run.model != "nonblocking":  # its polls interleave work and calls
            assert app_colour == expected, run.model
    blocking = screen.bands[0]
    copy = span(one_datagram.runs[0], Kind.COPY)
    x0, x1 = vp.x(copy.t0), vp.x(copy.t1)
    assert pixel(display, (x0 + x1) / 2, blocking.kernel.box) == theme.COPY


def test_after_the_playhead_is_faint(one_datagram, display):
    app = App([one_datagram])
    wait = span(one_datagram.runs[0], Kind.WAIT)
    screen, vp = frame_at(app, display, wait.t0 + 0.25 * (wait.t1 - wait.t0))
    kernel = screen.bands[0].kernel.box
    before = vp.x(wait.t0 + 0.1 * (wait.t1 - wait.t0))
    after = vp.x(wait.t0 + 0.9 * (wait.t1 - wait.t0))
    assert pixel(display, before, kernel) == theme.WAIT
    faint = pixel(display, after, kernel)
    assert faint != theme.WAIT
    assert sum(faint) > sum(theme.WAIT)  # lighter: blended towards the background


def test_comparison_and_one_run_views_draw(one_datagram, display):
    app = App([one_datagram])
    app.scene.player.go_end()
    app.scene.view = COMPARE
    app.frame(display, 0.0)
    colours = {tuple(display.get_at((x, y)))[:3] for x in range(0, SIZE[0], 4)
               for y in range(0, SIZE[1], 4)}
    assert {theme.PALE_WAIT, theme.PALE_COPY, theme.BLOCKED, theme.WORK} <= colours
    app.scene.view, app.scene.focus = ONE, 1
    screen, vp = frame_at(app, display, app.scene.player.end)
    assert len(screen.bands) == 1 and screen.bands[0].braces is not None


def post_key(key, mod=0, char=""):
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=mod, unicode=char))


def test_keys_change_the_player_and_the_scene(one_datagram, display, tmp_path):
    app = App([one_datagram], screenshot_dir=tmp_path)
    p = app.scene.player
    pygame.event.clear()
    post_key(pygame.K_RIGHT)
    post_key(pygame.K_RIGHT)
    app.pump(display, 1)
    assert p.t == p.times[2]
    post_key(pygame.K_LEFT)
    app.pump(display, 1)
    assert p.t == p.times[1]
    post_key(pygame.K_RIGHT, pygame.KMOD_SHIFT)
    app.pump(display, 1)
    assert p.t == one_datagram.runs[0].m_ready[0]
    post_key(pygame.K_END)
    app.pump(display, 1)
    assert p.t == p.end
    post_key(pygame.K_HOME)
    post_key(pygame.K_PLUS, char="+")
    post_key(pygame.K_SPACE)
    app.pump(display, 3)
    assert p.playing and p.speed == 2.0 and p.t > 0.0
    post_key(pygame.K_SPACE)
    post_key(pygame.K_MINUS, char="-")
    post_key(pygame.K_t)
    app.pump(display, 1)
    assert not p.playing and p.speed == 1.0 and p.axis.name == SCALE
    window = p.window
    post_key(pygame.K_w)
    app.pump(display, 1)
    assert p.window[1] - p.window[0] < window[1] - window[0]
    post_key(pygame.K_d)
    post_key(pygame.K_f)
    app.pump(display, 1)
    assert p.window == (0.0, p.axis.length)
    post_key(pygame.K_c)
    app.pump(display, 1)
    assert app.scene.view == COMPARE
    post_key(pygame.K_3)
    app.pump(display, 1)
    assert (app.scene.view, app.scene.focus) == (ONE, 2)
    post_key(pygame.K_0)
    post_key(pygame.K_l)
    post_key(pygame.K_h)
    app.pump(display, 1)
    assert app.scene.view == ALL and not app.scene.labels and app.scene.help
    post_key(pygame.K_ESCAPE)
    post_key(pygame.K_r)
    app.pump(display, 1)
    assert not app.scene.help and p.playing and app.running
    post_key(pygame.K_F12)
    app.pump(display, 1)
    assert app.last_screenshot is not None and app.last_screenshot.parent == tmp_path
    assert pygame.image.load(str(app.last_screenshot)).get_size() == SIZE
    assert str(app.last_screenshot) in app.scene.flash
    post_key(pygame.K_q)
    app.pump(display, 5)
    assert not app.running


FRAME_MS = 16


class FakeClock:
    """pygame's Clock on a timeline of its own: a frame takes FRAME_MS, a wait for an event
    as long as its timeout. ``tick`` gives the time since the previous tick on that timeline,
    so what a frame's step holds is known whatever the machine's speed."""

    now = 0

    def __init__(self) -> None:
        self.last = FakeClock.now

    def tick(self, _fps: int = 0) -> int:
        elapsed, self.last = FakeClock.now - self.last, FakeClock.now
        return elapsed


def test_a_paused_window_waits_for_events_instead_of_drawing(one_datagram, display,
                                                             monkeypatch):
    """Paused, the window draws a frame only when something happens (an event wakes it),
    not 60 a second; no frame's playback step includes the time spent waiting."""
    app = App([one_datagram])
    ticks: list[float] = []
    draw, wait = app.frame, pygame.event.wait

    def counted(surface, seconds):
        ticks.append(seconds)
        FakeClock.now += FRAME_MS
        draw(surface, seconds)

    def waited(timeout):
        FakeClock.now += timeout
        return wait(timeout)

    app.frame = counted
    monkeypatch.setattr(pygame.time, "Clock", FakeClock)
    monkeypatch.setattr(pygame.event, "wait", waited)
    pygame.event.clear()
    post_key(pygame.K_SPACE)  # run() starts playing: this pauses it
    pygame.time.set_timer(pygame.event.Event(pygame.USEREVENT), 300, loops=2)  # two wake-ups
    pygame.time.set_timer(pygame.event.Event(pygame.QUIT), 900, loops=1)
    assert app.run() == 0
    assert 1 <= len(ticks) <= 3  # the first frame and one a wake-up (not 54 in 900 ms)
    assert not app.scene.player.playing and app.idle
    assert set(ticks) <= {0.0, FRAME_MS / 1000}  # never a wait of 250 ms


def test_tab_loads_the_next_builtin_scenario(one_datagram, display):
    names = scenario.builtin_names()
    app = App([one_datagram], simulator=simulate, scenarios=names)
    pygame.event.clear()
    post_key(pygame.K_TAB)
    app.pump(display, 2)
    expected = names[(names.index("one-datagram") + 1) % len(names)]
    assert app.traces[0].scenario == expected
    post_key(pygame.K_TAB, pygame.KMOD_SHIFT)
    app.pump(display, 2)
    assert app.traces[0].scenario == "one-datagram"


def test_show_puts_several_inputs_side_by_side(one_datagram, tmp_path):
    path = tmp_path / "t.json"
    trace_mod.save(one_datagram, path)
    traces, editable = load_inputs([str(path), "big-copy"])
    assert [t.scenario for t in traces] == ["one-datagram", "big-copy"]
    assert editable is None  # a saved trace beside it: nothing for the what-if panel to edit
    _, editable = load_inputs(["big-copy"])
    assert editable is not None and editable.name == "big-copy"


def test_render_png_and_gif(tmp_path, capsys):
    png = tmp_path / "frame.png"
    assert main(["render", "one-datagram", "-o", str(png), "--at", "20.1", "--view", "2"]) == 0
    with Image.open(png) as img:
        assert img.size == SIZE
    gif = tmp_path / "anim.gif"
    assert main(["render", "one-datagram", "-o", str(gif), "--size", "320x180", "--fps", "4",
                 "--seconds", "1", "--view", "compare"]) == 0
    with Image.open(gif) as img:
        assert img.size == (320, 180) and img.n_frames == 4
    assert "rendering frame 4/4" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["-o", "x.jpg"], ["-o", "x.png", "--view", "9"],
                                  ["-o", "x.png", "--size", "big"]])
def test_render_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args):
    args = [a if not a.startswith("x.") else str(tmp_path / a) for a in args]
    assert main(["render", "one-datagram", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("iosim: error: ")


def test_show_without_a_display_points_to_render():
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    assert not has_display(env) or sys.platform in ("darwin", "win32")
    proc = subprocess.run([sys.executable, "-m", "iosim", "show"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == NO_DISPLAY
    assert "iosim render" in proc.stderr


def test_a_lane_title_moves_under_the_run_name_rather_than_vanish(display):
    from iosim.view.draw import Renderer

    title = pygame.Surface((40, 10))
    title.fill((1, 2, 3))
    name = pygame.Rect(0, 0, 100, 20)
    at_group_bottom = title.get_rect(bottomright=(120, 25))  # under the run's name
    under_name = title.get_rect(topright=(120, name.bottom + 1))
    taken = [name]
    display.fill((255, 255, 255))
    column = pygame.Rect(0, 0, 200, 60)
    Renderer()._lane_title(display, "t", title, [at_group_bottom, under_name], taken, column)
    assert tuple(display.get_at(under_name.center))[:3] == (1, 2, 3)
    assert tuple(display.get_at((at_group_bottom.centerx, at_group_bottom.top + 1)))[:3] \
        == (255, 255, 255)
    assert taken == [name, under_name]
    Renderer()._lane_title(display, "t", title, [at_group_bottom, under_name], taken, column)
    assert len(taken) == 2  # nowhere left: left out, not drawn over another title
