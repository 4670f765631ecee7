"""Text that scales: the automatic scale for a window's size, --scale refused when it is not
a number from 0.5 to 4, Ctrl+= / Ctrl+- / Ctrl+0 posted as keys, a click at a window position
hitting what is drawn there at scale 1.5, P (presentation) and F12 (screenshot), and the
height of the caption's text measured in the pixels of rendered frames."""

from pathlib import Path

import pygame
import pytest
from PIL import Image

from iosim.cli import main
from iosim.view.app import App
from iosim.view.draw import Renderer
from iosim.view.draw_chrome import HINTS
from iosim.view.hit import hit
from iosim.view.layout import Viewport
from iosim.view.render import prepare
from iosim.view.scale import automatic, effective, logical_size, parse_scale, to_logical
from iosim.view.scene import ALL, ONE

HD = (1920, 1080)


def test_the_automatic_scale_keeps_the_frame_at_least_1280x720():
    assert [automatic(s) for s in ((1024, 600), (1280, 720), (1366, 768), (1600, 900), HD,
                                   (2560, 1440), (3840, 2160))] == [1, 1, 1, 1.25, 1.5, 2, 3]
    assert logical_size(HD, automatic(HD)) == (1280, 720)
    assert logical_size((3840, 2160), automatic((3840, 2160))) == (1280, 720)


def test_no_scale_lays_a_frame_out_smaller_than_1024x576():
    assert effective(HD, 4.0) == pytest.approx(1.875)
    assert logical_size(HD, effective(HD, 4.0)) == (1024, 576)
    assert effective((1024, 600), 2.0) == 1.0  # a small window: as big as it holds
    assert effective((1024, 600), 0.75) == 0.75  # smaller is always possible
    assert effective(HD, None, presentation=True) == pytest.approx(1.875)  # a quarter more
    assert effective(HD, 1.5, presentation=True) == 1.5  # what is asked, as asked


@pytest.mark.parametrize("text", ["abc", "0", "0.4", "4.5", "nan", "inf", "-1"])
def test_a_bad_scale_is_one_line_and_status_2(text, tmp_path, capsys):
    with pytest.raises(Exception) as info:
        parse_scale(text)
    assert "--scale" in str(info.value)
    out = tmp_path / "x.png"
    assert main(["render", "one-datagram", "--scale", text, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--scale" in err and not out.exists()
    assert main(["show", "--scale", text]) == 2
    assert main(["lesson", "five-models", "--scale", text]) == 2
    assert capsys.readouterr().err.count("--scale") == 2


def ctrl(key, char=""):
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=pygame.KMOD_CTRL,
                                         unicode=char))


def test_ctrl_plus_minus_and_zero_change_the_scale_live(one_datagram, display):
    app = App([one_datagram])
    surface = pygame.Surface(HD)
    app.pump(surface, 1)
    assert app.scale_now() == 1.5 and app.logical == (1280, 720)
    speed = app.scene.player.speed
    ctrl(pygame.K_EQUALS, "=")
    app.pump(surface, 1)
    assert app.asked_scale == 1.75 and app.logical == (1097, 617)
    assert "scale 1.75" in app.scene.flash
    ctrl(pygame.K_PLUS, "+")
    app.pump(surface, 1)
    assert app.asked_scale == 2.0 and app.scale_now() == pytest.approx(1.875)
    assert "holds 1.88 at most" in app.scene.flash
    ctrl(pygame.K_MINUS, "-")
    ctrl(pygame.K_MINUS, "-")
    ctrl(pygame.K_MINUS, "-")
    app.pump(surface, 1)
    assert app.asked_scale == 1.25 and app.logical == (1536, 864)
    ctrl(pygame.K_0, "0")
    app.pump(surface, 1)
    assert app.asked_scale is None and app.scale_now() == 1.5
    assert app.scene.player.speed == speed and app.scene.view == ALL  # not the plain keys


