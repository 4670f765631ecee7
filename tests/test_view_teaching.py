"""The window teaches: predict mode driven by posted keys, the code pane's lit line moving
with the playhead (pixels), prepared states and step pictures from the command line."""

import pygame
import pytest

from iosim.cli import main
from iosim.teach.predict import Quiz
from iosim.teach.programs import program
from iosim.view.app import App
from iosim.view.draw_code import LIT, code_layout
from iosim.view.scene import ALL, ONE


def press(app, surface, key, mod=0, char=""):
    pygame.event.clear()
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=mod, unicode=char))
    app.pump(surface, 1)


DIGITS = [pygame.K_1, pygame.K_2, pygame.K_3, pygame.K_4]


def test_predict_mode_asks_before_each_event_and_keeps_the_score(one_datagram, display):
    """K on run 3 (select): → stops before the next significant event and asks; a wrong
    answer and a right one are counted; every question has the true event once."""
    app = App([one_datagram])
    press(app, display, pygame.K_3)
    press(app, display, pygame.K_k)
    mode = app.scene.predict
    assert mode is not None and (app.scene.view, app.scene.focus) == (ONE, 2)
    press(app, display, pygame.K_RIGHT)
    asked = mode.asked
    assert asked is not None and 3 <= len(asked.choices) <= 4
    truth = asked.choices[asked.answer]
    assert asked.choices.count(truth) == 1
    assert app.scene.player.t == pytest.approx(asked.stop_at)
    press(app, display, pygame.K_RIGHT)  # no skipping past a question
    assert mode.asked is asked and app.scene.player.t == pytest.approx(asked.stop_at)
    texts = []
    app.renderer.text.record = texts
    app.scene.flash = ""
    app.frame(display, 0.0)
    caption = [t for t, rect, _ in texts if rect.top >= 634]  # the caption bar's lines
    assert caption and not any(t.startswith("next") for t in caption)
    assert not any(" ms)" in t or " µs)" in t for t in caption)  # no span's length
    app.renderer.text.record = None
    wrong = next(k for k in range(len(asked.choices)) if k != asked.answer)
    press(app, display, DIGITS[wrong])
    assert mode.asked is None and mode.reveal is not None and not mode.reveal.right
    assert mode.reveal.why and app.scene.player.t == pytest.approx(asked.event_t)
    assert mode.score == (0, 1)
    press(app, display, pygame.K_RIGHT)
    second = mode.asked
    assert second is not None and second.event_t > asked.event_t
    press(app, display, DIGITS[second.answer])
    assert mode.reveal.right and mode.score == (1, 1)
    press(app, display, pygame.K_k)
    assert app.scene.predict is None


def test_predict_mode_plays_until_the_next_question(one_datagram, display):
    app = App([one_datagram])
    press(app, display, pygame.K_2)
    press(app, display, pygame.K_k)
    mode = app.scene.predict
    first = Quiz(one_datagram.runs[1]).question_after(0.0)
    press(app, display, pygame.K_SPACE)
    app.pump(display, 200)  # playing: it stops by itself at the question
    assert mode.asked is not None and mode.asked.event_t == first.event_t
    assert not app.scene.player.playing


def test_predict_mode_beside_all_runs_asks_across_them(one_datagram, display):
    """K beside all runs: which model handles the datagram first, asked when it is ready;
    with too few runs for that, the run the caption speaks of."""
    app = App([one_datagram])
    assert app.scene.view == ALL
    press(app, display, pygame.K_k)
    mode = app.scene.predict
    assert app.scene.view == ALL and mode is not None and mode.run is None
    press(app, display, pygame.K_RIGHT)
    asked = mode.asked
    assert asked is not None and asked.kind == "first"
    assert app.scene.player.t == pytest.approx(one_datagram.runs[0].m_ready[0])
    press(app, display, DIGITS[asked.answer])
    assert mode.reveal.right and app.scene.player.t == pytest.approx(asked.event_t)
    two = App([one_datagram.__class__(one_datagram.scenario, one_datagram.title,
                                      one_datagram.protocol, one_datagram.runs[:2])])
    press(two, display, pygame.K_k)
    assert two.scene.view == ONE and two.scene.predict is not None
    assert two.scene.predict.run == two.scene.focus


def lit_rows(surface, pane):
    """The y of the rows painted with the lit line's colour in the code pane."""
    x = pane[0] + 30
    return sorted({y - (y - pane[1]) % 2 for y in range(pane[1], pane[1] + pane[3])
                   if tuple(surface.get_at((x, y)))[:3] == LIT})


def test_the_lit_code_line_moves_with_the_playhead(one_datagram, display):
    """select: blocked in select before the datagram is ready, in recvfrom during the copy:
    the lit row moves down the program."""
    app = App([one_datagram])
    press(app, display, pygame.K_3)
    run = one_datagram.runs[2]
    screen = app.renderer.layout(display.get_size(), app.scene)
    app.scene.player.seek(10_000.0)
    app.frame(display, 0.0)
    in_select = lit_rows(display, screen.pane)
    app.scene.player.seek((run.m_copy_start[0] + run.m_copy_end[0]) / 2)
    app.frame(display, 0.0)
    in_recv = lit_rows(display, screen.pane)
    assert in_select and in_recv and min(in_recv) > max(in_select)
    prog = program("select")
    assert prog.keys["recvfrom"] > prog.keys["select"]


def test_the_code_fits_the_pane_at_every_size(one_datagram):
    from iosim.view.layout import pane_width
    from iosim.view.theme import Text
    text = Text()
    for model in ("blocking", "nonblocking", "select", "poll", "epoll", "sigio", "aio",
                  "threaded"):
        prog = program(model)
        for width, height in ((1024, 600), (1280, 720), (1920, 1080)):
            inner = pane_width(width, False) - 24
            assert code_layout(text, prog, inner, height - 250) is not None, (model, width)


def test_show_and_render_refuse_a_bad_state(tmp_path, capsys):
    assert main(["render", "one-datagram", "--view", "9", "-o", str(tmp_path / "x.png")]) == 2
    assert "there are 5 runs" in capsys.readouterr().err


def test_render_steps_writes_a_picture_per_event_of_the_shown_run(one_datagram, tmp_path,
                                                                  capsys):
    folder = tmp_path / "steps"
    assert main(["render", "one-datagram", "--view", "1", "--steps", str(folder),
                 "--size", "640x360"]) == 0
    blocking = one_datagram.runs[0]
    times = sorted({0.0, *blocking.t0, *blocking.t1, blocking.end_us})
    pictures = sorted(folder.glob("step-*.png"))
    assert len(pictures) == len(times)
    assert pictures[0].name == "step-0001.png"
    assert pygame.image.load(str(pictures[-1])).get_size() == (640, 360)
    captured = capsys.readouterr()
    assert f"wrote {len(times)} pictures" in captured.out
    assert f"rendering picture {len(times)}/{len(times)}" in captured.err
    assert main(["render", "one-datagram", "--steps", str(tmp_path / "m"), "--per",
                 "message", "--size", "640x360"]) == 0
    assert len(list((tmp_path / "m").glob("*.png"))) == 1
