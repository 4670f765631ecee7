"""The view's frame time: 300 frames of each view (all runs; one run with its code pane;
the comparison of Figure 6.6) at 1280x720 under SDL's dummy driver, playing at speed x1 with the
mouse's details box shown, for a trace of a million events and for one of a thousand. Culling
must make the two cost about the same (targets: p99 <= 8 ms in every view, ratio <= 1.5)."""

from __future__ import annotations

import os
import statistics
import time

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame  # noqa: E402

from iosim.trace import Kind, Lane, RunRecorder, Trace  # noqa: E402
from iosim.view.app import make_scene  # noqa: E402
from iosim.view.draw import Renderer  # noqa: E402
from iosim.view.scene import ALL, COMPARE, ONE  # noqa: E402

FRAMES = 300
WARMUP = 20
SIZE = (1280, 720)
MODELS = ("blocking", "nonblocking", "select", "sigio", "aio")
EVENTS_PER_MESSAGE = 10


def synthetic_trace(events: int) -> Trace:
    """Five runs of blocking-style message cycles (10 events each), one message per ms."""
    per_run = max(1, events // (len(MODELS) * EVENTS_PER_MESSAGE))
    trace = Trace("bench", f"{events} events", "udp")
    for r, model in enumerate(MODELS):
        rec = RunRecorder(model, "sim", [Lane("application", "app"),
                                         Lane("kernel conn 0", "kernel", 0)], 50.0)
        for i in range(per_run):
            base = i * 1000.0
            ready = base + 400.0 + 37.0 * r
            m = rec.message(0, 1024, ready - 40.0, ready)
            rec.instant(Kind.SYSCALL, 0, base, "recvfrom", 0)
            rec.span(Kind.IN_KERNEL, 0, base, base + 2.0, "recvfrom", 0)
            rec.span(Kind.WAIT, 1, base, ready, "wait for data", 0, m)
            rec.span(Kind.BLOCKED, 0, base + 2.0, ready + 100.0,
                     "process blocks in call to recvfrom", 0)
            rec.instant(Kind.ARRIVAL, 1, ready, "datagram ready", 0, m)
            rec.span(Kind.QUEUED, 1, ready, ready + 100.0, "data queued, not yet copied", 0, m)
            rec.span(Kind.COPY, 1, ready + 100.0, ready + 100.6,
                     "copy data from kernel to user", 0, m)
            rec.span(Kind.BLOCKED, 0, ready + 100.0, ready + 100.6,
                     "process blocks while data copied into application buffer", 0)
            rec.instant(Kind.RETURN, 0, ready + 100.6, "return OK", 0)
            rec.span(Kind.PROCESS, 0, ready + 100.6, ready + 150.6, "process datagram", 0, m)
            run = rec.run
            run.m_copy_start[m], run.m_copy_end[m] = ready + 100.0, ready + 100.6
            run.m_done[m] = ready + 150.6
        trace.runs.append(rec.finish(per_run * 1000.0))
    return trace


VIEWS = (ALL, ONE, COMPARE)


def frame_times(trace: Trace, surface: pygame.Surface, view: str) -> list[float]:
    scene = make_scene([trace])
    scene.view, scene.focus = view, 2
    scene.player.show_run(2 if view == ONE else None)
    scene.hover = (2, 0)  # the details box of an event, as when the mouse rests on it
    scene.pointer = (600, 300)
    renderer = Renderer()
    scene.player.playing = True
    times = []
    for k in range(WARMUP + FRAMES):
        start = time.perf_counter()
        scene.player.tick(1 / 60)
        renderer.draw(surface, scene)
        pygame.display.flip()
        if k >= WARMUP:
            times.append((time.perf_counter() - start) * 1000.0)
    return times


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def run() -> dict:
    pygame.display.init()
    surface = pygame.display.set_mode(SIZE)
    results: dict[tuple[str, str], float] = {}
    try:
        for label, events in (("1k", 1_000), ("1M", 1_000_000)):
            start = time.perf_counter()
            trace = synthetic_trace(events)
            built = time.perf_counter() - start
            count = sum(len(r) for r in trace.runs)
            print(f"{label}: {count} events (built in {built:.1f} s)")
            for view in VIEWS:
                times = frame_times(trace, surface, view)
                results[label, view] = p99(times)
                print(f"  {view:8} {FRAMES} frames {SIZE[0]}x{SIZE[1]}: median "
                      f"{statistics.median(times):.2f} ms, p99 {results[label, view]:.2f} ms, "
                      f"max {max(times):.2f} ms")
    finally:
        pygame.display.quit()
    worst = max(results.values())
    ratio = max(results["1M", v] / results["1k", v] for v in VIEWS)
    print(f"worst p99 {worst:.2f} ms (target <= 8 ms in every view); worst p99 1M / p99 1k "
          f"{ratio:.2f} (target <= 1.5)")
    return {"name": "view", "p99_ms": round(worst, 3), "ratio_1m_vs_1k": round(ratio, 3),
            "p99_ms_by_view": {f"{v} {k}": round(ms, 3) for (k, v), ms in results.items()}}
