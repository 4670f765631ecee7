"""The help overlay (H): every key the window answers to, the mouse, and how to read the
picture, flowed over as many columns as the window needs, in the largest type that lets all of
it fit. Nothing is left out: the layout is pure logic, so a test can hold it to that."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pygame

from iosim.view.theme import INK, MUTED, Text

HELP_KEYS = [
    ("Space", "play / pause"),
    ("→ or .  ← or ,", "next / previous event of what is shown"),
    ("Shift+→ / Shift+←", "next / previous message (its data ready)"),
    ("Home / End", "start / end (the whole run)"),
    ("+ / -", "speed x2 / ÷2"),
    ("T", "time axis: schematic / to scale"),
    ("W / S", "zoom in / out"), ("A / D", "pan left / right"), ("F", "fit the whole run"),
    ("0", "all runs"), ("1-9", "one run, with its code"),
    ("C", "comparison of the models (Figure 6.6)"),
    ("V", "the code pane beside all runs"),
    ("I", "the state: queues, sets, signals, threads"),
    ("[ / ]", "follow the previous / next message across all runs"),
    ("K", "predict mode: questions before the telling moments (beside all runs: which "
          "model handles a message first)"),
    ("1-4", "in predict mode: answer the question"),
    ("E", "what-if panel: change the scenario and simulate it again"),
    ("↑ / ↓", "what-if: the knob to change"),
    ("← / →", "what-if: change it (with Shift: in bigger steps)"),
    ("Space or Enter", "what-if, on the models: add or remove the model"),
    ("Ctrl+S", "what-if: save the changed scenario as TOML"),
    ("Tab / Shift+Tab", "next / previous built-in scenario"),
    ("R", "restart"), ("L", "labels on / off"),
    ("P", "presentation: bigger text, no key hints, the caption as the title"),
    ("Ctrl+= / Ctrl+-", "everything bigger / smaller (Ctrl+0: automatic for the window)"),
    ("F12", "screenshot (PNG)"),
    ("H or ?", "this help"),
    ("Esc", "close what is open: this help, a followed message, predict mode, the panel"),
    ("Q", "quit"),
]
HELP_MOUSE = [
    ("click", "a run's name: its one-run view; an arrival mark: follow that message; the "
              "time axis or a lane: the playhead goes there"),
    ("drag", "move the playhead (on the overview strip: across the whole run)"),
    ("right-drag", "pan (or Shift+drag)"),
    ("wheel", "zoom around the pointer"),
    ("hover", "a span's or an instant's details; a counter's definition"),
    ("what-if", "click − / + beside a knob, or a model to add or remove it"),
]
HELP_READING = [
    "Each band is one server, written in one IO model, fed the same network input.",
    "Its top lane is the application: blocked (vermillion), in a system call (sky blue), its "
    "own work (green), processing a message (dark green), a signal handler (purple).",
    "Its bottom lane is the kernel, one row per connection: phase 1, wait for data "
    "(orange), then data queued (yellow), then phase 2, the copy to the user (blue).",
    "Arrows between the lanes are system calls (down) and their returns (up).",
    "Stepping moves the playhead event by event; the caption says what just happened and "
    "what comes next; the code pane lights the line the process is executing.",
    "The counters: latency = data ready → copied; handled = data ready → processed.",
]
SECTIONS = [("Keys", HELP_KEYS), ("The mouse", HELP_MOUSE),
            ("Reading the picture", [("", p) for p in HELP_READING])]
SIZES = (13, 12, 11)
MARGIN, COLUMN_GAP, TITLE_H, NOTE_H = 16, 24, 26, 22
BOX_MAX_W = 1200


@dataclass(frozen=True)
class Placed:
    """A piece of the help at its place: a title, a key, or a line of words."""

    words: str
    x: int
    y: int
    bold: bool
    title: bool = False


def help_layout(width: Callable[[str, int, bool], int],
                wrap: Callable[[str, int, int], list[str]], box: tuple[int, int, int, int]
                ) -> tuple[int, int, list[Placed]] | None:
    """Every section flowed down columns of ``box``: the largest type and the fewest columns
    that fit it all, the columns as even as can be. (size, height used, placed) or None when
    nothing fits."""
    bx, by, bw, bh = box
    for size in SIZES:
        for cols in (2, 3, 4):
            col_w = (bw - 2 * MARGIN - (cols - 1) * COLUMN_GAP) // cols
            if _flow(width, wrap, size, cols, col_w, box) is None:
                continue
            low, high = 0, bh  # the shortest box it still fits in: even columns
            while high - low > 4:
                mid = (low + high) // 2
                if _flow(width, wrap, size, cols, col_w, (bx, by, bw, mid)) is None:
                    low = mid
                else:
                    high = mid
            placed = _flow(width, wrap, size, cols, col_w, (bx, by, bw, high))
            assert placed is not None
            return size, high, placed
    return None


def _flow(width: Callable[[str, int, bool], int], wrap: Callable[[str, int, int], list[str]],
          size: int, cols: int, col_w: int, box: tuple[int, int, int, int]
          ) -> list[Placed] | None:
    bx, by, bw, bh = box
    line_h = size + 5
    top, bottom = by + 10, by + bh - NOTE_H
    col, y = 0, top
    out: list[Placed] = []

    def room(height: int) -> bool:
        nonlocal col, y
        if y + height <= bottom:
            return True
        col, y = col + 1, top
        return col < cols and y + height <= bottom

    for title, entries in SECTIONS:
        key_w = max((width(k, size, True) for k, _ in entries if k), default=-12) + 12
        key_w = min(key_w, col_w // 2)
        first = True
        for key, words in entries:
            lines = wrap(words, size, col_w - key_w) if key else wrap(words, size, col_w)
            height = line_h * len(lines) + (4 if key else 8)
            if not room(height + (TITLE_H if first else 0)):
                return None
            x = bx + MARGIN + col * (col_w + COLUMN_GAP)
            if first:
                out.append(Placed(title, x, y, True, title=True))
                y += TITLE_H
                first = False
            if key:
                if width(key, size, True) > key_w - 6:
                    return None
                out.append(Placed(key, x, y, True))
            out += [Placed(line, x + (key_w if key else 0), y + line_h * k, False)
                    for k, line in enumerate(lines)]
            y += height
    return out


def help_overlay(text: Text, surf: pygame.Surface) -> None:
    """The help over the frame, all of it (in the smallest type if need be)."""
    w, h = surf.get_size()
    room = pygame.Rect(0, 0, min(BOX_MAX_W, w - 24), h - 24)
    room.center = (w // 2, h // 2)
    found = help_layout(text.width, text.wrap, (0, 0, room.w, room.h))
    if found is None:
        box = pygame.Rect(room.x, room.y, room.w, 40)
        _panel(surf, box)
        text.blit(surf, "This window is too small for the help: make it larger.",
                  (box.x + MARGIN, box.y + 10), 13, INK, True, room=box)
        return
    size, height, placed = found
    box = pygame.Rect(0, 0, room.w, height)
    box.center = room.center
    _panel(surf, box)
    for p in placed:
        text.blit(surf, p.words, (box.x + p.x, box.y + p.y), size + 3 if p.title else size,
                  INK, p.bold, room=box)
    text.blit(surf, "H or Esc closes this help", (box.right - 10, box.bottom - 6), 11, MUTED,
              anchor="bottomright", room=box)


def _panel(surf: pygame.Surface, box: pygame.Rect) -> None:
    shade = pygame.Surface(box.size, pygame.SRCALPHA)
    shade.fill((255, 255, 255, 248))
    surf.blit(shade, box)
    pygame.draw.rect(surf, INK, box, 1)
