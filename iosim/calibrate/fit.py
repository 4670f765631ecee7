"""From measurements to the cost model's terms. The simulator charges ``syscall_us`` on every
call on top of a call's own cost, so ``syscall_us`` is taken off the fitted bases (and off
epoll_ctl) before they are written. The terms the real servers pay beyond their calls (the
wake-up and how it grows with the time idle, signals, aio's completions, the servers' own work,
their start-up, the client's sends) are fitted on the probes' captures (probes.py), as the
simulator would produce them: a probe simulated with known terms fits them back."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace

from iosim.calibrate.measured import Measured
from iosim.calibrate.probes import (
    IDLE_GAPS_MS,
    IDLE_POLL_US,
    TCP_IDLE_CONNECTIONS,
    Probes,
)
from iosim.calibrate.timeline import Moments, moments
from iosim.sim.costs import MAX_RATIO, Costs
from iosim.sim.kernel import fd_of
from iosim.sim.run import simulate
from iosim.trace import Kind, Run

TAU_GRID_MS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 13.0, 16.0, 20.0, 30.0)
SEND_STEPS = 3
PER_EVENT_STEPS = 4
WARM_STEPS = 3
START_WARM_GRID_MS = (0.0, 5.0, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0)
PER_EVENT_GUESS_US = 5.0
BURST_COLD_SENDS = 4  # a connection's first send is slower: the first few gaps are not fitted


def fit_line(xs: list[float], ys: list[float], floor: float = 0.0) -> tuple[float, float]:
    """(base, slope) of y = base + slope * x, least squares on relative error (so that the
    small counts weigh as much as the large ones), with base >= ``floor``, slope >= 0."""
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
        if base >= floor and slope >= 0:
            return base, slope
        if slope < 0:  # flat: the weighted mean
            return max(floor, sy / sw if sw else floor), 0.0
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
    measured = {k: _sig(v) for k, v in values.items() if v is not None}
    if measured.get("copy_gb_per_s") == 0.0:
        del measured["copy_gb_per_s"]
    costs = replace(Costs(), **measured)
    if m.probes is not None:
        probed = {k: _sig(v) for k, v in probe_terms(m.probes, costs).items()}
        measured.update(probed)
        costs = replace(costs, **probed)
    kept = [f.name for f in fields(Costs) if f.name not in measured]
    return costs, kept


# -- the probes ------------------------------------------------------------------------------


@dataclass
class Curve:
    """A term that grows as its server goes cold: base + idle_extra * coldness."""

    base: float
    extra: float

    def at(self, costs: Costs, idle_us: float, at_us: float = math.inf) -> float:
        return self.base + self.extra * costs.coldness(idle_us, at_us)


Point = tuple[float, float, float]  # (idle µs, µs after t = 0, figure µs)
Group = list[Point]  # the points of one nominal gap


def by_gap(points: Iterable[Point], gaps_ms: Iterable[float]) -> list[Group]:
    """The points grouped by the nominal gap their idle is nearest, in order."""
    groups: dict[float, Group] = {}
    nominal = sorted(set(gaps_ms))
    for idle, at, y in points:
        if idle == idle and y == y and idle != math.inf:
            gap = min(nominal, key=lambda g: abs(g * 1000.0 - idle))
            groups.setdefault(gap, []).append((idle, at, y))
    return [group for _, group in sorted(groups.items())]


def middle(group: Group) -> Group:
    """The middle half of a group by figure (all of it when it has fewer than four): after
    long idles this VM's wake-ups are bimodal, and a median jumps from one mode to the other
    between calibrations where the middle half's mean moves with their proportion."""
    ordered = sorted(group, key=lambda p: p[2])
    cut = len(ordered) // 4
    return ordered[cut:len(ordered) - cut]


def typical(group: Group) -> tuple[float, float]:
    """A group's typical idle and figure: the means of its middle half."""
    kept = middle(group)
    return statistics.fmean(p[0] for p in kept), statistics.fmean(p[2] for p in kept)


def fit_curve(groups: list[Group], costs: Costs) -> tuple[Curve, float]:
    """The curve through the groups (the middle half of each: its mean coldness against its
    mean figure), and its squared relative error."""
    kept = [middle(group) for group in groups]
    xs = [statistics.fmean(costs.coldness(idle, at) for idle, at, _ in g) for g in kept]
    ys = [statistics.fmean(y for _, _, y in g) for g in kept]
    base, extra = fit_line(xs, ys)
    error = sum(((base + extra * x - y) / y) ** 2 for x, y in zip(xs, ys, strict=True) if y > 0)
    return Curve(base, extra), error


