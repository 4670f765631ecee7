"""A question before its choices are shuffled: what is asked, where playback stops, the true
choice and the wrong ones, each with its own why."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class Choice:
    text: str
    why: str  # one clause: why this is what happens, or why it is not


@dataclass(frozen=True)
class Draft:
    kind: str  # "call", "arrival", "count" or "first"
    lane: int  # the lane asked about (-1: several runs)
    stop_at: float  # playback stops here to ask (nothing after it is shown)
    event_t: float  # the answer shows from here on
    text: str  # the question, complete in itself (a terminal has no picture)
    right: Choice
    wrong: tuple[Choice, ...]
    topic: Hashable  # a run asks about each topic once

