"""Draws the pictures of the README and docs/window.md: `python docs/make_pictures.py`
(`python docs/make_pictures.py state`: the state pane's only).

Each picture is a state of the window reached as a student would reach it (keys and the
mouse's actions through the App), drawn headless at 1280x720.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame  # noqa: E402
from PIL import Image  # noqa: E402

from iosim import scenario  # noqa: E402
from iosim.lesson import lesson as lesson_mod  # noqa: E402
from iosim.lesson.prepare import ready  # noqa: E402
from iosim.sim.run import simulate  # noqa: E402
from iosim.view.app import App  # noqa: E402
from iosim.view.handout import Pages  # noqa: E402
from iosim.view.lesson_mode import LessonMode  # noqa: E402
from iosim.view.scene import ALL, COMPARE, ONE  # noqa: E402

HERE = Path(__file__).resolve().parent
SIZE = (1280, 720)
# model -> the scenario whose first message its pictures follow
SCENARIOS = {"blocking": "one-datagram", "nonblocking": "one-datagram",
             "select": "one-datagram", "poll": "many-clients", "epoll": "many-clients",
             "sigio": "one-datagram", "aio": "one-datagram", "threaded": "many-clients"}


def app_for(name: str, models: list[str] | None = None) -> App:
    sc = scenario.load(name)
    return App([simulate(sc, models)], simulator=simulate, scenario=sc)


def save(app: App, path: Path) -> None:
    surface = pygame.Surface(SIZE)
    app.scene.flash = ""
    app.renderer.draw(surface, app.scene, app.busy)
    pygame.image.save(surface, str(path))
    print(f"wrote {path.relative_to(HERE.parent)}")


def model_pictures() -> None:
    folder = HERE / "models"
    folder.mkdir(exist_ok=True)
    for model, name in SCENARIOS.items():
        app = app_for(name, [model])
        app.show(ONE, 0)
        run = app.scene.runs[0].run
        first = min(range(run.message_count), key=lambda m: run.m_ready[m])
        wait = run.m_ready[first] / 2  # phase 1: half way through the first wait
        copy = (run.m_copy_start[first] + run.m_copy_end[first]) / 2  # phase 2
        for tag, t in (("wait", wait), ("copy", copy)):
            app.scene.player.seek(t)
            save(app, folder / f"{model}-{tag}.png")


def predict_pictures() -> None:
    """select's third question (the datagram arrives while it sleeps in select), then the
    reveal of the usual confusion: that select hands over the data."""
    app = app_for("one-datagram")
    app.show(ONE, 2)
    app.toggle_predict()
    mode = app.scene.predict
    player = app.scene.player
    for _ in range(2):  # the count of calls, then what select does: answered right
        mode.step(player)
        mode.answer(mode.asked.answer, player)
        mode.moving_on()
    mode.step(player)
    save(app, HERE / "predict-question.png")
    wrong = next(k for k, choice in enumerate(mode.asked.choices) if "copied" in choice)
    mode.answer(wrong, player)
    save(app, HERE / "predict-reveal.png")


def other_pictures() -> None:
    app = app_for("one-datagram")
    app.scene.player.seek(20100.0)
    save(app, HERE / "view-all.png")
    app.show(COMPARE)
    app.scene.player.seek(20145.0)
    save(app, HERE / "view-compare.png")
    app = app_for("burst")
    app.show(ALL)
    app.scene.player.toggle_axis()
    app.follow_message(26)
    app.scene.player.seek(app.scene.player.t + 400.0)
    save(app, HERE / "follow-burst.png")
    app = app_for("big-copy")
    app.scene.player.seek(4000.0)
    save(app, HERE / "big-copy-scale.png")
    app = app_for("many-clients")
    app.scene.player.seek(12000.0)
    app.toggle_whatif()
    save(app, HERE / "whatif.png")


def lesson_pictures() -> None:
    """A moment of the five-models lesson in the window (its answer revealed, the presenter's
    line shown), and the handout's page for select (at two thirds of its size)."""
    lesson = lesson_mod.load("five-models")
    mode = LessonMode(lesson, ready(lesson, simulate))
    compare = next(k for k, r in enumerate(mode.moments) if r.view == "compare")
    app = App([mode.moments[compare].trace], simulator=simulate, scene=mode.scene(compare),
              lesson=mode)
    app.key(pygame.K_RETURN)
    save(app, HERE / "lesson-slide.png")
    page = Pages(simulate).page("select")
    w, h = page.get_size()
    pygame.image.save(pygame.transform.smoothscale(page, (w * 2 // 3, h * 2 // 3)),
                      str(HERE / "handout-select.png"))
    print("wrote docs/handout-select.png")


def scaled_picture() -> None:
    """Presentation mode (P) in a 1920x1080 window, drawn as the window draws it: laid out at
    1024x576 and scaled up by 1.875."""
    app = app_for("one-datagram")
    app.show(ONE, 2)
    app.key(pygame.K_p)
    app.scene.player.seek(20100.0)
    surface = pygame.Surface((1920, 1080))
    app.frame(surface, 0.0)
    image = Image.frombytes("RGB", surface.get_size(), pygame.image.tobytes(surface, "RGB"))
    image.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(
        HERE / "presentation-1920x1080.png", optimize=True)
    print("wrote docs/presentation-1920x1080.png")


# The state pane (I): name -> scenario, run number, time in ms
STATE_PICTURES = {
    "blocking": ("many-clients", 1, 12.5),  # asleep on fd 3 while fd 4-6 hold data
    "select": ("many-clients", 4, 16.145),  # the fd_set in and out
    "poll": ("c10k", 2, 12.0),  # 10,100 pollfds, copied in and checked every call
    "epoll": ("burst", 6, 2.2),  # interest list, ready list, the callback
    "sigio": ("burst", 7, 2.3),  # one pending bit for many arrivals
    "aio": ("one-datagram", 5, 20.1),  # the read complete in buf, aio_return to come
    "threaded": ("many-clients", 2, 12.1),  # each thread's state
    "send-side": ("send-side", 4, 4.2),  # a full send buffer, EPOLLOUT asked while a reply waits
    "edge-triggered": ("edge-triggered", 2, 5.0),  # 3,072 bytes queued, not reported again
}


def state_pictures(only: list[str] | None = None) -> None:
    for tag, (name, number, ms) in STATE_PICTURES.items():
        if only and tag not in only:
            continue
        app = app_for(name)
        app.show(ONE, number - 1)
        app.toggle_state()
        app.scene.player.seek(ms * 1000.0)
        save(app, HERE / f"state-{tag}.png")


def main() -> int:
    pygame.font.init()
    if sys.argv[1:2] == ["state"]:
        state_pictures(sys.argv[2:])
        return 0
    model_pictures()
    predict_pictures()
    other_pictures()
    lesson_pictures()
    scaled_picture()
    state_pictures()
    return 0


if __name__ == "__main__":
    sys.exit(main())
