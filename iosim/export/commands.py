"""The ``export`` command: a trace (or a scenario, simulated on the spot) written for the tools
people already use — Chrome trace JSON for Perfetto / chrome://tracing, CSV for pandas."""

from __future__ import annotations

import argparse
import sys

from iosim import scenario
from iosim import trace as trace_mod
from iosim.errors import UserError
from iosim.export.chrome import write_chrome
from iosim.export.summary_csv import write_csv
from iosim.files import atomic_open, check_writable, same_file
from iosim.scenario import SIM_MODELS
from iosim.sim.costs import load_costs
from iosim.sim.run import simulate


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="write a trace as Chrome trace JSON (Perfetto) or CSV",
        description="Write a trace for other tools: --chrome gives Chrome trace event JSON that "
                    "ui.perfetto.dev and chrome://tracing open (a process per run, a thread per "
                    "lane, slices for the two phases, blocked time and own work, flow arrows "
                    "from each system call to its return); --csv gives one row per message and "
                    "one per run's totals. A scenario instead of a trace is simulated first.")
    p.add_argument("source", metavar="TRACE|SCENARIO",
                   help="a trace file (iosim sim -o / iosim capture), or a scenario file or "
                        "built-in name to simulate")
    p.add_argument("--chrome", metavar="OUT.json", help="write Chrome trace event JSON here")
    p.add_argument("--csv", metavar="OUT.csv", help="write the summary as CSV here")
    p.add_argument("--model", "-m", action="append", choices=SIM_MODELS, metavar="M",
                   help="for a scenario: a model to simulate (repeatable; default: the "
                        "scenario's models)")
    p.add_argument("--costs", metavar="COSTS.toml",
                   help="for a scenario: a cost profile (as written by iosim calibrate)")
    p.set_defaults(func=cmd_export)


def _load(args: argparse.Namespace) -> trace_mod.Trace:
    if trace_mod.looks_like_trace(args.source):
        if args.model or args.costs is not None:
            raise UserError(f"{args.source}: --model and --costs apply to a scenario, "
                            "not to a saved trace")
        return trace_mod.load(args.source)
    sc = scenario.load(args.source)
    costs = load_costs(args.costs) if args.costs is not None else sc.costs
    return simulate(sc, args.model, costs)


def _write_csv(trace: trace_mod.Trace, path: str) -> None:
    """Atomically, like every file iosim writes."""
    with atomic_open(path, newline="") as f:
        write_csv(trace, f)


def cmd_export(args: argparse.Namespace) -> int:
    if not (args.chrome or args.csv):
        raise UserError("export: say what to write: --chrome OUT.json and/or --csv OUT.csv")
    outputs = [path for path in (args.chrome, args.csv) if path]
    if len(outputs) == 2 and same_file(*outputs):
        raise UserError(f"{args.chrome}: --chrome and --csv name the same file; give two")
    for path in outputs:
        check_writable(path)
    trace = _load(args)
    if args.chrome:
        write_chrome(trace, args.chrome)
        print(f"wrote {args.chrome} (open it in ui.perfetto.dev or chrome://tracing)",
              file=sys.stderr)
    if args.csv:
        _write_csv(trace, args.csv)
        print(f"wrote {args.csv}", file=sys.stderr)
    return 0
