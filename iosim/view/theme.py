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

SPAN_COLOURS: dict[int, Colour] = {
    Kind.WAIT: WAIT, Kind.COPY: COPY, Kind.QUEUED: QUEUED, Kind.BLOCKED: BLOCKED,
    Kind.IN_KERNEL: ARROW, Kind.WORK: WORK, Kind.PROCESS: PROCESS, Kind.HANDLER: HANDLER,
    Kind.DELIVERY: DELIVERY, Kind.OVERHEAD: OVERHEAD,
}
DARK_FILLS = {COPY, BLOCKED, WORK, PROCESS, ERROR}

LEGEND: list[tuple[Colour, str]] = [
    (WAIT, "wait for data"), (QUEUED, "data ready, not copied"), (COPY, "copy to user"),
    (BLOCKED, "blocked"), (ARROW, "in a system call"), (WORK, "own work"),
    (PROCESS, "processing data"), (HANDLER, "signal handler"),
]


def font_path(bold: bool = False) -> Path:
    name = "Inter-SemiBold.otf" if bold else "Inter-Regular.otf"
    return Path(str(resources.files("iosim") / "assets" / "fonts" / name))


class Text:
    """Rendered text surfaces, cached: a frame mostly re-blits the same few labels."""

    MAX_CACHED = 5000

    def __init__(self) -> None:
        if not pygame.font.get_init():
            pygame.font.init()
        self._fonts: dict[tuple[int, bool], pygame.font.Font] = {}
        self._cache: dict[tuple[str, int, Colour, bool], pygame.Surface] = {}
        self._fitted: dict[tuple[str, int, int, bool], str] = {}
        self._bounds: dict[tuple[str, int, bool], tuple[int, int, int, int]] = {}

    def font(self, size: int, bold: bool = False) -> pygame.font.Font:
        key = (size, bold)
        font = self._fonts.get(key)
        if font is None:
            font = self._fonts[key] = pygame.font.Font(font_path(bold), size)
        return font

    def get(self, text: str, size: int, colour: Colour = INK, bold: bool = False
            ) -> pygame.Surface:
        key = (text, size, colour, bold)
        surf = self._cache.get(key)
        if surf is None:
            if len(self._cache) >= self.MAX_CACHED:
                self._cache.clear()
            surf = self._cache[key] = self.font(size, bold).render(text, True, colour)
        return surf

    def blit(self, surf: pygame.Surface, text: str, pos: tuple[float, float], size: int = 12,
             colour: Colour = INK, bold: bool = False, anchor: str = "topleft") -> pygame.Rect:
        """Draw ``text`` with its ``anchor`` point (a pygame.Rect attribute) at ``pos``."""
        img = self.get(text, size, colour, bold)
        rect = img.get_rect(**{anchor: (int(pos[0]), int(pos[1]))})
        surf.blit(img, rect)
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

    def fit(self, text: str, size: int, width: int, bold: bool = False) -> str:
        """The text, cut with an ellipsis so it is at most ``width`` pixels wide."""
        key = (text, size, width, bold)
        cut = self._fitted.get(key)
        if cut is None:
            if len(self._fitted) >= self.MAX_CACHED:
                self._fitted.clear()
            cut = self._fitted[key] = self._cut(text, size, width, bold)
        return cut

    def _cut(self, text: str, size: int, width: int, bold: bool) -> str:
        font = self.font(size, bold)
        if font.size(text)[0] <= width:
            return text
        lo, hi = 0, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if font.size(text[:mid] + "…")[0] <= width:
                lo = mid
            else:
                hi = mid - 1
        return text[:lo] + "…"

    def wrap(self, text: str, size: int, width: int, bold: bool = False) -> list[str]:
        font = self.font(size, bold)
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
