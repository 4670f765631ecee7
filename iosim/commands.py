"""The simulator's commands: ``scenarios``, ``sim`` and ``summary``."""

from __future__ import annotations

import argparse
import sys

from iosim import scenario, summary
from iosim import trace as trace_mod
from iosim.export.summary_csv import write_csv
from iosim.files import check_writable
from iosim.scenario import SIM_MODELS
from iosim.sim.costs import load_costs
from iosim.sim.run import simulate


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scenarios", help="list the built-in scenarios",
                       description="List the built-in scenarios with their titles and models.")
    p.set_defaults(func=cmd_scenarios)

    p = sub.add_parser(
        "sim", help="simulate a scenario headless; print a table or the JSON summary",
        description="Run the scenario's IO models on the simulated kernel and print, per model, "
                    "when each message was ready, copied and handled, and what the process did "
                    "meanwhile.")
    p.add_argument("scenario", metavar="SCENARIO", help="a scenario file or built-in name")
    p.add_argument("--model", "-m", action="append", choices=SIM_MODELS, metavar="M",
                   help=f"a model to run (repeatable; default: the scenario's models). "
                        f"One of: {', '.join(SIM_MODELS)}")
    _output_format(p)
    p.add_argument("--costs", metavar="COSTS.toml",
                   help="a cost profile (as written by iosim calibrate) instead of the "
                        "scenario's costs")
    p.add_argument("-o", "--output", metavar="TRACE", help="also save the trace to this file")
    p.set_defaults(func=cmd_sim)

    p = sub.add_parser("summary", help="the summary of a saved trace (simulated or real)",
                       description="Print the same table or JSON as 'iosim sim' from a trace "
                                   "file, simulated or captured.")
    p.add_argument("trace", metavar="TRACE", help="a trace file (iosim sim -o / iosim capture)")
    _output_format(p)
    p.set_defaults(func=cmd_summary)


def _output_format(p: argparse.ArgumentParser) -> None:
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the summary as JSON")
    fmt.add_argument("--csv", action="store_true",
                     help="print CSV: one row per message and one per run's totals")


def cmd_scenarios(args: argparse.Namespace) -> int:
    names = scenario.builtin_names()
    width = max(len(n) for n in names)
    for name in names:
        sc = scenario.load(name)
        default = "  (default)" if name == scenario.DEFAULT_SCENARIO else ""
        print(f"{name.ljust(width)}  {sc.title}{default}")
        print(f"{' ' * width}  {sc.protocol}, {sc.total_connections} connection(s), "
              f"{sc.message_count} message(s); models: {', '.join(sc.models)}")
    return 0


def _progress(model: str) -> None:
    if sys.stderr.isatty():
        print(f"simulating {model} ...", file=sys.stderr)


def cmd_sim(args: argparse.Namespace) -> int:
    if args.output:
        check_writable(args.output)
    sc = scenario.load(args.scenario)
    costs = load_costs(args.costs) if args.costs is not None else sc.costs
    trace = simulate(sc, args.model, costs, progress=_progress)
    if args.output:
        trace_mod.save(trace, args.output)
    _print_summary(trace, args)
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    trace = trace_mod.load(args.trace)
    _print_summary(trace, args)
    return 0


def _print_summary(trace: trace_mod.Trace, args: argparse.Namespace) -> None:
    if args.csv:
        write_csv(trace, sys.stdout)
    else:
        print(summary.to_json(trace) if args.json else summary.table(trace))
