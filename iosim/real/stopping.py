"""How a real server (and a capture) stops: the first signal stops the work at once; the
ones after it are not allowed to interrupt the writing of what the user waited for.

The first SIGINT, SIGTERM, SIGHUP or SIGALRM (``--duration``) raises an exception in the main
thread, which unwinds the server wherever it is (inside a blocking call too). From then on the
same signals only say what is going on, on stderr, until the work is saved; only SIGKILL can
interrupt that.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM)


class FirstSignalStops:
    """A context: the first of ``signals`` raises ``stop()``; later ones print ``later()``
    (if given) and are otherwise ignored. Outside the main thread (where Python cannot set
    handlers) it does nothing."""

    def __init__(self, stop: Callable[[], BaseException], later: Callable[[], str] | None = None,
                 signals: tuple[signal.Signals, ...] = STOP_SIGNALS) -> None:
        self.stop = stop
        self.later = later
        self.signals = signals
        self.previous: dict[int, object] = {}

    def __enter__(self) -> FirstSignalStops:
        if threading.current_thread() is threading.main_thread():
            self.previous = {sig: signal.signal(sig, self._first) for sig in self.signals}
        return self

    def _first(self, _signum: int, _frame: FrameType | None) -> None:
        self.finishing()
        raise self.stop()

    def finishing(self) -> None:
        """From here on (a signal, or the work ending by itself), signals only say so."""
        if self.previous:
            for sig in self.signals:
                signal.signal(sig, self._later)

    def _later(self, _signum: int, _frame: FrameType | None) -> None:
        if self.later is None:
            return
        try:  # os.write: print() could be interrupted in the middle of its own write
            os.write(2, f"{self.later()}\n".encode())
        except OSError:
            pass

    def __exit__(self, _type: type[BaseException] | None, _exc: BaseException | None,
                 _tb: TracebackType | None) -> None:
        if signal.SIGALRM in self.signals and self.previous:
            signal.setitimer(signal.ITIMER_REAL, 0)
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


class Ignored:
    """A context in which the stop signals are ignored: around a command whose own handlers
    (above) come and go, so that a signal just before they are set or just after the trace
    is written does not kill the process on its way out."""

    def __enter__(self) -> Ignored:
        self.previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS} \
            if threading.current_thread() is threading.main_thread() else {}
        return self

    def __exit__(self, _type: type[BaseException] | None, _exc: BaseException | None,
                 _tb: TracebackType | None) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
