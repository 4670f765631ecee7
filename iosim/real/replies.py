"""The client's side of a capture's replies (server.reply_bytes): a thread of the capturing
process reads them, as a slow reader (read_bytes every read_every_ms, at those multiples of
t = 0) or as fast as they come, and counts what each connection got. Bounded: it ends when
every reply is read or when told to stop."""

from __future__ import annotations

import select
import socket
import threading
from time import time_ns

from iosim.scenario import Scenario

FAST_READ = 65536
POLL_S = 0.02  # a fast reader's wait for the next reply, between two looks at ``stop``


class ReplyReader:
    """Reads every connection's replies until all are in or ``stop`` is called."""

    def __init__(self, scenario: Scenario, socks: list[socket.socket], t0_ns: int) -> None:
        self.socks = socks[:scenario.active_connections]
        self.expected = [scenario.server.reply_bytes * sum(not s.corrupt for s in sends)
                         for sends in scenario.connections]
        self.got = [0] * len(self.expected)
        self.read_bytes = scenario.client.read_bytes
        self.every_ns = int(scenario.client.read_every_ms * 1_000_000)
        self.t0_ns = t0_ns
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reply reader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def done(self) -> bool:
        return self.got == self.expected

    def stop(self, timeout_s: float) -> None:
        """Let the reader finish within ``timeout_s`` (the replies still in the buffers),
        then stop it."""
        self._thread.join(timeout_s)
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        tick = 1
        while not self.done() and not self._stop.is_set():
            if self.read_bytes:
                self._stop.wait(max(0.0, (self.t0_ns + tick * self.every_ns - time_ns()) / 1e9))
                tick += 1
            else:
                waiting = [s for s, got, want in zip(self.socks, self.got, self.expected,
                                                      strict=True) if got < want]
                try:
                    select.select(waiting, [], [], POLL_S)
                except (OSError, ValueError):  # a socket closed under it: the capture is over
                    return
            if not self._stop.is_set():
                self._read_each()

    def _read_each(self) -> None:
        for conn, sock in enumerate(self.socks):
            if self.got[conn] >= self.expected[conn]:
                continue
            try:
                data = sock.recv(self.read_bytes or FAST_READ, socket.MSG_DONTWAIT)
            except OSError:  # nothing yet, not connected yet, or the capture is over
                continue
            self.got[conn] += len(data)


def replies_meta(reader: ReplyReader | None) -> dict[str, object]:
    """What the run's meta says of the replies: the bytes each connection's client read."""
    if reader is None:
        return {}
    return {"replies_read": list(reader.got), "replies_expected": list(reader.expected)}
