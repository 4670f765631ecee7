"""Drawing the state pane: the kernel's and the program's state at the playhead (the I key in
the one-run view), under the timeline, beside the code pane. The blocks come from
``iosim.teach.state_words``; here they are only measured and placed, column by column.

Nothing is cut: a row without room is left out and counted ("+ 3 more sockets"), words take
a shorter variant or none, a box too narrow for its text goes without it.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import replace
from itertools import accumulate
from weakref import WeakKeyDictionary

import pygame

from iosim.teach.state import StateIndex
from iosim.teach.state_words import Block, Cell, Row, Style, blocks, tail
from iosim.view import theme
from iosim.view.draw_code import explainer
from iosim.view.index import RunIndex
from iosim.view.theme import BODY_SIZE, INK, MUTED, SMALL_SIZE, TINY_SIZE, Text

PAD = 10
COLUMN_GAP = 16
COLUMN_MIN_W = 250
BLOCK_GAP = 8
MAX_COLUMNS = 3
NOTE_LINES = 3  # a note wraps into at most this many lines (else a shorter variant)
WHITE: theme.Colour = (255, 255, 255)
FILLS: dict[Style, theme.Colour] = {
    Style.QUEUED: theme.QUEUED, Style.TAKEN: theme.QUEUED, Style.COPYING: theme.COPY,
    Style.CLOSE: theme.GRID, Style.SET: theme.ARROW_INK, Style.CLEAR: WHITE,
    Style.READY: theme.QUEUED, Style.PENDING: theme.HANDLER, Style.BLOCKED: theme.BLOCKED,
    Style.CALL: theme.ARROW, Style.RUNNING: theme.WORK, Style.RUNNABLE: theme.OVERHEAD,
    Style.ENDED: theme.GRID, Style.BAD: theme.ERROR,
}
LIGHT_TEXT = {Style.COPYING, Style.SET, Style.BLOCKED, Style.BAD}  # white text on these fills
WRAPPED_KEPT = 2000  # wrapped notes (and label widths) kept per Text
_WRAPPED: WeakKeyDictionary[Text, dict[tuple[tuple[str, ...], int], tuple[str, ...]]] = \
    WeakKeyDictionary()
_LABEL_WIDTHS: WeakKeyDictionary[Text, dict[tuple[str, ...], int]] = WeakKeyDictionary()


def state_index(scene, ri: RunIndex) -> StateIndex:
    """One StateIndex per run, built the first time the pane shows it (with the code pane's
    Explainer: the run is indexed once for both)."""
    key = ("state", id(ri))
    found = scene.cache.get(key)
    if found is None:
        found = scene.cache[key] = StateIndex(ri.run, explainer(scene, ri))
    return found


def draw_state_pane(surf: pygame.Surface, text: Text, scene, box: tuple[int, int, int, int],
                    run_index: int, lane: int) -> None:
    """The state of run ``run_index`` at the playhead (``lane``: the thread whose line is
    lit), in ``box``."""
    x, y, w, h = box
    surf.fill(WHITE, box)
    pygame.draw.line(surf, theme.GRID, (x, y), (x + w, y), 2)
    ri = scene.runs[run_index]
    state = state_index(scene, ri).at(scene.player.t, lane)
    room = pygame.Rect(box)
    title = text.first_fitting(["The state at the playhead (I hides it)",
                                "The state at the playhead", "State"], BODY_SIZE, w - 2 * PAD,
                               True)
    text.blit(surf, title, (x + PAD, y + 5), BODY_SIZE, INK, True, room=room)
    top = y + 5 + BODY_SIZE + 8
    columns = max(1, min(MAX_COLUMNS, (w - 2 * PAD + COLUMN_GAP) // (COLUMN_MIN_W + COLUMN_GAP)))
    col_w = (w - 2 * PAD - (columns - 1) * COLUMN_GAP) // columns
    area = pygame.Rect(x + PAD, top, w - 2 * PAD, y + h - 4 - top)
    every = blocks(state)
    placed = _place(text, every, area, columns, col_w)
    if len(placed) < len(every):  # a block left out: fewer notes, if that makes room for it
        brief = [replace(b, notes=b.notes[:1]) for b in every]
        fewer = _place(text, brief, area, columns, col_w)
        placed = fewer if len(fewer) > len(placed) else placed
    for block, rows, notes, at in placed:
        _draw_block(surf, text, block, rows, notes, at, room)


Placed = tuple[Block, list[Row], list[tuple[str, ...]], pygame.Rect]


def _place(text: Text, shown: list[Block], area: pygame.Rect, columns: int,
           col_w: int) -> list[Placed]:
    """Where each block goes: in order, column by column, each column taking about its share
    of the blocks' height; a block with no room in what is left of the last column is left
    out (with the ones after it)."""
    heights = [_height(text, block, col_w) for block in shown]
    placed = []
    col = 0
    cy = area.y
    for block, height in zip(shown, heights, strict=True):
        target = max(sum(heights) / columns, area.h if col == columns - 1 else 0)
        if cy > area.y and cy - area.y + height > target and col < columns - 1:
            col, cy = col + 1, area.y  # balance the columns: the next one takes it
        while col < columns:
            at = pygame.Rect(area.x + col * (col_w + COLUMN_GAP), cy, col_w, area.bottom - cy)
            fit = _fit(text, block, at)
            if fit is not None:
                rows, notes, bottom = fit
                placed.append((block, rows, notes, at))
                cy = bottom + BLOCK_GAP
                break
            col, cy = col + 1, area.y
        if col >= columns:
            break
    return placed


def _row_h(row: Row) -> int:
    """Rows with boxes get room around them; rows of words alone are set closer."""
    return SMALL_SIZE + (8 if row.cells else 5)


def _fit(text: Text, block: Block, area: pygame.Rect
         ) -> tuple[list[Row], list[tuple[str, ...]], int] | None:
    """The rows and note lines of ``block`` that fit at the top of ``area``, and where they
    end; None when not even its title, first row and first note fit."""
    title_h = SMALL_SIZE + 6
    first_note = _note_height(text, block.notes[:1], area.w)  # kept before any row
    if not block.rows and not first_note:
        return None
    if not text.first_fitting([block.title], SMALL_SIZE, area.w, True):
        return None
    room_h = area.bottom - area.y - title_h - first_note
    # the most rows whose own height fits (10,100 threads need not be tried one by one)
    k = bisect_right(list(accumulate(map(_row_h, block.rows), initial=0)), room_h) - 1
    rows = list(block.rows)
    while k >= 0:  # rows left out are counted on a line of their own
        rows = list(block.rows[:k]) + [Row("", words=(line,))
                                       for line in tail(block, block.rows[k:])]
        if sum(_row_h(r) for r in rows) <= room_h:
            break
        k -= 1
    if (block.rows and k <= 0) or sum(_row_h(r) for r in rows) > room_h:
        return None
    y = area.y + title_h + sum(_row_h(r) for r in rows)
    notes = []
    for note in block.notes:
        lines = _note_lines(text, note, area.w)
        if lines and y + len(lines) * (TINY_SIZE + 4) <= area.bottom:
            notes.append(lines)
            y += len(lines) * (TINY_SIZE + 4) + 2
    return rows, notes, y


def _draw_block(surf: pygame.Surface, text: Text, block: Block, rows: list[Row],
                notes: list[tuple[str, ...]], area: pygame.Rect, room: pygame.Rect) -> None:
    text.blit(surf, block.title, (area.x, area.y), SMALL_SIZE, INK, True, room=room)
    y = area.y + SMALL_SIZE + 6
    label_w = _label_width(text, tuple(r.label for r in block.rows))
    label_w = label_w + 8 if label_w else 0
    for row in rows:
        _row(surf, text, row, pygame.Rect(area.x, y, area.w, _row_h(row)), label_w, room)
        y += _row_h(row)
    for lines in notes:
        for line in lines:
            text.blit(surf, line, (area.x, y), TINY_SIZE, MUTED, room=room)
            y += TINY_SIZE + 4
        y += 2


def _label_width(text: Text, labels: tuple[str, ...]) -> int:
    """The widest of the rows' labels, measured once per set of labels (c10k's 10,100
    threads are more labels than Text keeps widths of)."""
    kept = _LABEL_WIDTHS.setdefault(text, {})
    width = kept.get(labels)
    if width is None:
        if len(kept) >= WRAPPED_KEPT:
            kept.clear()
        width = kept[labels] = max((text.width(label, TINY_SIZE) for label in labels),
                                   default=0)
    return width


def _height(text: Text, block: Block, width: int) -> int:
    """The block's height with every row and note (the columns are balanced by it)."""
    return SMALL_SIZE + 6 + sum(map(_row_h, block.rows)) + sum(
        len(_note_lines(text, note, width)) * (TINY_SIZE + 4) + 2 for note in block.notes) \
        + BLOCK_GAP


