"""Drawing the comparison view (Stevens's Figure 6.6) with pygame: a column per run, time
flowing down through the "wait for data" band into the "copy data from kernel to user" band,
the braces underneath. What goes where is decided in compare.py; this only draws it.
"""

from __future__ import annotations

import pygame

from iosim.timefmt import format_us
from iosim.trace import Kind
from iosim.view import theme
from iosim.view.compare import BOTH_PHASES, HEADINGS, SAME_SECOND_PHASE, Column, column
from iosim.view.index import RunIndex
from iosim.view.layout import Screen
from iosim.view.player import SCALE, SCHEMATIC
from iosim.view.theme import INK, MUTED, Colour, Text

HEADING_H = 50
BRACE_H = 64
WAIT_SHARE = 0.62  # of the height of the two bands, the upper one's


def draw_compare(surf: pygame.Surface, text: Text, runs: list[RunIndex], t: float, cache: dict,
                 screen: Screen, axis: str = SCHEMATIC, whole: bool = False) -> None:
    """The columns up to the playhead; ``whole`` (End) draws the rest of each column's cycle
    too, faint, the playhead staying where it is."""
    w, _ = screen.size
    top = screen.header[3] + 8
    bottom = screen.timeline[1] + screen.timeline[3] - 8
    left = max(110, min(190, w // 7))
    col_w = (w - left - 10) / max(len(runs), 1)
    bands_h = bottom - top - HEADING_H - BRACE_H
    b1 = (top + HEADING_H, int(bands_h * WAIT_SHARE))
    b2 = (b1[0] + b1[1], bands_h - b1[1])
    surf.fill(theme.PALE_WAIT, (left, b1[0], w - left - 10, b1[1]))
    surf.fill(theme.PALE_COPY, (left, b2[0], w - left - 10, b2[1]))
    for words, (y, h), colour in (("wait for data", b1, theme.WAIT),
                                  ("copy data from kernel to user", b2, theme.COPY)):
        lines, size = text.fit_lines([words], (15, 13, 11), left - 16, 4, True)
        for j, line in enumerate(lines):
            text.blit(surf, line, (10, y + h // 2 - 10 * len(lines) + 20 * j), size,
                      _darker(colour), True, room=(0, y, left, h))
    cols = [column(ri, k, t, cache) for k, ri in enumerate(runs)]
    scale = None
    if axis == SCALE:
        live = [c for c in cols if c.error is None]
        scale = (max((c.wait_us for c in live), default=0.0),
                 max((c.copy_us for c in live), default=0.0))
    for k, (ri, col) in enumerate(zip(runs, cols, strict=True)):
        _column(surf, text, ri, col, (left + col_w * k, col_w), top, b1, b2, t, scale, whole)
    _braces(surf, text, cols, left, col_w, b2[0] + b2[1] + 6)
    note = "to scale: one scale for every column" if scale else \
        "schematic: each column's own scale, its moments kept apart"
    if text.width(note, 11) <= left - 14:
        text.blit(surf, note, (10, top + 2), 11, MUTED, room=(0, top, left, HEADING_H))


def _column(surf: pygame.Surface, text: Text, ri: RunIndex, col: Column,
            xs: tuple[float, float], top: int, b1: tuple[int, int], b2: tuple[int, int],
            t: float, scale: tuple[float, float] | None, whole: bool) -> None:
    x, cw = xs
    room = pygame.Rect(int(x) + 2, top, int(cw) - 4, b2[0] + b2[1] - top + 6)
    cx = int(x + min(cw * 0.3, 30))
    heading = HEADINGS.get(col.model, col.model)
    lines, size = text.fit_lines([heading, col.model], (14, 12, 11), room.w - 4, 2, True)
    for j, line in enumerate(lines):
        text.blit(surf, line, (x + cw / 2, top + 2 + (size + 4) * j), size, INK, True,
                  "midtop", room=room)
    if col.message >= 0:
        count = ri.run.message_count
        source = "" if ri.run.source == "sim" else f"{ri.run.source} · "
        sub = text.first_fitting([f"{source}message {col.message + 1} of {count}",
                                  f"{source}{col.message + 1}/{count}",
                                  f"{col.message + 1}/{count}"], 11, room.w - 4)
        text.blit(surf, sub, (x + cw / 2, top + HEADING_H - 14), 11, MUTED, anchor="midtop",
                  room=room)
    pygame.draw.line(surf, theme.GRID, (x, b1[0]), (x, b2[0] + b2[1]))
    if col.error is not None:
        rows = max(1, (b1[1] - 16) // 16)
        lines, size = text.fit_lines([col.error, col.error.split(";")[0]], (12, 11),
                                     room.w - 8, rows)
        for j, line in enumerate(lines):
            text.blit(surf, line, (x + 6, b1[0] + 8 + (size + 4) * j), size, theme.ERROR,
                      room=room)
        return
    setup = ri.setup
    if setup is not None and t < col.start <= setup.t1:  # not waiting yet: setting up
        words = setup.words()
        lines, size = text.fit_lines([f"{w}; the wait begins at {format_us(setup.t1)}"
                                      for w in words] + words, (12, 11), room.w - 8, 4)
        for j, line in enumerate(lines):
            text.blit(surf, line, (x + 6, b1[0] + 8 + (size + 4) * j), size, MUTED, room=room)
        return
    if col.queued:
        lines, size = text.fit_lines(["no wait: the data was already queued", "no wait"],
                                     (11,), room.w - 8, 3)
        for j, line in enumerate(lines):
            text.blit(surf, line, (x + 6, b1[0] + 8 + 14 * j), size, MUTED, room=room)

    def y_of(tt: float) -> int:
        band, f = col.frac(tt, scale)
        y, h = (b1, b2)[band]
        return int(y + 6 + f * (h - 12))

    for bar in col.bars:
        width = {Kind.BLOCKED: 12, Kind.HANDLER: 4}.get(bar.kind, 8)
        x0 = cx - width // 2 - (8 if bar.kind == Kind.HANDLER else 0)
        colour = theme.SPAN_COLOURS[bar.kind]
        for a, b, fill in ((bar.t0, min(bar.t1, t), colour),
                           (max(bar.t0, t), bar.t1, faint(colour) if whole else None)):
            if fill is not None and a <= b:
                y0, y1 = y_of(a), y_of(b)
                surf.fill(fill, (x0, y0, width, max(y1 - y0, 2)))
    last_y = {0: -1e9, 1: -1e9}
    marks = [m for m in col.marks if m.t <= t or whole]
    for k, mark in enumerate(marks):
        y = y_of(mark.t)
        pygame.draw.line(surf, INK, (cx - 9, y), (cx + 9, y), 2)
        band = col.frac(mark.t, scale)[0]
        is_last = k == len(marks) - 1 or marks[k + 1].t > col.copy_start >= mark.t
        same_moment = k > 0 and marks[k - 1].t == mark.t
        if same_moment:  # "ready" then "initiate" at one instant: one under the other
            y = max(y, int(last_y[band]) + 15)
        if y >= last_y[band] + 16 or ((is_last or same_moment) and y >= last_y[band] + 8):
            colour = theme.SIGNAL_INK if mark.word == "notification" else INK
            if mark.t > t:
                colour = MUTED
            size = next((s for s in (13, 11) if cx + 14 + text.width(mark.word, s)
                         <= room.right), 0)
            if size:
                text.blit(surf, mark.word, (cx + 14, y), size, colour, anchor="midleft",
                          room=room)
                last_y[band] = y
    if col.start <= t:  # the playhead: where this column's message is now
        y = y_of(min(t, col.copy_end))
        pygame.draw.polygon(surf, INK, [(cx - 22, y - 5), (cx - 22, y + 5), (cx - 14, y)])


def _braces(surf: pygame.Surface, text: Text, cols: list[Column], left: int, col_w: float,
            y: int) -> None:
    groups = [([c for c in cols if c.model != "aio"], SAME_SECOND_PHASE),
              ([c for c in cols if c.model == "aio"], BOTH_PHASES)]
    for members, words in groups:
        if not members:
            continue
        x0 = left + col_w * min(c.number for c in members) + 8
        x1 = left + col_w * (max(c.number for c in members) + 1) - 8
        mid = (x0 + x1) / 2
        pygame.draw.line(surf, INK, (x0, y), (x0, y + 8), 2)
        pygame.draw.line(surf, INK, (x1, y), (x1, y + 8), 2)
        pygame.draw.line(surf, INK, (x0, y + 8), (x1, y + 8), 2)
        pygame.draw.line(surf, INK, (mid, y + 8), (mid, y + 14), 2)
        room = pygame.Rect(int(x0) - 8, y, int(x1 - x0) + 16, BRACE_H)
        variants = [words] if words == BOTH_PHASES else \
            [words, "1st phase handled differently, 2nd phase the same",
             "2nd phase handled the same"]
        lines, size = text.fit_lines(variants, (14, 12, 11), room.w, 3, True)
        for j, line in enumerate(lines):
            text.blit(surf, line, (mid, y + 18 + (size + 4) * j), size, INK, True, "midtop",
                      room=room)


def faint(colour: Colour) -> Colour:
    """A colour blended towards the background, as what lies after the playhead is drawn."""
    return tuple(int(c + (b - c) * 0.65) for c, b in zip(colour, theme.BACKGROUND,
                                                           strict=True))  # type: ignore[return-value]


def _darker(colour: Colour) -> Colour:
    return tuple(int(c * 0.75) for c in colour)  # type: ignore[return-value]
