"""Writing a spool (spool.py) while a server serves: a thread takes the rows the server has
appended every 0.2 s (or sooner, when a block is full), encodes them and appends one record,
so that the server itself only ever appends to a list, and finishing is writing the last
block.

``last:N`` keeps the file bounded by rewriting it, once it holds 2N messages, with only the
blocks of its last N: a copy of the file's tail (the kernel copies, no decoding), replacing the
old file atomically, so a crash in between leaves one whole file or the other.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from time import monotonic
from typing import Any

from iosim.errors import UserError
from iosim.files import _create_unique
from iosim.real.keep import Keep
from iosim.real.spool import COUNTS, END, ROWS, Counters, encode, file_header, record
from iosim.real.stopping import STOP_SIGNALS

FLUSH_EVERY_S = 0.2
BLOCK_ROWS = 16384
CHECK_EVERY_S = 0.02


class SpoolWriter:
    """Appends blocks to the spool at ``path`` under a keep policy."""

    def __init__(self, path: str | os.PathLike[str], meta: dict[str, Any], keep: Keep) -> None:
        self.path = Path(path)
        self.keep = keep
        self.header = file_header({**meta, "keep": str(keep)})
        self.counters = Counters()
        self.seq = 0
        self.written_messages = 0
        self.blocks: deque[tuple[int, int]] = deque()  # last:N: (offset, messages) in the file
        self.in_file = 0
        self.fd = -1
        self.size = 0
        self._replace_with(self.header)

    def _replace_with(self, header: bytes, tail_from: int = -1) -> None:
        """A new file (the header, then the old file's bytes from ``tail_from``) that takes
        the place of the spool at once."""
        try:
            fd, tmp = _create_unique(self.path)
        except OSError as exc:
            raise UserError(f"{self.path}: cannot write ({exc.strerror})") from None
        try:
            os.write(fd, header)
            size = len(header)
            if tail_from >= 0:
                size += self._copy_tail(fd, tail_from)
            os.replace(tmp, self.path)
        except OSError as exc:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise UserError(f"{self.path}: cannot write ({exc})") from None
        if self.fd >= 0:
            os.close(self.fd)
        self.fd, self.size = fd, size

    def _copy_tail(self, fd: int, start: int) -> int:
        """Copy the spool's bytes from ``start`` to ``fd`` (in the kernel); return how many."""
        source = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            left, offset = self.size - start, start
            while left > 0:
                done = os.copy_file_range(source, fd, left, offset)
                if done <= 0:
                    raise OSError("the spool ended early")
                offset += done
                left -= done
        finally:
            os.close(source)
        return self.size - start

    def _append(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view):]
        except OSError as exc:
            raise UserError(f"{self.path}: cannot write ({exc.strerror}); the trace holds "
                            "what was written before") from None
        self.size += len(data)

    def rows(self, rows: list[tuple]) -> None:
        """One block: written, or only counted when the keep policy leaves it out."""
        block = encode(rows)
        first = self.counters.messages
        self.counters.messages += block.messages
        self.counters.calls += block.calls
        keep = self.keep.writes(self.seq, self.written_messages)
        tag, payload = (ROWS, block.payload) if keep else (COUNTS, b"")
        offset = self.size
        self._append(record(tag, payload, self.seq, first, block.messages, block.rows,
                            block.t_first, block.t_last, self.counters))
        self.seq += 1
        if keep:
            self.written_messages += block.messages
            if self.keep.how == "last":
                self._bound_last(offset, block.messages)

    def _bound_last(self, offset: int, messages: int) -> None:
        """Once the file holds 2N messages, keep only the newest blocks that hold N."""
        self.blocks.append((offset, messages))
        self.in_file += messages
        if self.in_file < 2 * self.keep.n:
            return
        kept, i = 0, len(self.blocks)
        while i > 0 and kept < self.keep.n:
            i -= 1
            kept += self.blocks[i][1]
        if i == 0:
            return
        start = self.blocks[i][0]
        self._replace_with(self.header, tail_from=start)
        shift = start - len(self.header)
        self.blocks = deque((o - shift, m) for o, m in list(self.blocks)[i:])
        self.in_file = kept

    def finish(self, end: dict[str, Any]) -> None:
        """The end record: the server finished writing (a reader says so when it is missing)."""
        payload = json.dumps(end, separators=(",", ":")).encode()
        self._append(record(END, payload, self.seq, self.counters.messages, 0, 0, 0, 0,
                            self.counters))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Spooler:
    """The thread that moves a server's rows to its spool while it serves."""

    def __init__(self, rows: list[tuple], writer: SpoolWriter,
                 count: Callable[[Counters], None], on_failure: Callable[[], None]) -> None:
        self.source = rows
        self.writer = writer
        self.count = count  # fills in what the server counts itself (replies unsent, ...)
        self.on_failure = on_failure  # a write failed (a full disk): the server should stop
        self.failed: UserError | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="spooler", daemon=True)
        self._last = monotonic()

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        # the stop signals are the main thread's: its handlers decide what they do (a model
        # may block them there for a moment, and this thread must not take them meanwhile)
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        while not self._stop.wait(CHECK_EVERY_S):
            rows = self.source
            if len(rows) >= BLOCK_ROWS or (rows and monotonic() - self._last >= FLUSH_EVERY_S):
                self.flush()

    def flush(self) -> None:
        """Take what the server appended so far (appends go on at the end meanwhile: only this
        thread removes, and only from the front) and write it in blocks."""
        self._last = monotonic()
        rows = self.source
        taken = len(rows)
        chunk = rows[:taken]
        del rows[:taken]
        if self.failed is not None:
            return
        self.count(self.writer.counters)
        try:
            for start in range(0, taken, BLOCK_ROWS):
                self.writer.rows(chunk[start:start + BLOCK_ROWS])
        except UserError as exc:
            self.failed = exc
            if threading.current_thread() is self._thread:
                self.on_failure()

    def stop(self) -> None:
        """Called once the server has stopped: the last rows are written by the caller."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.flush()
