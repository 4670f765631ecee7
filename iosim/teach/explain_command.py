"""``iosim explain``: what the one-run view's code pane says, moment by moment, as text.

For every moment a run has an event (or the one moment ``--at`` names): the time, the lane
the pane speaks of, the lit line of the server's program (its number and text) and the
sentences. The same Explainer and the same choice of lane as the window's pane, so a student
on a terminal or a screen reader, and a test, read what the window shows.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from iosim import scenario
from iosim import trace as trace_mod
from iosim.errors import UserError
from iosim.scenario import SIM_MODELS
from iosim.teach.explain import Explainer, run_summary
from iosim.teach.programs import program_for
from iosim.teach.source import traced_source
from iosim.timefmt import format_us
from iosim.trace import Run, Trace
from iosim.view.index import RunIndex

MAX_AT_MS = 1e15  # beyond any trace (as render's --at)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain", help="the one-run view's words, moment by moment, as text",
        description="Print what the code pane of the one-run view says at every event of a "
                    "run (or at --at MS): the time, the lane it speaks of (the application, "
                    "or the thread that acted last), the lit line of the server's program and "
                    "the sentences. For a terminal, a screen reader or a test.")
    p.add_argument("input", metavar="SCENARIO|TRACE",
                   help="a built-in scenario or scenario file (simulated now), or a trace file")
    p.add_argument("-m", "--model", metavar="M",
                   help="only this run's model (a scenario: any of "
                        f"{', '.join(SIM_MODELS)}; default: every run)")
    p.add_argument("--at", type=float, metavar="MS",
                   help="only the moment at this time in ms, as the window's playhead there")
    p.add_argument("--json", action="store_true",
                   help='print {"runs": [{"model", "moments": [{"t_us", "lane", "line_no", '
                        '"line", "sentences"}]}]}')
    p.set_defaults(func=cmd_explain)


def cmd_explain(args: argparse.Namespace) -> int:
    if args.at is not None and not (math.isfinite(args.at) and 0.0 <= args.at <= MAX_AT_MS):
        raise UserError(f"--at {args.at:g}: a time in ms from 0 up to {MAX_AT_MS:g}")
    runs = _runs(args.input, args.model)
    at = None if args.at is None else [args.at * 1000.0]
    if args.json:
        json.dump({"runs": [{"model": run.model,
                             "moments": [m | {"t_us": round(m["t_us"], 6)}  # to the ps
                                         for m in moments(run, at)]}
                            for run in runs]}, sys.stdout, ensure_ascii=False)
        print()
        return 0
    for k, run in enumerate(runs):
        if k:
            print()
        _print_run(run, at)
    return 0


def _runs(item: str, model: str | None) -> list[Run]:
    """The runs to explain: a trace's (those of ``model``), or a scenario simulated now."""
    if trace_mod.looks_like_trace(item):
        trace: Trace = trace_mod.load(item)
        runs = [run for run in trace.runs if model is None or run.model == model]
        if not runs:
            have = ", ".join(run.model for run in trace.runs) or "none"
            raise UserError(f"{item}: no run of model {model!r} (its runs: {have})")
        return runs
    if model is not None and model not in SIM_MODELS:
        raise UserError(f"--model {model!r}: not a simulated model "
                        f"(one of: {', '.join(SIM_MODELS)})")
    from iosim.sim.run import simulate

    sc = scenario.load(item)
    return simulate(sc, [model] if model else None).runs


def moments(run: Run, times: Iterable[float] | None = None) -> Iterator[dict[str, Any]]:
    """The pane's words at each event time of the run (or at ``times``)."""
    ex = Explainer(run)
    view = RunIndex(run)
    prog = program_for(run)
    cache: dict[Any, Any] = {}
    source = run.meta.get("source") if run.source == "traced" else None
    lines = source.get("lines") if isinstance(source, dict) else None
    for t in sorted(set(run.t0)) if times is None else times:
        thread = view.acting_thread(t)
        lane = 0 if thread is None else thread
        if isinstance(lines, list):  # a traced program: the line of its own source
            found = traced_source(cache, run, t, lane, len(lines))
            number = found[1] if isinstance(found, tuple) else None
            text = None if number is None else str(lines[number]).strip()
        else:
            key = ex.line_at(t, lane)
            number = prog.keys.get(key) if prog is not None and key else None
            text = None if number is None or prog is None else prog.lines[number].strip()
        yield {"t_us": t, "lane": run.lanes[lane].name,
               "line_no": None if number is None else number + 1, "line": text,
               "sentences": ex.now(t, lane)}


def _print_run(run: Run, at_us: list[float] | None) -> None:
    source = {"sim": "simulated", "real": "captured on real sockets"}.get(run.source,
                                                                         run.source)
    print(f"== {run.model} ({source})")
    print(f"   {run_summary(run)}")
    for m in moments(run, at_us):
        where = (f" · line {m['line_no']}: {m['line']}" if m["line_no"] is not None
                 else " · no line lit")
        print(f"t = {format_us(m['t_us'])} · {m['lane']}{where}")
        for sentence in m["sentences"]:
            print(f"   {sentence}")
