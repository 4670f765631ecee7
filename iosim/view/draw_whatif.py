"""Drawing the what-if panel: the scenario's knobs, each with its value and − / + buttons, the
models as switches, the last refusal in red and the keys that work here."""

from __future__ import annotations

import pygame

from iosim.scenario import SIM_MODELS
from iosim.view import theme
from iosim.view.theme import INK, MUTED, Text
from iosim.view.whatif import KNOBS, MODELS_ROW, WhatIf, panel_layout

SELECTED: tuple[int, int, int] = (222, 236, 248)
ON: tuple[int, int, int] = (0x00, 0x72, 0xB2)
HINTS = "↑↓ choose · ←→ change (Shift: x10) · Space: a model on/off · Ctrl+S saves it as " \
    "TOML · E closes"


def draw_whatif(surf: pygame.Surface, text: Text, panel: WhatIf,
                box: tuple[int, int, int, int], busy: str) -> None:
    x, y, w, h = box
    room = pygame.Rect(box)
    surf.fill((255, 255, 255), room)
    pygame.draw.line(surf, theme.GRID, (x, y), (x, y + h), 2)
    layout = panel_layout(box)
    title = text.first_fitting([f"What if? {panel.scenario.name}", "What if?"], 15, w - 24,
                               True)
    text.blit(surf, title, (x + 12, y + 8), 15, INK, True, room=room)
    sub = text.first_fitting(["change a knob: the runs are simulated again at once",
                              "each change simulates again"], 12, w - 24)
    text.blit(surf, sub, (x + 12, y + 28), 12, MUTED, room=room)
    heading = text.first_fitting(["models shown (↑↓ choose one, Space switches it)",
                                  "models (↑↓, Space)", "models"], 12, w - 24, True)
    text.blit(surf, heading, (x + 12, y + 48), 12, INK, True, room=room)
    models = set(panel.data["models"])
    for k, (model, cell) in enumerate(zip(SIM_MODELS, layout.cells, strict=True)):
        on = model in models
        if panel.selected == MODELS_ROW and k == panel.model_cursor:
            surf.fill(SELECTED, cell)
        pygame.draw.rect(surf, ON if on else theme.GRID, (cell[0] + 2, cell[1] + 5, 11, 11),
                         0 if on else 1)
        label = text.first_fitting([model], 12, cell[2] - 18)
        text.blit(surf, label, (cell[0] + 17, cell[1] + cell[3] // 2), 12,
                  INK if on else MUTED, anchor="midleft", room=cell)
    for k, (knob, row) in enumerate(zip(KNOBS[1:], layout.rows, strict=True), start=1):
        if panel.selected == k:
            surf.fill(SELECTED, row)
        value = knob.text(panel.data)
        minus, plus = layout.minus[k - 1], layout.plus[k - 1]
        value_right = minus[0] - 8
        shown = text.first_fitting([value], 13, value_right - row[0] - 60, True)
        vrect = text.blit(surf, shown, (value_right, row[1] + row[3] // 2), 13, INK, True,
                          "midright", room=row)
        label = text.first_fitting([knob.label, knob.label.split()[0]], 13,
                                   vrect.left - row[0] - 8)
        text.blit(surf, label, (row[0] + 4, row[1] + row[3] // 2), 13, INK, anchor="midleft",
                  room=row)
        for button, sign in ((minus, "−"), (plus, "+")):
            pygame.draw.rect(surf, theme.GRID, button, 0, 4)
            text.blit(surf, sign, (button[0] + button[2] // 2, button[1] + button[3] // 2), 14,
                      INK, True, "center", room=button)
    fx, fy, fw, fh = layout.footer
    footer = pygame.Rect(layout.footer)
    lines: list[tuple[str, tuple[int, int, int]]] = []
    if panel.error:
        lines += [(line, theme.ERROR) for line in text.wrap(panel.error, 12, fw)]
    if busy:
        lines.append((busy, theme.ARROW_INK))
    hints, _ = text.fit_lines([HINTS], (11,), fw, 3)
    if 16 * len(lines) + 14 * len(hints) > fh:  # the refusal first: the keys are in the help
        hints = []
    if 16 * len(lines) > fh:  # whole or not at all (the caption says it too)
        lines = []
    for k, (line, colour) in enumerate(lines):
        text.blit(surf, line, (fx, fy + 16 * k), 12, colour, room=footer)
    if fh >= 16 * len(lines) + 14 * len(hints):
        for k, hint in enumerate(hints):
            text.blit(surf, hint, (fx, fy + fh - 14 * (len(hints) - k)), 11, MUTED,
                      room=footer)
