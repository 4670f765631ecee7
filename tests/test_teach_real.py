"""Teaching on real captures: the programs' keys cover what the real servers write, the
sentences state only what the capture holds, and predict mode works on them."""

from __future__ import annotations

from pathlib import Path

import pytest
from predicthelp import check_first_questions, check_questions
from teachhelp import explain_everywhere
from test_real_capture import children

from iosim import scenario
from iosim.real.servers import REAL_MODELS
from iosim.real.session import CaptureError, capture, check_model
from iosim.teach.predict import Quiz
from iosim.teach.programs import program_for
from iosim.trace import Run

SMALL = """
name = "teach-small"
protocol = "tcp"
[process]
poll_interval_us = 300
work_us = 30
[[connections]]
sends = [[2.0, 700], [2.0, 300], [5.0, 200]]
[[connections]]
sends = [[3.5, 1200]]
"""


def available(model: str) -> bool:
    try:
        check_model(model)
    except CaptureError:
        return False
    return True


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    path = Path(tmp_path_factory.mktemp("teach")) / "small.toml"
    path.write_text(SMALL)
    trace = capture(scenario.load(str(path)), [m for m in REAL_MODELS if available(m)])
    assert children() == set()
    return {run.model: run for run in trace.runs}


def test_programs_cover_the_keys_real_servers_write(captured: dict[str, Run]) -> None:
    for model, run in captured.items():
        prog = program_for(run)
        if model == "asyncio":
            assert prog is None
            continue
        assert prog is not None and set(run.code) <= set(prog.keys), (model, run.code)


def test_sentences_state_only_what_the_capture_holds(captured: dict[str, Run]) -> None:
    assert sum(explain_everywhere(run, 150) for run in captured.values()) > 1000


def test_predict_mode_on_real_captures(captured: dict[str, Run]) -> None:
    """Each captured run's questions are true of the capture, and so are those across the
    captured runs (which model handles a message first)."""
    for run in captured.values():
        assert check_questions(run, Quiz(run, seed=3)) >= 1
    runs = list(captured.values())
    check_first_questions(runs, Quiz(runs, seed=3))
