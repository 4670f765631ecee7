"""Slides and handout, headless: ``render --lesson`` writes a PDF of a page per moment (read
back: its pages counted) or a folder of PNGs whose pixels show the moment; ``render --handout``
a page per model; ``--fit`` and ``--clean``; every refusal is one line and exit status 2."""

from __future__ import annotations

from pathlib import Path

import pygame
import pytest
from PIL import Image, PdfParser

from iosim import scenario
from iosim.cli import main
from iosim.lesson import lesson as lesson_mod
from iosim.lesson.prepare import ready
from iosim.scenario import SIM_MODELS
from iosim.sim.run import simulate
from iosim.trace import Kind
from iosim.view import theme
from iosim.view.draw import Renderer
from iosim.view.draw_chrome import HINTS
from iosim.view.layout import Viewport
from iosim.view.lesson_mode import moment_scene
from iosim.view.render import Look, prepare
from iosim.view.scale import effective, logical_size

LESSON = """title = "Two moments"

[[moments]]
title = "Blocking, half way through the wait"
scenario = "one-datagram"
view = "blocking"
at_ms = 10
question = "Is it running?"
answer = "No: it sleeps in recvfrom."

[[moments]]
scenario = "one-datagram"
view = "compare"
"""


def pages(path: Path) -> int:
    return len(PdfParser.PdfParser(str(path)).pages)


def test_slides_pdf_has_a_page_per_moment(tmp_path: Path, capsys) -> None:
    out = tmp_path / "slides.pdf"
    assert main(["render", "--lesson", "five-models", "-o", str(out)]) == 0
    moments = lesson_mod.load("five-models").moments
    assert pages(out) == len(moments)
    assert f"({len(moments)} slides)" in capsys.readouterr().out
    questions = sum(1 for m in moments if m.question)
    assert main(["render", "--lesson", "five-models", "--answers", "-o", str(out)]) == 0
    assert pages(out) == len(moments) + questions


def test_slide_pngs_show_their_moment(tmp_path: Path) -> None:
    """The first slide: the playhead (ink) at 10 ms, the wait for data (orange) left of it in
    the kernel lane, no key hints; the question posed."""
    lesson_file = tmp_path / "two.toml"
    lesson_file.write_text(LESSON)
    out = tmp_path / "slides"
    assert main(["render", "--lesson", str(lesson_file), "-o", str(out), "--scale", "1"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["slide-01.png", "slide-02.png"]
    image = Image.open(out / "slide-01.png").convert("RGB")
    assert image.size == (1280, 720)
    moment = ready(lesson_mod.load(str(lesson_file)), simulate)[0]
    scene = moment_scene(moment, "")
    renderer = Renderer()
    screen = renderer.layout(image.size, scene)
    p = scene.player
    vp = Viewport(p.axis, p.window, screen.timeline[0], screen.timeline[2])
    run = scene.runs[0].run
    wait = next(i for i in range(len(run)) if run.kind[i] == Kind.WAIT)
    head_x = round(vp.x(10_000.0))
    kernel = screen.bands[0].kernel.box
    y = kernel[1] + kernel[3] // 2
    assert image.getpixel((head_x, y)) == theme.INK
    assert image.getpixel((int(vp.x(run.t0[wait]) + 3), kernel[1] + 3)) == theme.WAIT
    assert screen.question[3] > 0 and screen.hints[3] == 0
    qx, qy = screen.question[0] + 8, screen.question[1] + 4  # the question box's frame
    assert image.getpixel((qx + 100, qy)) == theme.ARROW_INK


def test_the_handout_has_a_page_per_model(tmp_path: Path, capsys) -> None:
    out = tmp_path / "handout.pdf"
    assert main(["render", "--handout", "-o", str(out)]) == 0
    assert pages(out) == len(SIM_MODELS)
    assert f"({len(SIM_MODELS)} pages, one per IO model)" in capsys.readouterr().out


def test_fit_shows_the_whole_run_and_clean_drops_the_hints(tmp_path: Path) -> None:
    traces = [simulate(scenario.load("many-clients"))]
    zoomed = prepare(traces, "all", None, 3.0)
    fitted = prepare(traces, "all", None, 3.0, Look(fit=True))
    length = fitted.player.axis.length
    assert zoomed.player.window[1] - zoomed.player.window[0] < length  # the window's default
    assert fitted.player.window == (0.0, length) and fitted.player.t == 3000.0
    clean = prepare(traces, "all", None, 3.0, Look(clean=True))
    renderer = Renderer()
    drawn: list = []
    renderer.text.record = drawn
    surf = pygame.Surface((1280, 720))
    renderer.draw(surf, clean)
    assert not any(t in HINTS for t, _, _ in drawn)
    assert renderer.layout((1280, 720), clean).hints[3] == 0
    out = tmp_path / "fit.png"
    assert main(["render", "many-clients", "--at", "3", "--fit", "--clean", "-o",
                 str(out)]) == 0
    assert Image.open(out).size == (1280, 720)


@pytest.mark.parametrize("args,expected", [
    (["--lesson", "c10k", "-o", "x.png"], "slides go into a PDF (-o slides.pdf) or a folder"),
    (["--lesson", "c10k", "one-datagram", "-o", "x.pdf"], "takes no SCENARIO|TRACE"),
    (["--lesson", "c10k", "--at", "3", "-o", "x.pdf"], "--at cannot be used with it"),
    (["--lesson", "c10k"], "say where to write: -o slides.pdf"),
    (["--lesson", "nosuch", "-o", "x.pdf"], "nosuch: no such file or built-in lesson"),
    (["--handout", "-o", "h.png"], "the handout is a PDF"),
    (["--handout", "--size", "800x600", "-o", "h.pdf"], "--size cannot be used with it"),
    (["--handout", "--lesson", "c10k", "-o", "h.pdf"], "--lesson or --handout, not both"),
    (["one-datagram", "--answers", "-o", "x.png"], "--answers goes with --lesson"),
    ([], "name a scenario or trace to draw"),
])
def test_render_refusals_are_one_line(tmp_path, capsys, monkeypatch, args, expected) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["render", *args]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())  # nothing written, nothing half-written


def test_an_unwritable_output_is_said_before_any_work(tmp_path, capsys) -> None:
    missing = tmp_path / "no" / "slides.pdf"
    assert main(["render", "--lesson", "c10k", "-o", str(missing)]) == 2
    assert "no such directory" in capsys.readouterr().err


@pytest.fixture(scope="module")
def builtin_moments():
    return {name: ready(lesson_mod.load(name), simulate) for name in lesson_mod.builtin_names()}


@pytest.mark.parametrize("size", [(1024, 600), (1920, 1080)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_slide_is_whole_at_every_size(builtin_moments, size) -> None:
    """Every moment of the built-in lessons in the window, its answer revealed and the
    presenter's line shown (all a slide draws and more), at the smallest and the largest
    size, laid out as the window lays a slide out there (a quarter bigger): no text leaves its
    room or is cut."""
    bad = []
    surf = pygame.Surface(logical_size(size, effective(size, None, presentation=True)))
    renderer = Renderer()
    for name, moments in builtin_moments.items():
        for k, r in enumerate(moments):
            scene = moment_scene(r, f"moment {k + 1} of {len(moments)}", window=True)
            scene.slide.revealed = scene.slide.notes_shown = True
            renderer.text.record = []
            renderer.draw(surf, scene)
            bad += [(name, k + 1, text, tuple(rect), tuple(room))
                    for text, rect, room in renderer.text.record
                    if "…" in text or not room.inflate(2, 2).contains(rect)]
    assert not bad, bad[:10]
