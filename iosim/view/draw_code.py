"""Drawing the code pane: the run's server program with the line it executes at the playhead
lit, what the model is, and what is happening right now, in sentences (Python Tutor's "code
beside its state"). The line comes from the trace (each event's line key), the words from
``iosim.teach``; a run without a program (a traced foreign server) shows its sentences only.
"""

from __future__ import annotations

from bisect import bisect_right

import pygame

from iosim.teach.explain import Explainer, model_summary
from iosim.teach.programs import Program, program
from iosim.view import theme
from iosim.view.caption import run_name
from iosim.view.draw_chrome import AXIS_NOTES
from iosim.view.index import RunIndex
from iosim.view.theme import INK, MUTED, Text

PAD = 12
CODE_SIZES = (14, 13, 12, 11)
LIT: tuple[int, int, int] = (255, 236, 179)  # the executing line's background
LIT_MARK: tuple[int, int, int] = (0xD5, 0x5E, 0x00)


def explainer(scene, ri: RunIndex) -> Explainer:
    """One Explainer per run, built on first use (it indexes the run once)."""
    key = ("explainer", id(ri))
    found = scene.cache.get(key)
    if found is None:
        found = scene.cache[key] = Explainer(ri.run)
    return found


def lane_of(ri: RunIndex, t: float) -> int:
    """The lane whose line the pane lights: the application's, or for a thread per
    connection, the thread that acted last at or before ``t``."""
    run = ri.run
    threads = [i for i, lane in enumerate(run.lanes) if lane.role == "thread"]
    if not threads:
        return 0
    best, best_t = threads[0], -1.0
    for lane in threads:
        li = ri.lanes[lane]
        k = bisect_right(li.t0, t)
        if k and li.t0[k - 1] > best_t:
            best, best_t = lane, li.t0[k - 1]
    return best


def draw_code_pane(surf: pygame.Surface, text: Text, scene, box: tuple[int, int, int, int],
                   run_index: int, axis_note: str | None = None) -> None:
    x, y, w, h = box
    room = pygame.Rect(box)
    surf.fill((255, 255, 255), room)
    pygame.draw.line(surf, theme.GRID, (x, y), (x, y + h), 2)
    ri = scene.runs[run_index]
    run = ri.run
    t = scene.player.t
    inner = w - 2 * PAD
    cy = y + 8
    title = text.first_fitting([f"{run_index + 1} {run_name(ri)} · its server's code",
                                f"{run_index + 1} {run_name(ri)}"], 14, inner, True)
    cy = _lines(surf, text, [title], 14, INK, x + PAD, cy, room, bold=True) + 4
    summary = model_summary(run.model)
    prog = program(run.model)
    ex = explainer(scene, ri)
    lane = lane_of(ri, t)
    now = ex.now(t, lane)
    code_h = _code_height(text, prog, inner) if prog else 0
    now_lines, now_size = text.fit_lines([" ".join(now)], (14, 13, 12), inner, 8)
    summary_lines, summary_size = text.fit_lines([summary], (13, 12), inner, 5)
    note = " ".join(AXIS_NOTES[axis_note]) if axis_note else ""
    note_lines, _ = text.fit_lines([f"Time axis: {note}"], (11,), inner, 2) if note else ([], 0)
    need = code_h + (now_size + 5) * len(now_lines) + 12
    if cy + need + (summary_size + 4) * len(summary_lines) + 8 <= y + h:
        cy = _lines(surf, text, summary_lines, summary_size, MUTED, x + PAD, cy, room) + 8
    if prog is not None and cy + code_h <= y + h:
        cy = _code(surf, text, prog, ex.line_at(t, lane), x + PAD, cy, inner, room) + 10
    elif prog is None:
        cy = _lines(surf, text, text.wrap("No program text for this run: its events come "
                                          "from the trace alone.", 12, inner),
                    12, MUTED, x + PAD, cy, room) + 8
    if cy + (now_size + 5) * len(now_lines) <= y + h:
        cy = _lines(surf, text, now_lines, now_size, INK, x + PAD, cy, room, step=now_size + 5)
    if note_lines and cy + 16 * len(note_lines) + 6 <= y + h:
        _lines(surf, text, note_lines, 11, MUTED, x + PAD, y + h - 16 * len(note_lines) - 4,
               room, step=16)


def _lines(surf: pygame.Surface, text: Text, lines: list[str], size: int, colour, x: int,
           y: int, room: pygame.Rect, bold: bool = False, step: int | None = None) -> int:
    step = step or size + 4
    for line in lines:
        text.blit(surf, line, (x, y), size, colour, bold, room=room)
        y += step
    return y


def code_size(text: Text, prog: Program, width: int) -> int:
    """The largest code font whose longest line, with its line number, fits ``width``."""
    longest = max(prog.lines, key=len, default="")
    for size in CODE_SIZES:
        if text.width(f"{len(prog.lines):>2}  {longest}", size, mono=True) <= width:
            return size
    return 0


def _code_height(text: Text, prog: Program, width: int) -> int:
    size = code_size(text, prog, width)
    return (size + 5) * len(prog.lines) if size else 0


def _code(surf: pygame.Surface, text: Text, prog: Program, key: str | None, x: int, y: int,
          width: int, room: pygame.Rect) -> int:
    size = code_size(text, prog, width)
    if not size:
        return y
    step = size + 5
    lit = prog.keys.get(key) if key else None
    for number, line in enumerate(prog.lines):
        if number == lit:
            surf.fill(LIT, (x - 6, y - 2, width + 12, step))
            surf.fill(LIT_MARK, (x - 6, y - 2, 3, step))
        colour = theme.ARROW_INK if line.strip().startswith("#") else INK
        text.blit(surf, f"{number + 1:>2}", (x, y), size, MUTED, mono=True, room=room)
        indent = text.width("00  ", size, mono=True)
        if line:
            text.blit(surf, line, (x + indent, y), size, colour, mono=True, room=room)
        y += step
    return y
