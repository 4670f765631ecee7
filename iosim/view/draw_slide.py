"""Drawing a frame as a slide (presentation): the caption becomes the slide's title at the top
(under a lesson moment's own title, when it has one), no caption bar and no key hints; a
lesson's question in a box under the bands, its answer once revealed; the presenter's line
with the talking points at the very bottom (the window only, and N hides it).

Nothing here cuts a text: each keeps the longest variant that fits, or a smaller size, or is
left out.
"""

from __future__ import annotations

import pygame

from iosim.view import theme
from iosim.view.caption import Caption
from iosim.view.layout import CAPTION_H, HEADER_H, HINTS_H, SLIDE_TITLE_H, Chrome, Screen
from iosim.view.scene import Scene
from iosim.view.theme import INK, MUTED, Text

TITLE_SIZE = 19
CAPTION_SIZES = (15, 13)
CAPTION_TITLE_SIZE = 17  # the caption's first line when it is the slide's title
QUESTION_SIZES = (15, 13)
QUESTION_LINE_H = {15: 20, 13: 18}
QUESTION_LINES = 3  # at most, at the smaller size (a lesson's question is at most 300 chars)
ANSWER_LINES = 4  # likewise (an answer is at most 600 chars)
NOTES_SIZE = 12
CAPTION_ONLY_H = 56  # a slide without its own title: the caption's two lines
ANSWER_INK = (0x00, 0x5A, 0x40)
QUESTION_INK = theme.ARROW_INK
REVEAL_HINT = "PgDn or Enter shows the answer"


def chrome(text: Text, scene: Scene, width: int) -> Chrome:
    """The heights around the timeline for this scene: the window's, or a slide's."""
    slide = scene.slide
    notes_h = HINTS_H if slide is not None and slide.notes_shown else 0
    if not scene.presentation:
        return Chrome(HEADER_H, CAPTION_H, HINTS_H if scene.hints else 0)
    title_h = SLIDE_TITLE_H if slide is not None and slide.title else CAPTION_ONLY_H
    return Chrome(title_h, 0, notes_h, question_height(text, scene, width))


def _question_lines(text: Text, slide, width: int) -> tuple[list[str], list[str], int]:
    """The question's and the answer's lines, at the largest size both fit (the answer's
    room is kept before it is revealed, so revealing it moves nothing)."""
    for size in QUESTION_SIZES:
        q = text.wrap(f"Question: {slide.question}", size, width, True)
        a = text.wrap(f"Answer: {slide.answer}", size, width) if slide.answer else []
        if len(q) <= QUESTION_LINES and len(a) <= ANSWER_LINES and \
                all(text.width(ln, size, True) <= width for ln in q) and \
                all(text.width(ln, size) <= width for ln in a):
            return q, a, size
    return [], [], 0


def question_height(text: Text, scene: Scene, width: int) -> int:
    slide = scene.slide
    if slide is None or not slide.question:
        return 0
    q, a, size = _question_lines(text, slide, width - 40)
    if not size:
        return 0
    line_h = QUESTION_LINE_H[size]
    return 16 + line_h * (len(q) + max(len(a), 1)) + 6


