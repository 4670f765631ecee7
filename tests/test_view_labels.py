"""Nothing is silently cut or left out: every text any view draws, for every built-in scenario,
at the three sizes people use (and the GIF's default), at scales 1, 1.5 and 2, stays inside the
room it was given and is whole (no "…"); no caption phrase, counter, help entry or legend note
is dropped for lack of room."""

import copy
import re
from dataclasses import replace
from pathlib import Path

import pygame
import pytest

from iosim import scenario
from iosim.sim.run import simulate
from iosim.view import app as app_module
from iosim.view.app import make_scene
from iosim.view.caption import caption
from iosim.view.draw import Renderer
from iosim.view.draw_chrome import caption_lines
from iosim.view.draw_counters import counter_lines
from iosim.view.draw_help import HELP_KEYS, HELP_MOUSE, HELP_READING
from iosim.view.hit import counter_key
from iosim.view.index import RunIndex
from iosim.view.scale import effective, logical_size
from iosim.view.scene import ALL, COMPARE, ONE

SIZES = [(1024, 600), (1280, 720), (1920, 1080), (960, 540)]
SCALES = (1.0, 1.5, 2.0)
# what a frame is laid out at for each size at each scale (the window draws it scaled up):
# the sizes themselves at scale 1, and the logical sizes the larger scales make of them
LAID_OUT = list(dict.fromkeys(logical_size(size, effective(size, scale))
                              for scale in SCALES for size in SIZES))
WINDOWS = [size for size in LAID_OUT if size != (960, 540)]  # the GIF's default aside


@pytest.fixture(scope="module")
def traces():
    return {name: simulate(scenario.load(name)) for name in scenario.builtin_names()}


@pytest.fixture(scope="module")
def scenes(traces):
    """Each built-in's scene as make_scene gives it, made once (its run indexes cost the
    most); every frame draws a copy of it."""
    return {name: make_scene([trace]) for name, trace in traces.items()}


def copy_of(scene):
    """The scene as make_scene gave it, with a player and caches of its own; the run indexes
    (tables of the runs, never changed by drawing) are shared."""
    player = copy.deepcopy(scene.player, {id(run): run for run in scene.player.runs})
    return replace(scene, player=player, cache={}, counter_spots=[])


def views(count):
    return [(ALL, 0), (COMPARE, 0)] + [(ONE, k) for k in range(count)]


def drawn_texts(scene, size, view, focus, fraction, renderer=None):
    """Every text of one frame, with where it was drawn and its room. The renderer may be one
    that drew other frames (as the window's does): its caches hold rendered texts and layouts
    keyed by everything they depend on."""
    scene = copy_of(scene)
    scene.view, scene.focus = view, focus
    scene.player.show_run(focus if view == ONE else None)
    scene.player.seek(scene.player.end * fraction)
    renderer = renderer or Renderer()
    renderer.text.record = []
    surface = pygame.Surface(size)
    renderer.draw(surface, scene)
    return renderer.text.record


@pytest.mark.parametrize("size", LAID_OUT, ids=lambda s: f"{s[0]}x{s[1]}")
def test_no_label_leaves_its_room_or_is_cut(scenes, size):
    bad = []
    count = 0
    renderer = Renderer()
    for name, scene in scenes.items():
        for view, focus in views(len(scene.runs)):
            for fraction in (0.5, 1.0):
                for text, rect, room in drawn_texts(scene, size, view, focus, fraction,
                                                    renderer):
                    count += 1
                    if "…" in text or not room.inflate(2, 2).contains(rect):
                        bad.append((name, view, focus, fraction, text, tuple(rect),
                                    tuple(room)))
    assert count > 1000
    assert not bad, bad[:10]


