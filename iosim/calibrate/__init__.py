"""``iosim calibrate``: measure this machine's cost profile (every key of ``Costs``) from Python,
the way iosim's real servers pay for their calls, and write it as a costs file.

One job per module: ``micro`` (socket-pair measurements: system call, wake-up, loopback delay,
SIGIO, copy), ``multiplexers`` (select, poll, epoll_wait and epoll_ctl per call), ``probes``
(captures of a probe scenario on the real servers), ``fit`` (the cost model's terms from those
figures), ``report`` (the table beside TLPI and the costs file's header), ``run`` (all of it in
turn), ``command`` (the command line). This module is the API the rest of iosim uses.
"""

from iosim.calibrate.command import cmd_calibrate, register
from iosim.calibrate.fit import cold_terms, copy_gb_per_s, fit_line, server_terms, to_costs
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
    "cold_terms",
    "copy_gb_per_s",
    "fit_line",
    "header",
    "measure",
    "register",
    "report",
    "server_terms",
    "to_costs",
]
