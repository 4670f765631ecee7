"""``iosim calibrate``: the command line. Measures (in about 50 s, or 4 with --quick) and
writes the costs file atomically, so that an interrupted run leaves the old file as it was."""

from __future__ import annotations

import argparse
import sys

from iosim.calibrate.measured import FULL, QUICK
from iosim.calibrate.run import calibrate
from iosim.files import atomic_open, check_writable


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate", help="measure this machine's costs (system call, wake-up, copy, select, "
                          "poll, epoll, signals)",
        description="Measure, in about 50 s, what each kernel operation costs on this machine "
                    "when made from Python: a system call, waking a blocked thread, the "
                    "loopback delay, copying into a buffer, select/poll/epoll with 10 to "
                    "10,000 descriptors, SIGIO delivery; then fit what iosim's real servers "
                    "pay beyond their calls (wake-ups after idle gaps, signals, aio "
                    "completions, their own work, the client's sends) on short captures of "
                    "three probe scenarios against them. Prints the figures beside "
                    "Kerrisk's (TLPI Table 63-9) and writes a costs file for 'iosim sim "
                    "--costs' or a scenario's costs = \"FILE\". Progress goes to stderr.")
    p.add_argument("-o", "--output", metavar="COSTS.toml",
                   help="write the costs file here and print the table on stdout; without it "
                        "the costs file (TOML, the table in its comments) goes to stdout and "
                        "the table to stderr")
    p.add_argument("--quick", action="store_true",
                   help="a rough profile in about 4 s (fewer repetitions, one round of probe "
                        "captures, up to 1,000 descriptors)")
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    out = check_writable(args.output) if args.output else None
    text, table = calibrate(QUICK if args.quick else FULL)
    if out is None:
        print(table, file=sys.stderr)
        sys.stdout.write(text)
        return 0
    with atomic_open(out) as f:
        f.write(text)
    print(table)
    print(f"wrote {out}")
    return 0
