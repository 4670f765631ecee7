"""Drawing predict mode: the question with its numbered choices, then the reveal (right or
wrong, why that choice is or is not what happens, and the true answer's why) and the score,
in a box in the timeline's future, right of the playhead, which predict mode leaves blank (so
the box hides nothing that has happened). Nothing is cut: a box that would be too tall for
the timeline is set in a smaller type."""

from __future__ import annotations

import pygame

from iosim.view import theme
from iosim.view.layout import Screen
from iosim.view.predict_mode import PredictMode
from iosim.view.theme import INK, MUTED, Text

RIGHT = (0x00, 0x7A, 0x4D)
WRONG = (0xB0, 0x20, 0x20)
BOX_MAX_W = 820
BOX_MIN_W = 300  # narrower than this, the box goes over the bottom of the timeline
GAP = 16  # between the playhead and the box
SIZES = (15, 14, 13, 12)  # the main type size, largest first; notes are 2 smaller
Line = tuple[str, int, tuple[int, int, int], bool, int]  # text, size, colour, bold, indent


def predict_lines(text: Text, mode: PredictMode, t: float, model: str, width: int,
                  size: int) -> list[Line]:
    """What the box says at this moment, wrapped to ``width`` at type ``size``."""
    small = size - 2
    right, wrong = mode.score
    score = f"score: {right} right, {wrong} wrong"
    lines: list[Line] = []

    def para(words: str, sz: int, colour: tuple[int, int, int], bold: bool = False,
             indent: int = 0) -> None:
        lines.extend((line, sz, colour, bold, indent)
                     for line in text.wrap(words, sz, width - indent, bold))

    asked = mode.asked
    if asked is not None:
        quiz = mode.quiz
        number = quiz.questions.index(asked) + 1
        lines.append((f"{model} · question {number} of {len(quiz)} · {score}", small, MUTED,
                      False, 0))
        para(asked.text, size, INK, True)
        pad = text.width("4   ", size)
        for k, choice in enumerate(asked.choices):
            lines.append((f"{k + 1}", size, theme.ARROW_INK, True, -1))
            para(choice, size, INK, indent=pad)
        lines.append((f"Answer with 1-{len(asked.choices)}; K leaves predict mode.", small,
                       MUTED, False, 0))
    elif mode.reveal is not None:
        reveal = mode.reveal
        para(reveal.why, size, RIGHT if reveal.right else WRONG, True)
        if not reveal.right:
            para(f"What happens: {reveal.answer}.", size, INK, True)
            para(reveal.answer_why, size, INK)
        lines.append((f"{score} · Space or → goes on", small, MUTED, False, 0))
    elif mode.finished(t):
        lines.append((f"Predict mode, {model}: {right} right, {wrong} wrong of "
                      f"{right + wrong}.", size, INK, True, 0))
        lines.append(("Home starts again; K leaves predict mode.", small, MUTED, False, 0))
    else:
        para(f"Predict mode: {score}. Space or → plays on to the next question; K leaves.",
             small + 1, MUTED)
    return lines


def draw_predict(surf: pygame.Surface, text: Text, mode: PredictMode, screen: Screen,
                 t: float, model: str, head_x: float) -> None:
    tx, ty, tw, th = screen.timeline
    x0 = max(int(head_x) + GAP, tx + 10)
    width = min(BOX_MAX_W, tx + tw - 10 - x0)
    at_top = width >= BOX_MIN_W
    if not at_top:
        x0, width = 10, min(BOX_MAX_W, tx + tw - 20)
    inner = width - 28
    for size in SIZES:
        lines = predict_lines(text, mode, t, model, inner, size)
        height = 16 + sum(_advance(line) for line in lines)
        if height <= th - 16:
            break
    box = pygame.Rect(x0, ty + 8 if at_top else ty + th - height - 8, width, height)
    surf.fill((255, 255, 255), box)  # opaque: no label of the lanes shows through
    pygame.draw.rect(surf, theme.ARROW_INK, box, 2)
    y = box.y + 8
    for words, sz, colour, bold, indent in lines:
        if indent < 0:  # a choice's number, beside its first line
            text.blit(surf, words, (box.x + 14, y), sz, colour, bold, room=box)
            continue
        text.blit(surf, words, (box.x + 14 + indent, y), sz, colour, bold, room=box)
        y += _advance((words, sz, colour, bold, indent))


def _advance(line: Line) -> int:
    """How far down a line moves the next one (a choice's number shares its line)."""
    return 0 if line[4] < 0 else line[1] + 6
