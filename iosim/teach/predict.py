"""Predict, then reveal: playback stops before each significant event of a run and asks what
happens next, with the true event among plausible wrong ones.

Research on algorithm animation (docs/teaching.md) found that students learn when they predict
and engage, not when they watch. The significant events are read from the trace (a call returns
or blocks, data becomes ready, a copy starts or ends, a signal is delivered, a thread wakes);
the wrong choices come from a vocabulary of what happens in this model and in the others,
scored for plausibility at that moment (what came just before, what comes just after, the
usual confusions), never one that is also true at that instant.
"""

from __future__ import annotations

import random
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain

from iosim.teach.happenings import (
    MAIN_LOOP,
    POLLING,
    PRIORITY,
    RIVALS,
    VOCABULARY,
    Happening,
    What,
)
from iosim.teach.words import (
    ALL_BLOCKED_LABEL,
    BLOCKS_IN,
    GIL_LABEL,
    MAIN_LOOP_LABEL,
    Words,
    call_name,
    noun_of,
)
from iosim.trace import COPY_LABEL, Kind, Run

REPEATS = 2  # a run of questions with the same answer asks only its first two
WRONG_MAX, WRONG_MIN = 3, 2  # three or four choices
RELATED = 2.0  # a fourth choice is offered only when it scores at least this


@dataclass(frozen=True)
class Significant:
    """A significant event: when, on which lane, and what (as a choice would say it)."""

    t: float
    lane: int
    happening: Happening
    text: str


@dataclass(frozen=True)
class Reveal:
    right: bool
    why: str  # one sentence: right or wrong, and why
    answer: str  # the true choice


@dataclass(frozen=True)
class Question:
    """What happens next? ``stop_at`` is where playback stops (the run's last event before
    ``event_t``, or ``event_t`` itself for the run's first instant: show the state before it)."""

    stop_at: float
    event_t: float
    choices: list[str]
    answer: int
    reason: str = field(repr=False, default="")  # why the true event happens

    def reveal(self, choice: int) -> Reveal:
        if not 0 <= choice < len(self.choices):
            raise ValueError(f"choice {choice} is not one of 0-{len(self.choices) - 1}")
        right = choice == self.answer
        return Reveal(right, ("Right: " if right else "Wrong: ") + self.reason + ".",
                      self.choices[self.answer])


Spec = tuple[What, str, str, str]  # a Happening's fields: made into one object per kind


