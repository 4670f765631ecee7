"""A lesson in the window: PgDn / PgUp (as clickers send them) go between moments, a posed
question's answer comes first, B blanks the screen, N hides the presenter's line, F5 opens the
moment again as prepared, --notes prints each moment as it opens; the slide has its title, the
caption under it, and no key hints."""

from __future__ import annotations

import time

import pygame
import pytest

from iosim.lesson import lesson as lesson_mod
from iosim.lesson.prepare import ready
from iosim.sim.run import simulate
from iosim.view.app import App
from iosim.view.draw_chrome import HINTS
from iosim.view.lesson_mode import LessonMode
from iosim.view.scene import ALL, COMPARE, ONE


def post_key(key: int) -> None:
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode=""))


def open_lesson(name: str, surface, printed: list[str] | None = None) -> App:
    lesson = lesson_mod.load(name)
    mode = LessonMode(lesson, ready(lesson, simulate), printed.append if printed is not None
                      else None)
    app = App([mode.moments[0].trace], simulator=simulate, scene=mode.scene(0),
              scenario=mode.current.scenario, lesson=mode)
    app.frame(surface, 0.0)
    return app


def press(app: App, surface, *keys: int) -> None:
    pygame.event.clear()
    for key in keys:
        post_key(key)
    app.pump(surface, 1)


def test_pgdn_and_pgup_go_between_moments(display) -> None:
    printed: list[str] = []
    app = open_lesson("five-models", display, printed)
    mode = app.lesson
    moments = mode.moments
    first = moments[0].moment
    assert (mode.index, app.scene.view) == (0, ALL)
    assert app.scene.player.t == pytest.approx(first.at_ms * 1000.0)
    assert app.scene.slide.question == first.question and not app.scene.slide.revealed
    assert printed[-1].startswith(f"— moment 1 of {len(moments)}: {first.title}")
    press(app, display, pygame.K_PAGEDOWN)  # the question's answer first
    assert mode.index == 0 and app.scene.slide.revealed
    press(app, display, pygame.K_PAGEDOWN)
    second = moments[1]
    assert mode.index == 1 and app.scene.view == ONE and app.scene.focus == second.focus
    assert app.scene.runs[app.scene.focus].run.model == "blocking"
    assert app.scene.player.t == pytest.approx(second.at_ms * 1000.0)
    assert app.scene.player.window == (0.0, app.scene.player.axis.length)  # fit: whole run
    assert printed[-1].startswith("— moment 2 of")
    app.scene.player.seek(0.0)  # the teacher explores, then F5 opens the moment as prepared
    press(app, display, pygame.K_F5)
    assert app.scene.player.t == pytest.approx(second.at_ms * 1000.0)
    press(app, display, pygame.K_PAGEUP)
    assert mode.index == 0 and not app.scene.slide.revealed  # opened as prepared
    press(app, display, pygame.K_PAGEUP)
    assert mode.index == 0 and "first moment" in app.scene.flash
    compare = next(k for k, r in enumerate(moments) if r.view == "compare")
    app.scene = mode.scene(compare - 1)
    app.scene.slide.revealed = True
    press(app, display, pygame.K_PAGEDOWN)
    assert mode.index == compare and app.scene.view == COMPARE
    app.scene = mode.scene(len(moments) - 1)
    press(app, display, pygame.K_PAGEDOWN)
    assert mode.index == len(moments) - 1 and "last moment" in app.scene.flash


def test_the_other_keys_keep_their_meaning(display) -> None:
    """→ steps an event (a clicker that sends arrows steps), Enter shows and hides the
    answer, the view keys work inside a moment."""
    app = open_lesson("five-models", display)
    p = app.scene.player
    before = p.t
    press(app, display, pygame.K_RIGHT)
    assert p.t == p.times[next(k for k, t in enumerate(p.times) if t > before)]
    press(app, display, pygame.K_RETURN)
    assert app.scene.slide.revealed
    press(app, display, pygame.K_RETURN)
    assert not app.scene.slide.revealed
    press(app, display, pygame.K_3)
    assert (app.scene.view, app.scene.focus, app.lesson.index) == (ONE, 2, 0)


def test_b_blanks_the_screen_and_n_hides_the_presenters_line(display) -> None:
    app = open_lesson("c10k", display)
    press(app, display, pygame.K_b)
    assert app.scene.slide.blank
    assert display.get_at((640, 360))[:3] == (0, 0, 0)
    assert display.get_at((5, 5))[:3] == (0, 0, 0)
    press(app, display, pygame.K_b)
    assert not app.scene.slide.blank and display.get_at((640, 5))[:3] != (0, 0, 0)
    screen = app.renderer.layout(display.get_size(), app.scene)
    assert screen.hints[3] > 0  # the presenter's line
    texts: list = []
    app.renderer.text.record = texts
    app.frame(display, 0.0)
    drawn = [t for t, _, _ in texts]
    notes = app.lesson.moments[0].moment.notes
    assert any(line.startswith("moment 1 of 7 · " + notes[0]) for line in drawn)
    assert app.lesson.moments[0].moment.title in drawn  # the slide's title
    assert not any(hint in drawn for hint in HINTS)  # no key hints on a slide
    press(app, display, pygame.K_n)
    screen = app.renderer.layout(display.get_size(), app.scene)
    assert screen.hints[3] == 0 and not app.lesson.notes_shown
    press(app, display, pygame.K_PAGEDOWN)
    assert not app.scene.slide.notes_shown  # hidden stays hidden on the next moment


def test_a_question_hides_what_comes_next_until_answered(display) -> None:
    app = open_lesson("five-models", display)
    texts: list = []
    app.renderer.text.record = texts
    app.frame(display, 0.0)
    drawn = " ".join(t for t, _, _ in texts)
    slide = app.scene.slide
    assert "next, at" not in drawn and "Question: " in drawn
    assert "Answer: " not in drawn and "PgDn or Enter shows the answer" in drawn
    texts.clear()
    press(app, display, pygame.K_PAGEDOWN)
    drawn = " ".join(t for t, _, _ in texts)
    assert "Answer: " + slide.answer.split()[0] in drawn and "next, at" in drawn


def test_what_if_inside_a_lesson_keeps_the_slide(display) -> None:
    app = open_lesson("c10k", display)
    app.scene = app.lesson.scene(1)  # select cannot start: the panel edits c10k
    press(app, display, pygame.K_e)
    panel = app.scene.whatif
    assert panel is not None
    panel.selected = next(k for k, knob in enumerate(panel.knobs)
                          if knob.key == "idle_connections")
    press(app, display, pygame.K_LEFT)
    deadline = time.monotonic() + 30
    while app.busy and time.monotonic() < deadline:
        app.pump(display, 1)
    assert app.traces[0].runs[0].error is not None  # 10,099 idle: still past FD_SETSIZE
    assert app.scene.presentation and app.scene.slide.title == "select cannot even start"
