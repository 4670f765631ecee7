"""The stack of each traced call of a compiled program, for the line of its source that made
the call: perf samples every traced system call's entry (syscalls:sys_enter_*) of the
program's tasks with a copy of the top of the user stack (``--call-graph dwarf``), which
``perf script`` unwinds after the run through the binary's and libc's unwind tables. It costs
the program a few µs a call; strace's own ``-k`` would unwind inside strace, a millisecond or
more a call, and is used only where perf cannot record.

perf attaches to the program once it runs (``-p``, threads and children it starts later
included), before any client is started; each strace call is matched to the first sample of
its task at or after strace's entry stamp and before the task's next call. (strace stops the
program in seccomp before the call's entry tracepoint fires, and its stamps run early: perf's
entry comes after strace's, here even after strace's return, never after the next call.)
"""

from __future__ import annotations

import re
import shutil
import subprocess
from bisect import bisect_left, bisect_right
from pathlib import Path

from iosim.traced.kernel import Perf, clock_offset_ns
from iosim.traced.runner import CALLS
from iosim.traced.strace import Call

EVENTS_DIR = Path("/sys/kernel/tracing/events/syscalls")
STACK_BYTES = 2048  # of the user stack copied per call: a few frames above libc's wrapper
RING_PAGES = 1024  # perf's buffer per CPU (4 MB): a burst of calls loses no sample
SCRIPT_TIMEOUT_S = 300.0
_SAMPLE = re.compile(r"\s*(\d+)\s+(\d+)\.(\d+):")
_FRAME = re.compile(r"\s+([0-9a-f]+) \((.*)\)\s*$")


def available_events() -> list[str]:
    return [f"syscalls:sys_enter_{name}" for name in CALLS
            if (EVENTS_DIR / f"sys_enter_{name}").is_dir()]


class Stacks:
    """perf recording the traced calls' stacks of one running program."""

    def __init__(self, perf: str, pid: int, workdir: Path) -> None:
        events = [arg for name in available_events() for arg in ("-e", name)]
        self.recorder = Perf(perf, workdir, ["-p", str(pid), "-m", str(RING_PAGES),
                                             "--call-graph", f"dwarf,{STACK_BYTES}", *events],
                             name="stacks")
        self.offset_ns = clock_offset_ns()

    def enable(self) -> str | None:
        return self.recorder.enable()

    def sites(self, binary: str, calls: list[Call],
              same_tracepoint: bool = False) -> dict[tuple[int, int], int]:
        """Stop recording; each call's address in ``binary`` (its first frame there); the
        calls were stamped by the perf tracer when ``same_tracepoint`` (see match_calls)."""
        self.recorder.close()
        try:
            done = subprocess.run([self.recorder.perf, "script", "-i", str(self.recorder.data),
                                   "-F", "tid,time,ip,dso", "--ns"], capture_output=True,
                                  text=True, timeout=SCRIPT_TIMEOUT_S, errors="replace")
        except (OSError, subprocess.TimeoutExpired):
            return {}
        samples = parse_samples(done.stdout, binary, self.offset_ns)
        return match_calls(samples, calls, same_tracepoint)

    def close(self) -> None:
        self.recorder.close()


def parse_samples(text: str, binary: str, offset_ns: int) -> dict[int, list[tuple[int, int]]]:
    """perf script's samples -> per task, sorted (CLOCK_REALTIME ns, address in binary; 0
    when no frame is in it)."""
    samples: dict[int, list[tuple[int, int]]] = {}
    current: list[int] | None = None
    for line in text.splitlines():
        head = _SAMPLE.match(line)
        if head:
            t = int(head.group(2)) * 1_000_000_000 + int(head.group(3).ljust(9, "0")[:9])
            current = [int(head.group(1)), t + offset_ns, 0]
            samples.setdefault(current[0], []).append((current[1], 0))
            continue
        frame = _FRAME.match(line)
        if frame and current is not None and not current[2] and frame.group(2) == binary:
            current[2] = int(frame.group(1), 16)
            samples[current[0]][-1] = (current[1], current[2])
    for rows in samples.values():
        rows.sort()
    return samples


def match_calls(samples: dict[int, list[tuple[int, int]]], calls: list[Call],
                same_tracepoint: bool = False) -> dict[tuple[int, int], int]:
    """Each call -> the address of its sample. Under strace (whose entry stamps come before
    the tracepoint fires) the first sample of its task at or after its entry stamp and before
    the task's next call; under the perf tracer (``same_tracepoint``: both are stamps of the
    call's own entry tracepoint, and the stack's is taken first, a few µs before, while its
    copy of the stack is made) the last sample at or before its entry and after the task's
    previous call."""
    sites: dict[tuple[int, int], int] = {}
    by_task: dict[int, list[int]] = {}
    for call in calls:
        by_task.setdefault(call.tid, []).append(call.enter_ns)
    for tid, entries in by_task.items():
        rows = samples.get(tid)
        if not rows:
            continue
        entries.sort()
        for k, enter in enumerate(entries):
            if same_tracepoint:
                i = bisect_right(rows, (enter, 2**63)) - 1
                after = entries[k - 1] if k else -1
                found = rows[i] if i >= 0 and rows[i][0] > after else None
            else:
                i = bisect_left(rows, (enter, 0))
                before = entries[k + 1] if k + 1 < len(entries) else 2**63
                found = rows[i] if i < len(rows) and rows[i][0] < before else None
            if found and found[1]:
                sites[(tid, enter)] = found[1]
    return sites


def start(pid: int, workdir: Path) -> Stacks | str:
    """perf recording the program's stacks, or why not."""
    perf = shutil.which("perf")
    if perf is None:
        return "perf is not installed"
    if not available_events():
        return f"{EVENTS_DIR} is not readable (perf needs root or CAP_PERFMON)"
    stacks = Stacks(perf, pid, workdir)
    reason = stacks.enable()
    if reason is not None:
        stacks.close()
        return reason
    return stacks
