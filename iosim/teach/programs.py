"""Each IO model's server as a short program a student can read beside its timeline.

The programs are files (iosim/assets/code/<model>.py), valid Python in the style of the
classic socket demos, with the same logic as the simulated programs (sim/models.py) and the
real servers (real/servers.py). A line that events of the trace belong to ends with a marker,
``#@ key`` (several keys: ``#@ key1, key2``; a key may contain spaces, as "fcntl F_SETOWN"),
where the key is a trace line key (trace.py): a system call's name, "process", "work" or
"handler". The markers are stripped for display; the keys map to the lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from iosim.trace import Run

MARKER = re.compile(r"\s*#@\s*(?P<keys>[^#]+?)\s*$")
PROGRAM_SOURCES = ("sim", "real")  # a traced run is someone else's program


@dataclass(frozen=True)
class Program:
    """A model's program as displayed, and the line of each key (0-based)."""

    model: str
    lines: list[str]
    keys: dict[str, int]


def parse(model: str, text: str) -> Program:
    """Strip the markers, keep the displayed lines, map each key to its line."""
    lines: list[str] = []
    keys: dict[str, int] = {}
    for number, raw in enumerate(text.rstrip().splitlines()):
        found = MARKER.search(raw)
        if found:
            for key in (k.strip() for k in found["keys"].split(",")):
                if key in keys:
                    raise ValueError(f"{model}: key {key!r} marks lines {keys[key] + 1} "
                                     f"and {number + 1}")
                keys[key] = number
            raw = raw[:found.start()]
        lines.append(raw.rstrip())
    return Program(model, lines, keys)


@cache
def program(model: str) -> Program | None:
    """The program of a model (or of a server variant, "reply-epoll"), or None where there is
    none (asyncio, a traced program)."""
    if not re.fullmatch(r"[a-z]+(-[a-z]+)*", model):
        return None
    path = resources.files("iosim") / "assets" / "code" / f"{model}.py"
    if not path.is_file():
        return None
    return parse(model, path.read_text(encoding="utf-8"))


def program_for(run: Run) -> Program | None:
    """The program a run executed: only iosim's own (simulated or real) servers have one; a
    run of a server variant names its program in its meta ("program")."""
    if run.source not in PROGRAM_SOURCES:
        return None
    name = run.meta.get("program", run.model)
    return program(name) if isinstance(name, str) else None