@dataclass
class Segments:
    """Per probe, per model: the messages' moments (the first one set apart)."""

    idle: dict[str, list[list[Moments]]]
    tcp_idle: dict[str, list[list[Moments]]]
    burst: dict[str, list[list[Moments]]]

    @classmethod
    def of(cls, probes: Probes) -> Segments:
        return cls(*({model: [moments(run) for run in model_runs]
                      for model, model_runs in runs.items()}
                     for runs in (probes.idle_runs, probes.tcp_idle_runs, probes.burst_runs)))

    def warm(self, model: str, tcp: bool = False) -> list[Moments]:
        """The messages but the first (see first) and the last (the client's goodbye comes
        right after it: its SIGIO, say)."""
        return [m for run in (self.tcp_idle if tcp else self.idle).get(model, [])
                for m in run[1:-1]]

    def first(self, model: str) -> list[Moments]:
        return [run[0] for run in self.idle.get(model, []) if run]


def probe_terms(probes: Probes, costs: Costs) -> dict[str, float]:
    """The terms the real servers pay beyond their calls, fitted on the probes' captures
    with the call costs already in ``costs``; a term without the data to fit it is left out."""
    seg = Segments.of(probes)
    out = _hot_calls(probes.burst_runs.get("blocking", []), costs,
                     probes.burst.connections[0][0].nbytes)
    costs = replace(costs, **out)
    out.update(_passes(probes.idle_runs.get("nonblocking", []), costs))
    costs = replace(costs, **out)
    copy_us = costs.copy_us(probes.idle.connections[0][0].nbytes)
    if not seg.warm("blocking"):
        return out
    for _ in range(WARM_STEPS):  # the curves and the start-up's warmth depend on each other
        series = _series(seg, costs, copy_us)
        tau = min(TAU_GRID_MS, key=lambda t: sum(
            fit_curve(groups, replace(costs, idle_tau_ms=t))[1] for groups in series.values()))
        costs = replace(costs, idle_tau_ms=tau)
        curves = {name: fit_curve(groups, costs)[0] for name, groups in series.items()
                  if groups}
        terms = {"idle_tau_ms": tau}
        for name, curve in curves.items():
            key = SERIES_KEYS[name]
            terms[f"{key}_us"], terms[f"{key}_idle_us"] = curve.base, curve.extra
        costs = replace(costs, **terms)
        terms.update(_first_idle(seg, costs, curves["wakeup"], copy_us))
        terms.update(_tcp_warmth(seg, costs, curves["wakeup"],
                                 costs.copy_us(probes.tcp_idle.connections[0][0].nbytes)))
        costs = replace(costs, **terms)
    out.update(terms)
    out.update(_first_cold(seg, costs, copy_us))
    out.update(_sends(seg, costs))
    costs = replace(costs, **out)
    out.update(_per_event(probes, costs, "sigio", "signal_taken_us"))
    out.update(_gil_handoffs(probes.burst_runs.get("threaded", []), costs))
    return out


def figures(probes: Probes, costs: Costs) -> list[tuple[str, float]]:
    """What the report shows of the probes: each term's typical figure per idle gap."""
    seg = Segments.of(probes)
    copy_us = costs.copy_us(probes.idle.connections[0][0].nbytes)
    return [(f"real servers: {SERIES_KEYS[name]}, {idle / 1000:.0f} ms idle", us)
            for name, groups in _series(seg, costs, copy_us).items()
            for idle, us in map(typical, groups)]


SERIES_KEYS = {"network": "network", "wakeup": "wakeup", "after_wake": "call_after_wake",
               "signal": "signal", "completion": "completion", "handle": "handle"}


