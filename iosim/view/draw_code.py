"""Drawing the code pane: the run's server program with the line it executes at the playhead
lit, what the model is, and what is happening right now, in sentences (Python Tutor's "code
beside its state"). The line comes from the trace (each event's line key), the words from
``iosim.teach``; a run without a program (a traced foreign server) shows its sentences only.

A program line too wide for the pane is reflowed, never cut: its trailing comment moves onto
a line of its own above it, a comment wraps between words, code continues on an indented line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pygame

from iosim.summary import tracer_note
from iosim.teach.explain import Explainer, run_summary
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
CODE_GAP = 4  # between two rows of code (3 below 12 px)
NOW_SIZES = (14, 13, 12)  # the sentences' sizes, largest first
NOW_ROOMS = (112, 80)  # pixels kept for the sentences at every step: the less if the code
# needs it (112: 5 lines at 14 px, 6 at 13 or 12; 80: 4 lines at 14 or 13 px)


@dataclass(frozen=True)
class Row:
    """One displayed row: its text, the program line it shows (-1: a continuation), and
    whether it is a comment."""

    text: str
    line: int
    comment: bool


def reflow(prog: Program, columns: int) -> list[Row] | None:
    """The program's lines as rows of at most ``columns`` characters; None when even a
    reflow cannot fit (a word longer than a row). A block of comment lines too wide is
    wrapped as one paragraph."""
    rows: list[Row] = []
    lines = list(enumerate(prog.lines))
    k = 0
    while k < len(lines):
        number, line = lines[k]
        block = _comment_block(lines, k)
        if len(block) > 1 and any(len(text) > columns for _, text in block):
            indent = line[:len(line) - len(line.lstrip())]
            wrapped = _wrap(" ".join(text.lstrip()[1:].strip() for _, text in block),
                            columns - len(indent) - 2)
            if wrapped is None:
                return None
            rows += [Row(f"{indent}# {part}", number if i == 0 else -1, True)
                     for i, part in enumerate(wrapped)]
            k += len(block)
            continue
        k += 1
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


def _comment_block(lines: list[tuple[int, str]], k: int) -> list[tuple[int, str]]:
    """The comment lines from ``k`` on at the same indent (none when line k is code)."""
    first = lines[k][1]
    indent = len(first) - len(first.lstrip())
    block = []
    for number, text in lines[k:]:
        if not text.lstrip().startswith("#") or len(text) - len(text.lstrip()) != indent:
            break
        block.append((number, text))
    return block


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


def without_comments(prog: Program, imports: bool = True) -> Program:
    """The program as code alone: comment lines and trailing comments go, and the imports
    too unless ``imports`` (line numbers stay those of the whole program)."""
    lines = ["" if line.lstrip().startswith("#") or (not imports and _imports(line))
             else line.split("  # ")[0] for line in prog.lines]
    return Program(prog.model, lines, prog.keys)


def code_step(size: int) -> int:
    """The height of a row of code at ``size``."""
    return size + (CODE_GAP if size >= 12 else CODE_GAP - 1)


def _imports(line: str) -> bool:
    return line.startswith(("import ", "from "))


def code_layout(text: Text, prog: Program, width: int, height: int
                ) -> tuple[int, list[Row]] | None:
    """The largest code font whose rows fit ``width`` x ``height``, preferring, in turn: the
    program with its comments and no code line wrapped; without comments (rows left empty by a
    comment are dropped), then without its imports too, no code line wrapped; then each of
    these with code lines wrapped."""
    bare = without_comments(prog)
    variants = ((prog, CODE_SIZES), (bare, CODE_SIZES[1:]),
                (without_comments(prog, imports=False), CODE_SIZES[1:]))
    for wrap_code in (False, True):
        for variant, sizes in variants:
            for size in sizes:
                char_w = text.width("0", size, mono=True)
                rows = reflow(variant, width // char_w - NUMBER_W)
                if rows is None:
                    continue
                if not wrap_code and any(row.line < 0 and not row.comment for row in rows):
                    continue
                if variant is not prog:
                    rows = [row for row in rows if row.text.strip()]
                if len(rows) * code_step(size) <= height:
                    return size, rows
    return None


@dataclass(frozen=True)
class PaneLayout:
    """What stays put in a run's pane from step to step: the summary (when there is room),
    the code's font size and rows, and the room kept for the sentences, so that neither the
    code nor the counters below jump as the sentences change."""

    summary: list[str]
    summary_size: int
    code: tuple[int, list[Row]] | None
    note: list[str]
    now_room: int


NO_ROOM = "The program's source does not fit in this pane: a larger window shows it."


def pane_layout(text: Text, run, prog: Program | None, inner: int, height: int,
                note: str) -> PaneLayout:
    """The pane's fixed parts for a pane ``inner`` wide with ``height`` below its title: the
    code first, then the summary where it fits too; the sentences' room shrinks before the
    code goes."""
    note_lines, _ = text.fit_lines([f"Time axis: {note}"], (11,), inner, 2) if note else ([], 0)
    about = traced_about(run) or run_summary(run)
    traced = tracer_note(run)
    summary, summary_size = text.fit_lines(
        [f"{about} {traced[0].upper()}{traced[1:]}." if traced else about], (13, 12), inner, 7)
    summary_h = (summary_size + 4) * len(summary) + 8
    for now_room in NOW_ROOMS:
        room = height - now_room - 16 * len(note_lines) - 10
        if prog is None:  # a line saying there is no program, and the summary if it fits
            return PaneLayout(summary if summary_h + 36 <= room else [], summary_size, None,
                              note_lines, now_room)
        code = code_layout(text, prog, inner, room - summary_h)
        if code is not None:
            return PaneLayout(summary, summary_size, code, note_lines, now_room)
        code = code_layout(text, prog, inner, room)
        if code is not None:
            return PaneLayout([], summary_size, code, note_lines, now_room)
    return PaneLayout([], summary_size, None, note_lines, NOW_ROOMS[0])


def _traced_code(cache: dict, text: Text, run, t: float, lane: int, inner: int, free: int,
                 layout: PaneLayout) -> tuple[Any, tuple[int, list[Row]] | None, list[str]]:
    """A traced program's source laid out below its summary, or in the summary's room when
    both do not fit (the code before the summary, as for iosim's own programs), with fewer
    lines around the lit one where its lines wrap: (what traced_source gave, the code's layout
    or None, the summary lines to draw)."""
    summary_h = (layout.summary_size + 4) * len(layout.summary) + 8 if layout.summary else 0
    foreign: Any = None
    for summary in ([layout.summary, []] if layout.summary else [[]]):
        room = free - (summary_h if summary else 0)
        for per_line in (20, 32, 48):  # fewer lines around the lit one where lines wrap
            foreign = traced_source(cache, run, t, lane, room // per_line)
            if not isinstance(foreign, tuple):
                return foreign, None, layout.summary
            code = code_layout(text, foreign[0], inner, room)
            if code is not None:
                return foreign, code, summary
    return foreign, None, layout.summary


def fit_sentences(text: Text, now: list[str], width: int, room: int) -> tuple[list[str], int]:
    """The sentences wrapped into ``room`` pixels at the largest size that holds them all,
    else as many of them as fit (the first always)."""
    for count in range(len(now), 0, -1):
        for size in NOW_SIZES:
            lines = text.wrap(" ".join(now[:count]), size, width)
            if len(lines) * (size + 5) <= room:
                return lines, size
    return text.wrap(now[0], NOW_SIZES[-1], width) if now else [], NOW_SIZES[-1]


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
    prog = program_for(run)
    key = ("pane layout", id(ri), box, axis_note)
    layout = scene.cache.get(key)
    if layout is None:
        note = " ".join(AXIS_NOTES[axis_note]) if axis_note else ""
        layout = scene.cache[key] = pane_layout(text, run, prog, inner, bottom - cy, note)
    summary = layout.summary
    if prog is None:  # a traced program's own source around its lit line, or why none
        free = bottom - cy - layout.now_room - 16 * len(layout.note) - 10
        foreign, code, summary = _traced_code(scene.cache, text, run, t, lane, inner, free,
                                              layout)
    if summary:
        cy = _lines(surf, text, summary, layout.summary_size, MUTED, x + PAD, cy, room) + 8
    if layout.code is not None and prog is not None:
        cy = _code(surf, text, layout.code, prog.keys.get(ex.line_at(t, lane) or ""), x + PAD,
                   cy, inner, room) + 10
    elif prog is None:
        if code is not None and isinstance(foreign, tuple):
            cy = _code(surf, text, code, foreign[1], x + PAD, cy, inner, room) + 10
        else:
            why = foreign if isinstance(foreign, str) else NO_ROOM if foreign else \
                "No program text for this run: its events come from the trace alone."
            cy = _lines(surf, text, text.wrap(why, 12, inner), 12, MUTED, x + PAD, cy,
                        room) + 8
    now_lines, now_size = fit_sentences(text, ex.now(t, lane, ahead=scene.predict is None),
                                        inner, layout.now_room)
    _lines(surf, text, now_lines, now_size, INK, x + PAD, cy, room, step=now_size + 5)
    cy += layout.now_room
    if layout.note:
        note_h = 16 * len(layout.note)
        _lines(surf, text, layout.note, 11, MUTED, x + PAD, bottom - note_h, room, step=16)
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
    step = code_step(size)
    indent = text.width("0" * NUMBER_W, size, mono=True)
    if lit is not None:  # every lit row's background first: a continuation's must not cover
        for k in range(len(rows)):  # the underscores and commas of the row above
            if _lit(rows, k, lit):
                surf.fill(LIT, (x - 6, y + k * step - 2, width + 12, step))
                surf.fill(LIT_MARK, (x - 6, y + k * step - 2, 3, step))
    for row in rows:
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
