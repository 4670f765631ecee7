"""Per-run totals and per-message phases, computed from a Trace alone (simulated or real).

The same function serves ``iosim sim`` and ``iosim summary``, so their outputs are equal for
the same run.
"""

from __future__ import annotations

import json
import math
import statistics
from typing import Any

from iosim.trace import IN_KERNEL_KINDS, Kind, Run, Trace

DIGITS = 6  # µs to the picosecond: exact for the zero-cost arithmetic, free of float noise


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, DIGITS) + 0.0


def app_lanes(run: Run) -> set[int]:
    return {i for i, lane in enumerate(run.lanes) if lane.role == "app"}


def totals(run: Run) -> dict[str, Any]:
    counts = {Kind.SYSCALL: 0, Kind.EWOULDBLOCK: 0, Kind.SIGNAL: 0, Kind.WAKEUP: 0}
    spent = {Kind.BLOCKED: 0.0, Kind.IN_KERNEL: 0.0, Kind.WORK: 0.0}
    app = app_lanes(run)
    for kind, lane, t0, t1 in zip(run.kind, run.lane, run.t0, run.t1, strict=True):
        if kind in counts:
            counts[kind] += 1
        elif lane in app:
            if kind in IN_KERNEL_KINDS:
                kind = Kind.IN_KERNEL
            if kind in spent:
                spent[kind] += t1 - t0
    latencies = _since_ready(run, run.m_copy_end)
    handled = _since_ready(run, run.m_done)
    return {
        "syscalls": counts[Kind.SYSCALL],
        "ewouldblock": counts[Kind.EWOULDBLOCK],
        "signals": counts[Kind.SIGNAL],
        "wakeups": counts[Kind.WAKEUP],
        "blocked_us": _r(spent[Kind.BLOCKED]),
        "in_kernel_us": _r(spent[Kind.IN_KERNEL]),
        "other_work_us": _r(spent[Kind.WORK]),
        "end_us": _r(run.end_us),
        "sim_events": run.sim_events,
        "latency_p50_us": _r(statistics.median(latencies)) if latencies else None,
        "latency_p90_us": _r(p90(latencies)) if latencies else None,
        "latency_max_us": _r(latencies[-1]) if latencies else None,
        "handled_p50_us": _r(statistics.median(handled)) if handled else None,
        "handled_p90_us": _r(p90(handled)) if handled else None,
        "handled_max_us": _r(handled[-1]) if handled else None,
    }


def p90(ordered: list[float]) -> float:
    """The 90th percentile of sorted values, interpolated between the two nearest (as
    numpy's default): 10 messages give a figure between the 9th and the 10th."""
    at = 0.9 * (len(ordered) - 1)
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def _since_ready(run: Run, times: Any) -> list[float]:
    """Sorted ``times[i] - ready[i]`` over the messages where that time is known: with the
    copy's end, the latency (phase 1's end to phase 2's end); with processing done, how long
    after its data was ready a message was handled."""
    return sorted(t - ready for t, ready in zip(times, run.m_ready, strict=True) if t == t)


def messages(run: Run) -> list[dict[str, Any]]:
    rows = []
    for i in range(run.message_count):
        row = run.message(i)
        rows.append({k: (_r(v) if isinstance(v, float) else v) for k, v in row.items()})
    return rows


def summarize_run(run: Run) -> dict[str, Any]:
    summary = {"model": run.model, "source": run.source, "error": run.error, **extras(run),
               "messages": messages(run), "totals": totals(run)}
    if run.source == "traced" and "model_guess" in run.meta:
        summary["model_guess"] = run.meta["model_guess"]
    return summary


def extras(run: Run) -> dict[str, Any]:
    """The keys only some runs have: what a long ``iosim serve`` run's trace kept of it."""
    out: dict[str, Any] = {}
    kept = served(run)
    if kept is not None:
        out["kept"] = kept
    return out


def summarize(trace: Trace) -> dict[str, Any]:
    return {"scenario": trace.scenario, "protocol": trace.protocol,
            "runs": [summarize_run(r) for r in trace.runs]}


def to_json(trace: Trace) -> str:
    """The summary as JSON, a key a line and a message a line. Every line comes from json's C
    encoder: ``indent=`` would force the pure-Python one, which took a third of ``iosim
    summary --json`` on a large trace."""
    return _json(summarize(trace))


def _json(value: Any, pad: str = "") -> str:
    """``value`` as JSON: a table a key a line, a list of tables or lists an item a line
    (indented a space a level); an item that holds no table or list (a message) is one
    line. The items of a list are alike: the first tells whether they are spread."""
    inner = pad + " "
    if isinstance(value, dict) and value:
        lines = (f"{json.dumps(key)}: {_json(item, inner)}" for key, item in value.items())
    elif isinstance(value, list) and value and isinstance(value[0], (dict, list)):
        first = value[0].values() if isinstance(value[0], dict) else value[0]
        flat = not any(isinstance(v, (dict, list)) for v in first)
        lines = map(json.dumps, value) if flat else (_json(item, inner) for item in value)
    else:
        return json.dumps(value)
    opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
    return f"{opening}\n{inner}" + f",\n{inner}".join(lines) + f"\n{pad}{closing}"


def _ms(us: float | None) -> str:
    return "-" if us is None else f"{us / 1000:.3f}"


def _pct(part: float | None, whole: float | None) -> str:
    return "-" if not whole or part is None else f"{100 * part / whole:.1f}%"