def _note_lines(text: Text, variants: tuple[str, ...], width: int) -> tuple[str, ...]:
    """The note's lines at ``width``, wrapped once: a frame measures each note for every
    column it tries, and the next frame has mostly the same notes."""
    kept = _WRAPPED.setdefault(text, {})
    lines = kept.get((variants, width))
    if lines is None:
        if len(kept) >= WRAPPED_KEPT:
            kept.clear()
        lines = kept[variants, width] = tuple(
            text.fit_lines(list(variants), (TINY_SIZE,), width, NOTE_LINES)[0])
    return lines


def _note_height(text: Text, notes: tuple[tuple[str, ...], ...], width: int) -> int:
    return sum(len(_note_lines(text, note, width)) * (TINY_SIZE + 4) for note in notes)


def _row(surf: pygame.Surface, text: Text, row: Row, area: pygame.Rect, label_w: int,
         room: pygame.Rect) -> None:
    mid = area.y + area.h // 2
    if row.label:
        text.blit(surf, row.label, (area.x, mid), TINY_SIZE, MUTED, anchor="midleft",
                  room=room)
    x = area.x + label_w
    if row.cells:
        x = _cells(surf, text, row.cells, pygame.Rect(x, area.y + 2, _cells_room(
            row.cells, area.right - x), area.h - 4), room, row.gauge) + 6
    words = [v for v in row.words if v]
    if not words:
        return
    size = SMALL_SIZE
    shown = next((v for v in words if text.width(v, size, mono=row.mono) <= area.right - x),
                 "")
    if shown:
        text.blit(surf, shown, (x, mid), size, INK, anchor="midleft", room=room,
                  mono=row.mono)


