"""Where text labels may go without covering each other, as pure logic (no pygame).

A frame offers labels in the order it wants them (left to right, most important first); a
label is accepted only when its box keeps ``margin`` pixels from every label accepted before,
so the screen never shows two labels on top of each other, whatever the density of events.
"""

from __future__ import annotations

from collections.abc import Sequence

Box = tuple[float, float, float, float]  # x, y, width, height


def clear_of(a: Box, b: Box, margin: float) -> bool:
    """True when ``a`` and ``b`` are at least ``margin`` pixels apart across or down."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return (ax + aw + margin <= bx or bx + bw + margin <= ax
            or ay + ah <= by or by + bh <= ay)


class Placer:
    """The labels accepted so far on one part of the screen.

    With ``sweep`` the caller promises to offer boxes in non-decreasing order of their left
    edge (labels of arrows sorted by time); accepted boxes that end before the offered one
    begins can then never be hit again and are dropped, so a frame with thousands of arrows
    compares each offer with a handful of labels only.
    """

    def __init__(self, margin: float = 4.0, sweep: bool = False) -> None:
        self.margin = margin
        self.sweep = sweep
        self.placed: list[Box] = []
        self._active: list[Box] = []

    def fits(self, box: Box) -> bool:
        if self.sweep:
            left = box[0] - self.margin
            self._active = [b for b in self._active if b[0] + b[2] > left]
        return all(clear_of(box, b, self.margin) for b in self._active)

    def offer(self, box: Box) -> bool:
        """Accept ``box`` if it is clear of every accepted label."""
        if not self.fits(box):
            return False
        self.placed.append(box)
        self._active.append(box)
        return True


def place_braces(spans: Sequence[tuple[float, float, Sequence[float]]], rows: int,
                 x_min: float, x_max: float, margin: float = 10.0
                 ) -> list[tuple[int, int, float]]:
    """Rows for braces, each a bracket over [x0, x1] with its label centred above it.

    ``spans`` holds (x0, x1, widths): the widths of the label's variants, longest first (the
    full text, then shorter cuts). A label is kept inside [x_min, x_max] and shifted sideways
    rather than cut; a brace takes the first row where its bracket and its label clear every
    brace placed there, trying the long variant in every row before a shorter one, and in the
    end the bracket alone. Returns (row, variant, label x) per brace; variant is -1 for a
    bracket without label, and row is -1 for a brace with no room at all.
    """
    placers = [Placer(margin) for _ in range(rows)]
    out = []
    for x0, x1, widths in spans:
        placed = (-1, -1, x0)
        for variant, w in [*enumerate(widths), (-1, 0.0)]:
            lx = (x0 + x1 - w) / 2
            lx = max(x_min + 4, min(lx, x_max - w - 6)) if w else x0
            left, right = min(lx, x0), max(lx + w, x1)
            row = next((r for r, p in enumerate(placers)
                        if p.fits((left, 0.0, right - left, 1.0))), -1)
            if row >= 0:
                placers[row].offer((left, 0.0, right - left, 1.0))
                placed = (row, variant, lx)
                break
        out.append(placed)
    return out
