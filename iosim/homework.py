"""``iosim quiz``: predict mode's questions as homework, the way OSTEP's simulators give it
(process-run.py and friends): the questions alone to work out, then ``-c`` for the answers
and why each wrong choice is wrong. The same seed gives the same homework."""

from __future__ import annotations

import argparse
import json
import textwrap

from iosim import scenario
from iosim.errors import UserError
from iosim.scenario import SIM_MODELS
from iosim.sim.run import simulate
from iosim.teach.predict import ALL_RUNS, Question, Quiz
from iosim.teach.words import capital
from iosim.timefmt import format_us

MAX_SEED = 2**32 - 1
WIDTH = 88


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "quiz", help="predict mode's questions as homework (-c: with the answers and why)",
        description="Simulate the scenario and print the questions predict mode (K in the "
                    "window) asks of each run: what a call does once made, what an arrival "
                    "sets off, numbers to work out, and which model handles a message first. "
                    "Work them out, then run again with -c for the answers and why each "
                    "wrong choice is wrong.")
    p.add_argument("scenario", metavar="SCENARIO", help="a built-in scenario or a scenario file")
    p.add_argument("-m", "--model", action="append", choices=SIM_MODELS, metavar="M",
                   help=f"a model to ask about (repeatable; default: the scenario's models). "
                        f"One of: {', '.join(SIM_MODELS)}")
    p.add_argument("--seed", type=_seed, default=0, metavar="N",
                   help=f"the order of each question's choices (0-{MAX_SEED}, default 0): the "
                        "same seed gives the same homework")
    p.add_argument("-c", "--answers", action="store_true",
                   help="show the answers, and why each choice is or is not what happens")
    p.add_argument("--json", action="store_true",
                   help='print JSON: {"questions": [{"model", "t_us", "lane", "kind", "text", '
                        '"choices", "answer", "why"}]} (answer and why are null without -c)')
    p.set_defaults(func=cmd_quiz)


def _seed(text: str) -> int:
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= seed <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{seed} is not between 0 and {MAX_SEED}")
    return seed


def homework(name: str, models: list[str] | None, seed: int) -> tuple[str, list[Question]]:
    """The scenario's title and its questions: each run's, then those across the runs."""
    sc = scenario.load(name)
    trace = simulate(sc, models)
    if not trace.runs:
        raise UserError(f"{name}: no run to ask about")
    asked = [q for run in trace.runs for q in Quiz(run, seed).questions]
    asked += Quiz(trace.runs, seed).questions
    return f"{trace.scenario} · {trace.title}", asked


def cmd_quiz(args: argparse.Namespace) -> int:
    title, asked = homework(args.scenario, args.model, args.seed)
    if args.json:
        print(json.dumps(to_json(asked, args.answers), ensure_ascii=False, indent=1))
    else:
        print(to_text(title, args.scenario, asked, args.seed, args.answers))
    return 0


def to_json(asked: list[Question], answers: bool) -> dict:
    return {"questions": [{
        "model": q.model, "t_us": q.stop_at, "lane": q.lane, "kind": q.kind, "text": q.text,
        "choices": q.choices, "answer": q.answer if answers else None,
        "why": _sentence(q.whys[q.answer]) if answers else None} for q in asked]}


def to_text(title: str, name: str, asked: list[Question], seed: int, answers: bool) -> str:
    lines = [f"{title} (seed {seed})"]
    if answers:
        lines.append("Answers and why: each choice says why it is, or is not, what happens.")
    else:
        lines += _wrapped(f"Work each question out from the scenario and the program; "
                          f"iosim quiz {name} --seed {seed} -c gives the answers and why. In "
                          f"the window (iosim show {name}), K asks them as the run plays.", "")
    model = None
    for n, q in enumerate(asked, 1):
        if q.model != model:
            model = q.model
            lines += ["", "across the runs" if model == ALL_RUNS else model]
        where = f"t = {format_us(q.stop_at)}"
        lines += _wrapped(f"{n}. [{where}] {q.text}", "   ")
        for k, choice in enumerate(q.choices, 1):
            lines += _wrapped(f"   {k}) {choice}", "      ")
        if answers:
            lines += _wrapped(f"   answer: {q.answer + 1}) {_sentence(q.whys[q.answer])}",
                              "      ")
            lines += [line for k in range(len(q.choices)) if k != q.answer for line in
                      _wrapped(f"   not {k + 1}): {_sentence(q.whys[k])}", "      ")]
    if not asked:
        lines += ["", "No questions: the runs end before anything can be asked."]
    return "\n".join(lines)


def _sentence(why: str) -> str:
    return capital(why) + "."


def _wrapped(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, subsequent_indent=indent, break_on_hyphens=False) or [""]
