"""Benchmarks: ``python benchmarks/bench.py NAME``. Each prints its figures and, last, one
JSON line (DESIGN.md). NAME is one of the ``bench_NAME.py`` modules beside this file, with
'-' for '_' (serve-memory is bench_serve_memory.py)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_").replace("_", "-")
                  for p in HERE.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    argv = [arg.replace("-", "_") for arg in argv]  # trace-cmd -> bench_trace_cmd.py
    names = available()
    if len(argv) != 1 or argv[0] not in names:
        print(f"usage: python benchmarks/bench.py NAME   (NAME: {' | '.join(names)})",
              file=sys.stderr)
        return 2
    sys.path.insert(0, str(HERE))
    result = importlib.import_module(f"bench_{argv[0].replace('-', '_')}").run()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
