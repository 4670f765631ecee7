"""Calibration from start to finish: every measurement in turn (restoring sockets, signal
handler and limits even when interrupted), then the costs file's text and the report."""

from __future__ import annotations

import sys
import time

from iosim.calibrate.fit import to_costs
from iosim.calibrate.measured import FULL, Budget, Measured, Progress
from iosim.calibrate.micro import (
    COPY_SIZES,
    measure_copy,
    measure_signal,
    measure_signal_cross_process,
    measure_syscall,
    measure_wakeup_and_network,
)
from iosim.calibrate.multiplexers import measure_multiplexers
from iosim.calibrate.probes import IDLE_MODELS, probe_servers
from iosim.calibrate.report import header, report, size_text
from iosim.errors import UserError
from iosim.sim.costs import dump_costs


def _stderr_progress(text: str) -> None:
    print(f"calibrate: {text}", file=sys.stderr, flush=True)


def measure(budget: Budget = FULL, progress: Progress = _stderr_progress) -> Measured:
    """Every measurement in turn; sockets, signal handler and limits are restored even when
    interrupted."""
    if not sys.platform.startswith("linux"):
        raise UserError(f"calibrate measures Linux calls (epoll, SO_TIMESTAMPNS, SIGIO); "
                        f"this is {sys.platform}")
    m = Measured()
    progress("system call (recv -> EWOULDBLOCK)")
    m.syscall_us = measure_syscall(budget.seconds)
    progress(f"wake-up and loopback delay ({budget.samples} datagrams)")
    m.wakeup_us, m.network_us = measure_wakeup_and_network(budget.samples)
    progress(f"SIGIO delivery ({budget.samples} datagrams, asleep and busy)")
    m.signal_us = measure_signal(budget.samples, asleep=True)
    m.signal_busy_us = measure_signal(budget.samples, asleep=False)
    m.signal_cross_us = measure_signal_cross_process(budget.samples)
    progress("copy into a preallocated buffer (" +
             ", ".join(size_text(s) for s in COPY_SIZES) + ")")
    m.copy_us, notes = measure_copy(COPY_SIZES, budget.seconds)
    m.notes.extend(notes)
    measure_multiplexers(budget, m, progress)
    progress(f"the real servers ({', '.join(IDLE_MODELS)}) on the probes: {budget.probes} "
             f"round{'s' if budget.probes != 1 else ''} of captures")
    try:
        m.probes = probe_servers(budget.probes)
    except UserError as exc:
        m.notes.append(f"the real servers could not be probed ({exc}): wake-up and SIGIO "
                       "come from the socket pairs alone, the servers' own work is left out")
    return m


def calibrate(budget: Budget = FULL, progress: Progress = _stderr_progress
              ) -> tuple[str, str]:
    """Measure; return the costs file's text (TOML) and the report table."""
    start = time.perf_counter()
    m = measure(budget, progress)
    costs, kept = to_costs(m)
    seconds = time.perf_counter() - start
    table = report(m, costs, kept)
    text = dump_costs(costs, header(seconds) + "\n\n" + table)
    return text, f"{table}\n\nmeasured in {seconds:.1f} s"