def _cells_room(cells: tuple[Cell, ...], room: int) -> int:
    """Boxes of a queue (weighted by bytes) take up to 40% of the row, leaving room for the
    words; equal boxes (bits, list entries) as much as they need."""
    if len({c.weight for c in cells}) > 1 or any(c.style in (Style.QUEUED, Style.TAKEN,
                                                             Style.COPYING) for c in cells):
        return min(int(room * 0.4), 220)
    return min(room, len(cells) * 26)


def _cells(surf: pygame.Surface, text: Text, cells: tuple[Cell, ...], area: pygame.Rect,
           room: pygame.Rect, gauge: bool = False) -> int:
    """The boxes, left to right, in ``area``; returns where they end."""
    widths = _widths(text, cells, area.w, gauge)
    x = area.x
    shown = len(widths)
    for cell, w in zip(cells[:shown], widths, strict=False):
        rect = pygame.Rect(x, area.y, w, area.h)
        surf.fill(FILLS[cell.style], rect)
        border = theme.COPY if cell.style is Style.TAKEN else theme.MUTED
        pygame.draw.rect(surf, border, rect, 2 if cell.style is Style.TAKEN else 1)
        colour = WHITE if cell.style in LIGHT_TEXT else INK
        if cell.text and text.width(cell.text, TINY_SIZE) <= w - 4:
            text.blit(surf, cell.text, rect.center, TINY_SIZE, colour, anchor="center",
                      room=rect.inflate(2, 2))
        x += w - 1  # neighbours share a border
    if shown < len(cells):
        more = f"+{len(cells) - shown}"
        text.blit(surf, more, (x + 4, area.centery), TINY_SIZE, MUTED, anchor="midleft",
                  room=room)
        x += 4 + text.width(more, TINY_SIZE)
    return x


def _widths(text: Text, cells: tuple[Cell, ...], room: int, gauge: bool = False) -> list[int]:
    """Each box's width: by its share of the bytes (a queue, a gauge) or equal (bits), at
    least a few pixels; boxes that cannot get those few pixels are left out (counted after
    the rest)."""
    min_w = 8
    n = len(cells)
    equal = len({c.weight for c in cells if c.weight}) <= 1 and not gauge
    if equal:
        want = max([text.width(c.text, TINY_SIZE) + 6 for c in cells] + [14])
        each = min(26, want, max(min_w, room // max(n, 1)))
        fit = min(n, max(1, (room - 24) // each)) if each * n > room else n
        return [each] * fit
    fixed = [text.width(c.text, TINY_SIZE) + 6 if not c.weight else 0 for c in cells]
    if n * min_w + sum(fixed) > room:
        fit = max(1, (room - 24) // min_w)
        return [min_w] * min(n, fit)
    total = sum(c.weight for c in cells) or 1.0
    spare = room - n * min_w - sum(fixed)
    return [f or int(min_w + spare * c.weight / total) for c, f in zip(cells, fixed, strict=True)]
