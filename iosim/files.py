"""Writing files so that nothing half-written is ever left behind."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


@contextmanager
def atomic_open(path: str | os.PathLike[str],
                newline: str | None = None) -> Iterator[TextIO]:
    """A text file beside ``path`` that takes its place only once written in full: an
    interrupted write (an error, Ctrl-C) never leaves half a file or replaces a good one."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline=newline) as f:
            yield f
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
