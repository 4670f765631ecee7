"""Predict, then reveal: on every built-in scenario and model the true next event is among three
or four distinct choices exactly once, no wrong choice is also true at that instant, the reveal
says why, and the score counts."""

from __future__ import annotations

import pytest
from teachhelp import (
    builtin_runs,
    check_questions,
    light_builtin_runs,
    one_datagram,
    questions,
)

from iosim.scenario import SIM_MODELS
from iosim.teach.happenings import VOCABULARY
from iosim.teach.predict import Quiz, significant

MOST = 400  # questions looked at per run


def test_every_builtin_scenario_and_model() -> None:
    asked = sum(check_questions(run, Quiz(run, seed=7)) for _, run in light_builtin_runs())
    assert asked > 1000


def test_a_run_of_ten_thousand_threads() -> None:
    run = next(run for name, run in builtin_runs() if name == "c10k" and run.model == "threaded")
    assert len(run.lanes) > 10000
    check_questions(run, Quiz(run))


def test_first_questions_of_one_datagram() -> None:
    """The moments the models are told apart by: what recvfrom does with nothing queued, what
    select, SIGIO and aio_read do."""
    first = {model: Quiz(one_datagram(model)).question_after(-1.0) for model in SIM_MODELS}
    said = {model: q.choices[q.answer] for model, q in first.items() if q is not None}
    assert said == {
        "blocking": "The process blocks in recvfrom",
        "nonblocking": "recvfrom returns EWOULDBLOCK",
        "select": "The process blocks in select",
        "poll": "The process blocks in poll",
        "epoll": "The process blocks in epoll_wait",
        "epoll-et": "The process blocks in epoll_wait",
        "sigio": "The process keeps running its own work",
        "aio": "aio_read returns at once",
        "threaded": "Thread 0 blocks in recvfrom",
    }


def test_the_reveal_says_why() -> None:
    q = Quiz(one_datagram("nonblocking")).question_after(-1.0)
    assert q is not None and "The process blocks in recvfrom" in q.choices
    reveal = q.reveal(q.choices.index("The process blocks in recvfrom"))
    assert not reveal.right
    assert reveal.why == ("Wrong: the socket is non-blocking, so with nothing queued recvfrom "
                          "returns EWOULDBLOCK at once instead of sleeping.")
    assert q.reveal(q.answer).why.startswith("Right: the socket is non-blocking")


def test_select_wakes_for_readiness_not_data() -> None:
    """At select's wake-up (all costs 0: arrival, wake-up and return coincide) the question is
    about readiness, and neither the arrival nor the wake-up is offered as a wrong choice."""
    quiz = Quiz(one_datagram("select"))
    q = quiz.question_after(10.0)
    assert q is not None and q.event_t == 20000.0
    assert q.choices[q.answer] == "select returns readable"
    assert "A datagram arrives in the kernel" not in q.choices
    assert "The process wakes up" not in q.choices


def test_polls_are_asked_twice_then_skipped() -> None:
    run = one_datagram("nonblocking")
    answers = [q.choices[q.answer] for q in questions(Quiz(run))]
    assert answers[:2] == ["recvfrom returns EWOULDBLOCK"] * 2
    assert answers[2] != answers[1]
    assert sum(s.text == "recvfrom returns EWOULDBLOCK" for s in significant(run)) == 20


def test_wrong_choices_come_from_other_models() -> None:
    run = one_datagram("select")
    own = {s.text for s in significant(run)}
    others = {h.text(Quiz(run)._table.words) for model, vocab in VOCABULARY.items()
              if model not in ("select", "any") for h in vocab}
    offered = {c for q in questions(Quiz(run)) for c in q.choices}
    assert offered & (others - own)


def test_same_seed_same_questions_and_the_answer_moves() -> None:
    run = next(run for name, run in builtin_runs() if name == "many-clients"
               and run.model == "select")
    a, b, c = (questions(Quiz(run, seed=s), 60) for s in (1, 1, 2))
    assert a == b
    assert [q.choices for q in a] != [q.choices for q in c]
    assert len({q.answer for q in a}) >= 3


def test_score_counts_each_question_once() -> None:
    quiz = Quiz(one_datagram("select"))
    with pytest.raises(ValueError, match="no question"):
        quiz.answer(0)
    q = quiz.question_after(-1.0)
    assert q is not None and quiz.score == (0, 0)
    assert quiz.answer(q.answer).right
    assert not quiz.answer((q.answer + 1) % len(q.choices)).right  # answered already
    assert quiz.score == (1, 0)
    with pytest.raises(ValueError, match="choice 9"):
        quiz.answer(9)
    nxt = quiz.question_after(q.event_t)
    assert nxt is not None and nxt.event_t > q.event_t
    quiz.answer((nxt.answer + 1) % len(nxt.choices))
    assert quiz.score == (1, 1)
    assert quiz.question_after(1e12) is None


def test_the_first_instant_is_asked_until_answered() -> None:
    """An event at the run's first instant has no event before it: playback stops at it."""
    run = one_datagram("blocking")
    quiz = Quiz(run)
    q = quiz.question_after(-1.0)
    assert q is not None and q.stop_at == 0.0
    assert quiz.question_after(q.stop_at) == q
