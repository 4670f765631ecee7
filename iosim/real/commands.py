"""Real-socket commands: ``serve`` (one real server, the classic demo protocol) and
``capture`` (a scenario played against a real server on loopback)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from iosim import scenario, summary
from iosim import trace as trace_mod
from iosim.errors import UserError
from iosim.real.servers import REAL_MODELS

MODEL_HELP = f"one of: {', '.join(REAL_MODELS)} (aio uses io_uring)"


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, not {text}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, not {value}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="run one real server (classic demo protocol) and record its calls",
        description="Run a real server written in one IO model. On TCP it greets each client "
                    "with b'hello' and answers every chunk with b'hello'; on UDP it answers "
                    "every datagram. It records every call it makes and the kernel's arrival "
                    "stamp of the data, and writes the trace on Ctrl-C, SIGTERM or at the end "
                    "of --duration.")
    p.add_argument("--model", "-m", required=True, choices=REAL_MODELS, metavar="M",
                   help=MODEL_HELP)
    p.add_argument("--proto", choices=("tcp", "udp"), default="tcp",
                   help="transport (default: tcp)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default: 127.0.0.1, loopback only)")
    p.add_argument("--port", type=_port, default=9090, help="port (default: 9090; 0: any)")
    p.add_argument("--duration", type=_positive, metavar="S",
                   help="stop after S seconds (default: run until Ctrl-C or SIGTERM)")
    p.add_argument("-o", "--output", metavar="TRACE",
                   help="trace file to write (default: serve-<model>.trace.json)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "capture", help="play a scenario against a real server on loopback; save the trace",
        description="Start the real server of each model in a child process, play the "
                    "scenario's sends over loopback at their times (idle connections opened "
                    "too), and write a trace with source 'real' that 'iosim summary' and "
                    "'iosim show SCENARIO TRACE' read like a simulated one.")
    p.add_argument("scenario", metavar="SCENARIO", help="a scenario file or built-in name")
    p.add_argument("--model", "-m", action="append", required=True, choices=REAL_MODELS,
                   metavar="M", help=f"the real server to run (repeatable); {MODEL_HELP}")
    p.add_argument("-o", "--output", metavar="TRACE",
                   help="trace file to write (default: <scenario>-<model>.trace.json)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_capture)


def _progress(model: str) -> None:
    if sys.stderr.isatty():
        print(f"capturing {model} ...", file=sys.stderr)


def cmd_capture(args: argparse.Namespace) -> int:
    from iosim.real.session import capture

    sc = scenario.load(args.scenario)
    models = list(dict.fromkeys(args.model))
    output = Path(args.output or f"{sc.name}-{'+'.join(models)}.trace.json")
    if output.parent and not output.parent.is_dir():
        raise UserError(f"{output}: no such directory {output.parent}")
    trace = capture(sc, models, progress=_progress)
    trace_mod.save(trace, output)
    print(summary.to_json(trace) if args.json else summary.table(trace))
    print(f"wrote {output}", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from iosim.real.serve import serve
    from iosim.real.session import check_model

    check_model(args.model)
    output = Path(args.output or f"serve-{args.model}.trace.json")
    if output.parent and not output.parent.is_dir():
        raise UserError(f"{output}: no such directory {output.parent}")

    def ready(port: int) -> None:
        until = f"for {args.duration:g} s" if args.duration else "until Ctrl-C"
        print(f"iosim serve: {args.model} server on {args.host} port {port} ({args.proto}), "
              f"{until}", file=sys.stderr, flush=True)

    served = serve(args.model, args.proto, args.host, args.port, args.duration, str(output),
                   on_ready=ready)
    print(f"wrote {output}: {served.messages} message(s)"
          + (f" from {served.clients} client(s)" if args.proto == "tcp" else ""),
          file=sys.stderr)
    return 0
