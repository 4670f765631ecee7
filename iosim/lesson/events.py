"""A moment's time named by what happens then ("message 3 copied"), found in the runs.

The words: ``start``, ``end``, or ``message N`` followed by ``sent`` (the client sends it),
``ready`` (its data is in the receive queue: phase 1 ends), ``copying`` (phase 2 begins),
``copied`` (phase 2 ends) or ``handled`` (the process is done with it). In the runs of a
moment the earliest run that has the event gives the time (in the one-run view: that run).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from iosim.trace import Run

STAGES = {"sent": "m_sent", "ready": "m_ready", "copying": "m_copy_start",
          "copied": "m_copy_end", "handled": "m_done"}
WORDS = "start, end, or message N sent|ready|copying|copied|handled"
_MESSAGE = re.compile(r"message\s+(\d{1,7})\s+(\w+)")


@dataclass(frozen=True)
class Event:
    what: str  # "start", "end" or a stage of STAGES
    message: int = 0  # from 1

    def __str__(self) -> str:
        return self.what if self.what in ("start", "end") else \
            f"message {self.message} {self.what}"


def parse_event(text: str) -> Event | None:
    """The event a text names, or None when it names none (the caller says what is
    expected: WORDS)."""
    words = " ".join(text.lower().split())
    if words in ("start", "end"):
        return Event(words)
    match = _MESSAGE.fullmatch(words)
    if match is None or match.group(2) not in STAGES or int(match.group(1)) < 1:
        return None
    return Event(match.group(2), int(match.group(1)))


def event_time_us(event: Event, runs: Sequence[Run]) -> float | None:
    """When ``event`` happens in the earliest of ``runs`` that has it (µs); None when none
    has it (a message no run handles)."""
    if event.what == "start":
        return 0.0
    if event.what == "end":
        return max((r.end_us for r in runs), default=0.0)
    m = event.message - 1
    times = [getattr(r, STAGES[event.what])[m] for r in runs if m < r.message_count]
    known = [t for t in times if t == t]  # NaN: not reached in that run
    return min(known) if known else None
