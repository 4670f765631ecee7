"""How big the window draws, as pure logic. A frame is laid out and drawn on a logical surface
of the window's size divided by the scale, then scaled up to the window: every text, row, pane
and line grows by the same factor, and every layout tested at the logical sizes stays valid.
The mouse is converted back by the same factor, in one place (App.handle).

The automatic scale keeps the logical frame at least 1280x720, the size the view is designed
for, in quarter steps: 1 up to 1600x900, 1.5 at 1920x1080, 2 at 2560x1440, 3 at 3840x2160.
Whatever is asked for, the logical frame is never smaller than 1024x576 (every view is
tested whole down to 960x540; at 1024x576 every model's code still fits its pane), so nothing
is cut; a smaller window draws at scale 1 (or less, when asked)."""

from __future__ import annotations

import math

from iosim.errors import UserError

DESIGN_SIZE = (1280, 720)  # the automatic scale keeps the logical frame at least this big
SMALLEST = (1024, 576)  # no scale makes the logical frame smaller than this
QUARTER = 4  # the automatic scale goes in steps of 1 / QUARTER
LOWEST, HIGHEST = 0.5, 4.0  # what --scale accepts
STEPS = (0.5, 0.67, 0.75, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0)
PRESENTATION_BOOST = 1.25  # presentation mode: text a quarter bigger than the window's


def automatic(size: tuple[int, int]) -> float:
    """The scale for a window of ``size``: the largest quarter step that keeps the logical
    frame at least DESIGN_SIZE, and at least 1."""
    fit = min(size[0] / DESIGN_SIZE[0], size[1] / DESIGN_SIZE[1])
    return max(1.0, math.floor(fit * QUARTER + 1e-9) / QUARTER)


def largest(size: tuple[int, int]) -> float:
    """The largest scale that keeps the logical frame at least SMALLEST (at least 1)."""
    return max(1.0, min(size[0] / SMALLEST[0], size[1] / SMALLEST[1]))


def effective(size: tuple[int, int], asked: float | None, presentation: bool = False) -> float:
    """The scale a frame is drawn at: ``asked``, or automatic (a quarter bigger in
    presentation mode), never so big that the logical frame is smaller than SMALLEST."""
    if asked is None:
        asked = automatic(size) * (PRESENTATION_BOOST if presentation else 1.0)
    return min(asked, largest(size))


def logical_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """The size of the frame as laid out: the window's divided by the scale."""
    return max(1, round(size[0] / scale)), max(1, round(size[1] / scale))


def to_logical(pos: tuple[int, int], size: tuple[int, int],
               logical: tuple[int, int]) -> tuple[int, int]:
    """A window position as a position on the logical frame of size ``logical``."""
    return (min(logical[0] - 1, pos[0] * logical[0] // max(1, size[0])),
            min(logical[1] - 1, pos[1] * logical[1] // max(1, size[1])))


def step(current: float, up: bool) -> float:
    """The next scale up or down the browser-like ladder of STEPS."""
    if up:
        return next((s for s in STEPS if s > current + 1e-6), STEPS[-1])
    return next((s for s in reversed(STEPS) if s < current - 1e-6), STEPS[0])


def parse_scale(text: str) -> float:
    """--scale F: a number between LOWEST and HIGHEST."""
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"--scale {text}: expected a number, e.g. 1.5") from None
    if not math.isfinite(value) or not LOWEST <= value <= HIGHEST:
        raise UserError(f"--scale {text}: between {LOWEST:g} and {HIGHEST:g}")
    return value
