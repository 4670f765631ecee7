"""A lesson made ready to show: each moment's runs (its scenario simulated once however many
moments show it, its trace read once), its view as the window names it (a model's name
becomes its run number) and its time (an event found in the runs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from iosim import trace as trace_mod
from iosim.errors import UserError
from iosim.lesson.events import event_time_us
from iosim.lesson.lesson import Lesson, Moment
from iosim.scenario import Scenario
from iosim.timefmt import format_us
from iosim.trace import Trace


@dataclass(frozen=True)
class Ready:
    """A moment with its runs: ``view`` is all, compare or a run number from 1; ``at_ms``
    None means the end."""

    moment: Moment
    trace: Trace
    scenario: Scenario | None  # what the what-if panel edits (None: a saved trace)
    view: str
    at_ms: float | None

    @property
    def focus(self) -> int | None:
        """The run of the one-run view (from 0), None for all runs and the comparison."""
        return int(self.view) - 1 if self.view.isdigit() else None


def ready(lesson: Lesson, simulate: Callable[[Scenario], Trace],
          progress: Callable[[str], None] | None = None) -> list[Ready]:
    """Every moment with its runs; a moment whose trace, view or event does not fit its runs
    is refused naming its line."""
    traces: dict[str, Trace] = {}
    out = []
    for moment in lesson.moments:
        trace = traces.get(moment.source)
        if trace is None:
            if progress:
                progress(f"{'reading' if moment.trace else 'simulating'} {moment.source}")
            trace = traces[moment.source] = _runs(lesson, moment, simulate)
        view = _view(lesson, moment, trace)
        out.append(Ready(moment, trace, moment.scenario, view, _at_ms(lesson, moment, trace,
                                                                     view)))
    return out


def _runs(lesson: Lesson, moment: Moment, simulate: Callable[[Scenario], Trace]) -> Trace:
    if moment.scenario is not None:
        return simulate(moment.scenario)
    try:
        return trace_mod.load(moment.source)
    except UserError as exc:
        raise lesson.fail(moment, "trace", str(exc)) from None


def _view(lesson: Lesson, moment: Moment, trace: Trace) -> str:
    view = moment.view
    models = [run.model for run in trace.runs]
    if view in ("all", "compare"):
        return view
    if view.isdigit():
        if not 1 <= int(view) <= len(models):
            raise lesson.fail(moment, "view", f"run {view}: the trace has {len(models)} runs "
                              f"({', '.join(models)})")
        return view
    if view not in models:
        raise lesson.fail(moment, "view", f"{view!r} is not a run of the trace (its runs: "
                          f"{', '.join(models)})")
    return str(models.index(view) + 1)


def _at_ms(lesson: Lesson, moment: Moment, trace: Trace, view: str) -> float | None:
    if moment.event is None:
        return moment.at_ms
    runs = [trace.runs[int(view) - 1]] if view.isdigit() else trace.runs
    t = event_time_us(moment.event, runs)
    if t is None:
        who = f"the {runs[0].model} run never gets" if len(runs) == 1 else "no run gets"
        raise lesson.fail(moment, "event", f"{moment.event}: {who} there (the message is "
                          "not handled)")
    return t / 1000.0


def outline(r: Ready, place: str) -> str:
    """A moment in words for the teacher: where it is in the lesson, what it shows, its
    talking points, its question and answer."""
    m = r.moment
    runs = r.trace.runs
    view = {"all": "all runs", "compare": "the comparison (Figure 6.6)"}.get(r.view, "")
    if r.focus is not None:
        view = f"run {r.view}: {runs[r.focus].model}"
    at = "the end" if r.at_ms is None else format_us(r.at_ms * 1000.0)
    if m.event is not None:
        at = f"{at} ({m.event})"
    lines = [f"— {place}{': ' + m.title if m.title else ''}",
             f"  {r.trace.scenario} · {view} · at {at}"]
    lines += [f"  • {point}" for point in m.notes]
    if m.question:
        lines += [f"  Q: {m.question}", f"  A: {m.answer}"]
    return "\n".join(lines)
