"""What calibration measures and how long it may spend on it: the figures the measurements
fill in and the fitting and the report read, in one place that all of them share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from iosim.calibrate.probes import Probes

FD_COUNTS = (10, 100, 1000, 10000)


@dataclass(frozen=True)
class Budget:
    """How long calibration runs: ``seconds`` per call-cost measurement, ``samples`` round
    trips for each latency (wake-up, network, signal), ``probes`` captures of the probe
    scenario per real server."""

    seconds: float = 1.0
    samples: int = 300
    fd_counts: tuple[int, ...] = FD_COUNTS
    probes: int = 8


QUICK = Budget(seconds=0.03, samples=25, fd_counts=(10, 100, 1000), probes=1)
FULL = Budget()  # about 50 s


@dataclass
class Measured:
    """What was measured, in µs per call (copy: per recv_into of that many bytes)."""

    syscall_us: float = 0.0
    wakeup_us: float | None = None
    signal_cross_us: float | None = None  # another, busy process: stamp -> read in its handler
    network_us: float | None = None
    signal_us: float | None = None  # process asleep when SIGIO comes
    signal_busy_us: float | None = None  # process running Python code when SIGIO comes
    copy_us: dict[int, float] = field(default_factory=dict)
    select_us: dict[int, float] = field(default_factory=dict)
    poll_us: dict[int, float] = field(default_factory=dict)
    epoll_us: dict[int, float] = field(default_factory=dict)
    epoll_ready_us: dict[int, float] = field(default_factory=dict)
    epoll_ctl_us: float = 0.0
    probes: Probes | None = None  # the probes captured on the real servers
    notes: list[str] = field(default_factory=list)


Progress = Callable[[str], None]