def what_is_at(app, size, pos):
    screen = app.renderer.layout(size, app.scene)
    p = app.scene.player
    vp = Viewport(p.axis, p.window, screen.timeline[0], screen.timeline[2])
    return hit(screen, app.scene.runs, vp, *pos)


def test_a_click_hits_what_is_drawn_there_at_scale_1_5(one_datagram, display):
    """The right end of the third run's name, where it is drawn on the 1920x1080 window,
    opens that run; laid out without the scale, the same position would be on a lane."""
    app = App([one_datagram])
    surface = pygame.Surface(HD)
    app.pump(surface, 1)
    assert app.scale_now() == 1.5
    screen = app.renderer.layout((1280, 720), app.scene)
    x, y, w, _ = screen.bands[2].name_box
    pos = (round((x + w - 4) * 1.5), round((y + 11) * 1.5))  # the name's line
    named = what_is_at(app, (1280, 720), to_logical(pos, HD, (1280, 720)))
    assert (named.what, named.run) == ("name", 2)
    assert what_is_at(app, HD, pos).what != "name"
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=pos))
    app.pump(surface, 1)
    assert app.scene.view == ONE and app.scene.focus == 2


def test_p_is_presentation_and_f12_the_screenshot(one_datagram, tmp_path, display):
    app = App([one_datagram], screenshot_dir=tmp_path)
    surface = pygame.Surface(HD)
    app.pump(surface, 1)
    app.renderer.text.record = []
    app.pump(surface, 1)
    assert {t for t, _, _ in app.renderer.text.record} & set(HINTS)  # the key hints
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_p, mod=0, unicode="p"))
    app.pump(surface, 1)
    assert app.scene.presentation and app.scale_now() == pytest.approx(1.875)
    app.renderer.text.record = []
    app.pump(surface, 1)
    assert not {t for t, _, _ in app.renderer.text.record} & set(HINTS)
    screen = app.renderer.layout(app.logical, app.scene)
    assert screen.hints[3] == 0 and screen.caption[3] == 0  # the caption is the title
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_2, mod=0, unicode="2"))
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_F12, mod=0, unicode=""))
    app.pump(surface, 1)
    assert app.scene.presentation and app.last_screenshot is not None
    assert Image.open(app.last_screenshot).size == HD
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_p, mod=0, unicode="p"))
    app.pump(surface, 1)
    assert not app.scene.presentation and app.scale_now() == 1.5


def ink_rows(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    """How many pixel rows from the first to the last with dark ink in ``box``."""
    x0, y0, x1, y1 = box
    rows = [y for y in range(y0, y1)
            if any(sum(image.getpixel((x, y))) < 300 for x in range(x0, x1))]
    return rows[-1] - rows[0] + 1 if rows else 0


@pytest.mark.parametrize("size,scale,least,most", [
    ((1280, 720), None, 12, 19), (HD, None, 20, 40), (HD, 1.0, 12, 19),
    ((3840, 2160), None, 40, 80)], ids=["1280x720", "1920x1080", "1920x1080-scale-1",
                                        "3840x2160"])
def test_the_caption_text_is_tall_enough_in_pixels(one_datagram, size, scale, least, most,
                                                   tmp_path: Path):
    """The caption's first line, rendered, measured from its highest ink to its lowest."""
    out = tmp_path / "frame.png"
    asked = [] if scale is None else ["--scale", str(scale)]
    assert main(["render", "one-datagram", "--view", "1", "--at", "4",
                 "--size", f"{size[0]}x{size[1]}", "-o", str(out), *asked]) == 0
    image = Image.open(out).convert("RGB")
    scene = prepare([one_datagram], "1", None, 4.0)
    logical = logical_size(size, effective(size, scale))
    k = size[0] / logical[0]
    _, y, _, _ = Renderer().layout(logical, scene).caption
    height = ink_rows(image, (round(10 * k), round((y + 2) * k), round(400 * k),
                              round((y + 24) * k)))
    assert least <= height <= most
