"""Run a scenario's IO models on the simulated kernel and collect one Trace."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import simpy
from simpy.core import EmptySchedule

from iosim.derive import fill_process_blocked, kernel_phases
from iosim.scenario import SIM_MODELS, Scenario, variant_models
from iosim.sim.costs import Costs
from iosim.sim.kernel import Kernel
from iosim.sim.models import PROGRAMS
from iosim.sim.process import Proc, Steps, Thread
from iosim.sim.variants import variant_program
from iosim.trace import Kind, Lane, Run, RunRecorder, Trace

# A run stops (its error says so) after this many SimPy events or this many trace events
# recorded, whichever comes first: whatever the scenario, a run then takes some 7 to 15 s
# and 0.9 GB (measured on the 2-vCPU VM) and its trace about 150 MB. The largest scenario the
# loader accepts (scenario.MAX_MESSAGES messages or reads) needs at most about 2.2 million
# trace events in the costliest model (tests/test_validation_scenarios.py checks every model).
MAX_EVENTS = 3_000_000
CHECK_EVERY = 1024  # steps between two checks of the limits
GRACE_US = 60_000_000.0  # a run still going a simulated minute after the last arrival is stuck
# A run blocked forever ends this much after its last event (at least STUCK_TAIL_US): what it
# waits for, and what waits unread in the kernel, stays so for good.
STUCK_TAIL_SHARE = 0.25
STUCK_TAIL_US = 1000.0


def simulate(scenario: Scenario, models: Sequence[str] | None = None, costs: Costs | None = None,
             progress: Callable[[str], None] | None = None) -> Trace:
    trace = Trace(scenario.name, scenario.title, scenario.protocol, axis=scenario.axis)
    for model in models or scenario.models:
        if progress:
            progress(model)
        trace.runs.append(simulate_run(scenario, model, costs or scenario.costs))
    return trace


def _lanes(scenario: Scenario, model: str) -> tuple[list[Lane], dict[int, int], dict[int, int]]:
    """Application, a kernel lane per active connection, and a lane per thread: threaded's,
    one per connection; with several workers on a listening socket, one per worker."""
    lanes = [Lane("application", "app")]
    kernel_lanes: dict[int, int] = {}
    for conn in range(scenario.active_connections):
        kernel_lanes[conn] = len(lanes)
        lanes.append(Lane(f"kernel conn {conn}", "kernel", conn))
    thread_lanes: dict[int, int] = {}
    threads = scenario.total_connections if model == "threaded" else \
        scenario.server.workers if scenario.server.workers > 1 else 0
    for k in range(threads):
        thread_lanes[k] = len(lanes)
        lanes.append(Lane(f"thread {k}", "thread", k if model == "threaded" else -1))
    return lanes, kernel_lanes, thread_lanes


def program_of(scenario: Scenario, model: str) -> tuple[Callable[[Thread], Steps] | None, str]:
    """The model's program for the scenario's server variant, and the name of its code
    (assets/code/<name>.py); None where the variant is not modelled with that model."""
    variant = scenario.server.variant
    if not variant:
        return PROGRAMS[model], model
    return variant_program(scenario, model), f"{variant}-{model}"


@contextmanager
def _no_gc_pauses() -> Iterator[None]:
    """A run keeps every trace row alive until it ends: the cyclic collector would walk them
    over and over for nothing (nothing is freed), so it waits until the run is over."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def simulate_run(scenario: Scenario, model: str, costs: Costs) -> Run:
    with _no_gc_pauses():
        return _simulate_run(scenario, model, costs)


def _simulate_run(scenario: Scenario, model: str, costs: Costs) -> Run:
    if model not in PROGRAMS:
        raise ValueError(f"unknown model {model!r} (known: {', '.join(SIM_MODELS)})")
    env = simpy.Environment()
    lanes, kernel_lanes, thread_lanes = _lanes(scenario, model)
    rec = RunRecorder(model, "sim", lanes, scenario.process.work_us)
    program, code = program_of(scenario, model)
    meta = {"program": code} if code != model else {}
    if scenario.server.variant:
        meta |= {"workers": scenario.server.workers,
                 "send_buffer_bytes": scenario.server.send_buffer_bytes}
    if program is None:
        error = (f"{model} is not modelled with this server ({scenario.server.variant}: "
                 f"{', '.join(variant_models(scenario.server.variant))})")
        rec.instant(Kind.ERROR, 0, 0.0, error)
        return rec.finish(0.0, error, costs=costs.to_dict(), **meta)
    kernel = Kernel(env, scenario, costs, rec, kernel_lanes)
    proc = Proc(env, kernel, rec, costs, scenario.process.work_us,
                scenario.process.poll_interval_us, scenario.message_count, scenario.protocol,
                thread_lanes)
    proc.reply_bytes = scenario.server.reply_bytes
    proc.epoll_exclusive = scenario.server.epoll_exclusive
    env.process(proc.guard(program(Thread(proc)), after_arrivals=True))
    last_arrival = max(s[-1].at_ms for s in scenario.connections) * 1000.0 + costs.network_us
    steps, error = _step(env, proc, rec, last_arrival + GRACE_US)
    end = env.now
    if proc.blocks and not proc.done:  # stuck: show it stay so for a while
        end += max(STUCK_TAIL_US, STUCK_TAIL_SHARE * end)
    _close_open_blocks(proc, rec, end)
    kernel.close_notes(end)
    kernel_phases(rec, kernel_lanes, end, kernel.connected_at)
    if thread_lanes:
        fill_process_blocked(rec, end)
    return rec.finish(end, error, sim_events=steps, costs=costs.to_dict(),
                      buffer_bytes=scenario.process.buffer_bytes,
                      poll_interval_us=scenario.process.poll_interval_us,
                      connections=scenario.total_connections, closes_us=kernel.closes_us,
                      **meta)


def _step(env: simpy.Environment, proc: Proc, rec: RunRecorder,
          limit_us: float) -> tuple[int, str | None]:
    """Step the simulation until the run ends; say why when it cannot end. The inner loop runs
    once per event, so it does nothing else: the limits are checked every CHECK_EVERY steps."""
    step = env.step
    steps = 0
    try:
        while True:
            for n in range(CHECK_EVERY):
                if proc.done:
                    return steps + n, proc.error
                step()
            steps += CHECK_EVERY
            if steps >= MAX_EVENTS or len(rec.rows) >= MAX_EVENTS or env.now > limit_us:
                return steps, (f"did not finish within {steps:,} events and "
                               f"{len(rec.rows):,} trace events ({env.now / 1000:.3f} ms)")
    except EmptySchedule:
        return steps + n, _stuck_reason(proc)


def _stuck_reason(proc: Proc) -> str:
    left = proc.remaining
    where = ""
    if proc.blocks:
        _since, label, conn, _line = proc.blocks[min(proc.blocks)]  # the lowest lane's
        who = f" on connection {conn}" if conn >= 0 else ""
        where = f": {label}{who}, where nothing more arrives"
    unread = sum(chunk.remaining for sock in proc.kernel.sockets.made() for chunk in sock.queue
                 if not chunk.corrupt)
    queued = f"; {unread:,} bytes wait in the kernel, unread" if unread else ""
    return (f"blocked forever{where}; {left} message{'s' if left != 1 else ''} never "
            f"handled{queued}")


def _close_open_blocks(proc: Proc, rec: RunRecorder, end: float) -> None:
    """Threads still asleep when the run ends (or a stuck run's last call) stay blocked."""
    for lane, (since, label, conn, line) in proc.blocks.items():
        rec.span(Kind.BLOCKED, lane, since, end, label, conn, line=line)
