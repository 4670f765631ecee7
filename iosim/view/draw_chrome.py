"""Drawing what frames the timeline: the header, the to-scale overview strip, the ruler with the
axis's name and meaning, the caption, the legend and the key hints (the help overlay:
draw_help.py).

Nothing here cuts a text: each keeps the longest of its variants that fits, or is left out.
"""

from __future__ import annotations

import pygame

from iosim.timefmt import format_us, nice_step, plain, tick_labels
from iosim.trace import Kind
from iosim.view import theme
from iosim.view.caption import Caption
from iosim.view.layout import Screen, Viewport
from iosim.view.player import SCHEMATIC, Player
from iosim.view.theme import INK, MUTED, Colour, Text

SCHEMATIC_TICK_PX = 110  # schematic ticks: at event slots at least this far apart
SCALE_TICK_PX = 120
AXIS_NOTES = {SCHEMATIC: ["schematic: a slot per event;", "widths are not durations"],
              "scale": ["to scale:", "widths are durations"]}
AXIS_NAMES = {SCHEMATIC: "schematic axis", "scale": "to-scale axis"}
PREDICT_LINE = "predict mode: 1-4 answer · Space or → plays on to the next question · K leaves"
DURATIONS = "latency = data ready → copied; handled = data ready → processed"
Entry = tuple[Kind | None, Colour | None, str]  # a legend entry: its colour, or words only
HINTS = [
    "Space play · ←/→ step · Shift+←/→ message · [ ] follow a message · K predict · "
    "V code · T axis · C compare · 1-9 one run · H help",
    "Space play · ←/→ step · [ ] follow · K predict · T axis · C compare · 1-9 run · H help",
    "Space play · ←/→ step · K predict · H help",
    "H help",
]
def speed_text(p: Player) -> list[str]:
    """The speed, longest variant first, in plain numbers."""
    factor = f"x{plain(p.speed)}" if p.speed >= 1 else f"x1/{plain(1 / p.speed)}"
    if p.axis.name == SCHEMATIC:
        return [f"{factor} ({plain(p.rate(), 3)} events/s)", factor]
    return [f"{factor} (1 ms in {plain(1000.0 / p.rate(), 3)} s)", factor]


