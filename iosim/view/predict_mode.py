"""Predict, then reveal, as the window plays it (pure logic, no pygame): playback stops before
each question's moment and asks it; an answer (1-4) is revealed with its why, the playhead
moves on to where the answer shows, and the next question waits further on. In the one-run
view the questions are that run's; beside all runs they are across the runs (which model
handles a message first).

The questions themselves come from ``iosim.teach.predict``; this module only decides when to
ask and keeps the score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from iosim.teach.predict import Question, Quiz, Reveal
from iosim.trace import Run
from iosim.view.player import Player

ASK_AT = 0.4  # asking, the playhead is at most this far across the window


@dataclass
class PredictMode:
    """Predict mode over run ``run`` (its index among the shown runs), or over all the shown
    runs (``run`` None)."""

    run: int | None
    quiz: Quiz
    asked: Question | None = None  # waiting for an answer
    reveal: Reveal | None = None  # the last answer's, shown until the student goes on

    @classmethod
    def of(cls, run_index: int, run: Run) -> PredictMode:
        return cls(run_index, Quiz(run, seed=run_index))

    @classmethod
    def across(cls, runs: Sequence[Run]) -> PredictMode:
        return cls(None, Quiz(runs))

    @property
    def score(self) -> tuple[int, int]:
        """(right, wrong): each question counts once, even asked again after a rewind."""
        return self.quiz.score

    def pending(self, t: float) -> Question | None:
        """The next question after the playhead (the one being asked, if any)."""
        return self.asked or self.quiz.question_after(t)

    def finished(self, t: float) -> bool:
        return self.asked is None and self.quiz.question_after(t) is None

    def hold(self, player: Player) -> None:
        """After a frame of playback: stop at the next question's moment and ask it."""
        if self.asked is not None:
            player.playing = False
            return
        if self.reveal is not None:  # the reveal stays until the student goes on
            return
        question = self.quiz.question_after(player.t)
        if question is not None and player.t >= question.stop_at:
            self._ask(player, question)

    def step(self, player: Player) -> bool:
        """→ in predict mode: on to the next question's moment, and ask it (True); False
        when no question is left (the step is an ordinary one)."""
        if self.asked is not None:
            return True
        question = self.quiz.question_after(player.t)
        if question is None:
            return False
        self._ask(player, question)
        return True

    def answer(self, choice: int, player: Player) -> Reveal | None:
        """Answer the question asked (``choice`` from 0); the playhead moves to where the
        answer shows."""
        question = self.asked
        if question is None or not 0 <= choice < len(question.choices):
            return None
        reveal = self.quiz.answer(choice, question)
        self.reveal, self.asked = reveal, None
        player.playing = False
        player.seek(question.event_t)
        return reveal

    def moving_on(self) -> None:
        """The student goes on: the last reveal leaves the screen."""
        self.reveal = None

    def _ask(self, player: Player, question: Question) -> None:
        self.moving_on()
        self.asked = question
        player.playing = False
        player.seek(max(question.stop_at, 0.0))
        lo, hi = player.window  # the question is drawn in the blank future: leave it room
        head, width = player.axis.pos(player.t), hi - lo
        if head > lo + ASK_AT * width:
            player.set_window(head - ASK_AT * width, head + (1 - ASK_AT) * width)
