"""The cost profile: what each kernel operation costs, in µs (copy bandwidth in GB/s).

Defaults are the figures measured on a 2-vCPU VM with Python 3.11 (DESIGN.md) and fitted to
Kerrisk's TLPI Table 63-9 per-call times, so select and poll grow with the number of descriptors
and epoll stays flat. A scenario overrides any key in its ``[costs]`` table; ``iosim calibrate``
writes a file of this machine's figures that ``--costs`` or ``costs = "file"`` loads.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from iosim.checks import HOUR_US, TomlLines, load_toml, number_problem, show
from iosim.errors import UserError
from iosim.files import read_small_text

MS_KEYS = ("idle_tau_ms", "first_idle_ms", "start_warm_ms")  # times in ms, not costs in µs
MAX_MS = 60_000.0
MAX_RATIO = 10.0

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
    segment_us: float = 0.0  # a TCP read pays this per message (segment) it takes, beside copying
    signal_us: float = 120.0
    select_base_us: float = 1.5
    select_per_fd_us: float = 0.4
    poll_base_us: float = 0.3
    poll_per_fd_us: float = 0.4
    epoll_base_us: float = 2.0
    epoll_per_ready_us: float = 0.3
    epoll_ctl_us: float = 1.5
    # What this machine's real servers pay beyond the calls themselves. ``iosim calibrate``
    # fits them on its probes; 0 by default, the textbook timeline. A server that has not
    # handled a message for a while has gone cold (its CPU slept deeper, its caches cooled):
    # each ``*_idle_us`` below is the extra after a long idle, reached as
    # 1 - exp(-idle / idle_tau_ms). Its first message counts at most first_idle_ms of idle
    # (the first sleep of a process just started is a shallow one); after it, early in a run,
    # a server wakes less cold, by 1 - exp(-t / start_warm_ms) (measured on TCP servers).
    idle_tau_ms: float = 5.0
    first_idle_ms: float = 0.0
    start_warm_ms: float = 0.0
    # A TCP server's wake-up (wakeup_us, call_after_wake_us and their idle extras), counted
    # from the data's arrival stamp, is this share of a UDP one's (measured 0.6-0.85): TCP
    # stamps a segment later on its way in than UDP stamps a datagram, nearer the wake-up.
    tcp_wakeup_ratio: float = 1.0
    wakeup_idle_us: float = 0.0
    # The call a multiplexer's caller makes right after select/poll/epoll_wait woke it (the
    # recvfrom of the ready socket), beyond a hot call.
    call_after_wake_us: float = 0.0
    call_after_wake_idle_us: float = 0.0
    # signal_us runs from the data's arrival to the handler's first read (entering the handler
    # included, a hot call not); this much more after a long idle. A SIGIO that comes while
    # the handler runs costs the process signal_taken_us to take (its handler only notes it).
    signal_idle_us: float = 0.0
    signal_taken_us: float = 0.0
    # The first SIGIO of a run takes this much more: its handler runs for the first time.
    signal_cold_us: float = 0.0
    # aio: from the end of the kernel's copy to the process seeing it done (a POSIX aio
    # signal, io_uring's completion entry), instead of signal_us; the default as a signal.
    completion_us: float = 120.0
    completion_idle_us: float = 0.0
    # The server's own work between a read's return and processing the first message it
    # completed (which messages do these bytes finish?), and the interpreter's time before
    # each call (the loop, making the call, writing it down), in a busy loop.
    handle_us: float = 0.0
    handle_idle_us: float = 0.0
    handle_per_message_us: float = 0.0  # more for each message the read completed
    process_extra_us: float = 0.0  # each message's processing costs this much over work_us
    call_overhead_us: float = 0.0
    # A slice of own work (non-blocking, between two polling passes) costs this much more
    # than asked: out of the busy loop and back into the pass, whose first call is slower.
    own_work_extra_us: float = 0.0
    # From t = 0 to the server's first call (its start-up), and the first read that finds data
    # without waking first (sigio, aio, non-blocking: cold code and caches). A process that
    # slept before its first read pays its first wake-up instead.
    start_us: float = 0.0
    cold_start_us: float = 0.0
    # threaded: a thread that waited for Python's GIL runs this long after it was handed the
    # GIL (the CPU switches from the thread that let it go), and wakeup_idle_us times its
    # coldness after the wait more.
    gil_handoff_us: float = 0.0
    # The clients: each send takes the sender send_us before it can send again (send_idle_us
    # more after a long idle), and signal_send_us more when the socket raises SIGIO (the
    # sender's CPU sends the signal); a client that was idle takes network_idle_us more to
    # get its data across.
    send_us: float = 0.0
    send_idle_us: float = 0.0
    signal_send_us: float = 0.0
    network_idle_us: float = 0.0

    def coldness(self, idle_us: float, at_us: float = math.inf) -> float:
        """How cold a server is after ``idle_us`` without handling a message, ``at_us`` after
        t = 0: 0 to 1."""
        if idle_us <= 0.0:
            return 0.0
        tau_us = self.idle_tau_ms * 1000.0
        cold = 1.0 - math.exp(-idle_us / tau_us) if tau_us > 0.0 else 1.0
        if self.start_warm_ms > 0.0:
            cold *= 1.0 - math.exp(-at_us / (self.start_warm_ms * 1000.0))
        return cold

    def wakeup_at(self, cold: float) -> float:
        """The wake-up of a process this cold (Costs.coldness)."""
        return self.wakeup_us + self.wakeup_idle_us * cold

    def call_after_wake_at(self, cold: float) -> float:
        """The extra of the call right after a multiplexer woke a process this cold."""
        return self.call_after_wake_us + self.call_after_wake_idle_us * cold

    def signal_at(self, cold: float) -> float:
        """A signal's delivery, to the handler's first read, to a process this cold."""
        return self.signal_us + self.signal_idle_us * cold

    def completion_at(self, cold: float) -> float:
        """aio: from the copy's end to a process this cold seeing it done."""
        return self.completion_us + self.completion_idle_us * cold

    def handle_at(self, cold: float) -> float:
        """From a read's return to processing its first message, this cold."""
        return self.handle_us + self.handle_idle_us * cold

    def send_at(self, cold: float) -> float:
        """How long a send keeps a client this cold from sending again."""
        return self.send_us + self.send_idle_us * cold

    def network_at(self, cold: float) -> float:
        """From a client's send to the data in the receive queue, the client this cold."""
        return self.network_us + self.network_idle_us * cold

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


COST_KEYS = tuple(f.name for f in fields(Costs))
MAX_COST_US = HOUR_US  # any cost: at most one simulated hour
COPY_GB_PER_S_RANGE = (0.001, 1000.0)  # 1 MB/s to 1 TB/s: a 64 MiB copy stays within a minute
MAX_COSTS_FILE_BYTES = 64 * 1024


def cost_problem(key: str, value: object) -> str | None:
    """What is wrong with ``value`` for cost ``key``, or None."""
    if key == "copy_gb_per_s":
        low, high = COPY_GB_PER_S_RANGE
        return number_problem(value, low=low, high=high, unit=" GB/s")
    if key in MS_KEYS:
        return number_problem(value, high=MAX_MS, unit=" ms")
    if key == "tcp_wakeup_ratio":
        return number_problem(value, high=MAX_RATIO)
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
    if not str(path):  # Path("") would be ".", the current directory
        raise CostsError("an empty costs file name; give the path of a costs file")
    path = Path(path)
    try:
        text = read_small_text(path, MAX_COSTS_FILE_BYTES, "costs file")
        data = load_toml(text, str(path), "a costs file is a [costs] table of numbers")
    except UserError as exc:
        raise CostsError(str(exc)) from None
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