@pytest.mark.parametrize("size", LAID_OUT, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_state_pane_is_whole(scenes, size):
    """Every run's one-run view with the state pane (the I key), at moments spread over the
    run: every text of the pane and around it stays in its room."""
    bad = []
    count = 0
    renderer = Renderer()
    surface = pygame.Surface(size)
    for name, made in scenes.items():
        scene = copy_of(made)
        scene.view, scene.state = ONE, True
        for focus in range(len(scene.runs)):
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


@pytest.mark.parametrize("size", WINDOWS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_counters_and_legend_are_whole(traces, scenes, size):
    """The default scenario: every run's six counters and every legend entry are drawn."""
    texts = [t for t, _, _ in drawn_texts(scenes["one-datagram"], size, ALL, 0, 1.0)]
    joined = " | ".join(texts)
    for word in ("calls", "handled", "blocked", "own work"):
        assert joined.count(word) >= len(traces["one-datagram"].runs), (word, joined)
    for entry in ("wait for data", "data ready, not copied", "copy to user", "blocked",
                  "in a system call", "own work", "processing data", "signal handler",
                  "signal delivery"):
        assert entry in texts, entry


@pytest.mark.parametrize("size", WINDOWS, ids=lambda s: f"{s[0]}x{s[1]}")
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
            scene.player.seek(0.0)
            scene.predict = PredictMode.of(3, trace.runs[3])
            for _ in range(len(trace.runs[3])):
                if scene.predict.step(scene.player):
                    break
                scene.player.next_event()
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
            assert scene.predict.asked.text.split()[0] in texts
    assert not bad, bad[:10]


@pytest.mark.parametrize("size", WINDOWS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_no_caption_item_is_dropped(traces, size):
    """At every event time of every built-in (at most 150 a view), in all runs and in each
    run's own view, the caption says every lane's phrase (lanes that did the same, once), the
    next moment's and which other runs acted too: in full, briefly or by the label's head,
    never left out."""
    text = Renderer().text
    dropped = []
    for name, trace in traces.items():
        runs = [RunIndex(run) for run in trace.runs]
        times = sorted({t for run in trace.runs for t in run.t0})
        for focus in [None, *range(len(runs))]:
            for t in times[::max(1, len(times) // 150)]:
                cap = caption(runs, t, focus)
                first, second = caption_lines(text, cap, size[0])
                missing = [p.brief for p in cap.passed if p.short not in first]
                missing += [p.brief for p in cap.upcoming if p.short not in second]
                if cap.others and "same moment" not in second:
                    missing.append("same moment in")
                if missing:
                    dropped.append((name, focus, t, missing))
    assert not dropped, dropped[:5]


def test_lanes_alike_are_said_once_with_how_many():
    """burst at t = 0: eight kernel lanes wait for data; the caption says so once."""
    trace = simulate(scenario.load("burst"), ["blocking"])
    cap = caption([RunIndex(trace.runs[0])], 0.0, 0)
    assert [p.brief for p in cap.passed] == ["system call recvfrom",
                                             "kernel ×8: wait for data"]
    assert cap.passed[1].full.startswith("kernel ×8: wait for data (2.040 ms to ")


@pytest.mark.parametrize("size", WINDOWS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_counter_is_drawn(scenes, size):
    """Every run's counters, in every built-in scenario's all-runs view (with and without the
    code pane beside it), half way and at the end (latency and handled in included), each
    where hovering finds it."""
    dropped = []
    renderer = Renderer()
    for name, made in scenes.items():
        for fraction, code in ((0.5, False), (1.0, False), (1.0, True)):
            scene = copy_of(made)
            scene.code = code  # the code pane beside all runs narrows the bands
            scene.player.seek(scene.player.end * fraction)
            renderer.text.record = []
            renderer.draw(pygame.Surface(size), scene)
            drawn = [t for t, _, _ in renderer.text.record]
            spots = {key for _, key in scene.counter_spots}
            for ri in scene.runs:
                for item, _ in counter_lines(scene, ri):
                    if item and (item not in drawn or counter_key(item) not in spots):
                        dropped.append((name, fraction, ri.run.model, item))
    assert not dropped, dropped[:10]


@pytest.mark.parametrize("size", WINDOWS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_help_lists_every_key_and_the_mouse(traces, size):
    """Every key the window answers to (E and Ctrl+S included), the mouse and the reading
    notes are drawn whole, none left out for room."""
    scene = make_scene([traces["burst"]])
    scene.help = True
    renderer = Renderer()
    renderer.text.record = []
    renderer.draw(pygame.Surface(size), scene)
    drawn = [t for t, _, _ in renderer.text.record]
    flowing = " ".join(drawn)
    for key, words in HELP_KEYS + HELP_MOUSE:
        assert key in drawn, key
        assert words in flowing, words
    for paragraph in HELP_READING:
        assert paragraph in flowing, paragraph
    assert {"E", "Ctrl+S", "K", "1-4", "V", "[ / ]", "hover", "wheel"} <= set(drawn)


def test_the_help_names_every_key_the_app_binds():
    """Each key App.key and the panels test for is in the help (read from app.py's code)."""
    source = Path(app_module.__file__).read_text()
    bound = set(re.findall(r"pygame\.K_([A-Za-z0-9_]+)", source))
    keys = " ".join(k for k, _ in HELP_KEYS)
    names = {"SPACE": "Space", "RIGHT": "→", "LEFT": "←", "UP": "↑", "DOWN": "↓",
             "PERIOD": ".", "COMMA": ",", "HOME": "Home", "END": "End", "PLUS": "+",
             "KP_PLUS": "+", "EQUALS": "+", "MINUS": "-", "KP_MINUS": "-", "RETURN": "Enter",
             "ESCAPE": "Esc", "TAB": "Tab", "RIGHTBRACKET": "]", "LEFTBRACKET": "[",
             "SLASH": "?", "KP0": "0", "KP1": "1-9", "KP9": "1-9", "0": "0", "1": "1-",
             "9": "1-9"}
    for key in bound:
        shown = names.get(key, key.upper())
        assert shown in keys, key


@pytest.mark.parametrize("size", WINDOWS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_legend_says_what_latency_and_handled_are(scenes, size):
    texts = [t for t, _, _ in drawn_texts(scenes["one-datagram"], size, ALL, 0, 1.0)]
    assert "latency = data ready → copied; handled = data ready → processed" in texts
