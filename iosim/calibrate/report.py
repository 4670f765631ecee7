"""What calibration shows: the measured figures beside Kerrisk's (TLPI Table 63-9) and the
costs written, and the costs file's header (where and when it was measured)."""

from __future__ import annotations

import datetime
import os
import platform

from iosim.calibrate.fit import figures
from iosim.calibrate.measured import Measured
from iosim.sim.costs import Costs

# Kerrisk, TLPI Table 63-9 (µs per call, one fd ready): fds -> (select, poll, epoll)
TLPI_US = {10: (7.3, 6.1, 4.1), 100: (30.0, 29.0, 4.2), 1000: (350.0, 350.0, 5.3),
           10000: (9300.0, 9900.0, 6.6)}


def size_text(nbytes: int) -> str:
    return f"{nbytes >> 20} MB" if nbytes >= 1 << 20 else f"{nbytes >> 10} KB"


def _us(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f} ms" if value >= 1000 else f"{value:.2f} µs"


def report(m: Measured, costs: Costs, kept: list[str]) -> str:
    """The measured per-call figures beside TLPI Table 63-9, then the costs written."""
    lines = ["measured per call on this machine (median)"]
    single = [("system call (recv -> EWOULDBLOCK)", m.syscall_us),
              ("wake-up of a process asleep in recvmsg", m.wakeup_us),
              ("loopback delay (send -> kernel stamp)", m.network_us),
              ("SIGIO: kernel stamp -> handler, asleep", m.signal_us),
              ("SIGIO: kernel stamp -> handler, busy", m.signal_busy_us),
              ("SIGIO to another busy process: -> read", m.signal_cross_us),
              ("epoll_ctl", m.epoll_ctl_us)]
    single += [(f"recv_into {size_text(size)}  ({size / us / 1000:.2f} GB/s)", us)
               for size, us in m.copy_us.items()]
    if m.probes is not None:
        single += figures(m.probes, costs)
    width = max(len(name) for name, _ in single)
    lines += [f"  {name.ljust(width)}  {_us(value)}" for name, value in single]
    lines += ["", "  one descriptor ready     this machine                        "
                  "Kerrisk, TLPI Table 63-9",
              "  descriptors      select        poll       epoll      select        poll"
              "       epoll"]
    for n in sorted(set(m.select_us) | set(m.poll_us) | set(m.epoll_us) | set(TLPI_US)):
        ours = [_us(table.get(n)) for table in (m.select_us, m.poll_us, m.epoll_us)]
        if n <= max(m.poll_us, default=0) and n not in m.select_us:
            ours[0] = "FD_SETSIZE"
        theirs = [_us(v) for v in TLPI_US.get(n, (None, None, None))]
        lines.append(f"  {n:>11}" + "".join(c.rjust(12) for c in ours + theirs))
    if m.epoll_ready_us:
        lines.append("  epoll_wait with k ready: " + ", ".join(
            f"k={k} {_us(v)}" for k, v in m.epoll_ready_us.items()))
    lines += ["", "costs (the simulator adds syscall_us to every call's own cost)"]
    lines += [f"  {k} = {v!r}" + ("   (default: not measured)" if k in kept else "")
              for k, v in costs.to_dict().items()]
    lines += [f"note: {note}" for note in m.notes]
    return "\n".join(lines)


def header(seconds: float) -> str:
    uname = platform.uname()
    when = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    return (f"iosim calibrate, {when}\n"
            f"host {uname.node}: {uname.system} {uname.release} {uname.machine}, "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}; "
            f"measured in {seconds:.1f} s\n"
            "load with: iosim sim SCENARIO --costs THIS_FILE, or costs = \"THIS_FILE\" "
            "in a scenario")
