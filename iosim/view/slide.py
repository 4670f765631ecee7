"""What a frame shows beyond the runs when it is a lesson's moment, as pure logic: the
moment's title, its question and whether the answer is out, the teacher's talking points for
the presenter's line, where the moment sits in the lesson, and a blanked screen."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Slide:
    title: str = ""  # the moment's title; "" makes the caption the slide's title
    question: str = ""
    answer: str = ""
    revealed: bool = False  # the answer is shown
    notes: tuple[str, ...] = ()  # talking points: the presenter's line, never on a slide
    notes_shown: bool = False  # the presenter's line is drawn (the window only)
    place: str = ""  # "moment 3 of 14"
    blank: bool = False  # the screen is blanked (B, as in presentation programs)
    window: bool = False  # shown in the window (not a rendered slide): keys are named

    @property
    def asking(self) -> bool:
        """A question is posed and its answer not yet shown."""
        return bool(self.question) and not self.revealed
