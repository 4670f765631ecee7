"""Predict, then reveal, as the window plays it (pure logic, no pygame): playback stops just
before each significant event of the shown run and asks what happens next; an answer (1-4) is
revealed with its reason, the event is shown, and the next question waits further on.

The questions themselves (the true next event among plausible wrong ones, the reasons) come
from ``iosim.teach.predict``; this module only decides when to ask and keeps the score.
"""

from __future__ import annotations

from dataclasses import dataclass

from iosim.teach.predict import Question, Quiz, Reveal
from iosim.trace import Run
from iosim.view.player import Player


@dataclass
class PredictMode:
    """Predict mode over run ``run`` (its index among the shown runs)."""

    run: int
    quiz: Quiz
    asked: Question | None = None  # waiting for an answer
    reveal: Reveal | None = None  # the last answer's, shown until the student goes on

    @classmethod
    def of(cls, run_index: int, run: Run) -> PredictMode:
        return cls(run_index, Quiz(run, seed=run_index))

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
        """Before stepping to the next event: True when the step would pass the next
        question's event, in which case the playhead stops at its moment and asks instead."""
        if self.asked is not None:
            return True
        question = self.quiz.question_after(player.t)
        after = player.event_after()
        if question is not None and after is not None and after >= question.event_t:
            self._ask(player, question)
            return True
        return False

    def answer(self, choice: int, player: Player) -> Reveal | None:
        """Answer the question asked (``choice`` from 0); the playhead moves onto the event."""
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
