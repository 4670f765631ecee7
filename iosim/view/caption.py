"""The caption bar: the current event in words, e.g.
"t = 20.143 ms · select · application: return readable -> system call recvfrom"."""

from __future__ import annotations

from bisect import bisect_right

from iosim.trace import Kind
from iosim.view.index import RunIndex
from iosim.view.layout import format_us

MAX_PHRASES = 5


def role_of(ri: RunIndex, lane: int) -> str:
    ln = ri.run.lanes[lane]
    if ln.role == "kernel":
        return "kernel"
    if ln.role == "thread":
        return ln.name
    return "application"


def phrases(ri: RunIndex, t: float) -> list[str]:
    """What happens in this run at exactly ``t``: the events starting then, in their order."""
    run = ri.run
    out: list[str] = []
    last_role = ""
    seen: set[tuple[str, str]] = set()
    for i in ri.events_at(t):
        kind = Kind(run.kind[i])
        label = run.labels[run.label[i]]
        if kind == Kind.WAKEUP:
            continue
        text = f"system call {label}" if kind == Kind.SYSCALL else label
        if kind.is_span:
            text += f" ({format_us(run.t1[i] - run.t0[i])})"
        role = role_of(ri, run.lane[i])
        if (role, text) in seen:
            continue
        seen.add((role, text))
        out.append(f"{role}: {text}" if role != last_role else text)
        last_role = role
        if len(out) == MAX_PHRASES:
            break
    return out


def run_name(ri: RunIndex, numbered: bool = False, number: int = 0) -> str:
    name = ri.run.model if ri.run.source == "sim" else f"{ri.run.model} ({ri.run.source})"
    return f"{number + 1} {name}" if numbered else name


def last_event_time(ri: RunIndex, t: float) -> float | None:
    """The start of the run's latest event at or before ``t``."""
    k = bisect_right(ri.run.t0, t)
    return ri.run.t0[k - 1] if k else None


def caption(runs: list[RunIndex], playhead: float, focus: int | None = None) -> tuple[str, str]:
    """Two lines: what the focused run (or the run that acted last) did at its latest moment
    at or before the playhead, and which other runs acted at that same moment."""
    order = [focus] if focus is not None and 0 <= focus < len(runs) else range(len(runs))
    moments = {k: last_event_time(runs[k], playhead) for k in order}
    known = [(t, -k) for k, t in moments.items() if t is not None]
    if not known:
        return f"t = {playhead / 1000:.3f} ms · nothing has happened yet", ""
    t_point, neg_k = max(known)
    lead = -neg_k
    words = phrases(runs[lead], t_point)
    line1 = f"t = {playhead / 1000:.3f} ms · {runs[lead].run.model} · " + " -> ".join(words)
    others = [run_name(runs[k]) for k, t in moments.items() if t == t_point and k != lead]
    parts = []
    if t_point < playhead:
        parts.append(f"last event at {t_point / 1000:.3f} ms")
    if others:
        parts.append("same moment in: " + ", ".join(others))
    return line1, " · ".join(parts)
