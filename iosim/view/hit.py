"""What is under the mouse, as pure logic (no pygame): a run's name, the time axis, a lane, the
span or instant at a point, a message's arrival mark; and the words of the details box that
hovering shows, as Perfetto's and chrome://tracing's selection panels do."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from iosim.timefmt import format_us
from iosim.trace import READY_ESTIMATED, Kind
from iosim.view.caption import run_name
from iosim.view.index import RunIndex
from iosim.view.layout import Band, Screen, Viewport

NEAR_PX = 5  # an instant this close to the pointer is under it
KIND_WORDS = {
    Kind.WAIT: "phase 1: wait for data", Kind.COPY: "phase 2: copy data from kernel to user",
    Kind.QUEUED: "data ready in the receive queue, not yet copied",
    Kind.BLOCKED: "the process cannot run (blocked)",
    Kind.IN_KERNEL: "the process runs inside a system call",
    Kind.WORK: "the process does its own work", Kind.PROCESS: "processing a message",
    Kind.HANDLER: "inside the signal handler", Kind.DELIVERY: "the kernel delivers a signal",
    Kind.OVERHEAD: "between two recorded calls (interpreter, entry and exit)",
    Kind.SYSCALL: "a system call is made", Kind.RETURN: "a call returns",
    Kind.EWOULDBLOCK: "a non-blocking call returns EWOULDBLOCK",
    Kind.READABLE: "the multiplexer returns: a socket is readable",
    Kind.SIGNAL: "a signal is delivered", Kind.COMPLETE: "the kernel finished the copy",
    Kind.ARRIVAL: "data arrived in the receive queue", Kind.WAKEUP: "the process is woken",
    Kind.ERROR: "the run stopped with an error", Kind.EOF: "a read returned 0: the peer closed",
}


@dataclass(frozen=True)
class Hit:
    """What a point of the screen is: ``what`` is "name", "axis", "lane" or "none"."""

    what: str
    run: int = -1  # the run's index among the shown runs
    lane: int = -1
    event: int = -1  # an event of that run under the point (-1: none)
    message: int = -1  # a message whose arrival mark is under the point

    @property
    def on_time(self) -> bool:
        """A click here moves the playhead to the time under it."""
        return self.what in ("axis", "lane")


def _inside(box: tuple[int, int, int, int] | None, x: float, y: float) -> bool:
    return box is not None and box[0] <= x < box[0] + box[2] and box[1] <= y < box[1] + box[3]


def hit(screen: Screen, runs: list[RunIndex], vp: Viewport, x: float, y: float) -> Hit:
    if _inside(screen.ruler, x, y) or _inside(screen.overview, x, y):
        return Hit("axis")
    for band in screen.bands:
        if not _inside(band.box, x, y):
            continue
        name = band.name_box
        if _inside((name[0], band.box[1], name[2], 22), x, y):
            return Hit("name", band.number)
        if not _inside(screen.timeline, x, y):
            return Hit("none", band.number)
        return _in_band(band, runs[band.number], vp, x, y)
    return Hit("none")


def _in_band(band: Band, ri: RunIndex, vp: Viewport, x: float, y: float) -> Hit:
    run = ri.run
    for group in band.groups():
        for lane in group.lanes:
            row = group.row(lane)
            if not _inside(row, x, y):
                continue
            event = event_at(ri, lane, vp, x)
            message = -1
            if event >= 0 and run.kind[event] == Kind.ARRIVAL:
                message = run.msg[event]
            return Hit("lane", band.number, lane, event, message)
    return Hit("lane", band.number)


def event_at(ri: RunIndex, lane: int, vp: Viewport, x: float) -> int:
    """The event of ``lane`` under x: an instant within NEAR_PX first (arrows and marks are
    what a pointer aims at), else the innermost span covering x; -1 when none."""
    run = ri.run
    t = vp.time_at(x)
    t_lo, t_hi = vp.time_at(x - NEAR_PX), vp.time_at(x + NEAR_PX)
    li = ri.lanes[lane]
    best_instant, best_dx = -1, NEAR_PX + 1.0
    best_span, best_len = -1, float("inf")
    for j in li.visible(t_lo, t_hi):
        i = li.events[j]
        t0, t1 = run.t0[i], run.t1[i]
        if run.kind[i] >= Kind.SYSCALL:
            dx = abs(vp.x(t0) - x)
            if dx < best_dx:
                best_instant, best_dx = i, dx
        elif t0 <= t <= t1 and t1 - t0 < best_len:
            best_span, best_len = i, t1 - t0
    return best_instant if best_instant >= 0 else best_span


def details(ri: RunIndex, number: int, i: int) -> list[str]:
    """The hover box: what the event is (Stevens's label), the run, the lane, connection and
    message, start, end and duration."""
    run = ri.run
    kind = Kind(run.kind[i])
    label = run.labels[run.label[i]]
    lines = [label, KIND_WORDS.get(kind, kind.name.lower()),
             f"run {number + 1}: {run_name(ri)} · lane: {run.lanes[run.lane[i]].name}"]
    who = []
    if run.conn[i] >= 0:
        who.append(f"connection {run.conn[i]}")
    if run.msg[i] >= 0:
        who.append(f"message {run.msg[i] + 1}")
        if run.m_flags[run.msg[i]] & READY_ESTIMATED:
            who.append("ready time estimated")
    if who:
        lines.append(" · ".join(who))
    t0, t1 = run.t0[i], run.t1[i]
    if kind.is_span:
        lines.append(f"{format_us(t0)} → {format_us(t1)} ({format_us(t1 - t0)})")
    else:
        lines.append(f"at {format_us(t0)}")
    return lines


# What each counter means, as the hover over it says (the key: the counter's name).
COUNTER_WORDS = {
    "calls": "system calls the process has made so far",
    "EWOULDBLOCK": "calls that returned at once because nothing was queued on a non-blocking "
                   "socket",
    "signals": "signals delivered so far: SIGIO, or the completion signal aio_read asked for",
    "handled": "messages processed so far, of all the run's messages",
    "blocked": "share of the time so far the process could not run: asleep in a call, "
               "woken but not yet running, or blocked during a copy",
    "own work": "share of the time so far spent on the program's own work while no message "
                "was handled",
    "latency": "the last message handled: data ready → copied into the process's buffer",
    "handled in": "the last message handled: data ready → processed",
    "message": "the followed message's own figures below",
    "data waited": "how long the followed message's data was ready before its copy began",
    "copy": "the followed message's phase 2: kernel → the process's buffer",
    "handled at": "when processing of the followed message ended",
}

Spot = tuple[tuple[int, int, int, int], str]  # where a counter was drawn, and its name


def counter_at(spots: list[Spot], x: float, y: float) -> str | None:
    """The counter under the pointer (its name), None when none."""
    return next((key for box, key in spots if _inside(box, x, y)), None)


@lru_cache(maxsize=4096)
def counter_key(line: str) -> str:
    """A counter's name from its text ("handled in 1.2 ms" -> "handled in"); cached, as a
    frame asks it of every counter it draws and the texts repeat."""
    return max((key for key in COUNTER_WORDS if line == key or line.startswith(key + " ")
                or line.startswith(key + ":")), key=len, default="")
