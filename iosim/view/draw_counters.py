"""The counters of a run up to the playhead (calls, EWOULDBLOCKs, signals, handled, blocked,
own work, the last message's latency and handled time, a followed message's figures), laid out
in the room they get and never cut."""

from __future__ import annotations

import pygame

from iosim.timefmt import format_us
from iosim.view.follow import figures
from iosim.view.index import RunIndex
from iosim.view.scene import Scene
from iosim.view.theme import INK, Text


def counter_lines(scene: Scene, ri: RunIndex) -> list[tuple[str, bool]]:
    """What the run did up to the playhead, most important first, each with whether it
    may go first when room is short (a zero that says little); following a message,
    that message's own figures come first."""
    c = ri.counters(scene.player.t)
    lines: list[tuple[str, bool]] = []
    if scene.follow is not None:
        f = figures(ri, scene.follow)
        if f is not None:
            lines.append((f"message {scene.follow + 1}:", False))
            lines.append(("data waited " + ("-" if f.waited is None else
                                            format_us(f.waited)), False))
            lines.append(("copy " + ("-" if f.copy is None else format_us(f.copy)), False))
            lines.append(("handled " + ("never" if f.handled_at is None else
                                        f"at {format_us(f.handled_at)}"), False))
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


def draw_counters(text: Text, surf: pygame.Surface, items: list[tuple[str, bool]],
                  box: pygame.Rect, top: bool = False) -> None:
    """The counters, never cut: one figure a line in as many columns as the box's width
    allows; when that is too tall, two to a line where they fit side by side, then without
    the zeros that say little, then without the last (least important) ones."""
    size = 12 if box.h >= 6 * 16 or box.w >= 300 else 11
    step = size + 4
    rows_fit = max(0, (box.h - 4) // step)
    if not rows_fit or not items:
        return
    lines = [t for t, _ in items]
    col_w = max(text.width(line, size) for line in lines) + 18
    cols = max(1, min((box.w + 18) // col_w, -(-len(lines) // rows_fit)))
    if cols == 1 and len(lines) > rows_fit:
        lines = _paired(text, lines, size, box.w)
        if len(lines) > rows_fit:
            lines = _paired(text, [t for t, droppable in items if not droppable], size, box.w)
    rows = min(rows_fit, -(-len(lines) // cols))
    y0 = box.y + max(2, (box.h - rows * step) // 2) if cols == 1 and not top else box.y + 2
    for k, line in enumerate(lines[:rows * cols]):
        col, row = divmod(k, rows)
        x = box.x + col * col_w
        if x + text.width(line, size) <= box.right:
            text.blit(surf, line, (x, y0 + row * step), size, INK, room=box)


def _paired(text: Text, lines: list[str], size: int, width: int) -> list[str]:
    """Neighbouring lines joined two to a line wherever the pair fits ``width``; an empty
    line separates groups that are never joined (and is dropped)."""
    out: list[str] = []
    k = 0
    while k < len(lines):
        if not lines[k]:
            k += 1
            continue
        if k + 1 < len(lines) and lines[k + 1] and \
                text.width(f"{lines[k]} · {lines[k + 1]}", size) <= width:
            out.append(f"{lines[k]} · {lines[k + 1]}")
            k += 2
        else:
            out.append(lines[k])
            k += 1
    return out
