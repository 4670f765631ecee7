"""``iosim trace``: any program's network system calls (perf's syscall tracepoints where the
machine allows it, else strace) and, where it allows, the kernel's arrival times (perf), as a
trace the view, the summary and the exporters read."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from iosim import scenario, summary
from iosim.errors import UserError
from iosim.files import is_regular_file
from iosim.real.commands import _duration, _port

DEFAULT_OUTPUT = "trace.json"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "trace", help="run any program under a tracer and show its IO phases as a trace",
        usage="iosim trace [-o TRACE] [--duration S] [--scenario SCENARIO --port P | "
              "--client CMD [--client-input FILE]] [--tracer auto|perf|strace] [--no-kernel] "
              "-- CMD [ARGS...]",
        description="Run CMD (any program, in any language) under a tracer and record the "
                    "system calls of its network IO: blocked and in-kernel time, "
                    "EWOULDBLOCKs, select/poll/epoll waits, SIGIO, the bytes each read "
                    "returned, a lane per thread and a kernel lane per connection. As root "
                    "(or with perf's rights) the moment data reached each socket comes from "
                    "the kernel (perf, sock:sk_data_ready); otherwise it is estimated from the "
                    "calls and marked so. With --scenario the scenario's sends are played at "
                    "CMD on 127.0.0.1:P and tracing stops when they are handled; with --client "
                    "a client command runs instead; with neither, tracing runs until CMD exits, "
                    "Ctrl-C, SIGTERM or --duration. CMD and everything it started are always "
                    "stopped and the trace is always written. It names the program's IO model "
                    "in Stevens's words (model_guess in summary --json) and keeps the program's "
                    "own source with the line of each call: a compiled program built with -g "
                    "(its stacks, through perf) or a Python script (a recorder inside the "
                    "interpreter).",
        epilog="example: iosim trace --scenario many-clients --port 9090 -- python "
               "my_server.py && iosim show many-clients trace.json")
    p.add_argument("-o", "--output", default=DEFAULT_OUTPUT, metavar="TRACE",
                   help=f"the trace file to write (default: {DEFAULT_OUTPUT})")
    p.add_argument("--duration", type=_duration, metavar="S",
                   help="stop tracing after S seconds at most")
    client = p.add_mutually_exclusive_group()
    client.add_argument("--scenario", metavar="SCENARIO",
                        help="play this scenario's sends at CMD (a built-in name or a file); "
                             "needs --port")
    client.add_argument("--client", metavar="CMD",
                        help="run this client command once CMD listens (on --port, if given) "
                             "and stop when it exits and the program has seen every "
                             "connection it made; its standard input is /dev/null unless "
                             "--client-input is given")
    p.add_argument("--client-input", metavar="FILE",
                   help="the --client command's standard input (a client that sends the lines "
                        "it reads gets them from FILE); the traced program's own standard "
                        "input is always /dev/null")
    p.add_argument("--port", type=_port, metavar="P",
                   help="the port CMD listens on, on 127.0.0.1")
    p.add_argument("--tracer", choices=("auto", "perf", "strace"), default="auto",
                   help="what records the calls: perf (the kernel's syscall tracepoints, a few "
                        "µs a call; needs root or CAP_PERFMON and the kernel side), strace "
                        "(ptrace, tens of µs a call, but it reads what the calls point to: "
                        "epoll_ctl's flags, a datagram's sender), or auto (default): perf "
                        "where it can record, except for a UDP scenario, else strace")
    p.add_argument("--no-kernel", action="store_true",
                   help="do not record the kernel's side even where perf could: ready times "
                        "are then estimated from the calls")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]",
                   help="the program to trace and its arguments")
    p.set_defaults(func=cmd_trace)


def _say(text: str) -> None:
    print(f"iosim trace: {text}", file=sys.stderr, flush=True)


def cmd_trace(args: argparse.Namespace) -> int:
    from iosim.traced.session import Options, run_trace

    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise UserError("no program to trace: put it after --, as in "
                        "iosim trace -- python my_server.py")
    if args.scenario is not None and args.port is None:
        raise UserError("--scenario needs --port: the port the program listens on")
    if args.port is not None and args.scenario is None and args.client is None:
        raise UserError("--port goes with --scenario or --client")
    if args.port == 0:
        raise UserError("--port 0: give the port the program listens on")
    client_input = None
    if args.client_input is not None:
        if args.client is None:
            raise UserError("--client-input goes with --client")
        client_input = Path(args.client_input)
        if not is_regular_file(client_input):
            raise UserError(f"--client-input {args.client_input}: not a readable file")
    sc = scenario.load(args.scenario) if args.scenario is not None else None
    client = None
    if args.client is not None:
        try:
            client = shlex.split(args.client)
        except ValueError as exc:
            raise UserError(f"--client {args.client!r}: {exc}") from None
        if not client:
            raise UserError("--client: an empty command")
    outcome = run_trace(Options(command, Path(args.output), args.duration, sc, args.port,
                                client, not args.no_kernel, _say, client_input,
                                args.tracer))
    print(summary.table(outcome.trace))
    run = outcome.trace.runs[0]
    conns = len({run.m_conn[i] for i in range(run.message_count)})
    _say(f"{run.error or outcome.ended}; wrote {args.output}: {run.message_count} message(s) "
         f"on {conns} connection(s)")
    return 1 if outcome.failed else 0
