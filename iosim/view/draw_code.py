"""Drawing the code pane: the run's server program with the line it executes at the playhead
lit, what the model is, and what is happening right now, in sentences (Python Tutor's "code
beside its state"). The line comes from the trace (each event's line key), the words from
``iosim.teach``; a run without a program (a traced foreign server) shows its sentences only.

A program line too wide for the pane is reflowed, never cut: its trailing comment moves onto
a line of its own above it, a comment wraps between words, code continues on an indented line.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygame

from iosim.summary import tracer_note
from iosim.teach.explain import Explainer, model_summary
from iosim.teach.programs import Program, program_for
from iosim.teach.source import traced_about, traced_source
from iosim.view import theme
from iosim.view.caption import run_name
from iosim.view.draw_chrome import AXIS_NOTES
from iosim.view.index import RunIndex
from iosim.view.theme import INK, MUTED, Text

PAD = 12
CODE_SIZES = (14, 13, 12, 11)
LIT: tuple[int, int, int] = (255, 236, 179)  # the executing line's background
LIT_MARK: tuple[int, int, int] = (0xD5, 0x5E, 0x00)
NUMBER_W = 4  # "NN  " before each line
CODE_GAP = 4  # between two rows of code


@dataclass(frozen=True)
class Row:
    """One displayed row: its text, the program line it shows (-1: a continuation), and
    whether it is a comment."""

    text: str
    line: int
    comment: bool


def reflow(prog: Program, columns: int) -> list[Row] | None:
    """The program's lines as rows of at most ``columns`` characters; None when even a
    reflow cannot fit (a word longer than a row)."""
    rows: list[Row] = []
    for number, line in enumerate(prog.lines):
        if len(line) <= columns:
            rows.append(Row(line, number, line.lstrip().startswith("#")))
            continue
        indent = line[:len(line) - len(line.lstrip())]
        code, sep, comment = line.lstrip().partition("  # ")
        if code.startswith("#"):
            code, comment, sep = "", code.lstrip("# "), "#"
        if sep:
            wrapped = _wrap(comment, columns - len(indent) - 2)
            if wrapped is None:
                return None
            rows += [Row(f"{indent}# {part}", -1, True) for part in wrapped]
        if code:
            parts = _wrap(code, columns - len(indent) - 4)
            if parts is None:
                return None
            rows.append(Row(f"{indent}{parts[0]}", number, False))
            rows += [Row(f"{indent}    {part}", -1, False) for part in parts[1:]]
        elif rows and sep:
            rows[-len(wrapped)] = Row(rows[-len(wrapped)].text, number, True)
    return rows


def _wrap(text: str, width: int) -> list[str] | None:
    if width <= 0:
        return None
    out: list[str] = []
    line = ""
    for word in text.split(" "):
        if len(word) > width:
            return None
        trial = f"{line} {word}" if line else word
        if len(trial) <= width:
            line = trial
        else:
            out.append(line)
            line = word
    out.append(line)
    return out


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
    thread = ri.acting_thread(t)
    return 0 if thread is None else thread


def without_comments(prog: Program) -> Program:
    """The program as code alone: comment lines and trailing comments go (line numbers stay
    those of the whole program)."""
    lines = [line.split("  # ")[0] if not line.lstrip().startswith("#") else ""
             for line in prog.lines]
    return Program(prog.model, lines, prog.keys)


def code_layout(text: Text, prog: Program, width: int, height: int
                ) -> tuple[int, list[Row]] | None:
    """The largest code font whose rows fit ``width`` x ``height``, preferring, in turn: the
    program with its comments and no code line wrapped; without comments (rows left empty by a
    comment are dropped) and no code line wrapped; then either with code lines wrapped."""
    bare = without_comments(prog)
    for wrap_code in (False, True):
        for variant, sizes in ((prog, CODE_SIZES), (bare, CODE_SIZES[1:])):
            for size in sizes:
                char_w = text.width("0", size, mono=True)
                rows = reflow(variant, width // char_w - NUMBER_W)
                if rows is None:
                    continue
                if not wrap_code and any(row.line < 0 and not row.comment for row in rows):
                    continue
                if variant is bare:
                    rows = [row for row in rows if row.text.strip()]
                if len(rows) * (size + CODE_GAP) <= height:
                    return size, rows
    return None


def draw_code_pane(surf: pygame.Surface, text: Text, scene, box: tuple[int, int, int, int],
                   run_index: int, axis_note: str | None = None) -> pygame.Rect:
    """Draw the pane; returns the part of it left empty (for the counters, when the band has
    no room for them)."""
    x, y, w, h = box
    room = pygame.Rect(box)
    surf.fill((255, 255, 255), room)
    pygame.draw.line(surf, theme.GRID, (x, y), (x, y + h), 2)
    ri = scene.runs[run_index]
    run = ri.run
    t = scene.player.t
    inner = w - 2 * PAD
    bottom = y + h - 4
    title = text.first_fitting([f"{run_index + 1} {run_name(ri)} · its server's code",
                                f"{run_index + 1} {run_name(ri)}"], 14, inner, True)
    cy = _lines(surf, text, [title], 14, INK, x + PAD, y + 8, room, bold=True) + 4
    ex = explainer(scene, ri)
    lane = lane_of(ri, t)
    now = ex.now(t, lane, ahead=scene.predict is None)
    now_lines, now_size = text.fit_lines([" ".join(now), now[0] if now else ""],
                                         (14, 13, 12), inner, 7)
    now_h = (now_size + 5) * len(now_lines)
    note = " ".join(AXIS_NOTES[axis_note]) if axis_note else ""
    note_lines, _ = text.fit_lines([f"Time axis: {note}"], (11,), inner, 2) if note else ([], 0)
    note_h = 16 * len(note_lines)
    about = traced_about(run) or model_summary(run.model)
    traced = tracer_note(run)
    summary_lines, summary_size = text.fit_lines(
        [f"{about} {traced[0].upper()}{traced[1:]}." if traced else about], (13, 12), inner, 6)
    summary_h = (summary_size + 4) * len(summary_lines) + 8
    prog = program_for(run)
    free = bottom - cy - now_h - note_h - 10
    foreign = traced_source(scene.cache, run, t, lane, (free - summary_h) // 20) \
        if prog is None else None
    prog = foreign[0] if isinstance(foreign, tuple) else prog
    layout = code_layout(text, prog, inner, free) if prog else None
    code_h = (layout[0] + CODE_GAP) * len(layout[1]) + 10 if layout else 0
    if cy + summary_h + code_h + now_h + note_h <= bottom:
        cy = _lines(surf, text, summary_lines, summary_size, MUTED, x + PAD, cy, room) + 8
    if layout is not None:
        lit = foreign[1] if isinstance(foreign, tuple) else \
            prog.keys.get(ex.line_at(t, lane) or "")
        cy = _code(surf, text, layout, lit, x + PAD, cy, inner, room) + 10
    elif prog is None and cy + 36 + now_h <= bottom:
        why = foreign if isinstance(foreign, str) else \
            "No program text for this run: its events come from the trace alone."
        cy = _lines(surf, text, text.wrap(why, 12, inner), 12, MUTED, x + PAD, cy, room) + 8
    if cy + now_h <= bottom:
        cy = _lines(surf, text, now_lines, now_size, INK, x + PAD, cy, room, step=now_size + 5)
    if note_lines and cy + note_h <= bottom:
        _lines(surf, text, note_lines, 11, MUTED, x + PAD, bottom - note_h, room, step=16)
        bottom -= note_h
    return pygame.Rect(x + PAD, cy + 6, inner, max(0, bottom - cy - 10))


def _lines(surf: pygame.Surface, text: Text, lines: list[str], size: int, colour, x: int,
           y: int, room: pygame.Rect, bold: bool = False, step: int | None = None) -> int:
    step = step or size + 4
    for line in lines:
        text.blit(surf, line, (x, y), size, colour, bold, room=room)
        y += step
    return y


def _code(surf: pygame.Surface, text: Text, layout: tuple[int, list[Row]], lit: int | None,
          x: int, y: int, width: int, room: pygame.Rect) -> int:
    size, rows = layout
    step = size + CODE_GAP
    indent = text.width("0" * NUMBER_W, size, mono=True)
    for k, row in enumerate(rows):
        if lit is not None and _lit(rows, k, lit):
            surf.fill(LIT, (x - 6, y - 2, width + 12, step))
            surf.fill(LIT_MARK, (x - 6, y - 2, 3, step))
        if row.line >= 0:
            text.blit(surf, f"{row.line + 1:>2}", (x, y), size, MUTED, mono=True, room=room)
        if row.text:
            colour = theme.ARROW_INK if row.comment else INK
            text.blit(surf, row.text, (x + indent, y), size, colour, mono=True, room=room)
        y += step
    return y


def _lit(rows: list[Row], k: int, lit: int) -> bool:
    """Row ``k`` shows program line ``lit``: the line's own row or a continuation of it."""
    while k > 0 and rows[k].line < 0 and not rows[k].comment:
        k -= 1
    return rows[k].line == lit and not rows[k].comment
