"""Frames without a window: one PNG at a chosen moment, or the animation as a GIF.

Drawing needs no display at all (only fonts and plain surfaces), so this works on a server or
in CI; SDL's dummy video driver is selected in case a module asks for the display anyway.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pygame

from iosim.errors import UserError
from iosim.files import atomic_open_binary
from iosim.trace import Trace
from iosim.view.canvas import Canvas
from iosim.view.draw import Renderer
from iosim.view.scale import effective
from iosim.view.scene import ALL, COMPARE, ONE, Scene, make_scene

MAX_GIF_FRAMES = 900
MAX_STEPS = 5000  # pictures --steps writes at most
GIF_HOLD_SECONDS = 1.5  # the last frame stays this long before the GIF loops


@dataclass(frozen=True)
class Look:
    """How a rendered frame differs from the window's: ``fit`` shows the whole run wherever
    the playhead is, ``clean`` leaves out the key hints, ``scale`` is how big it draws
    (None: automatic for the size, scale.py), ``state`` shows the state pane (one-run
    view)."""

    fit: bool = False
    clean: bool = False
    scale: float | None = None
    state: bool = False


def draw_frame(canvas: Canvas, surf: pygame.Surface, scene: Scene, look: Look) -> None:
    """One frame at the look's scale (a slide's a quarter bigger)."""
    canvas.draw(surf, scene, effective(surf.get_size(), look.scale, scene.presentation))


def parse_view(text: str) -> tuple[str, int]:
    """"all", "compare" or a run number from 1: (view, focus)."""
    if text in (ALL, COMPARE):
        return text, 0
    if text.isdigit() and int(text) >= 1:
        return ONE, int(text) - 1
    raise UserError(f"--view {text}: expected all, compare or a run number (1, 2, ...)")


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UserError(f"--size {text}: expected WIDTHxHEIGHT, e.g. 1280x720") from None
    if not (160 <= w <= 7680 and 120 <= h <= 4320):
        raise UserError(f"--size {text}: between 160x120 and 7680x4320")
    return w, h


def prepare(traces: Sequence[Trace], view: str, axis: str | None, at_ms: float | None,
            look: Look = Look()) -> Scene:
    """The scene of a prepared state: the view, the axis, the playhead at ``at_ms`` (None:
    the end, the whole run shown), drawn with ``look``."""
    scene = make_scene(traces)
    scene.hints = not look.clean
    scene.view, scene.focus = parse_view(view)
    if scene.view == ONE and scene.focus >= len(scene.runs):
        raise UserError(f"--view {view}: there are {len(scene.runs)} runs")
    check_state(look.state, view)
    scene.state = look.state
    scene.player.show_run(scene.focus if scene.view == ONE else None)
    if axis is not None and axis != scene.player.axis_name:  # else: the scenario's axis
        scene.player.toggle_axis()
    player = scene.player
    if at_ms is None:
        player.go_end()
    else:
        if not 0 <= at_ms < float("inf"):
            raise UserError(f"--at {at_ms}: a time in ms from 0")
        player.seek(at_ms * 1000.0)
    if look.fit:
        player.fit()
    return scene


def check_state(state: bool, view: str) -> None:
    """--state: the state pane belongs to the one-run view."""
    if state and parse_view(view)[0] != ONE:
        raise UserError(f"--state: the state pane is part of the one-run view; add --view N "
                        f"(a run number), not --view {view}")


def _headless() -> None:
    """Drawing needs no display; should a module ask for one anyway, SDL's dummy driver."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


def render_png(traces: Sequence[Trace], out: Path, size: tuple[int, int], view: str = ALL,
               axis: str | None = None, at_ms: float | None = None, look: Look = Look()
               ) -> Path:
    _headless()
    scene = prepare(traces, view, axis, at_ms, look)
    surf = pygame.Surface(size)
    draw_frame(Canvas(Renderer()), surf, scene, look)
    _save(lambda f: pygame.image.save(surf, f, out.name), out)
    return out


def render_gif(traces: Sequence[Trace], out: Path, size: tuple[int, int], view: str = ALL,
               axis: str | None = None, fps: float = 10.0, seconds: float | None = None,
               progress: Callable[[int, int], None] | None = None, look: Look = Look()) -> int:
    """Play from the start at speed x1 and record; returns the number of frames."""
    from PIL import Image

    _headless()
    scene = prepare(traces, view, axis, 0.0, look)
    player = scene.player
    if seconds is None:
        seconds = player.axis.length / player.rate() + GIF_HOLD_SECONDS
    count = max(1, min(MAX_GIF_FRAMES, round(seconds * fps)))
    surf = pygame.Surface(size)
    canvas = Canvas(Renderer())
    frames = []
    player.playing = True
    for k in range(count):
        if k:
            player.tick(1.0 / fps)
        draw_frame(canvas, surf, scene, look)
        image = Image.frombytes("RGB", size, pygame.image.tobytes(surf, "RGB"))
        frames.append(image.quantize(colors=64, method=Image.Quantize.FASTOCTREE))
        if progress:
            progress(k + 1, count)
    _save(lambda f: frames[0].save(f, format="GIF", save_all=True, append_images=frames[1:],
                                   duration=round(1000 / fps), loop=0), out)
    return count


def render_steps(traces: Sequence[Trace], folder: Path, size: tuple[int, int],
                 view: str = ALL, axis: str | None = None, per: str = "event",
                 progress: Callable[[int, int], None] | None = None, look: Look = Look()
                 ) -> int:
    """One PNG per event of the shown runs (``per`` "message": per moment a message's data
    is ready), numbered step-0001.png, ... in ``folder``; returns how many."""
    _headless()
    scene = prepare(traces, view, axis, 0.0, look)
    player = scene.player
    times = list(player.times if per == "event" else player.message_times)
    if len(times) > MAX_STEPS:
        raise UserError(f"--steps: {len(times)} pictures is more than {MAX_STEPS}; show one "
                        "run (--view N) or take one per message (--per message)")
    if not times:
        raise UserError("--steps: the shown runs have no message")
    make_folder(folder)
    surf = pygame.Surface(size)
    canvas = Canvas(Renderer())
    width = max(4, len(str(len(times))))
    for k, t in enumerate(times):
        player.seek(t)
        if look.fit:
            player.fit()
        draw_frame(canvas, surf, scene, look)
        out = folder / f"step-{k + 1:0{width}d}.png"
        _save(lambda f, out=out: pygame.image.save(surf, f, out.name), out)
        if progress:
            progress(k + 1, len(times))
    return len(times)


def make_folder(folder: Path) -> None:
    """A folder for numbered pictures: made if need be, refused when a file is in the
    way."""
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder}: not a directory")
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise UserError(f"{folder}: cannot create ({exc.strerror})") from None


def _save(write: Callable[[BinaryIO], None], out: Path) -> None:
    """Atomically, like every file iosim writes: a failed or interrupted save keeps any older
    image and leaves no partial one."""
    with atomic_open_binary(out) as f:
        try:
            write(f)
        except (pygame.error, ValueError) as exc:
            raise UserError(f"{out}: cannot write ({exc})") from None


def stderr_progress(noun: str) -> Callable[[int, int], None]:
    """Progress of ``noun``s made: one updating line on a terminal, a line per tenth
    otherwise."""
    def show(done: int, total: int) -> None:
        if sys.stderr.isatty():
            end = "\n" if done == total else ""
            print(f"\rrendering {noun} {done}/{total}", end=end, file=sys.stderr, flush=True)
        elif done == total or done % max(1, total // 10) == 0:
            print(f"rendering {noun} {done}/{total}", file=sys.stderr, flush=True)
    return show
