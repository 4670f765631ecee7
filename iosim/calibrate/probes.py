"""Latency as iosim's own real servers see it: short captures of synthetic probe scenarios.

A wake-up measured between two bare sockets is not what a server pays: the servers run in their
own process, read through Python, are woken by a client in another process, and their first
read of a run is cold. So calibration also plays a small probe scenario (one UDP connection,
a few datagrams after idle gaps of 2 to 20 ms; none of the built-in scenarios) against the real
blocking, select and sigio servers, and keeps, per message, what the capture's timeline says:
how long the server slept, and how the latency splits (kernel stamp -> select returns ->
recvfrom returns; stamp -> handler -> read). ``fit.to_costs`` fits the cost model's
latency terms on these figures. The probe's last message is left out: right after it the
capturing client winds up its own work on this machine, which is the harness, not the server.
"""

from __future__ import annotations

import math
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from iosim import scenario as scenario_mod
from iosim.real.session import capture_run
from iosim.trace import Kind, Run

PROBE_MODELS = ("blocking", "select", "sigio")
SLEEPING_MODELS = ("blocking", "select")  # asleep between reads (sigio keeps running)
# Idle gaps (ms) before each datagram; the first reads of a run are cold.
PROBE_GAPS_MS = (10.0, *(2.0, 20.0, 5.0, 10.0) * 4, 2.0)
WARM_FROM = 4  # reads before this one are still warming up (see Costs.cold_start_us)
PROBE_BYTES = 64
PROBE_WORK_US = 50.0


def probe_scenario_text() -> str:
    """The probe as a scenario file (the capture's server process loads it from a path)."""
    sends, t = [], 0.0
    for gap in PROBE_GAPS_MS:
        t += gap
        sends.append(f"[{t}, {PROBE_BYTES}]")
    models = ", ".join(f'"{m}"' for m in PROBE_MODELS)
    return ('name = "calibration-probe"\ntitle = "Datagrams after idle gaps"\n'
            f'protocol = "udp"\nmodels = [{models}]\n'
            f"[process]\nwork_us = {PROBE_WORK_US}\n"
            f"[[connections]]\nsends = [{', '.join(sends)}]\n")


@dataclass
class Sample:
    """One message of a probe run, in µs."""

    index: int  # of the message in the run: the first reads are cold
    asleep_us: float  # since the previous message was done (the first: since t = 0)
    latency_us: float  # kernel stamp -> the read that copied it returned
    after_wake_us: float  # select: select's return -> recvfrom's return (NaN otherwise)


@dataclass
class ServerLatencies:
    """The probe's messages per real model; the scenario they came from (to simulate it)."""

    samples: dict[str, list[Sample]] = field(default_factory=dict)
    scenario: scenario_mod.Scenario | None = None

    def warm(self, model: str) -> list[Sample]:
        return [s for s in self.samples.get(model, []) if s.index >= WARM_FROM]

    def cold(self, model: str) -> list[Sample]:
        return [s for s in self.samples.get(model, []) if s.index < WARM_FROM]

    def by_gap(self, model: str, after_wake: bool = False) -> list[tuple[float, float]]:
        """(typical ms asleep, typical latency µs) of a server's warm messages, per nominal
        gap. Typical is the interquartile mean: after long gaps this VM's wake-ups are
        bimodal (~15 or ~50 µs), and a median jumps from one mode to the other between
        calibrations where the mean of the middle half moves with their proportion.
        ``after_wake``: select's return -> recvfrom's return instead of the latency."""
        groups: dict[float, list[Sample]] = {}
        gaps = PROBE_GAPS_MS[1:]
        for s in self.warm(model):
            if after_wake and math.isnan(s.after_wake_us):
                continue
            nearest = min(gaps, key=lambda g: abs(g * 1000 - s.asleep_us))
            groups.setdefault(nearest, []).append(s)
        return [(interquartile_mean([s.asleep_us for s in group]) / 1000.0,
                 interquartile_mean([s.after_wake_us if after_wake else s.latency_us
                                     for s in group]))
                for _, group in sorted(groups.items())]

    def figures(self) -> list[tuple[str, float]]:
        """What the report shows: typical figures of the warm messages, and of the first."""
        out = [(f"{model} server, {ms:.0f} ms idle: stamp -> read returns", us)
               for model in ("blocking", "sigio") for ms, us in self.by_gap(model)]
        out += [(f"select server, {ms:.0f} ms asleep: select -> recvfrom returns", us)
                for ms, us in self.by_gap("select", after_wake=True)]
        firsts = [s.latency_us for model in PROBE_MODELS for s in self.cold(model)
                  if s.index == 0]
        if firsts:
            out.append(("first message of a run: stamp -> read returns",
                        statistics.median(firsts)))
        return out


def interquartile_mean(xs: list[float]) -> float:
    """The mean of the middle half (all of them when there are fewer than four)."""
    xs = sorted(xs)
    cut = len(xs) // 4
    middle = xs[cut:len(xs) - cut]
    return statistics.fmean(middle)


def samples_of(run: Run) -> list[Sample]:
    """Per message (but the last) of a captured probe run. A message that was ready before the
    server was done with the previous one is left out: the server never went to sleep for it
    (a busy machine made it late), so its latency says nothing of a wake-up."""
    readable = sorted(e.t0 for e in run.events() if e.kind == Kind.READABLE)
    out = []
    for i in range(run.message_count - 1):
        ready, start, end = run.m_ready[i], run.m_copy_start[i], run.m_copy_end[i]
        before = 0.0 if i == 0 else run.m_done[i - 1]
        if math.isnan(end) or math.isnan(ready) or ready <= before:
            continue
        woke = [t for t in readable if ready <= t <= start]
        out.append(Sample(i, ready - before, end - ready,
                          end - woke[0] if woke else math.nan))
    return out


def probe_servers(repetitions: int) -> ServerLatencies:
    """``repetitions`` captures of the probe per model, the models taking turns (so that a
    slow spell of a shared machine falls on all of them)."""
    with tempfile.TemporaryDirectory(prefix="iosim-calibrate-") as tmp:
        out = ServerLatencies(scenario=probe_scenario(Path(tmp)))
        for _ in range(repetitions):
            probe_round(out)
    return out


def probe_scenario(folder: Path) -> scenario_mod.Scenario:
    """The probe, written to ``folder`` (the capture's server process loads it from there)."""
    path = folder / "calibration-probe.toml"
    path.write_text(probe_scenario_text(), encoding="utf-8")
    return scenario_mod.load(str(path))


def probe_round(out: ServerLatencies) -> None:
    """One capture of the probe per model, added to ``out`` (whose scenario is the probe)."""
    assert out.scenario is not None
    for model in PROBE_MODELS:
        run = capture_run(out.scenario, model)
        if run.error is None:
            out.samples.setdefault(model, []).extend(samples_of(run))
