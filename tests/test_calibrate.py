"""Calibration in its quick mode: every cost is measured, the file it writes loads where costs
are used (--costs, a scenario's costs = "file"), and it cleans up after itself. No assertion on
absolute figures: only on their signs and on how they grow."""

from __future__ import annotations

import os
import resource
import signal
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from iosim import calibrate, scenario
from iosim import trace as trace_mod
from iosim.calibrate import probes
from iosim.cli import main
from iosim.sim.costs import COST_KEYS, Costs, dump_costs, load_costs
from iosim.sim.run import simulate


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@dataclass
class Quick:
    """One quick measurement, with what the process looked like before it."""

    measured: calibrate.Measured
    progress: list[str]
    fds_before: set[str]
    handler_before: object
    limits_before: tuple[int, int]


@pytest.fixture(scope="module")
def quick() -> Quick:
    fds = _open_fds()
    handler = signal.getsignal(signal.SIGIO)
    limits = resource.getrlimit(resource.RLIMIT_NOFILE)
    progress: list[str] = []
    measured = calibrate.measure(calibrate.QUICK, progress.append)
    return Quick(measured, progress, fds, handler, limits)


def test_quick_measurement_covers_every_cost(quick: Quick) -> None:
    m = quick.measured
    assert any("poll" in p for p in quick.progress)
    assert m.syscall_us > 0 and m.epoll_ctl_us > 0
    for value in (m.wakeup_us, m.network_us, m.signal_us, m.signal_busy_us):
        assert value is not None and value > 0
    assert set(m.copy_us) == set(calibrate.COPY_SIZES)
    assert m.copy_us[1 << 20] > m.copy_us[4096] > 0
    assert set(m.poll_us) == set(m.epoll_us) == set(calibrate.QUICK.fd_counts)
    assert m.select_us[1000] > m.select_us[10] > 0
    assert m.poll_us[1000] > m.poll_us[10] > 0
    assert m.poll_us[1000] > m.epoll_us[1000]  # linear against flat
    assert m.epoll_ready_us[100] > m.epoll_ready_us[1]


def test_quick_measurement_probes_every_real_server(quick: Quick) -> None:
    servers = quick.measured.servers
    assert servers is not None
    for model in probes.PROBE_MODELS:
        assert servers.warm(model) and servers.cold(model), model
        assert all(s.latency_us > 0 and s.asleep_us > 0 for s in servers.samples[model])
    assert all(s.after_wake_us > 0 for s in servers.warm("select"))
    for model in ("blocking", "sigio"):
        assert len(servers.by_gap(model)) == len(set(probes.PROBE_GAPS_MS[1:]))


def test_latency_terms_fitted_on_a_simulated_probe_are_the_costs_it_ran_with() -> None:
    """The fit is a model: runs of the probe simulated with known latency terms give them
    back (as closely as the probe's timing allows)."""
    known = replace(Costs.zero(copy_gb_per_s=20.0), syscall_us=1.0, wakeup_us=10.0,
                    wakeup_per_idle_ms_us=1.5, signal_us=18.0, signal_per_idle_ms_us=0.5,
                    call_after_wake_us=6.0, call_after_wake_per_idle_ms_us=0.8,
                    cold_start_us=45.0, cold_decay=0.4)
    probe = scenario.parse(probes.probe_scenario_text())
    servers = probes.ServerLatencies(scenario=probe)
    for model in probes.PROBE_MODELS:
        run = simulate(probe, [model], known).runs[0]
        servers.samples[model] = probes.samples_of(run)
    fitted = calibrate.server_terms(servers, known.syscall_us)
    # abs=0.2: the tail of the cold extra (~1 µs on the first warm read) is in the mean
    assert fitted["wakeup_us"] == pytest.approx(known.wakeup_us, abs=0.2)
    assert fitted["wakeup_per_idle_ms_us"] == pytest.approx(known.wakeup_per_idle_ms_us,
                                                           rel=0.02)
    assert fitted["signal_us"] == pytest.approx(known.signal_us, abs=0.1)
    assert fitted["signal_per_idle_ms_us"] == pytest.approx(known.signal_per_idle_ms_us,
                                                           rel=0.02)
    assert fitted["call_after_wake_us"] == pytest.approx(known.call_after_wake_us, abs=0.2)
    assert fitted["call_after_wake_per_idle_ms_us"] == pytest.approx(
        known.call_after_wake_per_idle_ms_us, rel=0.02)
    warm = replace(known, cold_start_us=0.0, cold_decay=0.0)
    cold = calibrate.cold_terms(servers, warm)
    assert cold is not None
    assert cold[0] == pytest.approx(known.cold_start_us, abs=0.5)
    assert cold[1] == pytest.approx(known.cold_decay, abs=0.02)


def test_a_probe_message_the_server_was_late_for_is_not_a_sample() -> None:
    """The second datagram is ready while the server still processes the first (a busy
    machine does that to the real probe): the server never slept for it."""
    work_us = 500
    late = scenario.parse(f'''name = "late"
title = "A datagram while the server is busy"
protocol = "udp"
models = ["blocking"]
[process]
work_us = {work_us}
[[connections]]
sends = [[1.0, 64], [1.2, 64], [5.0, 64], [9.0, 64]]
''')
    run = simulate(late, ["blocking"]).runs[0]
    assert run.m_ready[1] < run.m_done[0]  # ready while the first is being processed
    samples = probes.samples_of(run)
    assert [s.index for s in samples] == [0, 2]  # not 1; the last is never a sample
    assert all(s.asleep_us > 0 and s.latency_us > 0 for s in samples)
    assert samples[1].asleep_us == pytest.approx(run.m_ready[2] - run.m_done[1])


def test_measurement_leaves_sockets_signals_and_limits_as_they_were(quick: Quick) -> None:
    assert _open_fds() <= quick.fds_before
    assert signal.getsignal(signal.SIGIO) == quick.handler_before
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == quick.limits_before


def test_costs_from_measurements_are_positive_and_load_back(quick: Quick, tmp_path: Path
                                                            ) -> None:
    m = quick.measured
    costs, kept = calibrate.to_costs(m)
    assert kept == []
    assert costs != Costs()
    for key in ("syscall_us", "network_us", "copy_gb_per_s", "signal_us", "select_per_fd_us",
                "poll_per_fd_us", "epoll_per_ready_us"):
        assert getattr(costs, key) > 0, key
    assert all(v >= 0 for v in costs.to_dict().values())
    assert costs.select_us(1000) > costs.select_us(10)
    assert costs.poll_us(1000) > costs.poll_us(10)
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


def test_cli_writes_a_file_that_sim_and_scenarios_use(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    costs_file = tmp_path / "costs.toml"
    assert main(["calibrate", "--quick", "-o", str(costs_file)]) == 0
    out, err = capsys.readouterr()
    assert "calibrate: poll on 1000 descriptors" in err
    assert "TLPI" in out and f"wrote {costs_file}" in out
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
