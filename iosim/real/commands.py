"""Real-socket commands: ``serve`` (one real server, the classic demo protocol) and
``capture`` (a scenario played against a real server on loopback)."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path

from iosim import scenario, summary
from iosim import trace as trace_mod
from iosim.files import check_writable, safe_name
from iosim.real.keep import DEFAULT_KEEP, KEEP_HELP, Keep, parse_keep
from iosim.real.serve import DEFAULT_POLL_US
from iosim.real.servers import REAL_MODELS

MODEL_HELP = f"one of: {', '.join(REAL_MODELS)} (aio uses io_uring)"


MAX_DURATION_S = 7 * 24 * 3600.0  # --duration: a week


def _duration(text: str) -> float:
    """Seconds: finite (``float`` reads "inf" and "nan" too), above 0, at most a week."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= MAX_DURATION_S:
        raise argparse.ArgumentTypeError(f"seconds above 0 up to {MAX_DURATION_S:g} "
                                         f"(a week), not {text}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1e7:
        raise argparse.ArgumentTypeError(f"must be between 0 and 10000000, not {text}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 1 << 20:
        raise argparse.ArgumentTypeError(f"must be between 1 and {1 << 20}, not {value}")
    return value


def _keep(text: str) -> Keep:
    try:
        return parse_keep(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _host(text: str) -> str:
    """An IP address to bind (or "localhost"): checked before anything is bound, so a typo
    is one line, and the name is never looked up in DNS."""
    if text == "localhost":
        return "127.0.0.1"
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"an IP address such as 127.0.0.1 or ::1 (0.0.0.0 "
                                         f"for every interface), not {text!r}") from None
    return text


def beyond_loopback_warning(host: str) -> str | None:
    """The one line that says a server on ``host`` can be reached from other machines."""
    if ipaddress.ip_address(host).is_loopback:
        return None
    where = "every interface" if ipaddress.ip_address(host).is_unspecified else host
    return (f"iosim serve: warning: listening on {where} ({host}), beyond loopback: the "
            "server is reachable from other machines")


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
    p.add_argument("--host", type=_host, default="127.0.0.1",
                   help="IP address to bind (default: 127.0.0.1, loopback only; any other "
                        "address makes the server reachable from other machines, and says so)")
    p.add_argument("--port", type=_port, default=9090, help="port (default: 9090; 0: any)")
    p.add_argument("--duration", type=_duration, metavar="S",
                   help="stop after S seconds, at most a week (default: run until Ctrl-C or "
                        "SIGTERM)")
    p.add_argument("-o", "--output", metavar="TRACE",
                   help="trace file to write while serving (default: serve-<model>.trace; "
                        "a binary file that summary, show and export read like any trace)")
    p.add_argument("--keep", type=_keep, default=DEFAULT_KEEP, metavar="POLICY",
                   help=KEEP_HELP)
    p.add_argument("--backlog", type=_count, metavar="N",
                   help="listen queue length (default: the system's maximum, "
                        "/proc/sys/net/core/somaxconn)")
    p.add_argument("--poll-us", type=_non_negative, default=DEFAULT_POLL_US, metavar="US",
                   help="nonblocking: own work after a pass that found nothing, in µs "
                        f"(default: {DEFAULT_POLL_US:g})")
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

    if args.output:
        check_writable(args.output)
    sc = scenario.load(args.scenario)
    models = list(dict.fromkeys(args.model))
    output = Path(args.output) if args.output else \
        check_writable(f"{safe_name(sc.name)}-{'+'.join(models)}.trace.json")
    trace = capture(sc, models, progress=_progress)
    trace_mod.save(trace, output)
    print(summary.to_json(trace) if args.json else summary.table(trace))
    print(f"wrote {output}", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from iosim.real.serve import serve
    from iosim.real.session import check_model
    from iosim.real.stopping import Ignored

    check_model(args.model)
    output = check_writable(args.output or f"serve-{args.model}.trace")
    warning = beyond_loopback_warning(args.host)
    if warning:
        print(warning, file=sys.stderr, flush=True)

    def ready(port: int) -> None:
        until = f"for {args.duration:g} s" if args.duration else "until Ctrl-C"
        print(f"iosim serve: {args.model} server on {args.host} port {port} ({args.proto}), "
              f"{until}", file=sys.stderr, flush=True)

    with Ignored():
        served = serve(args.model, args.proto, args.host, args.port, args.duration,
                       str(output), on_ready=ready, keep=args.keep, backlog=args.backlog,
                       poll_us=args.poll_us)
        counted = served.counters
        clients = f" from {counted.clients} client(s)" if args.proto == "tcp" else ""
        unsent = f", {counted.replies_unsent} replies not sent" if counted.replies_unsent else ""
        print(f"wrote {output}: {counted.messages} message(s){clients}{unsent} (keeps "
              f"{served.kept}; written in {served.stop_s:.2f} s)", file=sys.stderr)
    return 0
