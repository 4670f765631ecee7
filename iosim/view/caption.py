"""The caption bar: the event just passed and the next one, in words, e.g.
"t = 20.145 ms · select · just now: select returns readable; kernel: copy data from kernel to
user" over "next, at 20.147 ms: recvfrom returns OK · same moment in: blocking".

One phrase per lane and moment (the most telling event there), so a caption never says the same
thing twice ("system call recvfrom -> recvfrom"). The phrases are parts; the renderer keeps as
many as fit its width and never cuts one.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

from iosim.timefmt import format_us
from iosim.trace import Kind
from iosim.view.index import RunIndex

# Which event of a lane at one moment says most about it, most telling first.
SIGNIFICANCE = (Kind.ERROR, Kind.SIGNAL, Kind.READABLE, Kind.RETURN, Kind.EWOULDBLOCK, Kind.EOF,
                Kind.WAKEUP, Kind.SYSCALL, Kind.COMPLETE, Kind.ARRIVAL, Kind.COPY, Kind.BLOCKED,
                Kind.PROCESS, Kind.HANDLER, Kind.DELIVERY, Kind.WORK, Kind.IN_KERNEL,
                Kind.QUEUED, Kind.WAIT, Kind.OVERHEAD)
_RANK = {kind: rank for rank, kind in enumerate(SIGNIFICANCE)}
_RETURNS = {Kind.RETURN: "returns OK", Kind.EWOULDBLOCK: "returns EWOULDBLOCK",
            Kind.READABLE: "returns readable", Kind.EOF: "returns 0 (the peer closed)"}


def role_of(ri: RunIndex, lane: int) -> str:
    ln = ri.run.lanes[lane]
    if ln.role == "kernel":
        return "kernel"
    if ln.role == "thread":
        return ln.name
    return "application"


def describe(ri: RunIndex, i: int, durations: bool = True) -> str:
    """One event in words: a return names its call (its line key) where the trace has it; a
    span says how long it lasts unless ``durations`` is off (predict mode: that would tell
    when the next event comes)."""
    text = _words(ri, i)
    run = ri.run
    if Kind(run.kind[i]).is_span and durations:
        return f"{text} ({format_us(run.t1[i] - run.t0[i])})"
    return text


def _words(ri: RunIndex, i: int) -> str:
    run = ri.run
    kind = Kind(run.kind[i])
    label = run.labels[run.label[i]]
    line = run.line[i]
    call = run.code[line] if line >= 0 else ""
    if kind == Kind.SYSCALL:
        return f"system call {label}"
    if kind in _RETURNS:
        return f"{call} {_RETURNS[kind]}" if call and call.isidentifier() else label
    if kind == Kind.WAKEUP:
        return "the process wakes up" if run.lanes[run.lane[i]].role == "app" else "wakes up"
    if kind == Kind.ERROR:
        return f"error: {label}"
    return label


@dataclass(frozen=True)
class Phrase:
    """What one lane (or several alike) did at a moment: in full, briefly (without how long
    its spans last), and shortest (a label's head, before its first ", " or ": " detail:
    "process blocks in call to select"), for a caption short of room."""

    full: str
    brief: str
    short: str


def phrases(ri: RunIndex, t: float, durations: bool = True) -> list[Phrase]:
    """What happens in this run at exactly ``t``: one phrase per lane, the application's
    lanes first; lanes of one kind that did the same are said once ("kernel ×8: wait for
    data (2.040 ms to 2.390 ms)")."""
    run = ri.run
    best: dict[int, int] = {}
    calls: dict[int, int] = {}
    for i in ri.events_at(t):
        lane = run.lane[i]
        kind = run.kind[i]
        if kind == Kind.SYSCALL:
            calls.setdefault(lane, i)
        if lane not in best or _RANK[kind] < _RANK[run.kind[best[lane]]]:
            best[lane] = i
    order = sorted(best, key=lambda lane: (run.lanes[lane].role == "kernel", lane))
    alike: dict[tuple[str, str], list[tuple[str, float | None]]] = {}
    for lane in order:
        role = role_of(ri, lane)
        i = best[lane]
        text = _words(ri, i)
        call = calls.get(lane)
        if call is not None and call != i:  # a return, and the next call at once
            text += f", then {_words(ri, call)}"
        length = run.t1[i] - run.t0[i] if Kind(run.kind[i]).is_span and durations else None
        kind = "thread" if run.lanes[lane].role == "thread" else role
        alike.setdefault((kind, text), []).append((role, length))
    return [_phrase(kind, text, lanes) for (kind, text), lanes in alike.items()]


def _phrase(kind: str, text: str, lanes: list[tuple[str, float | None]]) -> Phrase:
    lengths = sorted(length for _, length in lanes if length is not None)
    took = ""
    if lengths:
        low, high = format_us(lengths[0]), format_us(lengths[-1])
        took = f" ({low})" if low == high else f" ({low} to {high})"
    if len(lanes) == 1:
        role = lanes[0][0]
        who = "" if role == "application" else f"{role}: "
    else:
        who = f"kernel ×{len(lanes)}: " if kind == "kernel" else f"{len(lanes)} threads: "
    return Phrase(f"{who}{text}{took}", f"{who}{text}", f"{who}{_head(text)}")


def _head(text: str) -> str:
    """A label without its detail: what comes before its first ", " or ": "."""
    return re.split(r", |: ", text, maxsplit=1)[0]


def run_name(ri: RunIndex) -> str:
    return ri.run.model if ri.run.source == "sim" else f"{ri.run.model} ({ri.run.source})"


def _moment(ri: RunIndex, t: float, after: bool) -> float | None:
    """The run's latest event time at or before ``t``, or its first one after ``t``."""
    t0 = ri.run.t0
    k = bisect_right(t0, t)
    if after:
        return t0[k] if k < len(t0) else None
    return t0[k - 1] if k else None


@dataclass
class Caption:
    """The parts of the two caption lines; ``first_line`` and ``second_line`` keep every part
    that fits: in full, else briefly, and only when even that is too long, as many as fit and
    how many more there are."""

    t: float
    model: str = ""
    passed_at: float | None = None
    passed: list[Phrase] = field(default_factory=list)
    next_at: float | None = None
    upcoming: list[Phrase] = field(default_factory=list)
    others: list[str] = field(default_factory=list)

    def first_line(self, fits: Callable[[str], bool]) -> str:
        head = f"t = {format_us(self.t)}"
        if not self.model:
            return f"{head} · nothing has happened yet"
        when = "just now" if self.passed_at == self.t else f"at {format_us(self.passed_at or 0)}"
        return _longest(fits, [f"{head} · {self.model} · {when}: {said}"
                               for said in _said(self.passed)]
                        + [f"{head} · {self.model}", head])

    def second_line(self, fits: Callable[[str], bool]) -> str:
        at = f"next, at {format_us(self.next_at or 0)}: "
        nexts = [at + said for said in _said(self.upcoming)] if self.upcoming else \
            ["next: nothing more, the run is over" if self.model else ""]
        n = len(self.others)
        sames = [f"same moment in: {', '.join(self.others)}",
                 f"same moment in {n} other run{'s' if n > 1 else ''}"] if self.others else []
        whole = [f"{nxt} · {same}" for nxt in nexts for same in sames]
        return _longest(fits, whole + nexts + [""])


def _said(parts: list[Phrase]) -> list[str]:
    """Every part in full, every part briefly, every part shortest, then fewer parts and how
    many more."""
    if not parts:
        return []
    out = ["; ".join(p.full for p in parts), "; ".join(p.brief for p in parts),
           "; ".join(p.short for p in parts)]
    for n in range(len(parts) - 1, 0, -1):
        out.append("; ".join(p.short for p in parts[:n]) + f"; and {len(parts) - n} more")
    return out


def _longest(fits: Callable[[str], bool], variants: list[str]) -> str:
    return next((v for v in variants if fits(v)), "")


def caption(runs: list[RunIndex], playhead: float, focus: int | None = None,
            durations: bool = True) -> Caption:
    """What the focused run (or the run that acted last) did at its latest moment at or before
    the playhead, what it does next, and which other runs acted at that same moment
    (``durations`` off: without how long spans last)."""
    order = [focus] if focus is not None and 0 <= focus < len(runs) else range(len(runs))
    moments = {k: _moment(runs[k], playhead, after=False) for k in order}
    known = [(t, -k) for k, t in moments.items() if t is not None]
    if not known:
        return Caption(playhead)
    t_point, neg_k = max(known)
    lead = runs[-neg_k]
    next_at = _moment(lead, playhead, after=True)
    return Caption(
        t=playhead, model=run_name(lead), passed_at=t_point,
        passed=phrases(lead, t_point, durations),
        next_at=next_at, upcoming=phrases(lead, next_at) if next_at is not None else [],
        others=[run_name(runs[k]) for k, t in moments.items() if t == t_point and k != -neg_k])
