"""What if? Knobs changed in the window re-simulate in place; a refused value is refused with
its reason; the saved TOML reproduces what the window shows (the same JSON summary as
``iosim sim``)."""

import json
import time

import pygame
import pytest

from iosim import scenario
from iosim.cli import main
from iosim.sim.run import simulate
from iosim.summary import summarize
from iosim.view.app import App
from iosim.view.whatif import KNOBS, MODELS_ROW, WhatIf, panel_hit, panel_layout

DEADLINE_S = 30.0


def knob(key):
    return next(k for k, kn in enumerate(KNOBS) if kn.key == key)


def press(app, surface, key, mod=0):
    pygame.event.clear()
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=mod, unicode=""))
    app.pump(surface, 1)


def settle(app, surface):
    """Frames until the re-simulation (off the drawing thread) has been taken in."""
    deadline = time.monotonic() + DEADLINE_S
    while app.busy and time.monotonic() < deadline:
        app.pump(surface, 1)
    assert not app.busy


def open_panel(name, surface):
    sc = scenario.load(name)
    app = App([simulate(sc)], simulator=simulate, scenario=sc)
    app.frame(surface, 0.0)
    press(app, surface, pygame.K_e)
    assert app.scene.whatif is not None
    return app


def test_a_knob_changes_the_runs_and_the_saved_toml_reproduces_them(display, tmp_path,
                                                                    capsys):
    app = open_panel("one-datagram", display)
    app.screenshot_dir = tmp_path
    panel = app.scene.whatif
    panel.selected = knob("process.work_us")
    before = app.traces[0].runs[0].m_done[0] - app.traces[0].runs[0].m_copy_end[0]
    press(app, display, pygame.K_RIGHT)
    settle(app, display)
    after = app.traces[0].runs[0].m_done[0] - app.traces[0].runs[0].m_copy_end[0]
    assert after == pytest.approx(2 * before)  # work per message doubled
    panel.selected = knob("costs.wakeup_us")
    press(app, display, pygame.K_LEFT, pygame.KMOD_SHIFT)  # ÷10
    settle(app, display)
    press(app, display, pygame.K_s, pygame.KMOD_CTRL)
    saved = next(tmp_path.glob("*.toml"))
    assert str(saved) in capsys.readouterr().out
    shown = summarize(app.traces[0])
    assert main(["sim", str(saved), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["runs"] == json.loads(json.dumps(shown["runs"]))


def test_a_refused_value_is_refused_with_its_reason(display):
    """one-datagram is UDP: a datagram of 102,400 bytes is refused, with the loader's words,
    and the runs on the screen stay."""
    app = open_panel("one-datagram", display)
    panel = app.scene.whatif
    panel.selected = knob("bytes")
    press(app, display, pygame.K_RIGHT, pygame.KMOD_SHIFT)  # 1,024 -> 10,240 bytes
    settle(app, display)
    assert app.traces[0].runs[0].m_bytes[0] == 10240 and not panel.error
    trace = app.traces[0]
    press(app, display, pygame.K_RIGHT, pygame.KMOD_SHIFT)  # 102,400: more than UDP takes
    assert "at most 65,507 bytes" in panel.error and panel.error in app.scene.flash
    assert app.traces[0] is trace and not app.busy
    assert panel.data["connections"][0]["sends"][0][1] == 10240


def test_models_switch_on_and_off(display):
    app = open_panel("one-datagram", display)
    panel = app.scene.whatif
    panel.selected = MODELS_ROW
    assert [r.model for r in app.traces[0].runs] == list(scenario.DEFAULT_MODELS)
    panel.model_cursor = scenario.SIM_MODELS.index("poll")
    press(app, display, pygame.K_SPACE)
    settle(app, display)
    assert [r.model for r in app.traces[0].runs] == \
        ["blocking", "nonblocking", "select", "poll", "sigio", "aio"]


def test_the_playhead_stays_on_its_message(display):
    app = open_panel("many-clients", display)
    run = app.traces[0].runs[0]
    app.scene.player.seek(run.m_ready[2] + 10.0)
    app.scene.whatif.selected = knob("costs.network_us")
    press(app, display, pygame.K_RIGHT)
    settle(app, display)
    moved = app.traces[0].runs[0]
    assert moved.m_ready[2] != run.m_ready[2]
    assert app.scene.player.t == pytest.approx(moved.m_ready[2] + 10.0)


def test_the_mouse_works_the_panel(display):
    app = open_panel("one-datagram", display)
    screen = app.renderer.layout(display.get_size(), app.scene)
    layout = panel_layout(screen.pane)
    row = knob("messages")
    plus = layout.plus[row - 1]
    assert panel_hit(layout, plus[0] + 2, plus[1] + 2) == ("plus", row)
    pygame.event.clear()
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1,
                                         pos=(plus[0] + 2, plus[1] + 2)))
    app.pump(display, 1)
    settle(app, display)
    assert app.traces[0].runs[0].message_count == 2
    assert app.scene.whatif.selected == row


def test_a_saved_trace_has_nothing_to_edit(display, tmp_path):
    trace = simulate(scenario.load("one-datagram"))
    app = App([trace])
    press(app, display, pygame.K_e)
    assert app.scene.whatif is None and "what-if" in app.scene.flash


def test_every_knob_steps_every_builtin_scenario_or_says_why():
    """Each step gives a valid scenario, or a refusal with its reason, or nothing at a bound
    (one active connection cannot go lower)."""
    for name in scenario.builtin_names():
        panel = WhatIf(scenario.load(name))
        for k in range(1, len(KNOBS)):
            panel.selected = k
            for direction in (1, -1):
                before = json.dumps(panel.data)
                sc = panel.change(direction)
                if sc is None and not panel.error:
                    assert json.dumps(KNOBS[k].step(json.loads(before), direction, False)) \
                        == before, (name, KNOBS[k].key, direction)
                else:
                    assert sc is not None or panel.error, (name, KNOBS[k].key)
