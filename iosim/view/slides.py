"""A lesson as slides, headless: one page per moment as the window opens it in the lesson (the
caption as the title under the moment's own, no key hints, its question posed), into a PDF or
a folder of numbered PNGs. With ``answers``, a moment with a question gets a second page with
the answer revealed, as PgDn reveals it in the window."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pygame
from PIL import Image

from iosim.files import atomic_open_binary
from iosim.lesson.prepare import Ready
from iosim.view.canvas import Canvas
from iosim.view.draw import Renderer
from iosim.view.lesson_mode import moment_scene
from iosim.view.pdf import PdfWriter
from iosim.view.render import Look, draw_frame, make_folder
from iosim.view.scene import Scene

SLIDE_DPI = 96.0  # 1280x720 pixels make a 13.3 x 7.5 inch page: a 16:9 presentation's


def _pages(moments: list[Ready], answers: bool) -> Iterator[tuple[str, Scene]]:
    """(file stem, scene) of every page, in order."""
    width = max(2, len(str(len(moments))))
    for k, r in enumerate(moments):
        scene = moment_scene(r, f"moment {k + 1} of {len(moments)}")
        yield f"slide-{k + 1:0{width}d}", scene
        if answers and r.moment.question:
            shown = moment_scene(r, "")
            shown.slide.revealed = True  # type: ignore[union-attr]
            yield f"slide-{k + 1:0{width}d}-answer", shown


def page_count(moments: list[Ready], answers: bool) -> int:
    return len(moments) + (sum(1 for r in moments if r.moment.question) if answers else 0)


def image_of(surf: pygame.Surface) -> Image.Image:
    return Image.frombytes("RGB", surf.get_size(), pygame.image.tobytes(surf, "RGB"))


def render_lesson(moments: list[Ready], out: Path, size: tuple[int, int], title: str,
                  answers: bool = False,
                  progress: Callable[[int, int], None] | None = None,
                  scale: float | None = None) -> int:
    """Draw every page into ``out``: a .pdf file, else a folder (made if need be) of
    slide-01.png, ...; returns the number of pages. ``scale``: how big (None: automatic)."""
    total = page_count(moments, answers)
    surf = pygame.Surface(size)
    canvas, look = Canvas(Renderer()), Look(scale=scale)
    pages = _pages(moments, answers)
    if out.suffix.lower() == ".pdf":
        with atomic_open_binary(out) as f:
            pdf = PdfWriter(f, title, SLIDE_DPI)
            for n, (_, scene) in enumerate(pages, start=1):
                draw_frame(canvas, surf, scene, look)
                pdf.add(image_of(surf))
                if progress:
                    progress(n, total)
            pdf.close()
        return total
    make_folder(out)
    for n, (stem, scene) in enumerate(pages, start=1):
        draw_frame(canvas, surf, scene, look)
        path = out / f"{stem}.png"
        with atomic_open_binary(path) as f:
            image_of(surf).save(f, format="PNG")
        if progress:
            progress(n, total)
    return total