class _Table:
    """A run's significant events as sorted columns, and the states a student might name
    (blocked in a call, own work, processing) as intervals per happening."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.words = Words(noun_of(run))
        self.happenings: list[Happening] = []
        self.texts: list[str] = []  # by happening id
        self.ranks: list[tuple[int, bool]] = []  # by happening id: most telling first
        self._ids: dict[Spec, int] = {}
        self._said: dict[Happening, str] = {}
        times: list[float] = []
        lanes: list[int] = []
        ids: list[int] = []
        states: dict[tuple[What, str], tuple[list[float], list[float]]] = {}
        for t, lane, spec, state_end in _events(run):
            if state_end is not None:
                starts, ends = states.setdefault((spec[0], spec[1]), ([], []))
                starts.append(t)
                ends.append(state_end)
                continue
            found = self._ids.get(spec)
            if found is None:
                found = self._intern(spec)
            times.append(t)
            lanes.append(lane)
            ids.append(found)
        self.t, self.lane, self.what = array("d", times), array("i", lanes), array("i", ids)
        self.states = {key: (array("d", sorted(s)), array("d", sorted(e)))
                       for key, (s, e) in states.items()}

    def _intern(self, spec: Spec) -> int:
        happening = Happening(*spec)
        found = self._ids[spec] = len(self.happenings)
        self.happenings.append(happening)
        self.texts.append(self.text(happening))
        self.ranks.append((PRIORITY[happening.what], not happening.call))
        return found

    def text(self, h: Happening) -> str:
        """What a choice says for ``h`` (made once per kind of happening)."""
        found = self._said.get(h)
        if found is None:
            found = self._said[h] = h.text(self.words)
        return found

    def at(self, t: float) -> list[Happening]:
        """The happenings at exactly ``t``, most telling first (several lanes may share one)."""
        found = {self.what[k] for k in range(bisect_left(self.t, t), bisect_right(self.t, t))}
        return [self.happenings[h] for h in sorted(found, key=self.ranks.__getitem__)]

    def in_state(self, key: tuple[What, str], t: float) -> bool:
        """Some lane is in the state ``key`` names at ``t`` (started by then, ends after)."""
        spans = self.states.get(key)
        if spans is None:
            return False
        starts, ends = spans
        return bisect_right(starts, t) - bisect_right(ends, t) > 0


_RETURN, _EWOULDBLOCK, _EOF, _READABLE = (int(k) for k in (Kind.RETURN, Kind.EWOULDBLOCK,
                                                           Kind.EOF, Kind.READABLE))
_SIGNAL, _WAKEUP, _BLOCKED, _PROCESS, _WORK = (int(k) for k in (
    Kind.SIGNAL, Kind.WAKEUP, Kind.BLOCKED, Kind.PROCESS, Kind.WORK))
_SYSCALL, _ERROR, _ARRIVAL, _COMPLETE, _COPY = (int(k) for k in (
    Kind.SYSCALL, Kind.ERROR, Kind.ARRIVAL, Kind.COMPLETE, Kind.COPY))
_RESULTS = {_RETURN: What.RETURNS, _EWOULDBLOCK: What.EWOULDBLOCK, _EOF: What.EOF,
            _READABLE: What.READABLE}
ARRIVES: Spec = (What.ARRIVES, "", "", "")
COPY_DONE: Spec = (What.COPY_DONE, "", "", "")
COPY_STARTS: Spec = (What.COPY_STARTS, "", "", "")
ERROR: Spec = (What.ERROR, "", "", "")


def _events(run: Run) -> Iterator[tuple[float, int, Spec, float | None]]:
    """(t, lane, happening, end of the state it begins or None) for each significant event and
    each state-beginning span of the run, in time order. A threaded run's process lane repeats
    what its threads do, so only the thread lanes count there."""
    roles = [ln.role for ln in run.lanes]
    threaded = "thread" in roles
    names = [ln.name if ln.role == "thread" else "" for ln in run.lanes]
    labels = run.labels
    woke: dict[int, float] = {}  # lane -> last wake-up: a block that goes on is no new block
    copy_end: dict[int, float] = {}  # kernel lane -> end of its last copy
    last_call: dict[int, str] = {}
    for i, (kind, lane, t0, t1, label) in enumerate(zip(run.kind, run.lane, run.t0, run.t1,
                                                        run.label, strict=True)):
        role = roles[lane]
        if role == "kernel":
            if kind == _ARRIVAL:
                yield t0, lane, ARRIVES, None
            elif kind == _COMPLETE:
                yield t0, lane, COPY_DONE, None
            elif kind == _COPY:
                if copy_end.get(lane) != t0:
                    yield t0, lane, COPY_STARTS, None
                copy_end[lane] = t1
            continue
        if kind == _ERROR:
            yield t0, lane, ERROR, None
            continue
        if kind == _SYSCALL:
            last_call[lane] = labels[label]
            continue
        if threaded and role == "app":
            continue
        who = names[lane]
        call = call_name(run, i) or last_call.get(lane, "")
        text = labels[label]
        state = _state(kind, text, call, who)
        if state is not None:
            yield t0, lane, state, t1
        event = _happening(kind, text, call, who, woke.get(lane) == t0)
        if event is not None:
            yield t0, lane, event, None
        if kind == _WAKEUP:
            woke[lane] = t0


def _happening(kind: int, label: str, call: str, who: str, after_wakeup: bool) -> Spec | None:
    what = _RESULTS.get(kind)
    if what is not None:
        if what is What.RETURNS and label == "return":  # aio_read's: queued, not done
            what = What.RETURNS_AT_ONCE
        return what, call, who, ""
    if kind == _SIGNAL:
        what = What.SIGIO if "SIGIO" in label else What.AIO_SIGNAL if "aio" in label else \
            What.SIGNAL
        return what, "", who, ""
    if kind == _WAKEUP:
        return What.WAKES, "", who, ""
    if kind == _BLOCKED:
        if label == COPY_LABEL:
            return What.COPY_STARTS, call, who, ""
        if label.startswith(BLOCKS_IN) and not after_wakeup:
            return What.BLOCKS, call, who, ""
        return None
    if kind == _PROCESS:
        return What.PROCESSES, "", who, ""
    if kind == _WORK:
        return What.OWN_WORK, "", who, MAIN_LOOP if label == MAIN_LOOP_LABEL else POLLING
    return None


def _state(kind: int, label: str, call: str, who: str) -> Spec | None:
    """The state a span puts its lane in, as the happening a student would name for it."""
    if kind == _BLOCKED and call and label not in (GIL_LABEL, ALL_BLOCKED_LABEL):
        return What.BLOCKS, call, who, ""
    if kind == _WORK:
        return What.OWN_WORK, "", who, ""
    if kind == _PROCESS:
        return What.PROCESSES, "", who, ""
    return None


def significant(run: Run) -> list[Significant]:
    """The run's significant events in time order (several lanes may act at one instant; a
    threaded run's are its threads')."""
    table = _Table(run)
    return [Significant(t, lane, table.happenings[h], table.texts[h])
            for t, lane, h in zip(table.t, table.lane, table.what, strict=True)]


class Quiz:
    """The questions of one run and the student's answers. Playback asks ``question_after``
    the playhead, stops at its ``stop_at``, takes an answer (``answer``), then moves on to its
    ``event_t``. A run of questions with the same answer (a non-blocking server's polls) asks
    only its first REPEATS; each question counts once in the score."""

    def __init__(self, run: Run, seed: int = 0) -> None:
        self.run = run
        self.seed = seed
        self._table = _Table(run)
        self._times = array("d")
        self._answers: list[Happening] = []
        self._choose_questions()
        self._asked: dict[int, Question] = {}
        self._current: int | None = None
        self._results: dict[int, bool] = {}

    def __len__(self) -> int:
        return len(self._times)

    @property
    def score(self) -> tuple[int, int]:
        """(right, wrong) over the questions answered."""
        right = sum(self._results.values())
        return right, len(self._results) - right

    def question_after(self, t: float) -> Question | None:
        """The question about the next significant event after ``t`` (or at ``t``, if that one
        has not been answered yet); None when no question is left."""
        k = bisect_right(self._times, t)
        if k and self._times[k - 1] == t and k - 1 not in self._results:
            k -= 1
        if k >= len(self._times):
            self._current = None
            return None
        self._current = k
        return self._question(k)

    def answer(self, choice: int, question: Question | None = None) -> Reveal:
        """Answer ``question`` (by default the current one: the last one ``question_after``
        returned; a window that looks ahead every frame names the one it asked)."""
        k = self._current if question is None else bisect_left(self._times, question.event_t)
        if k is None or not 0 <= k < len(self._times):
            raise ValueError("no question is being asked")
        reveal = self._question(k).reveal(choice)
        self._results.setdefault(k, reveal.right)
        return reveal

    def _choose_questions(self) -> None:
        """One question per instant with significant events, about the most telling of them."""
        table = self._table
        times, what, ranks, texts = table.t, table.what, table.ranks, table.texts
        k, n = 0, len(times)
        last, repeats = "", 0
        while k < n:
            t = times[k]
            end = k + 1
            if end < n and times[end] == t:
                end = bisect_right(times, t, k)
                best = min((what[x] for x in range(k, end)), key=ranks.__getitem__)
            else:
                best = what[k]
            k = end
            text = texts[best]
            repeats = repeats + 1 if text == last else 1
            last = text
            if repeats <= REPEATS:
                self._times.append(t)
                self._answers.append(table.happenings[best])

    def _question(self, q: int) -> Question:
        asked = self._asked.get(q)
        if asked is None:
            asked = self._asked[q] = self._make(q)
        return asked

    def _make(self, q: int) -> Question:
        table, run = self._table, self.run
        t, answer = self._times[q], self._answers[q]
        true_now = {h.key for h in table.at(t)}
        answer_text = table.text(answer)
        rng = random.Random(f"{self.seed}:{q}")
        nearby = {table.text(self._answers[p]): p - q for p in range(max(0, q - 2),
                                                                     min(len(self), q + 3))}
        own = {h.key: h for h in reversed(table.happenings)}  # one of each kind in this run
        pool: dict[str, float] = {}
        seen = set(true_now)
        for h in chain((self._answers[p] for p in range(max(0, q - 2), min(len(self), q + 3))),
                       own.values(), *VOCABULARY.values()):
            text = table.text(h)
            if h.key in seen or text in pool or text == answer_text \
                    or table.in_state(h.key, t):
                continue
            seen.add(h.key)
            pool[text] = (4.0 * (nearby.get(text) == 1) + 3.0 * (nearby.get(text) == -1)
                          + 3.0 * (h.what in RIVALS[answer.what]) + 2.0 * (h.key in own)
                          + rng.random())
        wrong = sorted(pool, key=lambda text: -pool[text])[:WRONG_MAX]
        if len(wrong) > WRONG_MIN and pool[wrong[-1]] < RELATED:
            wrong.pop()
        position = rng.randrange(len(wrong) + 1)
        choices = [*wrong[:position], answer_text, *wrong[position:]]
        before = bisect_left(run.t0, t) - 1
        return Question(run.t0[before] if before >= 0 else t, t, choices, position,
                        answer.because(table.words, run.error))
