"""Predict mode in the window gives nothing away: no tick of the ruler, no mark of the overview,
no hover box and no followed message reaches past the playhead; the question sits in the blank
future; a reveal says why the choice was wrong and why the answer is right. Hovering over a
counter shows its definition."""

import pygame
import pytest

from iosim.timefmt import format_us
from iosim.view import theme
from iosim.view.app import App
from iosim.view.draw_predict import RIGHT, WRONG
from iosim.view.hit import COUNTER_WORDS
from iosim.view.layout import Viewport
from iosim.view.scene import ONE


def press(app, surface, key, char=""):
    pygame.event.clear()
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode=char))
    app.pump(surface, 1)


def asking(trace, surface, run=2, questions=2):
    """Run ``run``'s predict mode, at its question number ``questions`` (the earlier ones
    answered right)."""
    app = App([trace])
    app.show(ONE, run)
    press(app, surface, pygame.K_k)
    mode = app.scene.predict
    for _ in range(questions):
        mode.moving_on()
        press(app, surface, pygame.K_RIGHT)
        if _ < questions - 1:
            press(app, surface, pygame.K_1 + mode.asked.answer)
    assert mode.asked is not None
    return app


def drawn(app, surface):
    texts = []
    app.renderer.text.record = texts
    app.scene.flash = ""
    app.frame(surface, 0.0)
    app.renderer.text.record = None
    screen = app.renderer.layout(surface.get_size(), app.scene)
    p = app.scene.player
    vp = Viewport(p.axis, p.window, screen.timeline[0], screen.timeline[2])
    return texts, screen, vp


def test_the_ruler_and_the_overview_show_nothing_to_come(one_datagram, display):
    app = asking(one_datagram, display, questions=3)
    texts, screen, vp = drawn(app, display)
    head = vp.x(app.scene.player.t)
    ruler = pygame.Rect(screen.ruler)
    ticks = [rect for _, rect, room in texts if pygame.Rect(room) == ruler]
    assert ticks and all(rect.left <= head + 4 for rect in ticks)
    ox, oy, ow, oh = screen.overview
    future = {tuple(display.get_at((x, oy + oh // 2)))[:3] for x in range(int(head) + 3, ox + ow)
              if ox <= x < ox + ow}
    assert theme.WAIT not in future
    app.scene.predict = None  # the same frame outside predict mode shows what comes later
    texts, screen, vp = drawn(app, display)
    assert any(rect.left > head + 4 for _, rect, room in texts if pygame.Rect(room) == ruler)


def test_the_question_sits_in_the_blank_future_and_the_reveal_says_why(one_datagram,
                                                                       display):
    app = asking(one_datagram, display, questions=3)
    mode = app.scene.predict
    asked = mode.asked
    texts, screen, vp = drawn(app, display)
    head = vp.x(app.scene.player.t)
    timeline = pygame.Rect(screen.timeline)
    question = [rect for t, rect, _ in texts if len(t) > 12 and t in asked.text
                and timeline.contains(rect)]
    assert question and all(rect.left > head for rect in question)
    wrong = next(k for k in range(len(asked.choices)) if k != asked.answer)
    press(app, display, pygame.K_1 + wrong)
    texts, _, _ = drawn(app, display)
    flowing = " ".join(t for t, _, _ in texts)
    assert mode.reveal.why.split(":")[0] == "Wrong"
    assert asked.whys[wrong][:40] in flowing and asked.whys[asked.answer][1:40] in flowing
    rect = next(rect for t, rect, _ in texts if t.startswith("Wrong:"))
    inked = {tuple(display.get_at((x, y)))[:3] for x in range(rect.left, rect.right)
             for y in range(rect.top, rect.bottom)}
    assert WRONG in inked and RIGHT not in inked


def test_hover_and_clicks_reach_nothing_still_to_come(one_datagram, display):
    app = asking(one_datagram, display, run=0, questions=2)
    texts, screen, vp = drawn(app, display)
    head = vp.x(app.scene.player.t)
    band = screen.bands[0]
    later = (int(head + (vp.x0 + vp.width - head) * 0.6), band.app.box[1] + 5)
    app.motion(later)
    assert app.scene.hover is None
    t = app.scene.player.t
    app.press(later)  # a click in the blank future: the playhead stays before the question
    app.handle(pygame.event.Event(pygame.MOUSEBUTTONUP, button=1, pos=later))
    assert app.scene.follow is None and app.scene.player.t == t
    app.scene.predict = None
    app.motion(later)
    assert app.scene.hover is not None


@pytest.mark.parametrize("name", ["latency", "handled in", "blocked"])
def test_a_counter_shows_its_definition_when_hovered(one_datagram, display, name):
    app = App([one_datagram])
    app.scene.player.seek(app.scene.player.end)
    drawn(app, display)
    box = next(box for box, key in app.scene.counter_spots if key == name)
    app.motion((box[0] + 3, box[1] + box[3] // 2))
    assert app.scene.hover_counter == name
    texts, _, _ = drawn(app, display)
    flowing = " ".join(t for t, _, _ in texts)
    assert COUNTER_WORDS[name][:30] in flowing
    app.motion((5, 5))
    assert app.scene.hover_counter is None


def test_a_followed_message_keeps_its_future_figures_to_itself(one_datagram, display):
    """Following the datagram in predict mode: its copy and handling, still to come, are not
    in the counters; outside predict mode they are."""
    app = asking(one_datagram, display, run=0, questions=2)
    app.scene.follow = 0
    texts = " | ".join(t for t, _, _ in drawn(app, display)[0])
    done = one_datagram.runs[0].m_done[0]
    assert "handled at: not yet" in texts and format_us(done) not in texts
    app.scene.predict = None
    texts = " | ".join(t for t, _, _ in drawn(app, display)[0])
    assert f"handled at {format_us(done)}" in texts
