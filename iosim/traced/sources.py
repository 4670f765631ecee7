"""The program's own source, line by line, and the line that made each traced call.

A compiled program with debug information (built with -g): strace ``-k`` prints each call's
stack; the first frame in the program's own file is the call's site, mapped to file:line by
binutils' ``addr2line`` through the program's DWARF line table. A Python script: the
interpreter's stack is not in strace's, so a recorder runs inside the traced interpreter
(pyrec/sitecustomize.py, put on its PYTHONPATH) and notes, for every socket, select, selectors
and signal call, the thread, the times around the call and the script's line that made it;
each strace call is the recorded call on its thread whose times enclose it. Anything else says
in one line why its lines cannot be lit.
"""

from __future__ import annotations

import os
import shlex
import shutil
import struct
import subprocess
import tempfile
from array import array
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from iosim.trace import encode_column
from iosim.traced.strace import Call

PYREC_DIR = Path(__file__).with_name("pyrec")
SHM = "/dev/shm"
PYREC_RECORD = struct.Struct("<qqqi4x")  # task, entry ns, return ns, line (1-based; 0 none)
PYREC_HEADER = struct.Struct("<q")  # records written
MAX_SOURCE_LINES = 20_000
MAX_SOURCE_BYTES = 2_000_000
ADDR2LINE_TIMEOUT_S = 60.0
INTERPRETERS = ("python", "pypy")
SHELLS = ("sh", "bash", "dash", "zsh")


@dataclass
class Program:
    """What iosim knows of the traced program before it starts: how to find its lines."""

    kind: str  # "c", "python" or "" (none: ``why`` says why)
    path: str = ""  # the binary (c) or the script (python), resolved
    why: str = ""
    env: dict[str, str] = field(default_factory=dict)  # added to the program's environment
    records: Path | None = None  # the Python recorder's folder (memory-backed where it can)



@dataclass
class Source:
    """The source a run shows: its file, its lines, the line of each call (0-based)."""

    path: str
    language: str
    lines: list[str]
    sites: dict[tuple[int, int], int]  # (task, entry ns) -> line


def source_meta(found: Source | str, lines: list[int],
                at_zero: dict[int, int] | None = None) -> dict[str, object]:
    """The run's meta "source": the file, its lines, for each system-call event of the run in
    order the line (0-based) that made it, -1 where unknown, and per lane the line of the
    call it is in at t = 0 (made before t = 0: no event of its own); or why there is none."""
    if isinstance(found, str):
        return {"why": found}
    return {"path": found.path, "language": found.language, "lines": found.lines,
            "calls": encode_column(array("i", lines)),
            "at_zero": [[lane, line] for lane, line in sorted((at_zero or {}).items())
                        if line >= 0]}


def unwrap(command: list[str]) -> list[str]:
    """The command a shell runs (``sh -c "exec ./server 9090"`` -> ``./server 9090``), or the
    command itself."""
    if len(command) >= 3 and Path(command[0]).name in SHELLS and command[1] == "-c":
        try:
            words = shlex.split(command[2])
        except ValueError:
            return command
        while words and ("=" in words[0] and not words[0].startswith("=") or
                         words[0] in ("exec", "env", "nohup")):
            words = words[1:]
        return unwrap(words) if words else command
    return command


def script_of(command: list[str]) -> str | None:
    """The script an interpreter runs (None for ``-c`` or ``-m``, or no script)."""
    for arg in command[1:]:
        if arg in ("-c", "-m"):
            return None
        if not arg.startswith("-"):
            return arg
    return None


def prepare(command: list[str], workdir: Path) -> Program:
    """How to light this program's lines, found before it starts."""
    if unwrap(command) != command:
        return Program("", why="it was started through a shell: iosim lights the lines of a "
                                "program it starts itself")
    found = shutil.which(command[0])
    if found is None:
        return Program("", why=f"{command[0]} was not found")
    binary = os.path.realpath(found)
    name = Path(binary).name
    if name.startswith(INTERPRETERS):
        script = script_of(command)
        if script is None or not Path(script).is_file():
            return Program("", why="a Python program run with -c or -m: iosim lights the lines "
                                   "of a script file")
        path = os.path.realpath(script)
        folder = Path(tempfile.mkdtemp(prefix="iosim-pyrec-", dir=SHM if os.access(
            SHM, os.W_OK) else workdir))  # tmpfs: a page the recorder first writes costs no
        pythonpath = os.environ.get("PYTHONPATH", "")  # disk block (ext4 stalls ms on that)
        env = {"PYTHONPATH": str(PYREC_DIR) + (os.pathsep + pythonpath if pythonpath else ""),
               "IOSIM_PYREC": str(folder / "calls"), "IOSIM_PYREC_MAIN": path}
        return Program("python", path, env=env, records=folder)
    if name.startswith("node"):
        return Program("", why="a Node.js program: libuv's event loop makes its system calls, "
                               "not a line of its JavaScript")
    sections = elf_sections(binary)
    if sections is None:
        return Program("", why=f"{name} is neither a Python script nor a compiled program")
    if ".debug_line" not in sections:
        return Program("", why=f"{name} has no debug information: build it with -g to see "
                               "the line that made each call")
    if shutil.which("addr2line") is None:
        return Program("", why="addr2line (binutils) is not installed: it maps a call's "
                               "address to its line")
    return Program("c", binary)


