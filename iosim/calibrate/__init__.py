"""``iosim calibrate``: measure this machine's cost profile (every key of ``Costs``) from Python,
the way iosim's real servers pay for their calls, and write it as a costs file.

One job per module: ``micro`` (socket-pair measurements: system call, wake-up, loopback delay,
SIGIO, copy), ``multiplexers`` (select, poll, epoll_wait and epoll_ctl per call), ``probes``
(captures of the probe scenarios on the real servers), ``timeline`` (per message, the
moments a run's timeline gives), ``fit`` (the cost model's terms from those
figures), ``report`` (the table beside TLPI and the costs file's header), ``run`` (all of it in
turn), ``command`` (the command line). This module is the API the rest of iosim uses.
"""

from iosim.calibrate.command import cmd_calibrate, register
from iosim.calibrate.fit import copy_gb_per_s, fit_line, probe_terms, to_costs
from iosim.calibrate.measured import FD_COUNTS, FULL, QUICK, Budget, Measured, Progress
from iosim.calibrate.micro import COPY_SIZES
from iosim.calibrate.report import header, report
from iosim.calibrate.run import calibrate, measure

__all__ = [
    "COPY_SIZES",
    "FD_COUNTS",
    "FULL",
    "QUICK",
    "Budget",
    "Measured",
    "Progress",
    "calibrate",
    "cmd_calibrate",
    "copy_gb_per_s",
    "fit_line",
    "header",
    "measure",
    "probe_terms",
    "register",
    "report",
    "to_costs",
]
