"""A run's set-up, as pure logic: the calls a server makes once, before it waits for its first
message (epoll_create and one epoll_ctl per descriptor; sigaction and fcntl for SIGIO). Found in
the trace, so a captured run has it too. The view labels it, and neither the braces nor the
comparison count it as waiting: c10k's epoll spends its first 33 ms registering 10,100
descriptors, which is not slowness of epoll_wait.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from iosim.timefmt import format_us
from iosim.trace import Kind, Run

SETUP_CALLS = ("sigaction", "fcntl", "epoll_create", "epoll_ctl")


@dataclass(frozen=True)
class Setup:
    t0: float
    t1: float  # the end of the last set-up call
    calls: tuple[tuple[str, int], ...]  # (call, how many times), in the order first made

    def words(self) -> list[str]:
        """The label, longest variant first."""
        def times(name: str, n: int) -> str:
            return name if n == 1 else f"{n:,} × {name}"

        listing = ", ".join(times(name, n) for name, n in self.calls)
        most = times(*max(self.calls, key=lambda c: c[1]))
        count = sum(n for _, n in self.calls)
        once = f"set-up, done once: {listing} ({format_us(self.t1 - self.t0)})"
        return list(dict.fromkeys([once, f"set-up: {listing}", f"set-up: {most}",
                                   f"set-up: {count:,} calls", "set-up"]))


def setup_of(run: Run) -> Setup | None:
    """The set-up calls the application makes from its start until its first other call;
    None when it makes none."""
    app = next((k for k, lane in enumerate(run.lanes) if lane.role == "app"), None)
    if app is None:
        return None
    calls: Counter[str] = Counter()
    first: float | None = None
    end = 0.0
    for i in range(len(run)):
        if run.lane[i] != app:
            continue
        kind = run.kind[i]
        label = run.labels[run.label[i]]
        if kind == Kind.SYSCALL:
            name = label.split()[0] if label else ""
            if name not in SETUP_CALLS:
                break
            calls[name] += 1
            first = run.t0[i] if first is None else first
            end = max(end, run.t0[i])
        elif kind < Kind.SYSCALL:
            if first is None or kind not in (Kind.IN_KERNEL, Kind.OVERHEAD):
                break
            end = max(end, run.t1[i])
        elif kind != Kind.RETURN:
            break
    if first is None:
        return None
    return Setup(first, end, tuple(calls.items()))


def setup_end(run: Run) -> float:
    """When the set-up is over (0 for a run without one)."""
    found = setup_of(run)
    return found.t1 if found is not None else 0.0
