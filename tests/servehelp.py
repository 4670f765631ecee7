"""``iosim serve`` for tests: the command itself (``cli.main``) in a forked process (no
interpreter to start: a fork costs milliseconds), its stderr on a pipe, stopped by its pid."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from iosim import cli

DEADLINE_S = 60.0  # only tells a hang from an answer: a loaded machine is slow


class ServeChild:
    """A forked ``iosim serve --port 0 -o OUT ...``; the port is read from its first line.
    ``prepare`` runs in the child first."""

    def __init__(self, tmp_path: Path, model: str, *args: str,
                 prepare: Callable[[], None] | None = None) -> None:
        self.output = tmp_path / f"{model}.trace"
        self.err = b""
        self.status: int | None = None
        read, write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: serve, then leave without running the parent's cleanups
            code = 1
            try:
                os.close(read)
                os.dup2(write, 2)
                sys.stderr = open(2, "w", buffering=1, closefd=False)  # pytest had replaced it
                if prepare is not None:
                    prepare()
                code = cli.main(["serve", "--model", model, "--port", "0",
                                 "-o", str(self.output), *args])
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        os.close(write)
        self.fd = read
        found = re.search(rb"port (\d+)", self.read_until(b"\n"))
        if not found:
            self.kill()
            raise AssertionError(f"serve did not start: {self.err!r}")
        self.port = int(found.group(1))

    def read_until(self, wanted: bytes, timeout_s: float = DEADLINE_S) -> bytes:
        """Read stderr until ``wanted`` has been printed (or it closes, or the deadline)."""
        deadline = time.monotonic() + timeout_s
        while wanted not in self.err and time.monotonic() < deadline:
            if select.select([self.fd], [], [], deadline - time.monotonic())[0]:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    break
                self.err += chunk
        return self.err

    def exited(self, timeout_s: float) -> bool:
        """Wait (reading stderr) up to ``timeout_s`` for the process to end."""
        deadline = time.monotonic() + timeout_s
        while self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                break
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if select.select([self.fd], [], [], min(left, 0.001))[0]:
                self.err += os.read(self.fd, 65536)
        self.read_until(b"\0", 1.0)  # the rest of stderr, up to its end
        return True

    def stop(self, again: bool = False, timeout_s: float = DEADLINE_S) -> None:
        """SIGTERM; with ``again``, SIGTERM after SIGTERM as fast as they go until it says it
        is finishing its trace (they land while it writes; one that came after the trace was
        written and the handlers restored would kill it on its way out). A server still
        running after ``timeout_s`` is a hang."""
        start = time.monotonic()
        os.kill(self.pid, signal.SIGTERM)
        while again and b"finishing" not in self.err and time.monotonic() - start < timeout_s:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                break
            os.kill(self.pid, signal.SIGTERM)
            if select.select([self.fd], [], [], 0)[0]:  # its "finishing" lines: keep reading
                self.err += os.read(self.fd, 65536)
        if not self.exited(max(timeout_s - (time.monotonic() - start), 0)):
            raise AssertionError(f"serve did not stop within {timeout_s} s")

    def kill(self) -> None:
        """However the test went: the process ends, its pipe is closed."""
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self.pid, 0)
            self.status = -signal.SIGKILL
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=DEADLINE_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


def recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data
