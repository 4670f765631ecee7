"""``iosim explain``: the one-run view's words as text and JSON, from a scenario or a saved
trace, one moment or all of them; bad input is one line and exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from iosim import scenario
from iosim.cli import main
from iosim.sim.run import simulate
from iosim.teach.explain import Explainer, model_summary
from iosim.teach.programs import program


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_json_has_the_contract_shape_and_a_moment_per_event(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["explain", "one-datagram", "-m", "select", "--json"], capsys)
    assert code == 0 and not err
    doc = json.loads(out)
    assert list(doc) == ["runs"] and len(doc["runs"]) == 1
    run = doc["runs"][0]
    assert list(run) == ["model", "moments"] and run["model"] == "select"
    sim = simulate(scenario.load("one-datagram"), ["select"]).runs[0]
    times = sorted(set(sim.t0))  # printed to the picosecond
    assert [m["t_us"] for m in run["moments"]] == [round(t, 6) for t in times]
    prog = program("select")
    ex = Explainer(sim)
    for m, t in zip(run["moments"], times, strict=True):
        assert list(m) == ["t_us", "lane", "line_no", "line", "sentences"]
        assert m["lane"] == "application"
        line = prog.keys[ex.line_at(t)]
        assert m["line_no"] == line + 1 and m["line"] == prog.lines[line].strip()
        assert m["sentences"] == ex.now(t)
    waiting = run["moments"][1]  # select made, nothing arrived
    assert waiting["line"] == "readable, _, _ = select.select(socks, [], [])"
    assert waiting["sentences"][0].startswith("Phase 1: no datagram has arrived yet")


def test_every_model_of_a_scenario_and_one_moment(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["explain", "many-clients", "--json", "--at", "10"], capsys)
    runs = json.loads(out)["runs"]
    assert code == 0 and [r["model"] for r in runs] == list(scenario.load("many-clients").models)
    assert all(len(r["moments"]) == 1 and r["moments"][0]["t_us"] == 10000.0 for r in runs)
    blocking = runs[0]["moments"][0]
    assert "head-of-line blocking" in " ".join(blocking["sentences"])
    threaded = runs[1]["moments"][0]
    assert threaded["lane"].startswith("thread ")


def test_plain_text_reads_in_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["explain", "one-datagram", "-m", "blocking", "--at", "20.06"],
                           capsys)
    assert code == 0 and out.splitlines()[2:] == [
        "t = 20.060 ms · application · line 10: data, addr = sock.recvfrom(65536)",
        "   The datagram arrived in the kernel 20.0 µs ago; the kernel has woken the process, "
        "which runs again in about 80.0 µs (a figure of the default cost profile)."]
    assert out.splitlines()[:2] == ["== blocking (simulated)",
                                    "   " + model_summary("blocking")]


def test_a_saved_trace_and_its_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.json"
    assert main(["sim", "many-clients", "-m", "sigio", "-m", "epoll", "-o", str(path)]) == 0
    capsys.readouterr()
    code, out, _ = run_cli(["explain", str(path), "-m", "epoll", "--json"], capsys)
    assert code == 0 and [r["model"] for r in json.loads(out)["runs"]] == ["epoll"]
    code, _, err = run_cli(["explain", str(path), "-m", "select"], capsys)
    assert code == 2 and err.count("\n") == 1 and "sigio, epoll" in err


@pytest.mark.parametrize("args", [
    ["explain", "no-such-scenario"], ["explain", "one-datagram", "-m", "fork"],
    ["explain", "one-datagram", "--at", "nan"], ["explain", "one-datagram", "--at", "-1"],
    ["explain", "one-datagram", "--at", "soon"],
])
def test_bad_input_is_one_line_and_exit_2(args: list[str],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) if args[-1] == "soon" else _nothing() as raised:
        code = main(args)
    code = raised.value.code if args[-1] == "soon" else code  # argparse's own usage error
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


def test_a_process_with_bad_input_prints_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "iosim-trace", "version": 2, "runs": [')
    done = subprocess.run([sys.executable, "-m", "iosim", "explain", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr and not done.stdout
