"""Drawing predict mode: the question "what happens next?" with its numbered choices, then the
reveal (right or wrong, and why) and the score, in a box over the bottom of the timeline."""

from __future__ import annotations

import pygame

from iosim.view import theme
from iosim.view.layout import Screen
from iosim.view.predict_mode import PredictMode
from iosim.view.theme import INK, MUTED, Text

RIGHT = (0x00, 0x7A, 0x4D)
WRONG = (0xB0, 0x20, 0x20)
BOX_MAX_W = 760


def draw_predict(surf: pygame.Surface, text: Text, mode: PredictMode, screen: Screen,
                 t: float, model: str) -> None:
    tx, ty, tw, th = screen.timeline
    width = min(BOX_MAX_W, tx + tw - 20)
    wrap_w = width - 28
    right, wrong = mode.score
    score = f"score: {right} right, {wrong} wrong"
    lines: list[tuple[str, int, tuple[int, int, int], bool]] = []
    if mode.asked is not None:
        lines.append((f"What happens next in {model}?  Answer with 1-"
                      f"{len(mode.asked.choices)}.", 15, INK, True))
        for k, choice in enumerate(mode.asked.choices):
            for j, line in enumerate(text.wrap(choice, 14, wrap_w - 24)):
                lines.append(((f"{k + 1}   " if j == 0 else "     ") + line, 14, INK, False))
        lines.append((score, 12, MUTED, False))
    elif mode.reveal is not None:
        colour = RIGHT if mode.reveal.right else WRONG
        if not mode.reveal.right:
            lines += [(line, 14, INK, True) for line in
                      text.wrap(f"What happened: {mode.reveal.answer}.", 14, wrap_w, True)]
        lines += [(line, 14, colour, False) for line in text.wrap(mode.reveal.why, 14, wrap_w)]
        lines.append((f"{score} · Space or → goes on", 12, MUTED, False))
    elif mode.finished(t):
        lines.append((f"Predict mode, {model}: {right} right, {wrong} wrong of "
                      f"{right + wrong}.", 15, INK, True))
        lines.append(("Home starts again; K leaves predict mode.", 12, MUTED, False))
    else:
        lines.append((f"Predict mode: {score}. Space or → plays on to the next question; "
                      "K leaves.", 13, MUTED, False))
    lines = [ln for ln in lines if text.width(ln[0], ln[1], ln[3]) <= wrap_w]
    height = 16 + sum(size + 6 for _, size, _, _ in lines)
    box = pygame.Rect(10, ty + th - height - 8, width, height)
    shade = pygame.Surface(box.size, pygame.SRCALPHA)
    shade.fill((255, 255, 255, 246))
    surf.blit(shade, box)
    pygame.draw.rect(surf, theme.ARROW_INK, box, 2)
    y = box.y + 8
    for line, size, colour, bold in lines:
        text.blit(surf, line, (box.x + 14, y), size, colour, bold, room=box)
        y += size + 6
