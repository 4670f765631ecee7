"""CSV summary: one row per message and one per run's totals, equal to the JSON summary."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from iosim import scenario
from iosim import trace as trace_mod
from iosim.cli import main
from iosim.export.summary_csv import COLUMNS, TOTALS_COLUMNS
from iosim.sim.run import simulate
from iosim.summary import summarize
from iosim.trace import MESSAGE_FIELDS


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def check_csv_against_summary(text: str, trace: trace_mod.Trace) -> None:
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    rows = list(reader)
    summary = summarize(trace)
    for index, run in enumerate(summary["runs"]):
        ours = [r for r in rows if r["run"] == str(index)]
        assert {r["model"] for r in ours} == {run["model"]}
        messages = [r for r in ours if r["row_type"] == "message"]
        totals = [r for r in ours if r["row_type"] == "totals"]
        assert len(messages) == len(run["messages"]) and len(totals) == 1
        for row, message in zip(messages, run["messages"], strict=True):
            for key in MESSAGE_FIELDS:
                assert row[key] == _cell(message[key]), key
            if message["copy_end_us"] is None:
                assert row["latency_us"] == ""
            else:
                assert float(row["latency_us"]) == pytest.approx(
                    message["copy_end_us"] - message["ready_us"])
            assert all(row[k] == "" for k in TOTALS_COLUMNS)
        for key, value in run["totals"].items():
            assert totals[0][key] == _cell(value), key
        assert totals[0]["error"] == _cell(run["error"])
        assert totals[0]["messages"] == str(len(run["messages"]))
        assert all(totals[0][k] == "" for k in MESSAGE_FIELDS)
    assert len(rows) == sum(len(r["messages"]) + 1 for r in summary["runs"])


@pytest.mark.parametrize("name", ["many-clients", "c10k"])
def test_summary_csv_matches_the_json_summary(name: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    trace = simulate(scenario.load(name))
    saved = tmp_path / "t.json"
    trace_mod.save(trace, saved)
    assert main(["summary", str(saved), "--csv"]) == 0
    check_csv_against_summary(capsys.readouterr().out, trace)


def test_sim_csv_and_export_csv_give_the_same_table(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "one-datagram", "--csv"]) == 0
    printed = capsys.readouterr().out
    check_csv_against_summary(printed, simulate(scenario.load("one-datagram")))
    out = tmp_path / "s.csv"
    assert main(["export", "one-datagram", "--csv", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == printed


def test_csv_and_json_cannot_be_asked_together(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["sim", "one-datagram", "--csv", "--json"])
    assert exc.value.code == 2
    assert "not allowed with" in capsys.readouterr().err
