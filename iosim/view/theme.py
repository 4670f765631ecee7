"""Colours (one fixed meaning each, Okabe-Ito, safe for colour-blind viewers) and the bundled
font, so that pixels do not depend on the machine."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pygame

from iosim.trace import Kind

Colour = tuple[int, int, int]

WAIT: Colour = (0xE6, 0x9F, 0x00)  # phase 1, wait for data
COPY: Colour = (0x00, 0x72, 0xB2)  # phase 2, copy data from kernel to user
BLOCKED: Colour = (0xD5, 0x5E, 0x00)
WORK: Colour = (0x00, 0x9E, 0x73)  # own work
HANDLER: Colour = (0xCC, 0x79, 0xA7)  # signal handler
ARROW: Colour = (0x56, 0xB4, 0xE9)  # system calls and returns
QUEUED: Colour = (0xF0, 0xE4, 0x42)  # data ready in the receive queue, not yet copied
PROCESS: Colour = (0x00, 0x66, 0x4A)  # processing a received message
DELIVERY: Colour = (0xE6, 0xB8, 0xD2)  # the kernel delivering a signal: the handler's colour, pale
OVERHEAD: Colour = (0xA8, 0xA8, 0xA0)  # a real run's time between two recorded calls: grey
ERROR: Colour = (0xB0, 0x20, 0x20)

BACKGROUND: Colour = (250, 250, 247)
BAND_SHADE: Colour = (238, 238, 232)
INK: Colour = (30, 30, 30)
MUTED: Colour = (105, 105, 100)
GRID: Colour = (222, 222, 215)
ARROW_INK: Colour = (20, 90, 140)
SIGNAL_INK: Colour = (150, 60, 110)
PALE_WAIT: Colour = (250, 232, 190)
PALE_COPY: Colour = (200, 225, 240)

# Text sizes in pixels by role: a pane that draws with these names can be scaled in one place.
TITLE_SIZE, BODY_SIZE, SMALL_SIZE, TINY_SIZE = 14, 13, 12, 11

SPAN_COLOURS: dict[int, Colour] = {
    Kind.WAIT: WAIT, Kind.COPY: COPY, Kind.QUEUED: QUEUED, Kind.BLOCKED: BLOCKED,
    Kind.IN_KERNEL: ARROW, Kind.WORK: WORK, Kind.PROCESS: PROCESS, Kind.HANDLER: HANDLER,
    Kind.DELIVERY: DELIVERY, Kind.OVERHEAD: OVERHEAD,
}
DARK_FILLS = {COPY, BLOCKED, WORK, PROCESS, ERROR}

HATCHED = {Kind.DELIVERY: HANDLER}  # drawn as stripes of this colour over the pale fill

# One entry per meaning, in the order a reader meets them; the legend shows the entries of
# the kinds the shown runs have.
LEGEND: list[tuple[Kind | None, Colour, str]] = [
    (Kind.WAIT, WAIT, "wait for data"), (Kind.QUEUED, QUEUED, "data ready, not copied"),
    (Kind.COPY, COPY, "copy to user"), (Kind.BLOCKED, BLOCKED, "blocked"),
    (Kind.IN_KERNEL, ARROW, "in a system call"), (Kind.WORK, WORK, "own work"),
    (Kind.PROCESS, PROCESS, "processing data"), (Kind.HANDLER, HANDLER, "signal handler"),
    (Kind.DELIVERY, DELIVERY, "signal delivery"), (Kind.OVERHEAD, OVERHEAD,
                                                   "between calls (real runs)"),
]


def font_path(bold: bool = False, mono: bool = False) -> Path:
    if mono:
        name = "JetBrainsMono-Regular.ttf"
    else:
        name = "Inter-SemiBold.otf" if bold else "Inter-Regular.otf"
    return Path(str(resources.files("iosim") / "assets" / "fonts" / name))


Drawn = tuple[str, pygame.Rect, pygame.Rect]  # text, where it was drawn, the room it had


class Text:
    """Rendered text surfaces, cached: a frame mostly re-blits the same few labels.

    Text is never cut: a caller that has too little room for a label draws a shorter one or
    none. With ``record`` on, every blit is kept with the room it was given, so a test can
    check that no label ever leaves its room."""

    MAX_CACHED = 5000

    def __init__(self) -> None:
        if not pygame.font.get_init():
            pygame.font.init()
        self._fonts: dict[tuple[int, bool, bool], pygame.font.Font] = {}
        self._cache: dict[tuple[str, int, Colour, bool, bool], pygame.Surface] = {}
        self._bounds: dict[tuple[str, int, bool], tuple[int, int, int, int]] = {}
        self._widths: dict[tuple[str, int, bool, bool], int] = {}
        self.record: list[Drawn] | None = None

    def font(self, size: int, bold: bool = False, mono: bool = False) -> pygame.font.Font:
        key = (size, bold, mono)
        font = self._fonts.get(key)
        if font is None:
            font = self._fonts[key] = pygame.font.Font(font_path(bold, mono), size)
        return font

    def width(self, text: str, size: int, bold: bool = False, mono: bool = False) -> int:
        """How wide ``text`` is drawn, measured without rendering it (cached)."""
        key = (text, size, bold, mono)
        found = self._widths.get(key)
        if found is None:
            if len(self._widths) >= self.MAX_CACHED:
                self._widths.clear()
            found = self._widths[key] = self.font(size, bold, mono).size(text)[0]
        return found

    def get(self, text: str, size: int, colour: Colour = INK, bold: bool = False,
            mono: bool = False) -> pygame.Surface:
        key = (text, size, colour, bold, mono)
        surf = self._cache.get(key)
        if surf is None:
            if len(self._cache) >= self.MAX_CACHED:
                self._cache.clear()
            surf = self._cache[key] = self.font(size, bold, mono).render(text, True, colour)
        return surf

    def blit(self, surf: pygame.Surface, text: str, pos: tuple[float, float], size: int = 12,
             colour: Colour = INK, bold: bool = False, anchor: str = "topleft",
             room: pygame.Rect | tuple[int, int, int, int] | None = None,
             mono: bool = False) -> pygame.Rect:
        """Draw ``text`` with its ``anchor`` point (a pygame.Rect attribute) at ``pos``;
        ``room`` is the part of the screen it may use (the whole surface when None)."""
        img = self.get(text, size, colour, bold, mono)
        rect = img.get_rect(**{anchor: (int(pos[0]), int(pos[1]))})
        surf.blit(img, rect)
        if self.record is not None and text:
            self.record.append((text, rect, pygame.Rect(room) if room else surf.get_rect()))
        return rect

    def bounds(self, text: str, size: int, bold: bool = False) -> tuple[int, int, int, int]:
        """The box of the inked pixels inside the rendered text (x, y, width, height): labels
        are kept apart by what a reader sees, not by the font's line height."""
        key = (text, size, bold)
        box = self._bounds.get(key)
        if box is None:
            if len(self._bounds) >= self.MAX_CACHED:
                self._bounds.clear()
            rect = self.get(text, size, INK, bold).get_bounding_rect()
            box = self._bounds[key] = (rect.x, rect.y, rect.w, rect.h)
        return box

    def first_fitting(self, variants: list[str], size: int, width: int,
                      bold: bool = False) -> str:
        """The first of ``variants`` (longest first) that fits ``width``; "" when none does."""
        return next((v for v in variants if self.width(v, size, bold) <= width), "")

    def fit_lines(self, variants: list[str], sizes: tuple[int, ...], width: int,
                  max_lines: int, bold: bool = False) -> tuple[list[str], int]:
        """The first variant and size (both longest/largest first) that wraps into at most
        ``max_lines`` lines of at most ``width`` pixels; ([], 0) when none does."""
        for text in variants:
            for size in sizes:
                lines = self.wrap(text, size, width, bold)
                if len(lines) <= max_lines and all(self.width(ln, size, bold) <= width
                                                   for ln in lines):
                    return lines, size
        return [], 0

    def wrap(self, text: str, size: int, width: int, bold: bool = False,
             mono: bool = False) -> list[str]:
        """Lines of at most ``width`` pixels, broken between words; a single word wider than
        ``width`` gets a line of its own (callers give room for the longest word)."""
        font = self.font(size, bold, mono)
        lines: list[str] = []
        line = ""
        for word in text.split():
            trial = f"{line} {word}".strip()
            if font.size(trial)[0] <= width or not line:
                line = trial
            else:
                lines.append(line)
                line = word
        if line:
            lines.append(line)
        return lines
