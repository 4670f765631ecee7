"""The cost profile: what each kernel operation costs, in µs (copy bandwidth in GB/s).

Defaults are the figures measured on a 2-vCPU VM with Python 3.11 (DESIGN.md) and fitted to
Kerrisk's TLPI Table 63-9 per-call times, so select and poll grow with the number of descriptors
and epoll stays flat. A scenario overrides any key in its ``[costs]`` table; ``iosim calibrate``
writes a file of this machine's figures that ``--costs`` or ``costs = "file"`` loads.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from iosim.checks import HOUR_US, TomlLines, number_problem, show
from iosim.errors import UserError
from iosim.files import read_small_text

WAKEUP_IDLE_CAP_MS = 50.0  # the longest sleep calibrate measures the growth over


class CostsError(UserError):
    """A cost file or table that cannot be used; the message names the file and key, and
    ``key`` is the cost key at fault (None when the fault is not one key's)."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Costs:
    syscall_us: float = 1.8
    wakeup_us: float = 100.0
    network_us: float = 40.0
    copy_gb_per_s: float = 1.6
    signal_us: float = 120.0
    select_base_us: float = 1.5
    select_per_fd_us: float = 0.4
    poll_base_us: float = 0.3
    poll_per_fd_us: float = 0.4
    epoll_base_us: float = 2.0
    epoll_per_ready_us: float = 0.3
    epoll_ctl_us: float = 1.5
    # A process that slept longer wakes up slower (its CPU idled deeper, its caches went
    # cold): this much more wake-up per ms asleep, up to WAKEUP_IDLE_CAP_MS. Calibrated.
    wakeup_per_idle_ms_us: float = 0.0
    # A process's first reads of a run are slow: its code and data are cold (the first recvmsg
    # of a fresh Python process takes ~10 µs instead of 2; after a first wake-up, 30-60 µs;
    # a server that sleeps between reads pays part of it again on the next few wake-ups, one
    # that keeps running does not). The first read that finds data pays cold_start_us more;
    # each read right after a later wake-up pays cold_decay times what the cold read before it
    # paid (a ratio, 0 <= cold_decay < 1). Calibrated on real servers.
    cold_start_us: float = 0.0
    cold_decay: float = 0.0
    # The call a multiplexer's caller makes right after select/poll/epoll_wait woke it (the
    # recvfrom of the ready socket): back to user space and into the kernel again on a CPU
    # that just left idle, slower than a hot call; the longer it slept, the slower (this much
    # more per ms asleep, up to WAKEUP_IDLE_CAP_MS). Calibrated on real servers.
    call_after_wake_us: float = 0.0
    call_after_wake_per_idle_ms_us: float = 0.0
    # A signal to a process that has not handled one for a while is slower, as a wake-up is
    # (its handler's code and data went cold): this much more per ms since its last handler
    # ended (or since it started), up to WAKEUP_IDLE_CAP_MS. Calibrated on real servers.
    signal_per_idle_ms_us: float = 0.0

    def wakeup_after_us(self, asleep_us: float) -> float:
        """The wake-up of a process that slept ``asleep_us``."""
        return self.wakeup_us + self.wakeup_per_idle_ms_us * _idle_ms(asleep_us)

    def call_after_wake_after_us(self, asleep_us: float) -> float:
        """The extra of the call right after a multiplexer woke a process that slept
        ``asleep_us``."""
        return self.call_after_wake_us + self.call_after_wake_per_idle_ms_us * _idle_ms(asleep_us)

    def signal_after_us(self, unsignalled_us: float) -> float:
        """The delivery of a signal ``unsignalled_us`` after the last handler ended."""
        return self.signal_us + self.signal_per_idle_ms_us * _idle_ms(unsignalled_us)

    def copy_us(self, nbytes: int) -> float:
        return nbytes / (self.copy_gb_per_s * 1000.0)

    def select_us(self, nfds: int) -> float:
        return self.select_base_us + self.select_per_fd_us * nfds

    def poll_us(self, nfds: int) -> float:
        return self.poll_base_us + self.poll_per_fd_us * nfds

    def epoll_us(self, ready: int) -> float:
        return self.epoll_base_us + self.epoll_per_ready_us * ready

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def zero(cls, copy_gb_per_s: float = 4.0) -> Costs:
        """Every cost 0 but the copy: the timeline becomes exact arithmetic."""
        return cls(**{f.name: 0.0 for f in fields(cls)}).with_overrides(
            {"copy_gb_per_s": copy_gb_per_s}, "zero costs")

    def with_overrides(self, table: dict[str, object], where: str) -> Costs:
        return replace(self, **check_table(table, where))


def _idle_ms(us: float) -> float:
    return min(us / 1000.0, WAKEUP_IDLE_CAP_MS)


COST_KEYS = tuple(f.name for f in fields(Costs))
MAX_COST_US = HOUR_US  # any cost: at most one simulated hour
COPY_GB_PER_S_RANGE = (0.001, 1000.0)  # 1 MB/s to 1 TB/s: a 64 MiB copy stays within a minute
MAX_COSTS_FILE_BYTES = 64 * 1024


def cost_problem(key: str, value: object) -> str | None:
    """What is wrong with ``value`` for cost ``key``, or None."""
    if key == "copy_gb_per_s":
        low, high = COPY_GB_PER_S_RANGE
        return number_problem(value, low=low, high=high, unit=" GB/s")
    if key == "cold_decay":
        problem = number_problem(value, high=1.0)
        if problem is None and value == 1:
            problem = "is a ratio, must be below 1"
        return problem
    return number_problem(value, high=MAX_COST_US, unit=" µs (one simulated hour)")


def check_table(table: dict[str, object], where: str) -> dict[str, float]:
    """Validate a table of cost overrides: known keys, finite numbers within their range."""
    out: dict[str, float] = {}
    for key, value in table.items():
        if key not in COST_KEYS:
            raise CostsError(f"{where}: unknown cost key {show(key)} "
                             f"(known: {', '.join(COST_KEYS)})", key)
        problem = cost_problem(key, value)
        if problem:
            raise CostsError(f"{where}: cost {key!r} {problem}", key)
        out[key] = float(value)  # type: ignore[arg-type]
    return out


def load_costs(path: str | Path, base: Costs | None = None) -> Costs:
    """Read a costs file: a ``[costs]`` table (as calibrate writes) or bare top-level keys. A
    refusal names the file, the key and its line."""
    path = Path(path)
    try:
        text = read_small_text(path, MAX_COSTS_FILE_BYTES, "costs file")
    except UserError as exc:
        raise CostsError(str(exc)) from None
    try:
        data = tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError, or an integer of more than 4300 digits
        raise CostsError(f"{path}: TOML syntax error: {exc}") from None
    except RecursionError:
        raise CostsError(f"{path}: nested too deeply to be a costs file") from None
    table = data.get("costs", data)
    prefix = "costs." if "costs" in data else ""
    if not isinstance(table, dict):
        raise CostsError(f"{path}: 'costs' must be a table")
    try:
        return (base or Costs()).with_overrides(table, str(path))
    except CostsError as exc:
        line = TomlLines(text).line_of(f"{prefix}{exc.key}") if exc.key else None
        if line is None:
            raise
        message = str(exc).removeprefix(f"{path}: ")
        raise CostsError(f"{path}, line {line}: {message}", exc.key) from None


def dump_costs(costs: Costs, comment: str = "") -> str:
    lines = [f"# {line}" for line in comment.splitlines()] + ["[costs]"]
    lines += [f"{k} = {v!r}" for k, v in costs.to_dict().items()]
    return "\n".join(lines) + "\n"
