"""The simulator's command line: listing, simulating, summarising, and every kind of bad input
answered with one line on stderr and exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from iosim import scenario
from iosim.cli import main

GOOD = """name = "ok"
protocol = "udp"
models = ["blocking", "select"]

[process]
work_us = 10

[[connections]]
sends = [[1.0, 100], [2.0, 200]]
"""


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_scenarios_lists_every_builtin(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["scenarios"], capsys)
    assert code == 0
    for name in ("one-datagram", "many-clients", "big-copy", "burst", "c10k"):
        assert name in out
    assert set(scenario.builtin_names()) <= {line.split()[0] for line in out.splitlines()
                                             if line and not line.startswith(" ")}


def test_sim_default_scenario_shows_five_models(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["sim", "one-datagram"], capsys)
    assert code == 0
    header = out.splitlines()[1].split()
    assert header == ["blocking", "nonblocking", "select", "sigio", "aio"]
    for row in ("phase 2 copy starts", "system calls", "EWOULDBLOCK", "blocked", "own work"):
        assert row in out


def test_a_run_that_stopped_says_why_under_the_table(capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    code, out, _ = run_cli(["sim", "c10k", "--model", "select", "--model", "poll"], capsys)
    assert code == 0  # one run's error is that run's, not the command's
    last = out.splitlines()[-1]
    assert last.startswith("the select run stopped: select: descriptor ")
    assert "FD_SETSIZE (1024)" in last and "poll run" not in out


def test_sim_json_has_the_design_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["sim", "one-datagram", "--model", "blocking", "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["scenario"] == "one-datagram" and data["protocol"] == "udp"
    (run,) = data["runs"]
    assert run["model"] == "blocking" and run["source"] == "sim" and run["error"] is None
    assert set(run["messages"][0]) == {"conn", "bytes", "sent_us", "ready_us", "copy_start_us",
                                       "copy_end_us", "done_us"}
    assert set(run["totals"]) == {"syscalls", "ewouldblock", "signals", "wakeups",
                                  "blocked_us", "in_kernel_us", "other_work_us", "end_us",
                                  "sim_events", "latency_p50_us", "latency_p90_us",
                                  "latency_max_us", "handled_p50_us", "handled_p90_us",
                                  "handled_max_us"}
    blocking = run["messages"][0]
    assert run["totals"]["handled_p50_us"] == pytest.approx(blocking["done_us"]
                                                            - blocking["ready_us"])


def test_summary_json_is_a_key_a_line_and_a_message_a_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["sim", "burst", "-m", "select", "-m", "epoll", "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    lines = out.splitlines()
    for run in data["runs"]:
        rows = [json.dumps(m) for m in run["messages"]]
        start = lines.index("   \"messages\": [")
        assert [line.strip().rstrip(",") for line in lines[start + 1:start + 1 + len(rows)]] \
            == rows
        lines = lines[start + 1 + len(rows):]
        assert lines[:2] == ["   ],", '   "totals": {'] and lines[2] == \
            f'    "syscalls": {run["totals"]["syscalls"]},'
    assert out.startswith('{\n "scenario": "burst",\n "protocol": "tcp",\n "runs": [\n  {\n')
    assert out.endswith("\n   }\n  }\n ]\n}\n")


@pytest.mark.parametrize("as_json", [False, True])
def test_summary_of_saved_trace_equals_sim_output(tmp_path: Path, as_json: bool,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out_path = tmp_path / "burst.json"
    flag = ["--json"] if as_json else []
    code, sim_out, _ = run_cli(["sim", "burst", "-o", str(out_path), *flag], capsys)
    assert code == 0 and out_path.exists()
    code, summary_out, _ = run_cli(["summary", str(out_path), *flag], capsys)
    assert code == 0
    assert summary_out == sim_out


def test_sim_with_a_costs_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    costs = tmp_path / "costs.toml"
    costs.write_text("[costs]\nwakeup_us = 0\nnetwork_us = 0\nsyscall_us = 0\n")
    code, out, _ = run_cli(["sim", "one-datagram", "-m", "blocking", "--json",
                            "--costs", str(costs)], capsys)
    assert code == 0
    message = json.loads(out)["runs"][0]["messages"][0]
    assert message["copy_start_us"] == message["ready_us"] == message["sent_us"]


BAD_CASES = {
    "missing file": (None, "no such file"),
    "TOML syntax": ('name = "x"\nprotocol = udp\n', "line 2"),
    "unknown key": (GOOD.replace("work_us = 10", "work_us = 10\nwork_ms = 3"),
                    "process.work_ms: unknown key"),
    "wrong type": (GOOD.replace("work_us = 10", 'work_us = "ten"'), "process.work_us"),
    "negative time": (GOOD.replace("[1.0, 100]", "[-1.0, 100]"), "negative"),
    "unsorted times": (GOOD.replace("[2.0, 200]", "[0.5, 200]"), "sorted"),
    "unknown model": (GOOD.replace('"select"', '"selekt"'), "unknown model 'selekt'"),
    "zero bytes": (GOOD.replace("[2.0, 200]", "[2.0, 0]"), "at least 1"),
    "unknown protocol": (GOOD.replace('"udp"', '"sctp"'), "protocol"),
    "no connections": (GOOD.split("[[connections]]")[0], "connections"),
}

EXPECTED_LINES = {"TOML syntax": 2, "unknown key": 7, "wrong type": 6, "negative time": 9,
                  "unsorted times": 9, "unknown model": 3, "zero bytes": 9,
                  "unknown protocol": 2}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_scenario_is_one_line_and_exit_2(case: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    text, words = BAD_CASES[case]
    path = tmp_path / "bad.toml"
    if text is not None:
        path.write_text(text)
    code, out, err = run_cli(["sim", str(path)], capsys)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(path) in lines[0]
    assert words in lines[0]
    if case in EXPECTED_LINES:
        assert f"line {EXPECTED_LINES[case]}" in lines[0]


def test_unknown_builtin_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["sim", "no-such-scenario"], capsys)
    assert code == 2 and "built-in" in err and len(err.strip().splitlines()) == 1


def test_unknown_model_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["sim", "one-datagram", "--model", "selekt"])
    assert exc.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_bad_input_has_no_traceback_as_a_process(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace("[2.0, 200]", "[0.5, 200]"))
    proc = subprocess.run([sys.executable, "-m", "iosim", "sim", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
