"""A traced program's own source in the code pane: the program's lines (the run's meta
"source", written by ``iosim trace``) with the line that made the current call lit, and its
IO model in one sentence; or, where the trace has no source, why in one line.

The lit line is that of the latest system call of the lane's thread at or before the
playhead (the call it is in, or the one it returned from). A source longer than the pane
shows the rows around that line: the other lines are left empty, and the pane drops empty
rows while keeping each line's own number.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from iosim.teach.programs import Program
from iosim.trace import Kind, Run, TraceError, decode_column
from iosim.traced.model import model_sentence

NO_SOURCE = "No source for this run: {why}."


def traced_about(run: Run) -> str | None:
    """A traced run's IO model in one sentence, in Stevens's words (None for other runs)."""
    guess = run.meta.get("model_guess") if run.source == "traced" else None
    return model_sentence(guess) or None if isinstance(guess, dict) else None


def traced_source(cache: dict[Any, Any], run: Run, t: float, lane: int,
                  rows: int) -> tuple[Program, int | None] | str | None:
    """(the program's source around the lit line, the lit line) for a traced run with a
    source; the one line that says why for a traced run without; None for other runs."""
    if run.source != "traced":
        return None
    source = run.meta.get("source")
    if not isinstance(source, dict):
        return NO_SOURCE.format(why="this trace was made before iosim recorded sources")
    if "why" in source:
        return NO_SOURCE.format(why=source["why"])
    index = _index(cache, run, source)
    lines: list[str] = source["lines"]
    lit = index.line_at(lane, t)
    centre = lit if lit is not None else index.first_line
    half = max(rows, 4) // 2
    start = max(0, min(centre - half, len(lines) - 2 * half))
    shown = [text if start <= n < start + 2 * half else "" for n, text in enumerate(lines)]
    return Program(run.model, shown, {}), lit


class _Index:
    """Per lane, the start times of its system calls and the source line of each."""

    def __init__(self, run: Run, calls: Any, at_zero: Any) -> None:
        self.times: dict[int, list[float]] = {}
        self.lines: dict[int, list[int]] = {}
        self.at_zero = {lane: line for lane, line in at_zero}
        k = 0
        for i in range(len(run)):
            if run.kind[i] == Kind.SYSCALL:
                self.times.setdefault(run.lane[i], []).append(run.t0[i])
                self.lines.setdefault(run.lane[i], []).append(calls[k])
                k += 1
        known = [line for line in calls if line >= 0]
        self.first_line = min(known) if known else 0

    def line_at(self, lane: int, t: float) -> int | None:
        times = self.times.get(lane, [])
        k = bisect_right(times, t) - 1
        if k < 0:  # in the call it made before t = 0, if any
            return self.at_zero.get(lane) if t >= 0 else None
        line = self.lines[lane][k]
        return line if line >= 0 else None


def _index(cache: dict[Any, Any], run: Run, source: dict[str, Any]) -> _Index:
    key = ("traced-source", id(run))
    found = cache.get(key)
    if found is None:
        try:
            calls = decode_column("i", source.get("calls"), "source.calls")
        except TraceError:
            calls = []
        found = cache[key] = _Index(run, calls, source.get("at_zero", []))
    return found
