"""From measurements to the cost model's terms. The simulator charges ``syscall_us`` on every
call on top of a call's own cost, so ``syscall_us`` is taken off the fitted bases (and off
epoll_ctl) before they are written. The latency terms (wake-up and its growth with the time
asleep, SIGIO delivery, the call after a multiplexer's wake-up, the cold first reads) are
fitted on the real servers' probe captures when there are some, simulated back with the fitted
terms; otherwise they come from the socket pairs."""

from __future__ import annotations

import statistics
from dataclasses import fields, replace

from iosim.calibrate.measured import Measured
from iosim.calibrate.probes import PROBE_MODELS, SLEEPING_MODELS, WARM_FROM, ServerLatencies
from iosim.sim.costs import Costs
from iosim.sim.run import simulate

MAX_COLD_DECAY = 0.9  # the first reads' extra fades at least this fast, read after read


def fit_line(xs: list[float], ys: list[float], floor: float = 0.0) -> tuple[float, float]:
    """(base, slope) of y = base + slope * x, least squares on relative error (so that the
    small counts weigh as much as the large ones), with base >= ``floor``."""
    w = [1.0 / (y * y) if y > 0 else 0.0 for y in ys]
    sw = sum(w)
    sx = sum(wi * x for wi, x in zip(w, xs, strict=True))
    sy = sum(wi * y for wi, y in zip(w, ys, strict=True))
    sxx = sum(wi * x * x for wi, x in zip(w, xs, strict=True))
    sxy = sum(wi * x * y for wi, x, y in zip(w, xs, ys, strict=True))
    det = sw * sxx - sx * sx
    if det > 0:
        slope = (sw * sxy - sx * sy) / det
        base = (sy - slope * sx) / sw
        if base >= floor:
            return base, max(slope, 0.0)
    if not sxx:
        return floor, 0.0
    return floor, max((sxy - floor * sx) / sxx, 0.0)


def copy_gb_per_s(copy_us: dict[int, float]) -> float | None:
    """Bandwidth from the slope of time against size (the intercept is the call itself)."""
    if len(copy_us) >= 2:
        _, us_per_byte = fit_line(list(map(float, copy_us)), list(copy_us.values()))
        if us_per_byte > 0:
            return 1.0 / (us_per_byte * 1000.0)
    if copy_us:
        size, us = max(copy_us.items())
        return size / (us * 1000.0)
    return None


def _sig(x: float) -> float:
    """Four significant digits: more would be noise."""
    return float(f"{x:.4g}")


def to_costs(m: Measured) -> tuple[Costs, list[str]]:
    """The cost profile; a key that could not be measured keeps its default (and is named)."""
    values: dict[str, float | None] = {
        "syscall_us": m.syscall_us,
        "wakeup_us": m.wakeup_us,
        "network_us": m.network_us,
        "copy_gb_per_s": copy_gb_per_s(m.copy_us),
        "wakeup_per_idle_ms_us": m.wakeup_per_idle_ms_us,
        "signal_us": m.signal_cross_us if m.signal_cross_us is not None else m.signal_us,
        "epoll_ctl_us": max(0.0, m.epoll_ctl_us - m.syscall_us),
    }
    for name, per_call, key in (("select", m.select_us, "per_fd"), ("poll", m.poll_us, "per_fd"),
                                ("epoll", m.epoll_ready_us, "per_ready")):
        if len(per_call) >= 2:
            base, slope = fit_line(list(map(float, per_call)), list(per_call.values()),
                                   floor=m.syscall_us)
            values[f"{name}_base_us"] = max(0.0, base - m.syscall_us)
            values[f"{name}_{key}_us"] = slope
    if m.servers is not None:
        values.update(server_terms(m.servers, m.syscall_us))
    measured = {k: _sig(v) for k, v in values.items() if v is not None}
    if measured.get("copy_gb_per_s") == 0.0:
        del measured["copy_gb_per_s"]
    costs = replace(Costs(), **measured)
    if m.servers is not None:
        cold = cold_terms(m.servers, costs)
        if cold is not None:
            measured["cold_start_us"], measured["cold_decay"] = map(_sig, cold)
            costs = replace(costs, cold_start_us=measured["cold_start_us"],
                            cold_decay=measured["cold_decay"])
    kept = [f.name for f in fields(Costs) if f.name not in measured]
    return costs, kept


def server_terms(servers: ServerLatencies, syscall_us: float) -> dict[str, float | None]:
    """The latency terms as the real servers pay them (probe captures), warm messages only:
    the blocking server's stamp -> return against the time it slept gives the wake-up (a
    line: base + per ms asleep); the sigio server's stamp -> read, less a hot call, against
    the time since its last handler, the signal's delivery (a line too); select's return ->
    recvfrom's return, less a hot call, the call after a multiplexer's wake-up."""
    out: dict[str, float | None] = {}
    by_gap = servers.by_gap("blocking")
    if len(by_gap) >= 2:
        base, per_ms = fit_line([ms for ms, _ in by_gap], [us for _, us in by_gap])
        out["wakeup_us"], out["wakeup_per_idle_ms_us"] = base, per_ms
    by_gap = servers.by_gap("select", after_wake=True)
    if len(by_gap) >= 2:
        base, per_ms = fit_line([ms for ms, _ in by_gap], [us for _, us in by_gap])
        out["call_after_wake_us"] = max(0.0, base - syscall_us)
        out["call_after_wake_per_idle_ms_us"] = per_ms
    by_gap = servers.by_gap("sigio")
    if len(by_gap) >= 2:
        base, per_ms = fit_line([ms for ms, _ in by_gap], [us for _, us in by_gap])
        out["signal_us"], out["signal_per_idle_ms_us"] = max(0.0, base - syscall_us), per_ms
    return out


def cold_terms(servers: ServerLatencies, warm_costs: Costs) -> tuple[float, float] | None:
    """The first reads' extra (cold_start_us, cold_decay): each probe run's first messages
    against the simulation of the probe with every other term fitted (which predicts warm
    reads). The first read's extra is the median over the servers; its decay, read after
    read, comes from the servers that sleep between reads (blocking, select): the median
    extra of their k-th read, k < WARM_FROM, taken as C * decay ** k. The first read after a
    wake-up pays only what the wake-up's idle part did not (Thread.cold_read): that part is
    added back to the first read's extra."""
    if servers.scenario is None:
        return None
    extra: dict[str, dict[int, list[float]]] = {}
    for model in PROBE_MODELS:
        cold = servers.cold(model)
        if not cold:
            continue
        run = simulate(servers.scenario, [model], warm_costs).runs[0]
        for s in cold:
            predicted = run.m_copy_end[s.index] - run.m_ready[s.index]
            got = s.latency_us - predicted
            if s.index == 0 and model in SLEEPING_MODELS and got > 0:
                got += warm_costs.wakeup_after_us(s.asleep_us) - warm_costs.wakeup_us  # absorbed
            extra.setdefault(model, {}).setdefault(s.index, []).append(got)
    firsts = [x for by_read in extra.values() for x in by_read.get(0, [])]
    if not firsts:
        return None
    sleepers = [by_read for model, by_read in extra.items() if model in SLEEPING_MODELS]
    by_read = [max(0.0, statistics.median(x for b in sleepers for x in b.get(k, [])))
               for k in range(WARM_FROM) if any(k in b for b in sleepers)]
    earlier, later = sum(by_read[:-1]), sum(by_read[1:])
    decay = min(MAX_COLD_DECAY, later / earlier) if earlier > 0 else 0.0
    return max(0.0, statistics.median(firsts)), decay
