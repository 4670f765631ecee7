"""`python benchmarks/bench.py NAME` finds every benchmark by the name the docs give it."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench.py"


def bench():
    spec = importlib.util.spec_from_file_location("bench_main", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_benchmark_is_found_by_its_name(capsys):
    b = bench()
    names = b.available()
    for name in ("sim", "trace", "view", "capture", "agreement", "whatif", "serve-memory",
                 "trace-cmd", "pingpong", "calibrate"):
        assert name in names
        module = b.module_of(name)
        assert (BENCH.parent / f"{module}.py").is_file(), name
    assert b.module_of("serve_memory") is None and b.module_of("nothing") is None
    assert b.main(["nothing"]) == 2
    assert "trace-cmd" in capsys.readouterr().err