def header(text: Text, surf: pygame.Surface, screen: Screen, p: Player, left: list[str]) -> None:
    x, y, w, h = screen.header
    surf.fill(theme.BAND_SHADE, screen.header)
    state = "playing" if p.playing else ("end" if p.t >= p.end else "paused")
    axis = AXIS_NAMES[p.axis.name]
    t = f"t = {format_us(p.t)}"
    rights = [f"{t}    {axis}    {s}    {state}" for s in speed_text(p)] + \
        [f"{t}    {state}", t]
    right = text.first_fitting(rights, 14, w // 2)
    rrect = text.blit(surf, right, (w - 10, y + h // 2), 14, INK, True, "midright",
                      room=screen.header)
    chosen = text.first_fitting(left, 15, rrect.left - 30, True)
    text.blit(surf, chosen, (10, y + h // 2), 15, INK, True, "midleft", room=screen.header)


def overview(surf: pygame.Surface, screen: Screen, p: Player, vp: Viewport,
             ready_times: list[float], until: float = float("inf")) -> None:
    """The whole run to scale in a thin strip: where the messages arrive (up to ``until``:
    predict mode shows none still to come), which part of it the window shows, and the
    playhead."""
    x, y, w, h = screen.overview
    if w <= 0:
        return
    end = max(p.end, 1.0)
    surf.fill(theme.GRID, (x, y + 2, w, h - 4))
    step = max(1, len(ready_times) // w)
    for t in ready_times[::step]:
        if t > until:
            break
        px = x + int(t / end * (w - 1))
        pygame.draw.line(surf, theme.WAIT, (px, y + 2), (px, y + h - 3))
    lo = x + int(min(max(vp.t_lo, 0.0), end) / end * (w - 1))
    hi = x + int(min(max(vp.t_hi, 0.0), end) / end * (w - 1))
    pygame.draw.rect(surf, theme.ARROW_INK, (lo, y + 1, max(hi - lo, 2), h - 2), 1)
    head = x + int(min(p.t, end) / end * (w - 1))
    pygame.draw.line(surf, INK, (head, y), (head, y + h - 1), 2)


def ruler(text: Text, surf: pygame.Surface, screen: Screen, vp: Viewport,
          until: float = float("inf")) -> None:
    """Ticks in one unit per axis: to scale at round steps (1, 2, 5 x 10^k), schematic at event
    slots far enough apart; none after ``until`` (predict mode: a schematic tick is the time of
    an event still to come). The axis's name and meaning sit left of it."""
    x, y, w, h = screen.ruler
    top, bottom = screen.timeline[1], screen.timeline[1] + screen.timeline[3]
    if vp.axis.name == SCHEMATIC:
        slots = sorted({round(vp.lo + (px - x) / vp.scale)
                        for px in range(x, x + w + 1, SCHEMATIC_TICK_PX)})
        times = [vp.axis.time(u) for u in slots]
        step = None
    else:
        step = nice_step(vp.t_hi - vp.t_lo, max(w // SCALE_TICK_PX, 2))
        first = -(-vp.t_lo // step)
        times = [k * step for k in range(int(first), int(first) + w // 40 + 2)
                 if k * step <= vp.t_hi]
    times = [t for t in times if t <= until]
    last = -1e9
    for t, label in zip(times, tick_labels(times, step), strict=True):
        px = vp.x(t)
        if px < x or px > x + w or px < last + 8:
            continue
        pygame.draw.line(surf, theme.GRID, (px, top), (px, bottom))
        pygame.draw.line(surf, MUTED, (px, y + h - 5), (px, y + h))
        if px + 3 + text.width(label, 11) <= x + w:
            rect = text.blit(surf, label, (px + 3, y + 2), 11, MUTED, room=screen.ruler)
            last = rect.right


def axis_note(text: Text, surf: pygame.Surface, screen: Screen, axis: str) -> bool:
    """What the axis means, in the name column beside the overview and the ruler; False when
    it has no room there (the code pane then says it)."""
    room = pygame.Rect(4, screen.overview[1], screen.ruler[0] - 8,
                       screen.overview[3] + screen.ruler[3])
    lines = AXIS_NOTES[axis]
    if any(text.width(line, 10) > room.w for line in lines):
        return False
    for k, line in enumerate(lines):
        text.blit(surf, line, (room.right, room.y + 1 + 14 * k), 10, MUTED, anchor="topright",
                  room=room)
    return True


def caption_lines(text: Text, cap: Caption, width: int, flash: str = "",
                  ahead: bool = True) -> tuple[str, str]:
    """The caption's two lines for a bar ``width`` wide: the second is a flashed message,
    or (predict mode, ``ahead`` False) what the keys do rather than what comes next."""
    room = width - 20
    line1 = cap.first_line(lambda s: text.width(s, 15) <= room)
    if flash:
        return line1, text.first_fitting([flash], 13, room, True)
    if not ahead:
        return line1, PREDICT_LINE
    return line1, cap.second_line(lambda s: text.width(s, 13) <= room)


def caption_bar(text: Text, surf: pygame.Surface, screen: Screen, cap: Caption,
                flash: str, ahead: bool = True) -> None:
    """The caption's two lines; ``ahead`` False (predict mode) keeps what comes next
    unsaid."""
    x, y, w, h = screen.caption
    surf.fill((255, 255, 255), screen.caption)
    pygame.draw.line(surf, theme.GRID, (0, y), (w, y))
    line1, line2 = caption_lines(text, cap, w, flash, ahead)
    text.blit(surf, line1, (10, y + 5), 15, INK, room=screen.caption)
    if flash:
        text.blit(surf, line2, (10, y + 26), 13, theme.ARROW_INK, True, room=screen.caption)
    else:
        text.blit(surf, line2, (10, y + 26), 13, MUTED, room=screen.caption)


def legend_entries(kinds: set[int]) -> list[Entry]:
    """The colours the runs use, then what the counters' two durations mean (no swatch)."""
    return [entry for entry in theme.LEGEND if entry[0] is None or entry[0] in kinds] + \
        [(None, None, DURATIONS)]


def legend_rows(text: Text, entries: list[Entry], width: int) -> int:
    return len(_legend_lines(text, entries, width))


def _legend_lines(text: Text, entries: list[Entry], width: int) -> list[list[Entry]]:
    lines: list[list[Entry]] = [[]]
    used = 10
    for entry in entries:
        need = (14 if entry[1] is not None else 0) + text.width(entry[2], 12) + 14
        if used + need > width - 6 and lines[-1]:
            lines.append([])
            used = 10
        lines[-1].append(entry)
        used += need
    return lines


def swatch(surf: pygame.Surface, kind: Kind | None, colour: Colour,
           box: tuple[int, int, int, int]) -> None:
    """A legend square, or a span: hatched for the kinds drawn hatched."""
    surf.fill(colour, box)
    stripes = theme.HATCHED.get(kind) if kind is not None else None
    if stripes is not None:
        hatch(surf, stripes, box)


def hatch(surf: pygame.Surface, colour: Colour, box: tuple[int, int, int, int]) -> None:
    x, y, w, h = (int(v) for v in box)
    if w < 1 or h < 1:
        return
    clip = surf.get_clip()
    surf.set_clip(pygame.Rect(x, y, w, h).clip(clip) if clip else (x, y, w, h))
    for k in range(-h, w, 5):
        pygame.draw.line(surf, colour, (x + k, y + h), (x + k + h, y), 2)
    surf.set_clip(clip)


def legend(text: Text, surf: pygame.Surface, screen: Screen, entries: list[Entry]) -> None:
    x, y, w, h = screen.legend
    surf.fill(theme.BAND_SHADE, screen.legend)
    for row, line in enumerate(_legend_lines(text, entries, w)):
        lx = 10
        cy = y + row * 20 + 10
        for kind, colour, name in line:
            if colour is None:  # words, not a colour
                rect = text.blit(surf, name, (lx, cy), 12, MUTED, anchor="midleft",
                                 room=screen.legend)
            else:
                swatch(surf, kind, colour, (lx, cy - 5, 11, 11))
                rect = text.blit(surf, name, (lx + 14, cy), 12, INK, anchor="midleft",
                                 room=screen.legend)
            lx = rect.right + 14


def hints(text: Text, surf: pygame.Surface, screen: Screen) -> None:
    x, y, w, h = screen.hints
    surf.fill(theme.BAND_SHADE, screen.hints)
    chosen = text.first_fitting(HINTS, 12, w - 20)
    text.blit(surf, chosen, (10, y + h // 2), 12, MUTED, anchor="midleft", room=screen.hints)
