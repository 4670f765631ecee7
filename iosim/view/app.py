"""The window and its event loop: keys change the player and the scene, every frame is drawn
by the Renderer. ``App.pump`` runs a bounded number of frames without sleeping, for tests."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pygame

from iosim import scenario as scenario_mod
from iosim.errors import UserError
from iosim.files import safe_name
from iosim.scenario import Scenario
from iosim.trace import Trace
from iosim.view.canvas import Canvas
from iosim.view.draw import Renderer
from iosim.view.hit import counter_at, hit
from iosim.view.layout import Screen, Viewport
from iosim.view.lesson_mode import LessonMode, lesson_key
from iosim.view.predict_mode import PredictMode
from iosim.view.resim import Resimulation, carried_over
from iosim.view.scale import automatic, effective, logical_size, step, to_logical
from iosim.view.scene import ALL, COMPARE, ONE, Scene, make_scene
from iosim.view.whatif import MODELS_ROW, WhatIf, panel_hit, panel_layout

DEFAULT_SIZE = (1280, 720)
FLASH_SECONDS = 5.0
FPS = 60
IDLE_WAIT_MS = 250  # paused: how long one wait for an event lasts (a bound, not a delay)
ZOOM_STEP = 1.5
PAN_STEP = 0.2


def _digit(key: int) -> int | None:
    """0 for the key 1, ... 8 for the key 9 (top row or keypad); None for another key."""
    if pygame.K_1 <= key <= pygame.K_9:
        return key - pygame.K_1
    if pygame.K_KP1 <= key <= pygame.K_KP9:
        return key - pygame.K_KP1
    return None


class App:
    """Holds the scene and reacts to keys and the mouse. ``simulator`` turns a scenario into a
    Trace (for Tab / Shift+Tab and the what-if panel), so the view itself never imports the
    simulator."""

    def __init__(self, traces: Sequence[Trace],
                 simulator: Callable[[Scenario], Trace] | None = None,
                 scenarios: Sequence[str] = (), screenshot_dir: Path | None = None,
                 scene: Scene | None = None, scenario: Scenario | None = None,
                 lesson: LessonMode | None = None, scale: float | None = None) -> None:
        self.traces = list(traces)
        self.scene = scene or make_scene(self.traces)
        self.lesson = lesson  # a lesson's moments, PgDn / PgUp between them
        self.simulator = simulator
        self.scenario = scenario  # the scenario behind the shown runs (None: saved traces)
        self.scenarios = list(scenarios)
        # a re-simulation under way (what-if): its trace and scene, made off the drawing thread
        self.resim = Resimulation(simulator)
        self.screenshot_dir = screenshot_dir or Path.cwd()
        self.renderer = Renderer()
        self.canvas = Canvas(self.renderer)
        self.asked_scale = scale  # None: automatic for the window's size (scale.py)
        self.presenting: bool | None = None  # P's choice, kept over scenes; None: the scene's
        self.running = True
        self.surface: pygame.Surface | None = None
        self._flash_left = 0.0
        self._pending: str | None = None
        self.drag: str | None = None  # "seek", "overview" or "pan" while a button is held
        self._drag_from: tuple[int, tuple[float, float]] = (0, (0.0, 1.0))
        self.last_screenshot: Path | None = None

    # -- state changes ------------------------------------------------------------------------

    def flash(self, text: str) -> None:
        self.scene.flash = text
        self._flash_left = FLASH_SECONDS

    def show_traces(self, traces: Sequence[Trace]) -> None:
        self.traces = list(traces)
        self.scene = make_scene(self.traces)

    def cycle_scenario(self, step: int) -> None:
        if not self.simulator or not self.scenarios:
            self.flash("Tab cycles the built-in scenarios (not available here)")
            return
        current = self.traces[0].scenario if len(self.traces) == 1 else ""
        k = self.scenarios.index(current) if current in self.scenarios else -1
        name = self.scenarios[(k + step) % len(self.scenarios)]
        self._pending = name
        self.flash(f"loading {name} …")

    def screenshot(self) -> Path:
        scenario = safe_name(self.traces[0].scenario) if self.traces else "iosim"
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
            self._rehover()
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button in (1, 3):
            shift = bool(pygame.key.get_mods() & pygame.KMOD_SHIFT)
            self.press(self.logical_pos(event.pos), pan=event.button == 3 or shift)
        elif event.type == pygame.MOUSEBUTTONUP and event.button in (1, 3):
            self.drag = None
        elif event.type == pygame.MOUSEMOTION:
            self.motion(self.logical_pos(event.pos))
        elif event.type == pygame.MOUSEWHEEL:
            self.wheel(event.y)

    # -- the mouse ----------------------------------------------------------------------------

    def logical_pos(self, pos: tuple[int, int]) -> tuple[int, int]:
        """A window position on the frame as laid out (the one place the scale is undone)."""
        if self.surface is None:
            return pos
        return to_logical(pos, self.surface.get_size(), self.logical)

    def _where(self) -> tuple[Screen, Viewport]:
        screen = self.renderer.layout(self.logical, self.scene)
        p = self.scene.player
        return screen, Viewport(p.axis, p.window, screen.timeline[0], screen.timeline[2])

    def _time_at(self, screen: Screen, vp: Viewport, x: float) -> float:
        """The time under x: on the overview strip, to scale over the whole run."""
        ox, _, ow, _ = screen.overview
        if self.drag == "overview" and ow > 0:
            return (x - ox) / ow * self.scene.player.end
        return vp.time_at(min(max(x, vp.x0), vp.x0 + vp.width))

    def press(self, pos: tuple[int, int], pan: bool = False) -> None:
        """A click: on a run's name, its one-run view; on an arrival mark, follow that
        message; on the time axis or a lane, the playhead goes there (and follows a drag);
        with the right button or Shift, a drag pans. On the what-if panel: its buttons."""
        screen, vp = self._where()
        x, y = pos
        panel = self.scene.whatif
        if panel is not None and screen.pane is not None and \
                screen.pane[0] <= x < screen.pane[0] + screen.pane[2]:
            self._panel_click(panel, panel_hit(panel_layout(screen.pane), x, y))
            return
        if self.scene.view == COMPARE:
            return
        h = hit(screen, self.scene.runs, vp, x, y)
        if pan and h.what in ("axis", "lane"):
            self.drag = "pan"
            self._drag_from = (x, self.scene.player.window)
        elif h.what == "name" and self.scene.view == ALL:
            self.show(ONE, h.run)
        elif h.message >= 0 and not self._ahead(h.run, h.event):
            self.follow_message(h.message)
        elif h.on_time:
            on_overview = screen.overview[1] <= y < screen.overview[1] + screen.overview[3]
            self.drag = "overview" if on_overview else "seek"
            self.scene.player.playing = False
            self._seek(self._time_at(screen, vp, x))

    def _seek(self, t: float) -> None:
        """The mouse moves the playhead; in predict mode, not past the next question."""
        mode, p = self.scene.predict, self.scene.player
        question = mode.pending(p.t) if mode is not None else None
        if question is not None and t > question.stop_at:
            t = max(question.stop_at, p.t)
        p.seek(t)

    def _panel_click(self, panel: WhatIf, hit_: tuple[str, int]) -> None:
        what, k = hit_
        if what == "model":
            panel.selected, panel.model_cursor = MODELS_ROW, k
            self.resimulate(panel.toggle_model())
        elif what in ("minus", "plus", "row"):
            panel.selected = k
            if what != "row":
                self.resimulate(panel.change(-1 if what == "minus" else 1))

    def motion(self, pos: tuple[int, int]) -> None:
        """Dragging seeks or pans; otherwise the span or instant under the pointer shows its
        details."""
        scene = self.scene
        scene.pointer = pos
        if scene.view == COMPARE:
            scene.hover = None
            return
        screen, vp = self._where()
        x, y = pos
        if self.drag in ("seek", "overview"):
            self._seek(self._time_at(screen, vp, x))
        elif self.drag == "pan":
            x0, (lo, hi) = self._drag_from
            shift = (x0 - x) / vp.scale
            scene.player.set_window(lo + shift, hi + shift)
        h = hit(screen, scene.runs, vp, x, y)
        scene.hover = (h.run, h.event) if h.event >= 0 and self.drag is None and \
            not self._ahead(h.run, h.event) else None
        scene.hover_counter = counter_at(scene.counter_spots, x, y)

    def _ahead(self, run: int, event: int) -> bool:
        """In predict mode, an event still to come: the mouse may not show it."""
        return self.scene.predict is not None and \
            self.scene.runs[run].run.t0[event] > self.scene.player.t

    def _rehover(self) -> None:
        """A key may change the view under a resting pointer: its details box then shows
        what is under the pointer now, or goes (never the old view's box over the new)."""
        scene = self.scene
        if scene.hover is None:
            return
        scene.hover = None
        if scene.view == COMPARE or self.drag is not None:
            return
        screen, vp = self._where()
        h = hit(screen, scene.runs, vp, *scene.pointer)
        if h.event >= 0:
            scene.hover = (h.run, h.event)

    def wheel(self, clicks: int) -> None:
        """The wheel zooms around the time under the pointer (up: in)."""
        if not clicks or self.scene.view == COMPARE:
            return
        screen, vp = self._where()
        x = self.scene.pointer[0]
        anchor = None
        if vp.x0 <= x <= vp.x0 + vp.width:
            anchor = vp.lo + (x - vp.x0) / vp.scale
        factor = ZOOM_STEP ** max(-5, min(5, clicks))
        self.scene.player.zoom(factor, anchor)

    def key(self, key: int, mod: int = 0, char: str = "") -> None:
        p = self.scene.player
        scene = self.scene
        shift = bool(mod & pygame.KMOD_SHIFT)
        mode = scene.predict
        if mod & pygame.KMOD_CTRL and self._scale_key(key, char):
            return
        if mode is not None and self._predict_key(mode, key, char):
            return
        if scene.whatif is not None and self._whatif_key(scene.whatif, key, mod):
            return
        if self.lesson is not None and self._lesson_key(self.lesson, key):
            return
        if key == pygame.K_ESCAPE:
            self.escape()
        elif key == pygame.K_q:
            self.running = False
        elif key == pygame.K_SPACE:
            if mode is not None:
                mode.moving_on()
            p.toggle_play()
        elif key in (pygame.K_RIGHT, pygame.K_PERIOD):
            if mode is not None:
                mode.moving_on()
                if mode.step(p):
                    return
            p.next_message() if shift and key == pygame.K_RIGHT else p.next_event()
        elif key in (pygame.K_LEFT, pygame.K_COMMA):
            p.prev_message() if shift and key == pygame.K_LEFT else p.prev_event()
        elif key == pygame.K_HOME:
            p.home()
        elif key == pygame.K_END:
            self.end()
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
            self.show(ALL)
        elif pygame.K_1 <= key <= pygame.K_9 or pygame.K_KP1 <= key <= pygame.K_KP9:
            n = key - (pygame.K_1 if key <= pygame.K_9 else pygame.K_KP1)
            if n < len(scene.runs):
                self.show(ONE, n)
            else:
                self.flash(f"there are {len(scene.runs)} runs (keys 1-{len(scene.runs)})")
        elif key == pygame.K_c:
            self.show(ALL if scene.view == COMPARE else COMPARE)
        elif key == pygame.K_t:
            p.toggle_axis()
        elif key == pygame.K_k:
            self.toggle_predict()
        elif key == pygame.K_e:
            self.toggle_whatif()
        elif key == pygame.K_v:
            scene.code = not scene.code
        elif key == pygame.K_i:
            self.toggle_state()
        elif key == pygame.K_RIGHTBRACKET or char == "]":
            self.follow(+1)
        elif key == pygame.K_LEFTBRACKET or char == "[":
            self.follow(-1)
        elif key == pygame.K_TAB:
            self.cycle_scenario(-1 if shift else 1)
        elif key == pygame.K_r:
            p.restart()
        elif key == pygame.K_l:
            scene.labels = not scene.labels
        elif key == pygame.K_p:
            self.presenting = not scene.presentation
            scene.presentation = self.presenting
        elif key == pygame.K_F12:
            self.screenshot()
        elif key == pygame.K_h or char == "?" or (key == pygame.K_SLASH and shift):
            scene.help = not scene.help

    def _scale_key(self, key: int, char: str) -> bool:
        """Ctrl+= or Ctrl++ bigger, Ctrl+- smaller, Ctrl+0 automatic, as in a browser; True
        when the key was one of them."""
        if key in (pygame.K_0, pygame.K_KP0):
            self.asked_scale = None
        elif key in (pygame.K_EQUALS, pygame.K_PLUS, pygame.K_KP_PLUS) or char in ("=", "+"):
            self.asked_scale = step(self.chosen_scale(), up=True)
        elif key in (pygame.K_MINUS, pygame.K_KP_MINUS) or char == "-":
            self.asked_scale = step(self.chosen_scale(), up=False)
        else:
            return False
        shown = self.scale_now()
        said = "automatic" if self.asked_scale is None else f"{self.asked_scale:g}"
        held = "" if self.asked_scale is None or shown >= self.chosen_scale() - 1e-6 else \
            f"; this window holds {shown:.2f} at most"
        self.flash(f"scale {said}: drawn at {shown:.2f}{held} (Ctrl+0: automatic)")
        return True

    def chosen_scale(self) -> float:
        """The scale asked for, or the automatic one for the window's size."""
        return self.asked_scale if self.asked_scale is not None else automatic(self.size)

    def scale_now(self) -> float:
        """The scale the next frame is drawn at."""
        return effective(self.size, self.asked_scale, self.scene.presentation)

    @property
    def size(self) -> tuple[int, int]:
        return self.surface.get_size() if self.surface is not None else DEFAULT_SIZE

    @property
    def logical(self) -> tuple[int, int]:
        """The size frames are laid out at: the window's divided by the scale."""
        return logical_size(self.size, self.scale_now())

    def _predict_key(self, mode: PredictMode, key: int, char: str) -> bool:
        """Keys that mean something else while a question is asked: 1-4 answer it; keys that
        would skip past the question are held back. True when the key was taken."""
        if mode.asked is None:
            return False
        digit = _digit(key)
        if digit is not None:
            if digit < len(mode.asked.choices):
                mode.answer(digit, self.scene.player)
            else:
                self.flash(f"answer with 1-{len(mode.asked.choices)}")
            return True
        if key in (pygame.K_SPACE, pygame.K_RIGHT, pygame.K_PERIOD, pygame.K_END):
            self.flash(f"first answer: what happens next? (1-{len(mode.asked.choices)})")
            return True
        return False

    def _lesson_key(self, mode: LessonMode, key: int) -> bool:
        """The lesson's keys (lesson_mode.py); True when the key was the lesson's."""
        taken = lesson_key(mode, self.scene, key)
        if isinstance(taken, Scene):
            self.traces = [mode.current.trace]
            self.scenario = mode.current.scenario
            self.scene = taken
        elif isinstance(taken, str):
            self.flash(taken)
        return taken is not False

    def end(self) -> None:
        """End: the whole run, the playhead at its end. In the comparison, first the whole
        of each column's cycle with the playhead kept where it is; End again goes to the
        end."""
        scene = self.scene
        if scene.view == COMPARE and not scene.whole:
            scene.whole = True
            scene.player.playing = False
            self.flash("the whole cycle of each column, faint after the playhead; End again "
                       "goes to the end")
            return
        scene.player.go_end()

    def show(self, view: str, focus: int | None = None) -> None:
        """Change the view; stepping follows it (the one-run view steps through its run)."""
        scene = self.scene
        scene.whole = False
        scene.view = view
        if focus is not None:
            scene.focus = focus
        scene.player.show_run(scene.focus if view == ONE else None)
        mode = scene.predict
        if mode is not None and (view != ONE or mode.run != scene.focus) and \
                (view != ALL or mode.run is not None):
            scene.predict = None

    def toggle_predict(self) -> None:
        """Predict mode on the shown run; beside all runs, on all of them (which model
        handles a message first?), or where they give no such question, on the run the
        caption speaks of."""
        scene = self.scene
        if scene.predict is not None:
            scene.predict = None
            self.flash("predict mode off")
            return
        mode = None
        if scene.view == ALL:
            mode = PredictMode.across([ri.run for ri in scene.runs])
            if not len(mode.quiz):
                mode = None
        if mode is None:
            if scene.view != ONE:
                self.show(ONE, scene.caption_run())
            mode = PredictMode.of(scene.focus, scene.runs[scene.focus].run)
        scene.predict = mode
        scene.player.playing = False
        self.flash(f"predict mode: {len(mode.quiz)} questions; Space or → plays on to the "
                   "next, 1-4 answer, K leaves")

    def toggle_state(self) -> None:
        """The state pane under the one-run view's timeline; beside all runs, I opens the
        one-run view of the run the caption speaks of."""
        scene = self.scene
        if scene.state_shown:
            scene.state = False
            return
        if scene.view != ONE:
            self.show(ONE, scene.caption_run())
        scene.state = True

    def follow(self, step: int) -> None:
        """Follow the next (+1) or previous (-1) message across every run."""
        count = self.scene.messages
        if not count:
            self.flash("no message to follow")
            return
        m = self.scene.follow
        m = (0 if step > 0 else count - 1) if m is None else min(max(m + step, 0), count - 1)
        self.follow_message(m)

    def follow_message(self, m: int) -> None:
        """Light message ``m`` in every run; the playhead goes to the moment its data is
        ready."""
        scene = self.scene
        count = scene.messages
        scene.follow = m
        ready = [ri.run.m_ready[m] for ri in scene.runs
                 if m < ri.run.message_count and ri.run.m_ready[m] == ri.run.m_ready[m]]
        if ready:
            scene.player.playing = False
            scene.player.seek(min(ready))
        self.flash(f"following message {m + 1} of {count} ([ and ] for another, Esc to stop)")

    def escape(self) -> None:
        """Esc closes what is open, one thing at a time: help, then following, then predict
        mode."""
        scene = self.scene
        if scene.help:
            scene.help = False
        elif scene.follow is not None:
            scene.follow = None
        elif scene.predict is not None:
            scene.predict = None

    # -- frames -------------------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """Nothing moves until a key is pressed: paused, no message fading, nothing loading
        or simulating."""
        return not self.scene.player.playing and self._flash_left <= 0 and \
            self._pending is None and not self.resim.busy

    def frame(self, surface: pygame.Surface, seconds: float) -> None:
        """Advance the playback by ``seconds`` of wall-clock time and draw one frame."""
        self.surface = surface
        self._collect()
        self.scene.player.tick(seconds)
        if self.scene.predict is not None:
            self.scene.predict.hold(self.scene.player)
        if self._flash_left > 0:
            self._flash_left -= seconds
            if self._flash_left <= 0:
                self.scene.flash = ""
        if self.presenting is not None:
            self.scene.presentation = self.presenting
        self.canvas.draw(surface, self.scene, self.scale_now(), self.busy)
        if self._pending is not None:
            name, self._pending = self._pending, None
            self._load(name)

    def _load(self, name: str) -> None:
        view = self.scene.view
        try:
            sc = scenario_mod.load(name)
            self.show_traces([self.simulator(sc)])  # type: ignore[misc]
        except Exception as exc:  # noqa: BLE001 - a scenario that fails must not close the window
            self.flash(f"cannot load {name}: {exc}")
            return
        self.scenario = sc
        self.scene.whatif = None
        self.show(view if view != ONE else ALL)
        self.flash(f"scenario {name}")

    # -- what if? -------------------------------------------------------------------------------

    def toggle_whatif(self) -> None:
        scene = self.scene
        if scene.whatif is not None:
            scene.whatif = None
            return
        if self.scenario is None or self.simulator is None:
            self.flash("what-if changes a scenario: open one (iosim show SCENARIO), not a "
                       "saved trace")
            return
        scene.whatif = WhatIf(self.scenario)

    def _whatif_key(self, panel: WhatIf, key: int, mod: int) -> bool:
        """The panel's keys; True when the key was the panel's."""
        big = bool(mod & pygame.KMOD_SHIFT)
        if key in (pygame.K_UP, pygame.K_DOWN):
            panel.select(-1 if key == pygame.K_UP else 1)
        elif key in (pygame.K_LEFT, pygame.K_RIGHT):
            self.resimulate(panel.change(-1 if key == pygame.K_LEFT else 1, big))
        elif key in (pygame.K_SPACE, pygame.K_RETURN) and panel.selected == MODELS_ROW:
            self.resimulate(panel.toggle_model())
        elif key == pygame.K_s and mod & pygame.KMOD_CTRL:
            self.save_whatif(panel)
        elif key in (pygame.K_e, pygame.K_ESCAPE):
            self.scene.whatif = None
        else:
            return False
        return True

    def save_whatif(self, panel: WhatIf) -> Path | None:
        try:
            path = panel.save(self.screenshot_dir)
        except UserError as exc:
            self.flash(str(exc))
            return None
        print(f"iosim: scenario saved to {path} (iosim sim {path} gives these runs)",
              flush=True)
        self.flash(f"saved {path}: iosim sim {path.name} gives these runs")
        return path

    def resimulate(self, sc: Scenario | None) -> None:
        """Simulate the changed scenario off the drawing thread (None: the panel refused the
        change, and says why)."""
        if sc is None:
            panel = self.scene.whatif
            if panel is not None and panel.error:
                self.flash(panel.error)
            return
        self.scenario = sc
        self.resim.submit(sc)

    def _collect(self) -> None:
        """A finished re-simulation replaces the runs in place."""
        result = self.resim.finished()
        if isinstance(result, Exception):
            self.flash(f"cannot simulate: {result}")
        elif result is not None:
            trace, scene = result
            self.traces = [trace]
            self.scene = carried_over(self.scene, trace, scene)

    @property
    def busy(self) -> str:
        return "simulating again …" if self.resim.busy else ""

    def pump(self, surface: pygame.Surface, frames: int, seconds: float = 1 / FPS) -> None:
        """Handle queued events and draw ``frames`` frames, each ``seconds`` apart in playback
        time, without waiting: what the window does, minus the clock."""
        for _ in range(frames):
            for event in pygame.event.get():
                self.handle(event)
            if not self.running:
                return
            self.frame(surface, seconds)

    def run(self, size: tuple[int, int] = DEFAULT_SIZE, play: bool = True) -> int:
        pygame.display.init()
        try:
            pygame.display.set_caption("iosim")
            window = pygame.display.set_mode(size, pygame.RESIZABLE)
            pygame.key.set_repeat(350, 40)
            clock = pygame.time.Clock()
            self.scene.player.playing = play
            seconds = 0.0
            drawn = False
            while self.running:
                was_idle = self.idle and drawn
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
                drawn = True
                elapsed = clock.tick(FPS) / 1000.0
                seconds = 0.0 if was_idle else elapsed  # playing again: no jump by the wait
        except KeyboardInterrupt:
            print("iosim: interrupted", file=sys.stderr)
            return 130
        finally:
            self.resim.shutdown()
            pygame.display.quit()
        return 0
