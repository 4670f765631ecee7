"""What iosim's own real servers pay: short captures of two synthetic probe scenarios.

A wake-up measured between two bare sockets is not what a server pays: the servers run in their
own process, read through Python, are woken by a client in another process and go cold while
idle. So calibration also plays two small probes (none of the built-in scenarios) against the
real servers, and ``fit.py`` fits the cost model's terms on the captures' timelines:

- the idle probe: one UDP connection, a datagram after each idle gap of 2 to 20 ms (the first
  after 20 ms), against blocking, select, sigio, aio and nonblocking: how a server's wake-up,
  signal, completion and own work grow with the time it was idle, what its first message
  costs, how long its start-up and its polling passes take, and how long the client's send
  takes to arrive;
- a TCP idle probe: four connections taking turns, a message every 2 to 5 ms, 200 µs of work
  each, against blocking and select: how much sooner a TCP server returns from a wake-up,
  counted from the data's arrival stamp (a server that works longer per message also sleeps
  less deeply: measured, 200 µs instead of 50 wake it up some 30% sooner);
- the burst probe: four TCP connections sending faster than the client can, against blocking,
  sigio and threaded: how long the client takes per send, how much more when each send raises
  SIGIO, what a SIGIO costs a busy sigio server, what handing the GIL costs a threaded one.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from iosim import scenario as scenario_mod
from iosim.real.session import capture_run
from iosim.trace import Run

IDLE_MODELS = ("blocking", "select", "sigio", "aio", "nonblocking")
TCP_IDLE_MODELS = ("blocking", "select")
TCP_IDLE_CONNECTIONS = 4
BURST_MODELS = ("blocking", "sigio", "threaded")
# Idle gaps (ms) before each datagram of the idle probe, and of the TCP one
IDLE_GAPS_MS = (20.0, *(2.0, 20.0, 5.0, 10.0) * 3)
# (only short gaps: after a long idle, a server's next few wake-ups stay slow even after short
# ones, which the model does not remember; the UDP probe covers the long idles)
TCP_IDLE_GAPS_MS = (5.0, *(2.0, 4.0, 3.0, 5.0, 2.0, 3.0, 4.0) * 2)
IDLE_BYTES = 64
IDLE_WORK_US = 50.0
TCP_IDLE_WORK_US = 200.0
IDLE_POLL_US = 1000.0
# The burst probe: BURST_CONNECTIONS connections, BURST_MESSAGES each, one every
# BURST_EVERY_MS, staggered: a send every 5 µs, faster than a Python client sends
BURST_CONNECTIONS = 4
BURST_MESSAGES = 12
BURST_EVERY_MS = 0.02
BURST_START_MS = 5.0
BURST_BYTES = 512
BURST_WORK_US = 20.0


def idle_probe_text(protocol: str = "udp") -> str:
    """UDP: one connection; TCP: the messages take turns on TCP_IDLE_CONNECTIONS."""
    udp = protocol == "udp"
    connections = 1 if udp else TCP_IDLE_CONNECTIONS
    sends: list[list[str]] = [[] for _ in range(connections)]
    t = 0.0
    for i, gap in enumerate(IDLE_GAPS_MS if udp else TCP_IDLE_GAPS_MS):
        t += gap
        sends[i % connections].append(f"[{t}, {IDLE_BYTES}]")
    models = IDLE_MODELS if udp else TCP_IDLE_MODELS
    return _header(f"calibration-{protocol}-idle-probe", "Messages after idle gaps", protocol,
                   models, IDLE_WORK_US if udp else TCP_IDLE_WORK_US, IDLE_POLL_US) + "".join(
        f"[[connections]]\nsends = [{', '.join(conn)}]\n" for conn in sends)


def burst_probe_text() -> str:
    return _header("calibration-burst-probe", "Sends faster than the client can make them",
                   "tcp", BURST_MODELS, BURST_WORK_US, IDLE_POLL_US) + (
        f"[[connections]]\ncount = {BURST_CONNECTIONS}\nfirst_ms = {BURST_START_MS}\n"
        f"stagger_ms = {BURST_EVERY_MS / BURST_CONNECTIONS}\nevery_ms = {BURST_EVERY_MS}\n"
        f"messages = {BURST_MESSAGES}\nbytes = {BURST_BYTES}\n")


def _header(name: str, title: str, protocol: str, models: tuple[str, ...], work_us: float,
            poll_us: float) -> str:
    listed = ", ".join(f'"{m}"' for m in models)
    return (f'name = "{name}"\ntitle = "{title}"\nprotocol = "{protocol}"\n'
            f"models = [{listed}]\n[process]\nwork_us = {work_us}\n"
            f"poll_interval_us = {poll_us}\n")


@dataclass
class Probes:
    """The probes' captures (or simulations) per model, and the scenarios they played."""

    idle: scenario_mod.Scenario
    tcp_idle: scenario_mod.Scenario
    burst: scenario_mod.Scenario
    idle_runs: dict[str, list[Run]] = field(default_factory=dict)
    tcp_idle_runs: dict[str, list[Run]] = field(default_factory=dict)
    burst_runs: dict[str, list[Run]] = field(default_factory=dict)

    def add_round(self) -> None:
        """One capture of each probe per model, the models taking turns (so that a slow spell
        of a shared machine falls on all of them). A run that failed is left out."""
        for probe, models, runs in ((self.idle, IDLE_MODELS, self.idle_runs),
                                    (self.tcp_idle, TCP_IDLE_MODELS, self.tcp_idle_runs),
                                    (self.burst, BURST_MODELS, self.burst_runs)):
            for model in models:
                run = capture_run(probe, model)
                if run.error is None:
                    runs.setdefault(model, []).append(run)


def probe_scenarios(folder: Path) -> Probes:
    """The probes, written to ``folder`` (a capture's server process loads its scenario from
    a file)."""
    loaded = []
    for name, text in (("idle", idle_probe_text()), ("tcp-idle", idle_probe_text("tcp")),
                       ("burst", burst_probe_text())):
        path = folder / f"calibration-{name}-probe.toml"
        path.write_text(text, encoding="utf-8")
        loaded.append(scenario_mod.load(str(path)))
    return Probes(*loaded)


def probe_servers(rounds: int) -> Probes:
    """``rounds`` captures of each probe per model."""
    with tempfile.TemporaryDirectory(prefix="iosim-calibrate-") as tmp:
        probes = probe_scenarios(Path(tmp))
        for _ in range(rounds):
            probes.add_round()
    return probes