def elf_sections(path: str) -> set[str] | None:
    """The section names of an ELF file (64- or 32-bit, either byte order), None if it is
    not one. Read by hand: the header, the section table and its string table."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 52 or head[:4] != b"\x7fELF":
                return None
            wide, order = head[4] == 2, "<" if head[5] == 1 else ">"
            if wide:
                shoff, = struct.unpack_from(order + "Q", head, 0x28)
                shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", head, 0x3A)
            else:
                shoff, = struct.unpack_from(order + "I", head, 0x20)
                shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", head, 0x2E)
            if not shoff or shnum > 4096 or shstrndx >= shnum:
                return set()
            f.seek(shoff)
            table = f.read(shentsize * shnum)
            fmt = order + ("IIQQQQ" if wide else "IIIIII")

            def section(i: int) -> tuple[int, int, int]:
                name, _, _, _, offset, size = struct.unpack_from(fmt, table, i * shentsize)
                return name, offset, size

            _, str_offset, str_size = section(shstrndx)
            f.seek(str_offset)
            strings = f.read(min(str_size, 1 << 20))
            names = set()
            for i in range(shnum):
                start = section(i)[0]
                names.add(strings[start:strings.find(b"\0", start)].decode("ascii", "replace"))
            return names
    except (OSError, struct.error):
        return None


def read_source(path: str) -> list[str] | None:
    """A source file's lines, or None when it cannot be shown (missing, binary, huge)."""
    try:
        data = Path(path).read_bytes()[:MAX_SOURCE_BYTES + 1]
    except OSError:
        return None
    if len(data) > MAX_SOURCE_BYTES or b"\0" in data:
        return None
    lines = data.decode("utf-8", "replace").expandtabs(4).splitlines()
    return [line.rstrip()[:400] for line in lines[:MAX_SOURCE_LINES]]


# -- compiled programs: strace -k stacks and addr2line ---------------------------------------


def c_source(binary: str, addresses: dict[tuple[int, int], int]) -> Source | str:
    """Each call's address in the binary -> its line in the program's main source file (the
    file most calls come from); or why not."""
    unique = sorted(set(addresses.values()))
    if not unique:
        return "no call's stack went through the program's own code"
    try:
        done = subprocess.run(["addr2line", "-e", binary],
                              input="\n".join(hex(a - 1) for a in unique),  # return -> call
                              capture_output=True, text=True, timeout=ADDR2LINE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"addr2line failed ({exc})"
    places = {}
    for address, line in zip(unique, done.stdout.splitlines(), strict=False):
        where, _, number = line.partition(" ")[0].rpartition(":")
        if where and where != "??" and number.isdigit() and int(number) > 0:
            places[address] = (where, int(number))
    files = Counter(places[a][0] for a in addresses.values() if a in places)
    for path, _ in files.most_common():
        lines = read_source(path)
        if lines is not None:
            sites = {key: places[a][1] - 1 for key, a in addresses.items()
                     if a in places and places[a][0] == path and places[a][1] <= len(lines)}
            return Source(path, "c", lines, sites)
    return "the program's source file is not readable here" if files else \
        "its debug information names no line for these calls"


# -- Python scripts: the recorder inside the interpreter -------------------------------------


def python_calls(records_prefix: Path) -> dict[int, list[tuple[int, int, int]]]:
    """Per task, the recorder's (entry ns, return ns, line) rows, sorted; every file the
    recorder wrote (one per process)."""
    rows: dict[int, list[tuple[int, int, int]]] = {}
    for path in sorted(records_prefix.parent.glob(records_prefix.name + "*")):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if len(data) < PYREC_HEADER.size:
            continue
        count, = PYREC_HEADER.unpack_from(data)
        count = max(0, min(count, (len(data) - PYREC_HEADER.size) // PYREC_RECORD.size))
        for tid, enter, ret, line in PYREC_RECORD.iter_unpack(
                data[PYREC_HEADER.size:PYREC_HEADER.size + count * PYREC_RECORD.size]):
            if line > 0:
                rows.setdefault(tid, []).append((enter, ret, line - 1))
    for found in rows.values():
        found.sort()
    return rows


def python_source(script: str, records_prefix: Path, calls: list[Call]) -> Source | str:
    """Each strace call -> the script line the recorder saw make it: the innermost (latest
    started) recorded call on the same task whose time overlaps the strace call's (strace's
    own stamps may lie a little off the interpreter's clock reads around the call)."""
    recorded = python_calls(records_prefix)
    if not recorded:
        return "the recorder inside the Python program wrote nothing (did it start?)"
    lines = read_source(script)
    if lines is None:
        return f"{script} is not readable"
    sites: dict[tuple[int, int], int] = {}
    for call in calls:
        rows = recorded.get(call.tid)
        if not rows:
            continue
        best = None
        for _, ret, line in _enclosing(rows, max(call.return_ns, call.enter_ns)):
            if ret >= call.enter_ns and line < len(lines):
                best = line  # rows are sorted by entry: the last is the innermost
        if best is not None:
            sites[(call.tid, call.enter_ns)] = best
    return Source(script, "python", lines, sites)


def _enclosing(rows: list[tuple[int, int, int]], t: int) -> list[tuple[int, int, int]]:
    """The rows that started at or before ``t``, the latest few (calls nest shallowly)."""
    i = bisect_right(rows, (t, 2**63, 2**31))
    return rows[max(0, i - 4):i]
