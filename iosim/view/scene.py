"""The scene: everything a frame shows (the runs with their lookup tables, the player, the
view, the panels and modes that are open). The app changes it; the renderer only reads it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from iosim.trace import Trace
from iosim.view.caption import caption, run_name
from iosim.view.index import RunIndex
from iosim.view.player import SCALE, Player
from iosim.view.predict_mode import PredictMode
from iosim.view.slide import Slide
from iosim.view.whatif import WhatIf

ALL, ONE, COMPARE = "all", "one", "compare"


@dataclass
class Scene:
    """Everything a frame shows."""

    title: str
    runs: list[RunIndex]
    player: Player
    view: str = ALL
    focus: int = 0
    labels: bool = True
    help: bool = False
    code: bool = False  # the code pane beside all runs (the one-run view always has it)
    state: bool = False  # the state pane under the one-run view's timeline
    follow: int | None = None  # the message followed across every run
    predict: PredictMode | None = None
    whatif: WhatIf | None = None  # the what-if panel, when open
    hover: tuple[int, int] | None = None  # (run, event) under the mouse: its details box
    hover_counter: str | None = None  # the counter under the mouse: its definition
    counter_spots: list = field(default_factory=list)  # where the last frame drew counters
    pointer: tuple[int, int] = (0, 0)
    flash: str = ""
    cache: dict = field(default_factory=dict)
    presentation: bool = False  # a slide: the caption as its title, no key hints
    hints: bool = True  # the key hints under the legend (render --clean: none)
    slide: Slide | None = None  # a lesson's moment: its title, question and notes
    whole: bool = False  # the comparison view draws the rest of each cycle, faint (End)

    @property
    def messages(self) -> int:
        return max((ri.run.message_count for ri in self.runs), default=0)

    @property
    def state_shown(self) -> bool:
        """The state pane is drawn: asked for, in the one-run view."""
        return self.state and self.view == ONE

    def pane_run(self) -> int | None:
        """The run whose code the pane shows: the one-run view's, or beside all runs the run
        the caption speaks of (the what-if panel, when open, takes the pane)."""
        if self.whatif is not None and self.view != COMPARE:
            return self.focus if self.view == ONE else 0
        if self.view == ONE:
            return self.focus
        if self.view == ALL and self.code and self.runs:
            return self.caption_run()
        return None

    def caption_run(self) -> int:
        """The run the caption speaks of: the one that acted last at or before the playhead."""
        lead = caption(self.runs, self.player.t).model
        names = [run_name(ri) for ri in self.runs]
        return names.index(lead) if lead in names else 0


def scene_title(traces: Sequence[Trace]) -> str:
    names = list(dict.fromkeys(t.scenario for t in traces))
    if len(names) > 1:
        return " + ".join(names)
    sources = dict.fromkeys(run.source for t in traces for run in t.runs)
    title = f"{traces[0].scenario} · {traces[0].title}"
    return title if len(sources) < 2 else f"{title} · {' + '.join(sources)}"


def make_scene(traces: Sequence[Trace]) -> Scene:
    """The scene of these traces, on the time axis their scenario chose (schematic unless
    every trace asks for to scale, as big-copy does)."""
    runs = [RunIndex(run) for trace in traces for run in trace.runs]
    player = Player([r.run for r in runs])
    if traces and all(t.axis == SCALE for t in traces):
        player.axis_name = SCALE
    return Scene(scene_title(traces), runs, player)
