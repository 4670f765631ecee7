"""The window and its event loop: keys change the player and the scene, every frame is drawn
by the Renderer. ``App.pump`` runs a bounded number of frames without sleeping, for tests."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pygame

from iosim.trace import Trace
from iosim.view.draw import ALL, COMPARE, ONE, Renderer, Scene
from iosim.view.index import RunIndex
from iosim.view.player import Player

FLASH_SECONDS = 5.0
FPS = 60
IDLE_WAIT_MS = 250  # paused: how long one wait for an event lasts (a bound, not a delay)
ZOOM_STEP = 1.5
PAN_STEP = 0.2


def scene_title(traces: Sequence[Trace]) -> str:
    names = list(dict.fromkeys(t.scenario for t in traces))
    if len(names) > 1:
        return " + ".join(names)
    sources = dict.fromkeys(run.source for t in traces for run in t.runs)
    title = f"{traces[0].scenario} · {traces[0].title}"
    return title if len(sources) < 2 else f"{title} · {' + '.join(sources)}"


def make_scene(traces: Sequence[Trace]) -> Scene:
    runs = [RunIndex(run) for trace in traces for run in trace.runs]
    return Scene(scene_title(traces), runs, Player([r.run for r in runs]))


class App:
    """Holds the scene and reacts to keys; ``loader`` turns a built-in scenario's name into a
    Trace (Tab / Shift+Tab), so the view itself never runs the simulator."""

    def __init__(self, traces: Sequence[Trace], loader: Callable[[str], Trace] | None = None,
                 scenarios: Sequence[str] = (), screenshot_dir: Path | None = None) -> None:
        self.traces = list(traces)
        self.scene = make_scene(self.traces)
        self.loader = loader
        self.scenarios = list(scenarios)
        self.screenshot_dir = screenshot_dir or Path.cwd()
        self.renderer = Renderer()
        self.running = True
        self.surface: pygame.Surface | None = None
        self._flash_left = 0.0
        self._pending: str | None = None
        self.last_screenshot: Path | None = None

    # -- state changes ------------------------------------------------------------------------

    def flash(self, text: str) -> None:
        self.scene.flash = text
        self._flash_left = FLASH_SECONDS

    def show_traces(self, traces: Sequence[Trace]) -> None:
        self.traces = list(traces)
        self.scene = make_scene(self.traces)

    def cycle_scenario(self, step: int) -> None:
        if not self.loader or not self.scenarios:
            self.flash("Tab cycles the built-in scenarios (not available here)")
            return
        current = self.traces[0].scenario if len(self.traces) == 1 else ""
        k = self.scenarios.index(current) if current in self.scenarios else -1
        name = self.scenarios[(k + step) % len(self.scenarios)]
        self._pending = name
        self.flash(f"loading {name} …")

    def screenshot(self) -> Path:
        scenario = self.traces[0].scenario if self.traces else "iosim"
        stem = f"iosim-{scenario}-{self.scene.player.t / 1000:.3f}ms"
        path = self.screenshot_dir / f"{stem}.png"
        n = 2
        while path.exists():
            path = self.screenshot_dir / f"{stem}-{n}.png"
            n += 1
        if self.surface is not None:
            pygame.image.save(self.surface, str(path))
        self.last_screenshot = path
        print(f"iosim: screenshot saved to {path}", flush=True)
        self.flash(f"screenshot saved to {path}")
        return path

    # -- events -------------------------------------------------------------------------------

    def handle(self, event: pygame.event.Event) -> None:
        if event.type == pygame.QUIT:
            self.running = False
        elif event.type == pygame.KEYDOWN:
            self.key(event.key, event.mod, getattr(event, "unicode", ""))

    def key(self, key: int, mod: int = 0, char: str = "") -> None:
        p = self.scene.player
        scene = self.scene
        shift = bool(mod & pygame.KMOD_SHIFT)
        if key in (pygame.K_ESCAPE, pygame.K_q):
            if scene.help and key == pygame.K_ESCAPE:
                scene.help = False
            else:
                self.running = False
        elif key == pygame.K_SPACE:
            p.toggle_play()
        elif key in (pygame.K_RIGHT, pygame.K_PERIOD):
            p.next_message() if shift and key == pygame.K_RIGHT else p.next_event()
        elif key in (pygame.K_LEFT, pygame.K_COMMA):
            p.prev_message() if shift and key == pygame.K_LEFT else p.prev_event()
        elif key == pygame.K_HOME:
            p.home()
        elif key == pygame.K_END:
            p.go_end()
        elif key in (pygame.K_PLUS, pygame.K_KP_PLUS, pygame.K_EQUALS) or char == "+":
            p.faster()
        elif key in (pygame.K_MINUS, pygame.K_KP_MINUS) or char == "-":
            p.slower()
        elif key == pygame.K_w:
            p.zoom(ZOOM_STEP)
        elif key == pygame.K_s:
            p.zoom(1 / ZOOM_STEP)
        elif key == pygame.K_a:
            p.pan(-PAN_STEP)
        elif key == pygame.K_d:
            p.pan(PAN_STEP)
        elif key == pygame.K_f:
            p.fit()
        elif key in (pygame.K_0, pygame.K_KP0):
            scene.view = ALL
        elif pygame.K_1 <= key <= pygame.K_9 or pygame.K_KP1 <= key <= pygame.K_KP9:
            n = key - (pygame.K_1 if key <= pygame.K_9 else pygame.K_KP1)
            if n < len(scene.runs):
                scene.view, scene.focus = ONE, n
            else:
                self.flash(f"there are {len(scene.runs)} runs (keys 1-{len(scene.runs)})")
        elif key == pygame.K_c:
            scene.view = ALL if scene.view == COMPARE else COMPARE
        elif key == pygame.K_t:
            p.toggle_axis()
        elif key == pygame.K_TAB:
            self.cycle_scenario(-1 if shift else 1)
        elif key == pygame.K_r:
            p.restart()
        elif key == pygame.K_l:
            scene.labels = not scene.labels
        elif key == pygame.K_p:
            self.screenshot()
        elif key == pygame.K_h or char == "?" or (key == pygame.K_SLASH and shift):
            scene.help = not scene.help

    # -- frames -------------------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """Nothing moves until a key is pressed: paused, no message fading, nothing loading."""
        return not self.scene.player.playing and self._flash_left <= 0 and self._pending is None

    def frame(self, surface: pygame.Surface, seconds: float) -> None:
        """Advance the playback by ``seconds`` of wall-clock time and draw one frame."""
        self.surface = surface
        self.scene.player.tick(seconds)
        if self._flash_left > 0:
            self._flash_left -= seconds
            if self._flash_left <= 0:
                self.scene.flash = ""
        self.renderer.draw(surface, self.scene)
        if self._pending is not None:
            name, self._pending = self._pending, None
            self._load(name)

    def _load(self, name: str) -> None:
        view = self.scene.view
        try:
            self.show_traces([self.loader(name)])  # type: ignore[misc]
        except Exception as exc:  # noqa: BLE001 - a scenario that fails must not close the window
            self.flash(f"cannot load {name}: {exc}")
            return
        self.scene.view = view if view != ONE else ALL
        self.flash(f"scenario {name}")

    def pump(self, surface: pygame.Surface, frames: int, seconds: float = 1 / FPS) -> None:
        """Handle queued events and draw ``frames`` frames, each ``seconds`` apart in playback
        time, without waiting: what the window does, minus the clock."""
        for _ in range(frames):
            for event in pygame.event.get():
                self.handle(event)
            if not self.running:
                return
            self.frame(surface, seconds)

    def run(self, size: tuple[int, int] = (1280, 720)) -> int:
        pygame.display.init()
        try:
            pygame.display.set_caption("iosim")
            window = pygame.display.set_mode(size, pygame.RESIZABLE)
            pygame.key.set_repeat(350, 40)
            clock = pygame.time.Clock()
            self.scene.player.playing = True
            seconds = 0.0
            while self.running:
                was_idle = self.idle
                if was_idle:  # a paused window sleeps instead of drawing 60 frames a second
                    event = pygame.event.wait(IDLE_WAIT_MS)
                    if event.type == pygame.NOEVENT:
                        continue  # nothing happened: the frame on the screen still holds
                    self.handle(event)
                for event in pygame.event.get():
                    self.handle(event)
                if not self.running:
                    break
                self.frame(pygame.display.get_surface() or window, seconds)
                pygame.display.flip()
                elapsed = clock.tick(FPS) / 1000.0
                seconds = 0.0 if was_idle else elapsed  # playing again: no jump by the wait
        except KeyboardInterrupt:
            print("iosim: interrupted", file=sys.stderr)
            return 130
        finally:
            pygame.display.quit()
        return 0
