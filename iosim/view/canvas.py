"""A frame drawn at a scale: laid out on a logical surface (the target's size divided by the
scale, scale.py) and scaled up smoothly onto the target. At scale 1 the frame is drawn on the
target itself."""

from __future__ import annotations

import pygame

from iosim.view.draw import Renderer
from iosim.view.scale import logical_size
from iosim.view.scene import Scene


class Canvas:
    """The logical surface, kept while its size stays the same."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        self._logical: pygame.Surface | None = None

    def draw(self, target: pygame.Surface, scene: Scene, scale: float, busy: str = "") -> None:
        """Draw ``scene`` onto ``target`` at ``scale``."""
        size = target.get_size()
        logical = logical_size(size, scale)
        if logical == size:
            self.renderer.draw(target, scene, busy)
            return
        if self._logical is None or self._logical.get_size() != logical:
            self._logical = pygame.Surface(logical)
        self.renderer.draw(self._logical, scene, busy)
        target.blit(pygame.transform.smoothscale(self._logical, size), (0, 0))
