"""Predict, then reveal: playback stops before a moment that tells the models apart and asks
what happens, with the true answer among wrong ones that each have their own why.

Research on algorithm animation (docs/teaching.md) found that students learn when they predict
and engage, not when they watch. So a run gets at most ``MOST`` questions, about its first
messages and about what defines its model: what its calls do once made (sleep, copy,
EWOULDBLOCK, readable, return at once), what an arrival sets off (a wake-up, a signal, a copy,
nothing at all), and a few numbers to work out (EWOULDBLOCKs before the first arrival, calls
until the first message is processed, SIGIOs for the run's messages). An arrival is never the
answer: it is given, since nothing on the screen could foretell it. Across the runs of a
scenario (the all-runs view) the question is which model handles a message first.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from iosim.teach.asking import Speaker, arrival_draft, call_draft, call_topic, error_draft
from iosim.teach.calls import Facts, horizon
from iosim.teach.counting import count_drafts
from iosim.teach.drafts import Draft
from iosim.teach.rivals import first_drafts
from iosim.teach.server_questions import KernelNotes, corrupt_draft, left_draft, server_drafts
from iosim.teach.words import MULTIPLEXERS, capital
from iosim.trace import Run

MOST = 10  # questions a run asks at most
DRAFTS_A_TOPIC = 3  # candidates kept per topic (one is asked: the first that fits in time)
FIRST_MESSAGES = 3  # the part of a run asked about: until its third message is handled
ALL_RUNS = "all"  # the model of a question across the runs
WORDED = ("call", "arrival", "send", "sigio")  # kinds whose choices are sentences (others: numbers,
# names)
OWN_NAMES = ("send", "accept")  # calls a sentence may start with, kept in lower case


@dataclass(frozen=True)
class Reveal:
    right: bool
    why: str  # "Right: ..." or "Wrong: ...", about the choice made
    answer: str  # the true choice
    answer_why: str  # why the true choice is true ("" when it was chosen)


@dataclass(frozen=True)
class Question:
    """One question: playback stops at ``stop_at`` to ask it; ``event_t`` is where the
    answer shows. ``whys`` says, for each choice, why it is or is not what happens."""

    model: str
    kind: str  # "call", "arrival", "count" or "first"
    lane: int  # -1: a question across the runs
    stop_at: float
    event_t: float
    text: str
    choices: list[str]
    answer: int
    whys: list[str]

    def reveal(self, choice: int) -> Reveal:
        if not 0 <= choice < len(self.choices):
            raise ValueError(f"choice {choice} is not one of 0-{len(self.choices) - 1}")
        right = choice == self.answer
        why = ("Right: " if right else "Wrong: ") + self.whys[choice] + "."
        answer_why = "" if right else capital(self.whys[self.answer]) + "."
        return Reveal(right, why, self.choices[self.answer], answer_why)


def run_drafts(run: Run) -> list[Draft]:
    """A run's questions before shuffling, in the order they are asked."""
    stopped = error_draft(run)
    if stopped is not None:
        return [stopped]
    if not len(run):
        return []
    facts = Facts(run, horizon(run, FIRST_MESSAGES))
    sp = Speaker(run, facts)
    notes = KernelNotes(run)
    drafted: Counter = Counter()  # a topic's later calls are left alone: thousands may repeat it
    steps = server_drafts(sp)
    for call in facts.calls:
        # a wait while a read left bytes queued, or a read of a bad datagram: its own lesson
        left_behind = call.name in MULTIPLEXERS and notes.left_at(call.t)[1] > 0
        draft = left_draft(sp, notes, call) if left_behind else corrupt_draft(sp, notes, call)
        if draft is None and not left_behind:
            if drafted[call_topic(sp, call)] >= DRAFTS_A_TOPIC:
                continue
            draft = call_draft(sp, call)
        if draft is not None and drafted[draft.topic] < DRAFTS_A_TOPIC:
            steps.append(draft)
            drafted[draft.topic] += 1
    steps += [d for d in (arrival_draft(sp, a) for a in facts.arrivals()) if d is not None]
    steps.sort(key=lambda d: (d.event_t, d.kind != "arrival", d.stop_at))  # cause, then effect
    return _chosen(count_drafts(sp) + steps)


def _chosen(drafts: list[Draft]) -> list[Draft]:
    """Each topic once, never one whose stop comes before the last answer shown (playback
    would have to go back), at most MOST."""
    out: list[Draft] = []
    topics: set = set()
    shown = float("-inf")
    for d in drafts:
        if d.topic in topics or d.stop_at < shown:
            continue
        out.append(d)
        topics.add(d.topic)
        shown = d.event_t
        if len(out) == MOST:
            break
    return out


def _question(draft: Draft, model: str, rng: random.Random) -> Question:
    choices = [draft.right, *draft.wrong[:3]]
    rng.shuffle(choices)
    return Question(model, draft.kind, draft.lane, draft.stop_at, draft.event_t, draft.text,
                    [_sentence(c.text) if draft.kind in WORDED else c.text for c in choices],
                    choices.index(draft.right), [c.why for c in choices])


def _sentence(text: str) -> str:
    first = text.split(" ", 1)[0]
    return text if first in OWN_NAMES else capital(text)


class Quiz:
    """The questions of one run (or, given several runs, the questions across them) and the
    student's answers. Playback asks ``question_after`` the playhead, stops at its
    ``stop_at``, takes an answer (``answer``), then moves on to its ``event_t``. The same
    seed gives the same questions with their choices in the same order."""

    def __init__(self, runs: Run | Sequence[Run], seed: int = 0) -> None:
        if isinstance(runs, Run):
            drafts, model = run_drafts(runs), runs.model
        else:
            drafts, model = first_drafts(list(runs)), ALL_RUNS
        rng = random.Random(f"{seed}:{model}")
        self.questions = [_question(d, model, rng) for d in drafts]
        self._results: dict[int, bool] = {}
        self._current: int | None = None

    def __len__(self) -> int:
        return len(self.questions)

    @property
    def score(self) -> tuple[int, int]:
        """(right, wrong) over the questions answered."""
        right = sum(self._results.values())
        return right, len(self._results) - right

    def question_after(self, t: float) -> Question | None:
        """The next question whose answer shows after ``t`` (or at ``t``, if it has not been
        answered yet); None when no question is left."""
        for k, q in enumerate(self.questions):
            if q.event_t > t or (q.event_t == t and k not in self._results):
                self._current = k
                return q
        self._current = None
        return None

    def answer(self, choice: int, question: Question | None = None) -> Reveal:
        """Answer ``question`` (by default the current one: the last one ``question_after``
        returned; a window that looks ahead every frame names the one it asked)."""
        k = self._current if question is None else self.questions.index(question)
        if k is None:
            raise ValueError("no question is being asked")
        reveal = self.questions[k].reveal(choice)
        self._results.setdefault(k, reveal.right)
        return reveal


def counts(runs: Sequence[Run]) -> dict[str, int]:
    """Questions per run (by model), and across the runs (``ALL_RUNS``): what predict mode
    and ``iosim quiz`` ask of a scenario."""
    out = {run.model: len(Quiz(run)) for run in runs}
    out[ALL_RUNS] = len(Quiz(runs))
    return out
