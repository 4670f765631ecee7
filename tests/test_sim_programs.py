"""The programs of the server variants (assets/code/<variant>-<model>.py): valid Python, one
for every variant the simulator models, and their marked lines exactly the line keys the
built-in scenarios' runs of them write."""

from __future__ import annotations

from pathlib import Path

import pytest

from iosim import scenario
from iosim.sim.run import simulate
from iosim.sim.variants import VARIANTS
from iosim.teach.programs import program, program_for

CODE = Path(__file__).resolve().parent.parent / "iosim" / "assets" / "code"
NAMES = [f"{variant}-{model}" for variant, models in VARIANTS.items() for model in models]


def test_every_variant_has_its_program_and_no_program_is_left_over() -> None:
    variants = {p.stem for p in CODE.glob("*.py") if "-" in p.stem} - {"epoll-et"}
    assert variants == set(NAMES)
    for variant, models in VARIANTS.items():
        assert tuple(models) == scenario.VARIANT_MODELS[variant]


@pytest.mark.parametrize("name", NAMES)
def test_a_variant_program_is_valid_python_that_fits_the_pane(name: str) -> None:
    prog = program(name)
    assert prog is not None
    compile((CODE / f"{name}.py").read_text(), f"{name}.py", "exec")
    assert len(prog.lines) <= 36
    assert all(prog.lines[i].strip() for i in prog.keys.values())


def test_the_builtin_runs_light_every_marked_line_of_their_program() -> None:
    used: dict[str, set[str]] = {}
    for name in scenario.builtin_names():
        for run in simulate(scenario.load(name), scenario.SIM_MODELS).runs:
            prog = program_for(run)
            if prog is not None and "-" in prog.model:
                used.setdefault(prog.model, set()).update(run.code)
    for name in NAMES:
        assert used.get(name) == set(program(name).keys), name
