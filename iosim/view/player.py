"""Playback as pure logic: the playhead, play/pause, speed, stepping, and the visible window.

Two time axes. *Schematic* (the default) gives every distinct event time its own slot, as
Stevens's figures do, so a 0.3 µs copy and a 20 ms wait are both a slot wide and both visible.
*To scale* is proportional time. The visible window is kept in the current axis's units (slots or
µs); the playhead is kept as a time, so switching axes keeps the moment shown.

What is stepped through follows what is shown: the all-runs view steps through the events of
every run, the one-run view through that run's events only (``show_run``). Each has its own
slots, so a nonblocking run's polls do not take the slots of a blocking run's view.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field

from iosim.trace import Run

SCHEMATIC, SCALE = "schematic", "scale"
PLAY_SECONDS = 15.0  # the whole of a small scenario plays in about this long at speed x1
MIN_SLOTS_PER_S, MAX_SLOTS_PER_S = 2.0, 12.0
FIT_SLOTS = 160  # a schematic axis with more slots than this opens on a window of WINDOW_SLOTS
WINDOW_SLOTS = 90.0
MIN_SPEED, MAX_SPEED = 1 / 64, 1024.0
FOLLOW_AT = 0.75  # while playing, the playhead stays left of this fraction of the window
MAX_WIDTH_OVER_LENGTH = 1.2  # zooming out stops a little beyond the whole run


class SchematicAxis:
    """Time <-> slot position: slot i is the i-th distinct time, linear in between."""

    name = SCHEMATIC

    def __init__(self, times: array) -> None:
        self.times = times

    @property
    def length(self) -> float:
        return float(max(len(self.times) - 1, 1))

    def pos(self, t: float) -> float:
        times = self.times
        i = bisect_right(times, t) - 1
        if i < 0:
            return 0.0
        if i >= len(times) - 1:
            return float(len(times) - 1)
        a, b = times[i], times[i + 1]
        return i + (t - a) / (b - a)

    def time(self, u: float) -> float:
        times = self.times
        if u <= 0:
            return times[0]
        i = int(u)
        if i >= len(times) - 1:
            return times[-1]
        a, b = times[i], times[i + 1]
        return a + (u - i) * (b - a)


class ScaleAxis:
    """Proportional time: the position is the time in µs."""

    name = SCALE

    def __init__(self, end_us: float) -> None:
        self.end = max(end_us, 1.0)

    @property
    def length(self) -> float:
        return self.end

    def pos(self, t: float) -> float:
        return t

    def time(self, u: float) -> float:
        return u


Axis = SchematicAxis | ScaleAxis


def distinct_times(runs: Iterable[Run]) -> array:
    """Every start and end time of every event of every run, once, sorted (0 always in)."""
    seen: set[float] = {0.0}
    for run in runs:
        seen.update(run.t0)
        seen.update(run.t1)
        seen.add(run.end_us)
    return array("d", sorted(seen))


def _default_window(axis: Axis) -> tuple[float, float]:
    if axis.name == SCHEMATIC and axis.length > FIT_SLOTS:
        return (0.0, WINDOW_SLOTS)
    return (0.0, axis.length)


@dataclass
class Timeline:
    """What one view steps through: its event times, its messages' ready times, its two axes
    and the window last shown on each."""

    times: array
    message_times: array
    axes: dict[str, Axis] = field(init=False)
    windows: dict[str, tuple[float, float]] = field(init=False)

    def __post_init__(self) -> None:
        self.axes = {SCHEMATIC: SchematicAxis(self.times), SCALE: ScaleAxis(self.times[-1])}
        self.windows = {name: _default_window(axis) for name, axis in self.axes.items()}

    @property
    def end(self) -> float:
        return self.times[-1]

    @classmethod
    def of(cls, runs: list[Run]) -> Timeline:
        return cls(distinct_times(runs),
                   array("d", sorted({t for r in runs for t in r.m_ready if t == t})))


class Player:
    """The playhead over the runs of one or more traces shown together on one time axis."""

    def __init__(self, runs: list[Run]) -> None:
        self.runs = runs
        self._timelines: dict[int | None, Timeline] = {None: Timeline.of(runs)}
        self.shown: int | None = None  # the run of the one-run view, None for all runs
        self.axis_name = SCHEMATIC
        self.t = 0.0
        self.playing = False
        self.speed = 1.0

    # -- what is shown ------------------------------------------------------------------------

    @property
    def timeline(self) -> Timeline:
        return self._timelines[self.shown]

    @property
    def times(self) -> array:
        return self.timeline.times

    @property
    def message_times(self) -> array:
        return self.timeline.message_times

    @property
    def end(self) -> float:
        return self.timeline.end

    @property
    def axes(self) -> dict[str, Axis]:
        return self.timeline.axes

    @property
    def axis(self) -> Axis:
        return self.timeline.axes[self.axis_name]

    def show_run(self, k: int | None) -> None:
        """Step through run ``k``'s events only (None: every run's); the moment stays."""
        if k is not None and k not in self._timelines:
            self._timelines[k] = Timeline.of([self.runs[k]])
        self.shown = k
        self.t = min(self.t, self.end)
        self._follow()

    # -- the window ---------------------------------------------------------------------------

    @property
    def windows(self) -> dict[str, tuple[float, float]]:
        return self.timeline.windows

    @property
    def window(self) -> tuple[float, float]:
        return self.windows[self.axis_name]

    def _set_window(self, lo: float, hi: float) -> None:
        self.windows[self.axis_name] = (lo, hi)

    def set_window(self, lo: float, hi: float) -> None:
        """Show [lo, hi] in axis units (a drag or a pan of the mouse), no wider than the run
        allows and never narrower than the smallest zoom."""
        width = min(max(hi - lo, self._min_width()), self.axis.length * MAX_WIDTH_OVER_LENGTH)
        self._set_window(lo, lo + width)

    def fit(self) -> None:
        self._set_window(0.0, self.axis.length)

    def keep_range(self, old: Player) -> None:
        """Show on each axis what ``old`` showed of its runs (new runs of the same scenario):
        the whole run when it showed the whole run, else the same stretch of time."""
        for name, axis in self.axes.items():
            before = old.axes[name]
            lo, hi = old.windows[name]
            if lo <= 0.0 and hi >= before.length:  # all of it, with the same margins
                scale = axis.length / before.length
                self.windows[name] = (lo * scale, hi * scale)
            else:
                t_lo, t_hi = before.time(lo), before.time(hi)
                lo = axis.pos(t_lo)
                self.windows[name] = (lo, max(axis.pos(t_hi), lo + self._min_width(axis)))

    def zoom(self, factor: float, anchor: float | None = None) -> None:
        """Zoom around ``anchor`` (an axis position: the mouse's), or around the playhead:
        factor > 1 shows less time, larger. The anchor keeps its place on the screen."""
        lo, hi = self.window
        at = self.axis.pos(self.t) if anchor is None else anchor
        width = min(max((hi - lo) / factor, self._min_width()),
                    self.axis.length * MAX_WIDTH_OVER_LENGTH)
        frac = (at - lo) / (hi - lo) if hi > lo else 0.5
        frac = min(max(frac, 0.0), 1.0)
        self._set_window(at - frac * width, at + (1 - frac) * width)

    def _min_width(self, axis: Axis | None = None) -> float:
        return 4.0 if (axis or self.axis).name == SCHEMATIC else 0.05

    def pan(self, fraction: float) -> None:
        lo, hi = self.window
        shift = fraction * (hi - lo)
        self._set_window(lo + shift, hi + shift)

    def _follow(self) -> None:
        """Keep the playhead inside the window (scrolling, not jumping, while it plays)."""
        lo, hi = self.window
        width = hi - lo
        head = self.axis.pos(self.t)
        if head > lo + FOLLOW_AT * width:
            lo = min(head - FOLLOW_AT * width, max(self.axis.length - width, lo))
            lo = max(lo, head - width)
        elif head < lo:
            lo = max(head - (1 - FOLLOW_AT) * width, 0.0)
        self._set_window(lo, lo + width)

    # -- playback -----------------------------------------------------------------------------

    def rate(self) -> float:
        """Axis units per second of wall-clock time at the current speed."""
        if self.axis.name == SCHEMATIC:
            base = min(max(self.axis.length / PLAY_SECONDS, MIN_SLOTS_PER_S), MAX_SLOTS_PER_S)
        else:
            base = self.axes[SCALE].length / PLAY_SECONDS  # at least 1 µs: never 0
        return base * self.speed

    def tick(self, seconds: float) -> None:
        if not self.playing:
            return
        u = self.axis.pos(self.t) + self.rate() * seconds
        if u >= self.axis.length:
            self.t = self.end
            self.playing = False
        else:
            self.t = self.axis.time(u)
        self._follow()

    def toggle_play(self) -> None:
        if not self.playing and self.t >= self.end:
            self.t = 0.0
        self.playing = not self.playing
        self._follow()

    def faster(self) -> None:
        self.speed = min(self.speed * 2, MAX_SPEED)

    def slower(self) -> None:
        self.speed = max(self.speed / 2, MIN_SPEED)

    def seek(self, t: float) -> None:
        self.t = min(max(t, 0.0), self.end)
        self._follow()

    def home(self) -> None:
        self.playing = False
        self.seek(0.0)

    def go_end(self) -> None:
        """The whole run in the window, the playhead at its end."""
        self.playing = False
        self.fit()
        self.t = self.end

    def restart(self) -> None:
        self.seek(0.0)
        self.playing = True

    def next_event(self) -> None:
        self._pause_at_next(self.times)

    def prev_event(self) -> None:
        self._pause_at_previous(self.times)

    def next_message(self) -> None:
        """To the next moment a message's data is ready (arrives in a receive queue)."""
        self._pause_at_next(self.message_times)

    def prev_message(self) -> None:
        self._pause_at_previous(self.message_times)

    def event_after(self) -> float | None:
        """The time of the next event after the playhead (None at the end)."""
        i = bisect_right(self.times, self.t)
        return self.times[i] if i < len(self.times) else None

    def _pause_at_next(self, times: array) -> None:
        """Pause on the first of ``times`` after the playhead (the end when there is none)."""
        self.playing = False
        i = bisect_right(times, self.t)
        self.seek(times[i] if i < len(times) else self.end)

    def _pause_at_previous(self, times: array) -> None:
        """Pause on the last of ``times`` before the playhead (the start when there is none)."""
        self.playing = False
        i = bisect_left(times, self.t)
        self.seek(times[i - 1] if i > 0 else 0.0)

    def toggle_axis(self) -> None:
        self.axis_name = SCALE if self.axis_name == SCHEMATIC else SCHEMATIC
        self._follow()

    def speed_text(self) -> str:
        if self.speed >= 1:
            factor = f"x{self.speed:g}"
        else:
            factor = f"x1/{1 / self.speed:g}"
        if self.axis.name == SCHEMATIC:
            return f"{factor} ({self.rate():.3g} events/s)"
        wall_per_ms = 1000.0 / self.rate()
        return f"{factor} (1 ms in {wall_per_ms:.3g} s)"