def _hot_calls(runs: list[Run], costs: Costs, nbytes: int) -> dict[str, float]:
    """A server busy with a burst (the burst probe, blocking): a read of k messages takes
    syscall_us + k (copy + segment_us), its first message starts handle_us + k
    handle_per_message_us after it, each next one process_extra_us over work_us after the one
    before, and the next call comes call_overhead_us after that step."""
    reads: list[tuple[float, float, float]] = []  # (messages, call -> return, -> processing)
    gaps, steps = [], []
    for run in runs:
        ev = sorted((run.t0[i], run.t1[i], k) for i, k in enumerate(run.kind)
                    if run.lane[i] == 0 and k in (Kind.SYSCALL, Kind.RETURN, Kind.PROCESS))
        call = math.nan
        warm = False  # a read right after processing: not gone cold (the first is)
        for at, (t0, _, kind) in enumerate(ev):
            if kind == Kind.SYSCALL:
                call = t0
            elif kind == Kind.PROCESS:
                warm = True
            elif kind == Kind.RETURN and warm:
                after = [e for e in ev[at + 1:] if e[2] != Kind.RETURN]
                done = [e for e in itertools.takewhile(lambda e: e[2] == Kind.PROCESS, after)]
                if done:
                    reads.append((len(done), t0 - call, done[0][0] - t0))
                    steps += [b[0] - a[0] - run.work_us for a, b in zip(done, done[1:],
                                                                         strict=False)]
                    if len(done) < len(after):
                        gaps.append(after[len(done)][0] - done[-1][1])
    out: dict[str, float] = {}
    if steps:
        out["process_extra_us"] = max(0.0, statistics.median(steps))
    if gaps:  # the step to a next message is paid after the last one too
        out["call_overhead_us"] = max(0.0, statistics.median(gaps)
                                      - out.get("process_extra_us", 0.0))
    if len({k for k, _, _ in reads}) >= 2:
        counts = [float(k) for k, _, _ in reads]
        _, per_read = fit_line(counts, [d for _, d, _ in reads])
        out["segment_us"] = max(0.0, per_read - costs.copy_us(nbytes))
        _, per_message = fit_line(counts, [h for _, _, h in reads])
        out["handle_per_message_us"] = per_message
    return out


def _passes(runs: list[Run], costs: Costs) -> dict[str, float]:
    """nonblocking's polling: from one call to the next after a pass that found nothing is
    poll_interval_us + own_work_extra_us + call_overhead_us + syscall_us; the start-up puts
    the second call one such pass after start_us + call_overhead_us (the first call, cold, is
    in the start-up)."""
    periods, seconds = [], []
    for run in runs:
        calls = sorted(run.t0[i] for i, k in enumerate(run.kind) if k == Kind.SYSCALL)
        data = sorted(run.t0[i] for i, k in enumerate(run.kind) if k == Kind.RETURN)
        for a, b in zip(calls[1:], calls[2:], strict=False):
            if not any(a <= t <= b for t in data):
                periods.append(b - a)
        if len(calls) > 1:
            seconds.append(calls[1])
    if not periods:
        return {}
    per_call = costs.call_overhead_us + costs.syscall_us
    extra = max(0.0, statistics.median(periods) - IDLE_POLL_US - per_call)
    out = {"own_work_extra_us": extra}
    if seconds:
        period = IDLE_POLL_US + extra + per_call
        out["start_us"] = max(0.0, statistics.median(seconds) - period
                              - costs.call_overhead_us)
    return out


def _series(seg: Segments, costs: Costs, copy_us: float) -> dict[str, list[Group]]:
    """Per term, (idle, time into the run, figure) of the warm messages, by nominal gap, each
    figure what the simulator charges for that term (the rest of its path taken off). Only
    wake-ups are warm early in a run (the time into it is infinite for the rest); the
    client's idle is its gap between two sends."""
    hot = costs.call_overhead_us + costs.syscall_us + copy_us
    rescan = costs.select_us(fd_of(0) + 1)
    gaps = IDLE_GAPS_MS
    stamped = ("blocking", "select", "sigio", "nonblocking")
    network = by_gap(((m.client_gap, math.inf, m.ready - m.sent) for model in stamped
                      for m in seg.warm(model)), gaps)
    out = {"network": network,
           "wakeup": by_gap([(m.idle, m.ready, m.copy_end - m.ready - copy_us)
                             for m in seg.warm("blocking")]
                            + [(m.idle, m.ready, m.readable - m.ready - rescan)
                               for m in seg.warm("select")], gaps),
           "after_wake": by_gap(((m.idle, m.ready, m.copy_end - m.readable - hot)
                                 for m in seg.warm("select")), gaps),
           "signal": by_gap(((m.idle, math.inf, m.copy_end - m.ready - hot)
                             for m in seg.warm("sigio")), gaps),
           "handle": by_gap(((m.copy_end - (m.ready - m.idle), math.inf,
                              m.started - m.copy_end - costs.handle_per_message_us)
                             for model in stamped for m in seg.warm(model)), gaps)}
    if network:
        net, _ = fit_curve(network, costs)
        out["completion"] = by_gap(((m.idle, math.inf, m.returned - m.sent
                                     - net.at(costs, m.client_gap) - copy_us
                                     - costs.call_overhead_us) for m in seg.warm("aio")), gaps)
    return out


