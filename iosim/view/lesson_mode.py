"""A lesson in the window: which moment is open, the scene each moment opens on (as a slide:
its title, the caption under it, no key hints), its question and answer, the presenter's line,
and the keys that go between moments.

Presentation clickers send PgDn / PgUp (next / previous), F5 and Esc (start / stop a slide
show), and B or "." (blank the screen); some send → / ←. PgDn and PgUp go between moments
(PgDn first reveals a posed question's answer, as a presentation's build does), B blanks the
screen, F5 opens the moment again as prepared; → ← "." and Esc keep their meaning in the
window (step, close), so a clicker that sends them steps through the moment's events.
"""

from __future__ import annotations

from collections.abc import Callable

import pygame

from iosim.lesson.lesson import Lesson
from iosim.lesson.prepare import Ready, outline
from iosim.view.render import Look, prepare
from iosim.view.scene import Scene
from iosim.view.slide import Slide

NEXT_KEYS = (pygame.K_PAGEDOWN,)
PREVIOUS_KEYS = (pygame.K_PAGEUP,)
REVEAL_KEYS = (pygame.K_RETURN, pygame.K_KP_ENTER)


class LessonMode:
    """The lesson's place: ``index`` is the open moment; ``notes`` (``--notes``) prints each
    moment's talking points, question and answer as it opens."""

    def __init__(self, lesson: Lesson, moments: list[Ready],
                 notes: Callable[[str], None] | None = None) -> None:
        self.lesson = lesson
        self.moments = moments
        self.index = 0
        self.notes = notes
        self.notes_shown = True  # the presenter's line (N hides it)

    @property
    def current(self) -> Ready:
        return self.moments[self.index]

    def scene(self, k: int) -> Scene:
        """Moment ``k`` as prepared, and its notes printed when asked for."""
        self.index = k
        scene = moment_scene(self.moments[k], self.place(k), window=True)
        scene.slide.notes_shown = self.notes_shown  # type: ignore[union-attr]
        if self.notes is not None:
            self.notes(self.outline(k))
        return scene

    def place(self, k: int) -> str:
        return f"moment {k + 1} of {len(self.moments)}"

    def outline(self, k: int) -> str:
        return outline(self.moments[k], self.place(k))


def moment_scene(r: Ready, place: str, window: bool = False) -> Scene:
    """A moment as prepared, as a slide: its view, time and axis, the whole run shown unless
    the moment says otherwise, its title over the caption, its question (``window``: in the
    window, where keys reveal the answer and the talking points have their line)."""
    m = r.moment
    scene = prepare([r.trace], r.view, m.axis, r.at_ms, Look(fit=m.fit, clean=True))
    scene.presentation = True
    scene.slide = Slide(m.title, m.question, m.answer, notes=m.notes, place=place,
                        window=window)
    return scene


def lesson_key(mode: LessonMode, scene: Scene, key: int) -> Scene | str | bool:
    """A key of the lesson: the scene to show instead (another moment, or this one as
    prepared); a text to flash, or True, when the key was taken and the scene stays; False
    when the key is not the lesson's."""
    slide = scene.slide
    if slide is not None and slide.blank:
        slide.blank = False
        if key == pygame.K_b:
            return True
    if key in NEXT_KEYS:
        if slide is not None and slide.asking and slide.answer:
            slide.revealed = True
            return True
        if mode.index + 1 < len(mode.moments):
            return mode.scene(mode.index + 1)
        return f"the last moment of the lesson ({mode.place(mode.index)}); PgUp goes back"
    if key in PREVIOUS_KEYS:
        if mode.index > 0:
            return mode.scene(mode.index - 1)
        return "the first moment of the lesson; PgDn goes on"
    if key == pygame.K_F5:
        return mode.scene(mode.index)
    if slide is None:
        return False
    if key in REVEAL_KEYS and slide.question:
        slide.revealed = not slide.revealed
        return True
    if key == pygame.K_b:
        slide.blank = True
        return True
    if key == pygame.K_n:
        mode.notes_shown = slide.notes_shown = not slide.notes_shown
        return True
    return False