def title_bar(text: Text, surf: pygame.Surface, screen: Screen, cap: Caption, scene: Scene,
              context: list[str]) -> None:
    """The slide's title: a moment's own title over the caption's two lines, or the caption
    as the title; ``context`` (longest first) names the scenario and view at the right."""
    x, y, w, h = screen.header
    room = pygame.Rect(screen.header)
    surf.fill(theme.BACKGROUND, room)
    pygame.draw.line(surf, theme.GRID, (0, y + h - 1), (w, y + h - 1))
    slide = scene.slide
    own = slide.title if slide is not None else ""
    asking = slide is not None and slide.asking
    size1 = CAPTION_SIZES[0] if own else CAPTION_TITLE_SIZE
    line1 = cap.first_line(lambda s: text.width(s, size1, not own) <= w - 20)
    line2 = cap.second_line(lambda s: text.width(s, CAPTION_SIZES[1]) <= w - 20)
    if asking or scene.predict is not None:  # what comes next is what is asked
        line2 = ""
    if scene.flash:
        line2 = text.first_fitting([scene.flash], CAPTION_SIZES[1], w - 20, True)
    top = y + 6
    if own:
        title = text.first_fitting([own], TITLE_SIZE, w - 20, True) or \
            text.first_fitting([own], CAPTION_SIZES[0], w - 20, True)
        size = TITLE_SIZE if text.width(title, TITLE_SIZE, True) <= w - 20 else CAPTION_SIZES[0]
        rect = text.blit(surf, title, (10, top), size, INK, True, room=room)
        _context(text, surf, room, context, rect.right + 30, top + 4)
        top = rect.bottom + 4
        text.blit(surf, line1, (10, top), CAPTION_SIZES[0], INK, room=room)
    else:
        rect = text.blit(surf, line1, (10, top), size1, INK, True, room=room)
        _context(text, surf, room, context, rect.right + 30, top + 3)
    colour = theme.ARROW_INK if scene.flash else MUTED
    text.blit(surf, line2, (10, top + 23), CAPTION_SIZES[1], colour, bool(scene.flash),
              room=room)


def _context(text: Text, surf: pygame.Surface, room: pygame.Rect, variants: list[str],
             left: int, y: int) -> None:
    """The scenario and the view, small at the right of the title line, if they fit."""
    shown = text.first_fitting(variants, 12, room.right - 10 - left)
    if shown:
        text.blit(surf, shown, (room.right - 10, y), 12, MUTED, anchor="topright", room=room)


def question_box(text: Text, surf: pygame.Surface, screen: Screen, scene: Scene) -> None:
    """The moment's question under the bands, and its answer once revealed (in the window,
    the key that reveals it is said where the answer will be)."""
    slide = scene.slide
    x, y, w, h = screen.question
    if slide is None or h <= 0:
        return
    box = pygame.Rect(x + 8, y + 4, w - 16, h - 6)
    surf.fill((255, 255, 255), box)
    pygame.draw.rect(surf, QUESTION_INK, box, 2)
    q, a, size = _question_lines(text, slide, w - 40)
    line_h = QUESTION_LINE_H.get(size, 20)
    ty = box.y + 6
    for line in q:
        text.blit(surf, line, (box.x + 12, ty), size, QUESTION_INK, True, room=box)
        ty += line_h
    if slide.revealed:
        for line in a:
            text.blit(surf, line, (box.x + 12, ty), size, ANSWER_INK, room=box)
            ty += line_h
    elif slide.window and slide.answer:
        hint = text.first_fitting([REVEAL_HINT], 12, box.w - 24)
        text.blit(surf, hint, (box.x + 12, ty + 2), 12, MUTED, room=box)


def presenter_line(text: Text, surf: pygame.Surface, screen: Screen, scene: Scene) -> None:
    """The talking points in one thin line at the bottom: where the moment is in the lesson,
    then as many whole points as fit, and how many more there are (``--notes`` prints them
    all in the terminal)."""
    slide = scene.slide
    x, y, w, h = screen.hints
    if slide is None or h <= 0:
        return
    room = pygame.Rect(screen.hints)
    surf.fill(theme.BAND_SHADE, room)
    points = list(slide.notes)
    head = f"{slide.place} · N hides this line" if slide.place else "N hides this line"
    variants = []
    for n in range(len(points), -1, -1):
        more = len(points) - n
        tail = f" · (+{more} more: iosim lesson --notes)" if more else ""
        shown = " · ".join(points[:n])
        variants.append(f"{slide.place} · {shown}{tail}" if shown else head + tail)
    line = text.first_fitting(variants + [slide.place], NOTES_SIZE, w - 20)
    text.blit(surf, line, (10, y + h // 2), NOTES_SIZE, MUTED, anchor="midleft", room=room)


def blank(surf: pygame.Surface) -> None:
    """B blanks the screen, as presentation programs do; B again (or any key) brings it
    back."""
    surf.fill((0, 0, 0))
