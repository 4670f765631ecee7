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


def module_of(name: str) -> str | None:
    """The module of benchmark ``name`` (trace-cmd -> bench_trace_cmd), None if none."""
    return f"bench_{name.replace('-', '_')}" if name in available() else None


def main(argv: list[str]) -> int:
    module = module_of(argv[0]) if len(argv) == 1 else None
    if module is None:
        print(f"usage: python benchmarks/bench.py NAME   (NAME: {' | '.join(available())})",
              file=sys.stderr)
        return 2
    sys.path.insert(0, str(HERE))
    result = importlib.import_module(module).run()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