def _first_idle(seg: Segments, costs: Costs, wakeup: Curve, copy_us: float
                ) -> dict[str, float]:
    """A process's first message: one that slept for it (blocking, select) woke as from a
    shorter idle than it had (its first sleep a shallow one): first_idle_ms is that idle,
    read off the wake-up curve."""
    rescan = costs.select_us(fd_of(0) + 1)
    woke = [m.copy_end - m.ready - copy_us for m in seg.first("blocking")]
    woke += [m.readable - m.ready - rescan for m in seg.first("select")]
    if not woke or not wakeup.extra:
        return {}
    idle = statistics.median(m.idle for m in seg.first("blocking") + seg.first("select"))
    cold = min(max((statistics.median(woke) - wakeup.base) / wakeup.extra, 0.0),
               costs.coldness(idle))
    tau_us = costs.idle_tau_ms * 1000.0
    first_us = -tau_us * math.log(1.0 - cold) if cold < 1.0 and tau_us > 0 else idle
    return {"first_idle_ms": min(first_us, idle) / 1000.0}


def _tcp_warmth(seg: Segments, costs: Costs, wakeup: Curve, copy_us: float
                ) -> dict[str, float]:
    """The TCP probe's wake-ups (blocking, select) against the UDP wake-up curve after the
    same idle: a share of it (tcp_wakeup_ratio, TCP stamps later), and less cold early in
    the run (start_warm_ms): the pair that fits them best, the share the median of the
    ratios."""
    rescan = costs.select_us(fd_of(TCP_IDLE_CONNECTIONS - 1) + 1)
    seen = [(m, m.copy_end - m.ready - copy_us) for m in seg.warm("blocking", tcp=True)]
    seen += [(m, m.readable - m.ready - rescan) for m in seg.warm("select", tcp=True)]
    seen = [(m, us) for m, us in seen if us > 0]
    if not seen:
        return {}

    def fit(warm_ms: float) -> tuple[float, float, float]:
        warm = replace(costs, start_warm_ms=warm_ms)
        pred = [wakeup.at(warm, m.idle, m.ready) for m, _ in seen]
        ratio = statistics.median(us / p for (_, us), p in zip(seen, pred, strict=True))
        miss = sorted(math.log(us / (ratio * p)) ** 2 for (_, us), p in zip(seen, pred,
                                                                             strict=True))
        return statistics.fmean(miss[:max(1, len(miss) * 3 // 4)]), ratio, warm_ms

    _, ratio, warm_ms = min(map(fit, START_WARM_GRID_MS))
    return {"tcp_wakeup_ratio": min(max(ratio, 0.0), MAX_RATIO), "start_warm_ms": warm_ms}


def _first_cold(seg: Segments, costs: Costs, copy_us: float) -> dict[str, float]:
    """A process's first message when it did not sleep for it: aio's first completion takes
    cold_start_us (the first read without a wake-up) more than its curve says, sigio's first
    signal signal_cold_us more again."""
    out: dict[str, float] = {}
    hot = costs.call_overhead_us + costs.syscall_us + copy_us

    def first(m: Moments) -> float:  # as Proc.coldness before the first message
        return costs.coldness(min(m.idle, costs.first_idle_ms * 1000.0))

    aio = [m.returned - m.sent - costs.network_at(costs.coldness(m.client_gap)) - copy_us
           - costs.call_overhead_us - costs.completion_at(first(m)) for m in seg.first("aio")]
    aio = [x for x in aio if x == x]
    if aio:
        out["cold_start_us"] = max(0.0, statistics.median(aio))
    sigio = [m.copy_end - m.ready - hot - costs.signal_at(first(m)) for m in seg.first("sigio")]
    if sigio:  # its first read pays cold_start_us too
        out["signal_cold_us"] = max(0.0, statistics.median(sigio) - out.get("cold_start_us", 0.0))
    return out


def _gil_handoffs(runs: list[Run], costs: Costs) -> dict[str, float]:
    """threaded, on the burst probe (TCP): a thread enters recvfrom, letting the GIL go (as
    CPython does around a system call), and another, whose data came while it held the GIL,
    returns from its own: gil_handoff_us + wakeup_idle_us times the waiting thread's coldness
    after its wait for the GIL (from the end of its wake-up) later. The waits are guessed from
    the wake-ups, so the handoffs of the quarter of threads that waited least, whose coldness
    weighs least, are the ones taken."""
    handoffs: list[tuple[float, float]] = []
    woken_us = costs.wakeup_us * costs.tcp_wakeup_ratio
    for run in runs:
        ev = sorted((run.t0[i], run.lane[i], k) for i, k in enumerate(run.kind)
                    if run.lanes[run.lane[i]].role == "thread"
                    and k in (Kind.SYSCALL, Kind.RETURN, Kind.WAKEUP))
        woke: dict[int, float] = {}
        for (t_a, lane_a, kind_a), (t_b, lane_b, kind_b) in zip(ev, ev[1:], strict=False):
            if kind_a == Kind.WAKEUP:
                woke[lane_a] = t_a
            if (kind_a == Kind.SYSCALL and kind_b == Kind.RETURN and lane_a != lane_b
                    and woke.get(lane_b, math.inf) < t_a):
                waited = max(0.0, t_a - woke[lane_b] - woken_us)
                handoffs.append((waited, t_b - t_a
                                 - costs.wakeup_idle_us * costs.coldness(waited)))
    if not handoffs:
        return {}
    least = sorted(handoffs)[:max(3, len(handoffs) // 4)]
    return {"gil_handoff_us": max(0.0, statistics.median(h for _, h in least))}


def _per_event(probes: Probes, costs: Costs, model: str, key: str) -> dict[str, float]:
    """A cost paid per event of a busy server: a SIGIO during the sigio handler
    (signal_taken_us). On the burst probe the server never catches up, and the events put its
    messages later: the cost is the one with which the simulated probe's messages are done,
    on average, when the real ones were (the secant method, from 0 and a guess)."""
    done = [_mean_done(run) for run in probes.burst_runs.get(model, [])]
    done = [d for d in done if d == d]
    if not done:
        return {}
    target = statistics.median(done)

    def end(cost: float) -> float:
        return _mean_done(simulate(probes.burst, [model], replace(costs, **{key: cost})).runs[0])

    a, b = 0.0, PER_EVENT_GUESS_US
    end_a, end_b = end(a), end(b)
    for _ in range(PER_EVENT_STEPS):
        if end_b == end_a:
            break
        a, end_a, b = b, end_b, max(0.0, b + (target - end_b) * (b - a) / (end_b - end_a))
        end_b = end(b)
    return {key: b}


def _mean_done(run: Run) -> float:
    """When a run's messages were done, on average (NaN when one never was)."""
    return statistics.fmean(run.m_done) if run.message_count else math.nan


def _sends(seg: Segments, costs: Costs) -> dict[str, float]:
    """The burst probe's client is always behind: its sends are as far apart as it takes to
    make one, send_us plus send_idle_us times its coldness after the gap before (the first,
    idle since t = 0: all of it), plus signal_send_us when each raises SIGIO (sigio)."""
    def gaps(model: str) -> list[float]:
        out = []
        for run in seg.burst.get(model, []):
            sent = sorted(m.sent for m in run)[BURST_COLD_SENDS:]
            out += [b - a for a, b in zip(sent, sent[1:], strict=False)]
        return out

    plain, signalled = gaps("blocking"), gaps("sigio")
    firsts = [sorted(m.sent for m in run)[:2] for run in seg.burst.get("blocking", [])]
    firsts = [b - a for a, b in firsts if b == b]
    if not plain or not firsts:
        return {}
    first = statistics.median(firsts)
    send, idle = statistics.median(plain), 0.0
    for _ in range(SEND_STEPS):  # the two depend on each other, a little
        idle = max(0.0, first - send)
        send = statistics.median(g - idle * costs.coldness(g) for g in plain)
    out = {"send_us": send, "send_idle_us": idle}
    if signalled:
        out["signal_send_us"] = max(0.0, statistics.median(
            g - idle * costs.coldness(g) for g in signalled) - send)
    return out
