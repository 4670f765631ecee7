"""Calibration in its quick mode: every cost is measured, the file it writes loads where costs
are used (--costs, a scenario's costs = "file"), and it cleans up after itself. No assertion on
the figures themselves, nor on how they compare (a busy machine bends them: that is
``python benchmarks/bench.py calibrate``): only that each is there, finite and not negative."""

from __future__ import annotations

import io
import math
import os
import resource
import shutil
import signal
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from iosim import calibrate, scenario
from iosim import trace as trace_mod
from iosim.calibrate import probes
from iosim.calibrate import run as calibrate_run
from iosim.cli import main
from iosim.sim.costs import COST_KEYS, Costs, dump_costs, load_costs
from iosim.sim.run import simulate


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@dataclass
class Quick:
    """One ``iosim calibrate --quick -o FILE``, with what the process looked like before it,
    what it printed and the measurement it made (seen on its way to the file)."""

    measured: calibrate.Measured
    progress: list[str]
    fds_before: set[str]
    handler_before: object
    limits_before: tuple[int, int]
    status: int
    out: str
    err: str
    costs_file: Path


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Quick:
    """The quick calibration run once, by the command line (a real measurement: the tests
    read what it measured, said and wrote)."""
    fds = _open_fds()
    handler = signal.getsignal(signal.SIGIO)
    limits = resource.getrlimit(resource.RLIMIT_NOFILE)
    progress: list[str] = []
    measured: list[calibrate.Measured] = []
    real = calibrate_run.measure

    def watched(budget: calibrate.Budget, said: calibrate.Progress) -> calibrate.Measured:
        def both(text: str) -> None:
            progress.append(text)
            said(text)
        measured.append(real(budget, both))
        return measured[-1]

    costs_file = tmp_path_factory.mktemp("calibrate") / "costs.toml"
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(out), redirect_stderr(err):
        patch.setattr(calibrate_run, "measure", watched)
        status = main(["calibrate", "--quick", "-o", str(costs_file)])
    (m,) = measured
    return Quick(m, progress, fds, handler, limits, status, out.getvalue(), err.getvalue(),
                 costs_file)


def test_quick_measurement_covers_every_cost(quick: Quick) -> None:
    """A figure for every cost, size and descriptor count (how they compare, select's and
    poll's lines against epoll's flat one, is the calibrate benchmark's: a busy machine
    bends them)."""
    m = quick.measured
    assert any("poll" in p for p in quick.progress)
    assert m.syscall_us > 0 and m.epoll_ctl_us > 0  # a call takes time
    for value in (m.wakeup_us, m.network_us, m.signal_us, m.signal_busy_us):
        assert value is not None and math.isfinite(value) and value >= 0
    assert set(m.copy_us) == set(calibrate.COPY_SIZES)
    assert set(m.poll_us) == set(m.epoll_us) == set(calibrate.QUICK.fd_counts)
    assert set(m.select_us) == {n for n in calibrate.QUICK.fd_counts if n < 1024}
    assert set(m.epoll_ready_us) == {1, 10, 100}
    for figures in (m.copy_us, m.select_us, m.poll_us, m.epoll_us, m.epoll_ready_us):
        assert all(math.isfinite(us) and us > 0 for us in figures.values())


def test_quick_measurement_probes_every_real_server(quick: Quick) -> None:
    measured = quick.measured.probes
    assert measured is not None
    for runs, models in ((measured.idle_runs, probes.IDLE_MODELS),
                         (measured.tcp_idle_runs, probes.TCP_IDLE_MODELS),
                         (measured.burst_runs, probes.BURST_MODELS)):
        assert set(runs) == set(models)
        assert all(run.error is None and run.message_count for rs in runs.values() for run in rs)


KNOWN = replace(Costs.zero(copy_gb_per_s=15.0), syscall_us=1.7, idle_tau_ms=4.0,
                first_idle_ms=3.0, start_warm_ms=20.0, wakeup_us=20.0, wakeup_idle_us=110.0,
                call_after_wake_us=5.0,
                call_after_wake_idle_us=40.0, signal_us=15.0, signal_idle_us=60.0,
                signal_cold_us=25.0, signal_taken_us=7.0, completion_us=20.0,
                completion_idle_us=30.0, handle_us=4.0, handle_idle_us=20.0,
                handle_per_message_us=0.3, process_extra_us=0.8, segment_us=0.4,
                call_overhead_us=3.0, own_work_extra_us=5.0, start_us=60.0, cold_start_us=30.0,
                gil_handoff_us=6.0, send_us=8.0, send_idle_us=60.0, signal_send_us=9.0,
                network_us=3.0, network_idle_us=40.0, tcp_wakeup_ratio=0.4,
                select_base_us=0.5, select_per_fd_us=0.05)
# a thread's wait for the GIL is counted from its wake-up, and a SIGIO's cost read off the
# probe's mean completion, which steps with it: those two fit close, not exactly
APPROXIMATE = {"gil_handoff_us": 0.15, "signal_taken_us": 0.05}