def table(trace: Trace) -> str:
    """The runs side by side: the first message's phases, then counters and time shares."""
    summary = summarize(trace)
    runs = summary["runs"]
    rows: list[tuple[str, list[str]]] = []

    def row(name: str, cell: Any) -> None:
        rows.append((name, [cell(r) for r in runs]))

    def first(key: str) -> Any:
        return lambda r: _ms(r["messages"][0][key]) if r["messages"] else "-"

    def copied(r: dict[str, Any]) -> str:
        done = sum(m["done_us"] is not None for m in r["messages"])
        return f"{done}/{len(r['messages'])}"

    def total(key: str) -> Any:
        return lambda r: str(r["totals"][key])

    def share(key: str) -> Any:
        return lambda r: _pct(r["totals"][key], r["totals"]["end_us"])

    row("first message: ready (ms)", first("ready_us"))
    row("  phase 2 copy starts (ms)", first("copy_start_us"))
    row("  phase 2 copy ends (ms)", first("copy_end_us"))
    row("  handled (ms)", first("done_us"))
    row("messages handled", copied)
    row("latency p50 (ms)", lambda r: _ms(r["totals"]["latency_p50_us"]))
    row("latency max (ms)", lambda r: _ms(r["totals"]["latency_max_us"]))
    row("handled p50 (ms)", lambda r: _ms(r["totals"]["handled_p50_us"]))
    row("system calls", total("syscalls"))
    row("EWOULDBLOCK", total("ewouldblock"))
    row("signals", total("signals"))
    row("wake-ups", total("wakeups"))
    row("blocked", share("blocked_us"))
    row("in kernel", share("in_kernel_us"))
    row("own work", share("other_work_us"))
    row("end (ms)", lambda r: _ms(r["totals"]["end_us"]))
    heads = [r["model"] + ("" if r["source"] == "sim" else f" ({r['source']})") for r in runs]
    name_w = max(len(n) for n, _ in rows)
    widths = [max(len(h), *(len(cells[i]) for _, cells in rows)) for i, h in enumerate(heads)]
    lines = [f"{trace.scenario} · {trace.title} · {trace.protocol}",
             " " * name_w + "  " + "  ".join(h.rjust(w) for h, w in zip(heads, widths,
                                                                          strict=True))]
    for name, cells in rows:
        lines.append(name.ljust(name_w) + "  " + "  ".join(
            c.rjust(w) for c, w in zip(cells, widths, strict=True)))
    for r in runs:
        if r["error"]:
            lines.append(f"the {r['model']} run stopped: {r['error']}")
    for run in trace.runs:
        for note in (model_note(run), tracer_note(run), kept_note(run)):
            if note:
                lines.append(f"{run.model}: {note}")
    return "\n".join(lines)


def tracer_note(run: Run) -> str | None:
    """What tracing did to a traced run's times, in words (None for other runs)."""
    cost = run.meta.get("tracer_cost_us", run.meta.get("strace_cost_us"))
    if run.source != "traced" or not isinstance(cost, int | float):
        return None
    tracer = "perf" if str(run.meta.get("tracer", "")).startswith("perf") else "strace"
    estimated = "; ready times estimated from the calls" if run.meta.get("ready_estimated") \
        else ""
    if run.meta.get("copies_unknown"):
        estimated += "; copy lengths unknown (no kernel stamps of the copies)"
    startup = run.meta.get("startup_us")
    if isinstance(startup, int | float) and startup > 0:
        estimated += f"; {startup / 1000:.1f} ms of start-up before t = 0, not drawn"
    slower = "under 0.5 µs" if cost < 0.5 else f"~{cost:.1f} µs" if cost < 9.5 else \
        f"~{cost:.0f} µs"
    return f"traced with {tracer}: each call {slower} slower{estimated}"


def _count(value: Any) -> int | None:
    """A count as a trace's meta holds it (any JSON in a file given to us), or None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
        else None


def served(run: Run) -> dict[str, Any] | None:
    """What a long ``iosim serve`` run's trace kept of it (policy, how many messages from
    which), beside the counts of the whole run that every policy keeps (None for other runs;
    a count the file does not give is None)."""
    kept = run.meta.get("kept")
    if not isinstance(kept, dict) or _count(kept.get("messages_total")) is None:
        return None
    policy = kept.get("policy")
    start = run.meta.get("from_start_us")
    return {"policy": policy if isinstance(policy, str) and len(policy) <= 40 else "?",
            "messages": run.message_count,
            "first_message": _count(kept.get("first_message")) or 0,
            "from_start_us": _r(float(start)) if isinstance(start, (int, float))
            and not isinstance(start, bool) and math.isfinite(start) else None,
            "messages_total": kept["messages_total"],
            **{key: _count(run.meta.get(key)) for key in (
                "calls_total", "clients", "replies_unsent", "dropped_queue_full")}}


def model_note(run: Run) -> str | None:
    """A traced run's IO model in Stevens's words, with the evidence (None for other runs)."""
    from iosim.traced.model import model_sentence
    guess = run.meta.get("model_guess") if run.source == "traced" else None
    if not isinstance(guess, dict):
        return None
    return f"{model_sentence(guess)} ({guess.get('evidence', '')})"


def kept_note(run: Run) -> str | None:
    """What a long ``iosim serve`` run's trace kept of it, and what it could not send (None
    for other runs)."""
    kept = served(run)
    if kept is None:
        return None
    first, total = kept["first_message"], kept["messages_total"]
    words = [f"served {total:,} message{'s' if total != 1 else ''}; the trace keeps "
             f"{run.message_count:,} ({kept['policy']})"]
    if run.message_count and (first or run.message_count < total):
        words[0] += f", from message {first + 1:,}"
    unsent = kept["replies_unsent"] or 0
    dropped = kept["dropped_queue_full"] or 0
    if unsent:
        words.append(f"{unsent:,} repl{'ies' if unsent != 1 else 'y'} not sent")
    if dropped:
        words.append(f"{dropped:,} connection{'s' if dropped != 1 else ''} dropped (the "
                     "client did not read)")
    return "; ".join(words)
