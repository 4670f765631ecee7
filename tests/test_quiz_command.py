"""iosim quiz: predict mode's questions as homework, questions only or with -c the answers and
every choice's why; JSON in the fixed shape; the same seed, the same homework; bad input is
one line and exit status 2."""

from __future__ import annotations

import json
import re

import pytest

from iosim import scenario
from iosim.cli import main
from iosim.sim.run import simulate
from iosim.teach.predict import ALL_RUNS, Quiz
from iosim.teach.words import capital

KEYS = ["model", "t_us", "lane", "kind", "text", "choices", "answer", "why"]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_json_is_the_quiz_of_each_run_then_across_them(capsys) -> None:
    code, out, _ = run_cli(["quiz", "many-clients", "--json", "-c", "--seed", "3"], capsys)
    assert code == 0
    asked = json.loads(out)["questions"]
    assert all(list(q) == KEYS for q in asked)
    trace = simulate(scenario.load("many-clients"))
    expected = [q for run in trace.runs for q in Quiz(run, 3).questions]
    expected += Quiz(trace.runs, 3).questions
    assert [(q["model"], q["t_us"], q["lane"], q["kind"], q["text"], q["choices"],
             q["answer"]) for q in asked] == \
        [(q.model, q.stop_at, q.lane, q.kind, q.text, q.choices, q.answer) for q in expected]
    assert [q["why"] for q in asked] == [capital(q.whys[q.answer]) + "." for q in expected]
    assert {q["model"] for q in asked} == {*scenario.load("many-clients").models, ALL_RUNS}


def test_without_c_no_answer_is_given(capsys) -> None:
    code, out, _ = run_cli(["quiz", "one-datagram", "--json"], capsys)
    asked = json.loads(out)["questions"]
    assert code == 0 and asked
    assert all(q["answer"] is None and q["why"] is None for q in asked)
    code, text, _ = run_cli(["quiz", "one-datagram"], capsys)
    assert code == 0 and "answer:" not in text and "-c gives the answers" in text
    assert len(re.findall(r"^\d+\. \[t = ", text, re.M)) == len(asked)


def test_c_gives_each_choice_its_why(capsys) -> None:
    code, text, _ = run_cli(["quiz", "one-datagram", "-m", "select", "-c"], capsys)
    assert code == 0
    quiz = Quiz(simulate(scenario.load("one-datagram"), ["select"]).runs[0])
    flat = " ".join(text.split())
    for q in quiz.questions:
        assert f"answer: {q.answer + 1})" in flat
        for k, why in enumerate(q.whys):
            if k != q.answer:
                assert f"not {k + 1}): {capital(why)}." in flat, why
    assert "select only reported readiness: recvfrom has not copied anything yet" in flat


def test_the_same_seed_gives_the_same_homework(capsys) -> None:
    outs = [run_cli(["quiz", "many-clients", "-m", "select", "--seed", seed], capsys)[1]
            for seed in ("5", "5", "6")]
    assert outs[0] == outs[1] != outs[2]
    assert "(seed 5)" in outs[0]


@pytest.mark.parametrize("argv", [
    ["quiz", "no-such-scenario"],
    ["quiz", "one-datagram", "-m", "fork"],
    ["quiz", "one-datagram", "--seed", "-1"],
    ["quiz", "one-datagram", "--seed", "4294967296"],
    ["quiz", "one-datagram", "--seed", "1e3"],
    ["quiz"],
])
def test_bad_input_is_one_line_and_exit_2(argv, capsys) -> None:
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_help_explains(capsys) -> None:
    code, out, _ = run_cli(["quiz", "--help"], capsys)
    assert code == 0 and "Work them out" in out and "--seed N" in out