def test_terms_fitted_on_simulated_probes_are_the_costs_they_ran_with() -> None:
    """The fit inverts the simulator: the probes simulated with known terms give them back."""
    sims = probes.Probes(*(scenario.parse(text) for text in (
        probes.idle_probe_text(), probes.idle_probe_text("tcp"), probes.burst_probe_text())))
    for runs, probe, models in ((sims.idle_runs, sims.idle, probes.IDLE_MODELS),
                                (sims.tcp_idle_runs, sims.tcp_idle, probes.TCP_IDLE_MODELS),
                                (sims.burst_runs, sims.burst, probes.BURST_MODELS)):
        for model in models:
            runs[model] = [simulate(probe, [model], KNOWN).runs[0]]
    fitted = calibrate.probe_terms(sims, KNOWN)
    assert len(fitted) == 29
    for key, value in fitted.items():
        assert value == pytest.approx(getattr(KNOWN, key), rel=APPROXIMATE.get(key, 0.01),
                                      abs=0.01), key


def test_measurement_leaves_sockets_signals_and_limits_as_they_were(quick: Quick) -> None:
    assert _open_fds() <= quick.fds_before
    assert signal.getsignal(signal.SIGIO) == quick.handler_before
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == quick.limits_before


def test_costs_from_measurements_are_positive_and_load_back(quick: Quick, tmp_path: Path
                                                            ) -> None:
    m = quick.measured
    costs, kept = calibrate.to_costs(m)
    measured_directly = {"syscall_us", "copy_gb_per_s", "epoll_ctl_us", "select_base_us",
                         "select_per_fd_us", "poll_base_us", "poll_per_fd_us", "epoll_base_us",
                         "epoll_per_ready_us"}
    assert not measured_directly & set(kept)  # a probe's term may lack data on a busy machine
    assert all(getattr(costs, key) == getattr(Costs(), key) for key in kept)
    assert costs != Costs()
    assert costs.syscall_us > 0 and costs.copy_gb_per_s > 0
    assert all(math.isfinite(v) and v >= 0 for v in costs.to_dict().values())
    path = tmp_path / "costs.toml"
    path.write_text(dump_costs(costs, calibrate.header(1.0) + "\n" +
                               calibrate.report(m, costs, kept)), encoding="utf-8")
    assert load_costs(path) == costs


def test_report_puts_the_measured_figures_beside_tlpi(quick: Quick) -> None:
    m = quick.measured
    costs, kept = calibrate.to_costs(m)
    table = calibrate.report(m, costs, kept)
    assert "TLPI" in table
    for n in calibrate.FD_COUNTS:
        assert any(line.split() and line.split()[0] == str(n) for line in table.splitlines())
    for key in COST_KEYS:
        assert f"{key} = " in table


def test_fit_line_recovers_a_line_and_keeps_the_floor() -> None:
    xs = [10.0, 100.0, 1000.0, 10000.0]
    base, slope = calibrate.fit_line(xs, [2.0 + 0.5 * x for x in xs])
    assert base == pytest.approx(2.0) and slope == pytest.approx(0.5)
    base, slope = calibrate.fit_line(xs, [0.5 * x for x in xs], floor=1.0)
    assert base == 1.0 and 0.45 < slope < 0.5


def test_cli_writes_a_file_that_sim_and_scenarios_use(quick: Quick, tmp_path: Path) -> None:
    assert quick.status == 0
    assert "calibrate: poll on 1000 descriptors" in quick.err
    assert "TLPI" in quick.out and f"wrote {quick.costs_file}" in quick.out
    costs_file = shutil.copy(quick.costs_file, tmp_path / "costs.toml")
    costs = load_costs(costs_file)
    assert costs.syscall_us > 0

    saved = tmp_path / "t.json"
    assert main(["sim", "one-datagram", "--costs", str(costs_file), "-o", str(saved)]) == 0
    assert trace_mod.load(saved).runs[0].meta["costs"] == costs.to_dict()

    (tmp_path / "s.toml").write_text(
        'name = "s"\ncosts = "costs.toml"\n[[connections]]\nsends = [[1.0, 100]]\n',
        encoding="utf-8")
    assert scenario.load(str(tmp_path / "s.toml")).costs == costs


def test_interrupted_calibration_leaves_the_old_file_untouched(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(*_args: object) -> None:
        raise KeyboardInterrupt
    monkeypatch.setattr("iosim.calibrate.run.measure", interrupted)
    costs_file = tmp_path / "costs.toml"
    costs_file.write_text("[costs]\nsyscall_us = 3.0\n", encoding="utf-8")
    assert main(["calibrate", "-o", str(costs_file)]) == 130
    assert costs_file.read_text(encoding="utf-8") == "[costs]\nsyscall_us = 3.0\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["costs.toml"]
    assert "interrupted" in capsys.readouterr().err


def test_output_in_a_missing_directory_is_refused_before_measuring(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "--quick", "-o", str(tmp_path / "no" / "costs.toml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("iosim: error:") and err.count("\n") == 1
