"""Nothing is silently cut: every text any view draws, for every built-in scenario, at the
three sizes people use (and the GIF's default), stays inside the room it was given and is
whole (no "…")."""

import pygame
import pytest

from iosim import scenario
from iosim.sim.run import simulate
from iosim.view.app import make_scene
from iosim.view.draw import Renderer
from iosim.view.scene import ALL, COMPARE, ONE

SIZES = [(1024, 600), (1280, 720), (1920, 1080), (960, 540)]


@pytest.fixture(scope="module")
def traces():
    return {name: simulate(scenario.load(name)) for name in scenario.builtin_names()}


def views(count):
    return [(ALL, 0), (COMPARE, 0)] + [(ONE, k) for k in range(count)]


def drawn_texts(trace, size, view, focus, fraction, follow=None):
    scene = make_scene([trace])
    scene.view, scene.focus = view, focus
    scene.player.show_run(focus if view == ONE else None)
    scene.player.seek(scene.player.end * fraction)
    scene.follow = follow
    renderer = Renderer()
    renderer.text.record = []
    surface = pygame.Surface(size)
    renderer.draw(surface, scene)
    return renderer.text.record


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_no_label_leaves_its_room_or_is_cut(traces, size):
    bad = []
    count = 0
    for name, trace in traces.items():
        for view, focus in views(len(trace.runs)):
            for fraction in (0.5, 1.0):
                for text, rect, room in drawn_texts(trace, size, view, focus, fraction):
                    count += 1
                    if "…" in text or not room.inflate(2, 2).contains(rect):
                        bad.append((name, view, focus, fraction, text, tuple(rect),
                                    tuple(room)))
    assert count > 1000
    assert not bad, bad[:10]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_state_pane_is_whole(traces, size):
    """Every run's one-run view with the state pane (the I key), at moments spread over the
    run: every text of the pane and around it stays in its room."""
    bad = []
    count = 0
    renderer = Renderer()
    surface = pygame.Surface(size)
    for name, trace in traces.items():
        scene = make_scene([trace])
        scene.view, scene.state = ONE, True
        for focus in range(len(trace.runs)):
            scene.focus = focus
            scene.player.show_run(focus)
            for fraction in (0.02, 0.3, 0.6, 1.0):
                scene.player.seek(scene.player.end * fraction)
                renderer.text.record = []
                renderer.draw(surface, scene)
                for text, rect, room in renderer.text.record:
                    count += 1
                    if "…" in text or not room.inflate(2, 2).contains(rect):
                        bad.append((name, focus, fraction, text, tuple(rect), tuple(room)))
    assert count > 1000
    assert not bad, bad[:10]


@pytest.mark.parametrize("size", SIZES[:3], ids=lambda s: f"{s[0]}x{s[1]}")
def test_counters_and_legend_are_whole(traces, size):
    """The default scenario: every run's six counters and every legend entry are drawn."""
    texts = [t for t, _, _ in drawn_texts(traces["one-datagram"], size, ALL, 0, 1.0)]
    joined = " | ".join(texts)
    for word in ("calls", "handled", "blocked", "own work"):
        assert joined.count(word) >= len(traces["one-datagram"].runs), (word, joined)
    for entry in ("wait for data", "data ready, not copied", "copy to user", "blocked",
                  "in a system call", "own work", "processing data", "signal handler",
                  "signal delivery"):
        assert entry in texts, entry


@pytest.mark.parametrize("size", SIZES[:3], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_panels_and_predict_mode_are_whole_too(traces, size):
    """The what-if panel (with a refusal showing), predict mode's question and the code pane
    beside all runs stay in their rooms."""
    from iosim.view.predict_mode import PredictMode
    from iosim.view.whatif import WhatIf

    trace = traces["many-clients"]
    bad = []
    for state in ("whatif", "predict", "code"):
        scene = make_scene([trace])
        scene.player.seek(scene.player.end / 2)
        if state == "whatif":
            scene.whatif = WhatIf(scenario.load("many-clients"))
            scene.whatif.error = "connections.sends: a UDP datagram holds at most 65,507 " \
                                 "bytes, not 102400"
        elif state == "predict":
            scene.view, scene.focus = ONE, 3
            scene.player.show_run(3)
            scene.predict = PredictMode.of(3, trace.runs[3])
            scene.predict.step(scene.player)
            assert scene.predict.asked is not None
        else:
            scene.code = True
        renderer = Renderer()
        renderer.text.record = []
        renderer.draw(pygame.Surface(size), scene)
        bad += [(state, t, tuple(r), tuple(room)) for t, r, room in renderer.text.record
                if "…" in t or not room.inflate(2, 2).contains(r)]
        texts = " | ".join(t for t, _, _ in renderer.text.record)
        if state == "predict":
            assert "What happens next" in texts
    assert not bad, bad[:10]
