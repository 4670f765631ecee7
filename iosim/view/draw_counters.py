"""The counters of a run up to the playhead (calls, EWOULDBLOCKs, signals, handled, blocked,
own work, the last message's latency and handled time, a followed message's figures), laid out
in the room they get and never cut; where each was drawn is kept, so hovering over one shows
its definition."""

from __future__ import annotations

import pygame

from iosim.timefmt import format_us
from iosim.view import theme
from iosim.view.follow import Figures, figures
from iosim.view.hit import COUNTER_WORDS, Spot, counter_key
from iosim.view.index import RunIndex
from iosim.view.scene import Scene
from iosim.view.theme import INK, Text

JOIN = " · "
SIZES = (12, 11, 10)  # the counters' type sizes, largest first: smaller only when needed
DEFINITION_W = 340  # the definition box's width at most


def counter_lines(scene: Scene, ri: RunIndex) -> list[tuple[str, bool]]:
    """What the run did up to the playhead, most important first, each with whether it
    may go first when room is short (a zero that says little); following a message,
    that message's own figures come first."""
    c = ri.counters(scene.player.t)
    lines: list[tuple[str, bool]] = []
    if scene.follow is not None:
        f = figures(ri, scene.follow)
        if f is not None and scene.predict is not None:
            f = _so_far(ri, scene.follow, scene.player.t, f)
        if f is not None:
            lines.append((f"message {scene.follow + 1}:", False))
            lines.append(("data waited " + ("-" if f.waited is None else
                                            format_us(f.waited)), False))
            lines.append(("copy " + ("-" if f.copy is None else format_us(f.copy)), False))
            done = ri.run.m_done[scene.follow]
            lines.append(("handled at: never" if done != done else
                          "handled at: not yet" if f.handled_at is None else
                          f"handled at {format_us(f.handled_at)}", False))
            lines.append(("", False))  # the run's own counters start a group of their own
    lines += [(f"calls {c.syscalls}", False),
              (f"EWOULDBLOCK {c.ewouldblock}", not c.ewouldblock),
              (f"signals {c.signals}", not c.signals),
              (f"handled {c.messages_done}/{ri.run.message_count}", False),
              (f"blocked {c.blocked_pct:.0f}%", False),
              (f"own work {c.work_pct:.0f}%", False)]
    if c.last_latency is not None and c.last_handled is not None and scene.follow is None:
        lines.append((f"latency {format_us(c.last_latency)}", False))
        lines.append((f"handled in {format_us(c.last_handled)}", False))
    return lines


def _so_far(ri: RunIndex, m: int, t: float, f: Figures) -> Figures:
    """A followed message's figures as far as the playhead (predict mode: what is still to
    come is the question, so it is not shown)."""
    run = ri.run
    start, end, done = run.m_copy_start[m], run.m_copy_end[m], run.m_done[m]
    return Figures(waited=f.waited if start <= t else None, copy=f.copy if end <= t else None,
                   handled_at=f.handled_at if done <= t else None,
                   handled_after=f.handled_after if done <= t else None)


def counter_layout(text: Text, items: list[tuple[str, bool]], box: pygame.Rect
                   ) -> tuple[int, list[list[str]], bool]:
    """(type size, lines of counters, whether one counter a line in columns). Every counter
    is kept: one a line in as many columns as the box allows, else several to a line
    (neighbours joined by " · ", groups never joined), at the largest size that fits; only a
    box too small for that at the smallest size loses the zeros that say little, then the
    last (least important) counters."""
    if not items:
        return SIZES[0], [], True
    names = [t for t, _ in items]
    for size in SIZES:
        rows = max(0, (box.h - 4) // (size + 4))
        col_w = max(text.width(t, size) for t in names) + 18
        if rows and len(names) <= rows * max(1, (box.w + 18) // col_w):
            cols = -(-len(names) // rows)
            return size, [names[k * rows:(k + 1) * rows] for k in range(cols)], True
        packed = _packed(text, names, size, box.w)
        if rows and len(packed) <= rows:
            return size, packed, False
    size = SIZES[-1]
    rows = max(0, (box.h - 4) // (size + 4))
    kept = [t for t, droppable in items if not droppable]
    return size, _packed(text, kept, size, box.w)[:rows], False


def _packed(text: Text, names: list[str], size: int, width: int) -> list[list[str]]:
    """Neighbouring counters joined on a line while the line fits ``width``; an empty name
    separates groups that are never joined (and is dropped)."""
    out: list[list[str]] = []
    line: list[str] = []
    for name in names:
        if not name:
            if line:
                out.append(line)
            line = []
            continue
        if line and text.width(JOIN.join([*line, name]), size) > width:
            out.append(line)
            line = []
        line.append(name)
    if line:
        out.append(line)
    return out


def draw_counters(text: Text, surf: pygame.Surface, items: list[tuple[str, bool]],
                  box: pygame.Rect, top: bool = False, spots: list[Spot] | None = None
                  ) -> None:
    """The counters in ``box`` (see counter_layout), each counter's place added to
    ``spots``."""
    size, lines, grid = counter_layout(text, items, box)
    step = size + 4
    if not lines:
        return
    if grid:
        rows = len(lines[0])
        col_w = max(text.width(t, size) for col in lines for t in col) + 18
        y0 = box.y + max(2, (box.h - rows * step) // 2) if len(lines) == 1 and not top \
            else box.y + 2
        for c, col in enumerate(lines):
            for r, name in enumerate(col):
                _part(text, surf, name, (box.x + c * col_w, y0 + r * step), size, box, spots)
        return
    y0 = box.y + max(2, (box.h - len(lines) * step) // 2) if not top else box.y + 2
    gap = text.width(JOIN, size)
    for r, line in enumerate(lines):
        x = box.x
        for k, name in enumerate(line):
            if k:
                text.blit(surf, JOIN, (x, y0 + r * step), size, theme.MUTED, room=box)
                x += gap
            x = _part(text, surf, name, (x, y0 + r * step), size, box, spots)


def _part(text: Text, surf: pygame.Surface, name: str, pos: tuple[int, int], size: int,
          box: pygame.Rect, spots: list[Spot] | None) -> int:
    if not name:  # the gap between a followed message's figures and the run's
        return pos[0]
    rect = text.blit(surf, name, pos, size, INK, room=box)
    if spots is not None:
        key = counter_key(name)
        if key:
            spots.append(((rect.x, rect.y, rect.w, rect.h), key))
    return rect.right


def draw_definition(text: Text, surf: pygame.Surface, key: str, pointer: tuple[int, int]
                    ) -> None:
    """The hovered counter's definition, beside the pointer and kept on the screen."""
    words = COUNTER_WORDS.get(key)
    if words is None:
        return
    w, h = surf.get_size()
    width = min(DEFINITION_W, w - 8)
    lines = [key, *text.wrap(words, 13, width - 20)]
    box = pygame.Rect(0, 0, width, 10 + 18 * len(lines))
    box.bottomleft = (pointer[0] + 12, pointer[1] - 8)
    if box.right > w - 4:
        box.right = pointer[0] - 12
    box.clamp_ip(surf.get_rect())
    surf.fill((255, 255, 255), box)
    pygame.draw.rect(surf, INK, box, 1)
    for n, line in enumerate(lines):
        text.blit(surf, line, (box.x + 10, box.y + 5 + 18 * n), 13, INK, n == 0, room=box)
