"""Drawing a run's set-up label over its application lane ("set-up, done once: epoll_create,
10,100 × epoll_ctl (33.332 ms)"), so that a long set-up does not read as a slow wait. Whole or
not at all: the longest variant that fits the stretch on the screen."""

from __future__ import annotations

import pygame

from iosim.view.index import RunIndex
from iosim.view.layout import Band, Viewport
from iosim.view.theme import INK, Text

SIZES = (13, 12)


def draw_setup(surf: pygame.Surface, text: Text, ri: RunIndex, band: Band, vp: Viewport,
               right: float) -> None:
    """The label centred on the set-up's stretch of the application lane (near its top when
    the lane is tall enough, clear of the spans' labels), on a white plate, ending before
    ``right`` (predict mode: the playhead)."""
    setup = ri.setup
    if setup is None:
        return
    x0 = max(vp.x(setup.t0), vp.x0)
    x1 = min(vp.x(setup.t1), vp.x0 + vp.width, right)
    room = int(x1 - x0) - 12
    found = next(((words, size) for words in setup.words() for size in SIZES
                  if text.width(words, size) <= room), None)
    if found is None:
        return
    shown, size = found
    ax, ay, aw, ah = band.app.box
    img = text.get(shown, size, INK)
    rect = img.get_rect(center=(int((x0 + x1) / 2), ay + ah // 2))
    if rect.height + 4 > ah:
        return
    if ah >= 3 * rect.height:  # above the middle, where the spans' own labels go
        rect.top = ay + 4
    surf.fill((255, 255, 255), rect.inflate(8, 4))
    text.blit(surf, shown, rect.topleft, size, INK, room=pygame.Rect(ax, ay, aw, ah))
