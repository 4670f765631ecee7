"""Calibration's figures against the shape they should have: ``iosim calibrate --quick``'s
measurements, then how they compare. Kerrisk's TLPI Table 63-9 gives the shape: select and
poll grow with the descriptors watched, epoll_wait stays flat and grows with the ready ones; a
larger copy takes longer; the terms fitted on the real servers' probes are above 0.

These were assertions of the test suite until a machine with both cores busy bent them (poll's
per-descriptor slope came out 0 beside two CPU hogs): a shape is measured, not asserted.
Target: every check true on a quiet machine.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from iosim.calibrate import QUICK, measure, to_costs

FITTED = ("wakeup_idle_us", "signal_idle_us", "send_us", "call_overhead_us")


def run() -> dict[str, Any]:
    start = time.perf_counter()
    m = measure(QUICK, lambda text: print(f"calibrate: {text}", file=sys.stderr))
    costs, _ = to_costs(m)
    checks = {
        "copy of 1 MB > copy of 4 KB": (m.copy_us[1 << 20], m.copy_us[4096]),
        "select on 1000 fds > on 10": (m.select_us[1000], m.select_us[10]),
        "poll on 1000 fds > on 10": (m.poll_us[1000], m.poll_us[10]),
        "poll on 1000 fds > epoll_wait on 1000": (m.poll_us[1000], m.epoll_us[1000]),
        "epoll_wait with 100 ready > with 1": (m.epoll_ready_us[100], m.epoll_ready_us[1]),
        "select_per_fd_us > 0": (costs.select_per_fd_us, 0.0),
        "poll_per_fd_us > 0": (costs.poll_per_fd_us, 0.0),
        "epoll_per_ready_us > 0": (costs.epoll_per_ready_us, 0.0),
        **{f"{key} > 0 (fitted on the probes)": (getattr(costs, key), 0.0) for key in FITTED},
    }
    shape = {name: a > b for name, (a, b) in checks.items()}
    for name, (a, b) in checks.items():
        print(f"{'ok ' if shape[name] else 'NO '} {name}: {a:.3f} against {b:.3f}")
    seconds = time.perf_counter() - start
    print(f"{sum(shape.values())} of {len(shape)} checks hold; {seconds:.0f} s")
    return {"name": "calibrate", "shape": shape, "all": all(shape.values()),
            "seconds": round(seconds, 1)}
