"""Questions across the runs of one scenario (the all-runs view): which model handles a message
first? Asked when the message's data is ready, with the state of every run on the screen;
each model's why says when it handled the message and what held it up at that moment."""

from __future__ import annotations

from bisect import bisect_right

from iosim.teach.drafts import Choice, Draft
from iosim.teach.units import format_bytes
from iosim.teach.words import (
    BLOCKS_IN,
    MAIN_LOOP_LABEL,
    MULTIPLEXERS,
    READS,
    Words,
    call_name,
    noun_of,
)
from iosim.timefmt import format_us
from iosim.trace import COPY_LABEL, Kind, Run

MARGIN = 0.1  # a rival later by this share of the first's handling time is clearly later
MESSAGES = 3  # questions about the first messages only
LOOKED_AT = 20  # messages looked at for those (one whose moment comes too soon is skipped)


def run_label(run: Run) -> str:
    """A run as its band names it."""
    return run.model if run.source == "sim" else f"{run.model} ({run.source})"


def first_drafts(runs: list[Run]) -> list[Draft]:
    """Which model handles message m first, for the first messages where one is clearly
    first and at least two others are clearly later; each asked after the last one's answer
    was shown."""
    if len(runs) < 3:
        return []
    count = min(run.message_count for run in runs)
    ready = sorted(range(count), key=lambda m: min(run.m_ready[m] for run in runs))
    out: list[Draft] = []
    shown = -1.0
    for m in ready[:LOOKED_AT]:
        t = min(run.m_ready[m] for run in runs)
        if t < shown:
            continue
        draft = _first(runs, m, t)
        if draft is not None:
            out.append(draft)
            shown = draft.event_t
            if len(out) == MESSAGES:
                break
    return out


def _first(runs: list[Run], m: int, t: float) -> Draft | None:
    done = sorted((run.m_done[m], k) for k, run in enumerate(runs)
                  if run.m_done[m] == run.m_done[m])
    if len(done) < 3:
        return None
    best, k_best = done[0]  # a model as quick is not offered
    conn = runs[k_best].m_conn[m]
    margin = max(1.0, MARGIN * (best - t))
    reasons = {_because(runs[k_best], conn, t)}  # a rival held up alike is no lesson
    rivals: dict[str, tuple[float, int, str]] = {}
    for d, k in done[1:]:
        because = _because(runs[k], conn, t)
        name = run_label(runs[k])
        if d - best >= margin and because not in reasons and name not in rivals and \
                name != run_label(runs[k_best]):
            rivals[name] = (d, k, because)
            reasons.add(because)
    chosen = sorted(rivals.values())[:3]
    if len(chosen) < 2:
        return None
    first = runs[k_best]
    words = Words(noun_of(first))
    what = f"message {m + 1} ({format_bytes(first.m_bytes[m])} on connection {conn})" \
        if first.message_count > 1 else f"{words.the} ({format_bytes(first.m_bytes[m])})"
    text = f"{what[:1].upper()}{what[1:]} is ready at {format_us(t)}. Which of these models " \
           "handles it first (finishes processing it)?"
    winner = run_label(first)
    right = Choice(winner, f"{winner} handles it at {format_us(best)}, {format_us(best - t)} "
                           f"after it was ready{_because(first, conn, t)}")
    wrong = tuple(Choice(run_label(runs[k]), f"{run_label(runs[k])} handles it at "
                                             f"{format_us(d)}, {format_us(d - best)} after "
                                             f"{winner}{because}")
                  for d, k, because in chosen)
    return Draft("first", -1, t, best, text, right, wrong, ("first", m))


def _because(run: Run, conn: int, t: float) -> str:
    """What held the run up, or sped it, when the data became ready (": ..."), or ""."""
    lane = _lane_of(run, conn)
    span, in_handler = _span_at(run, lane, t)
    if span < 0:
        return ""
    kind, label = run.kind[span], run.labels[run.label[span]]
    call = call_name(run, span)
    said = ""
    if in_handler and kind != Kind.WORK:
        said = "its signal handler is busy with the sockets"
    elif kind == Kind.BLOCKED and label.startswith(BLOCKS_IN):
        if call in MULTIPLEXERS:
            said = f"it sleeps in {call}, which must report the socket readable before " \
                   "recvfrom copies the data"
        elif call in READS and run.conn[span] == conn:
            said = f"its {call} sleeps on this very socket, so the arrival wakes it"
        elif call in READS:
            said = f"its {call} sleeps on connection {run.conn[span]}, and this data waits " \
                   "behind it (head-of-line blocking)"
    elif kind == Kind.BLOCKED and label == COPY_LABEL:
        said = "it is copying other data (phase 2)"
    elif kind == Kind.WORK and label != MAIN_LOOP_LABEL:
        said = "it is doing its own work and finds the data only at its next recvfrom"
    elif kind == Kind.WORK:
        said = _main_loop(run)
    elif kind == Kind.PROCESS:
        said = "it is still processing earlier data"
    elif kind == Kind.IN_KERNEL and call:
        said = f"it is inside {call}"
    return f": {said}" if said else ""


def _main_loop(run: Run) -> str:
    labels = run.labels
    if any(k == Kind.SIGNAL and "SIGIO" in labels[label]
           for k, label in zip(run.kind, run.label, strict=True)):
        return "the kernel must deliver SIGIO before the handler's recvfrom copies the data"
    return ("the data is copied at once, but it is handled only once the completion has "
            "been signalled and the handler runs")


def _lane_of(run: Run, conn: int) -> int:
    """The thread serving ``conn``, else the process's lane."""
    thread = next((i for i, ln in enumerate(run.lanes)
                   if ln.role == "thread" and ln.conn == conn), -1)
    if thread >= 0:
        return thread
    return next((i for i, ln in enumerate(run.lanes) if ln.role == "app"), 0)


def _span_at(run: Run, lane: int, t: float) -> tuple[int, bool]:
    """The innermost span of ``lane`` under way at ``t`` (begun before it), and whether a
    signal handler encloses it."""
    found, in_handler = -1, False
    handlers = int(Kind.HANDLER) in run.kind
    for i in range(bisect_right(run.t0, t) - 1, -1, -1):
        if run.lane[i] != lane or not run.t0[i] < t <= run.t1[i] or run.kind[i] >= Kind.SYSCALL:
            continue
        if run.kind[i] == Kind.HANDLER:
            in_handler = True
            break
        if found < 0:
            found = i
            if not handlers or run.kind[i] == Kind.WORK:
                break
    return found, in_handler
