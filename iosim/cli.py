"""The command line: ``iosim SUBCOMMAND``. Each area of iosim registers its own subcommands;
bad input becomes one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from iosim import __version__
from iosim.errors import UserError

# Modules with a ``register(subparsers)`` function, in the order their commands are listed.
COMMAND_MODULES = (
    "iosim.commands",
    "iosim.homework",
    "iosim.view.commands",
    "iosim.teach.explain_command",
    "iosim.lesson.commands",
    "iosim.export.commands",
    "iosim.calibrate",
    "iosim.real.commands",
    "iosim.traced.commands",
)


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors already; keep its message to one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="iosim",
        description="Simulate and animate the UNIX network IO models: blocking, nonblocking, "
                    "select/poll/epoll, signal-driven (SIGIO) and asynchronous IO. "
                    "With no command, animates the default scenario (iosim show).",
    )
    parser.add_argument("--version", action="version", version=f"iosim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    commands = _commands(parser)
    if "show" in commands and (not argv or (argv[0] not in commands
                                            and not argv[0].startswith("-"))):
        argv = ["show", *argv]
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"iosim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("iosim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    return set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
