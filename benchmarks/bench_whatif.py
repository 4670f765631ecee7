"""What-if: the time from a knob changed in the panel to the next drawn frame that shows the new
runs, for each built-in scenario with all its models, at 1280x720 under SDL's dummy driver.
Targets: <= 100 ms (one-datagram, many-clients, big-copy, burst), <= 500 ms (c10k); while a
re-simulation runs, the frames go on (the longest frame meanwhile is printed too)."""

from __future__ import annotations

import os
import statistics
import time

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame  # noqa: E402

from iosim import scenario  # noqa: E402
from iosim.sim.run import simulate  # noqa: E402
from iosim.view.app import App  # noqa: E402
from iosim.view.whatif import KNOBS  # noqa: E402

SIZE = (1280, 720)
CHANGES = 6
TARGETS_MS = {"c10k": 500.0}
DEFAULT_TARGET_MS = 100.0
MAX_FRAMES = 10_000  # a change that never shows ends the measurement


def change_to_frame(app: App, surface: pygame.Surface, direction: int) -> tuple[float, float]:
    """(ms from the change to the first frame of the new runs, the longest frame meanwhile)."""
    before = app.scene
    start = time.perf_counter()
    app.resimulate(app.scene.whatif.change(direction))
    longest = 0.0
    for _ in range(MAX_FRAMES):
        frame_start = time.perf_counter()
        app.frame(surface, 1 / 60)
        longest = max(longest, time.perf_counter() - frame_start)
        if app.scene is not before:
            break
    return (time.perf_counter() - start) * 1000.0, longest * 1000.0


def run() -> dict:
    pygame.display.init()
    surface = pygame.display.set_mode(SIZE)
    results: dict[str, float] = {}
    worst_frames: dict[str, float] = {}
    work = next(k for k, knob in enumerate(KNOBS) if knob.key == "process.work_us")
    try:
        for name in scenario.builtin_names():
            sc = scenario.load(name)
            app = App([simulate(sc)], simulator=simulate, scenario=sc)
            app.frame(surface, 0.0)
            app.toggle_whatif()
            app.scene.whatif.selected = work
            times, frames = [], []
            for k in range(CHANGES):
                ms, frame_ms = change_to_frame(app, surface, 1 if k % 2 == 0 else -1)
                times.append(ms)
                frames.append(frame_ms)
            results[name] = statistics.median(times)
            worst_frames[name] = max(frames)
            target = TARGETS_MS.get(name, DEFAULT_TARGET_MS)
            print(f"{name:13} {len(sc.models)} models: change -> frame median "
                  f"{results[name]:.1f} ms, max {max(times):.1f} ms (target <= {target:.0f});"
                  f" longest frame meanwhile {worst_frames[name]:.1f} ms")
    finally:
        pygame.display.quit()
    return {"name": "whatif", "ms": {k: round(v, 1) for k, v in results.items()},
            "longest_frame_ms": {k: round(v, 1) for k, v in worst_frames.items()}}
