"""Writing files so that nothing half-written is ever left behind, and finding out before any
work that a file can be written at all."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from iosim.errors import UserError


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Say now, before a long run, when ``path`` cannot be written: a missing directory, a
    directory given as the file, a directory where files cannot be created (read-only, no
    permission). The check creates and removes a file beside ``path``, so it tells the truth
    for root and for read-only file systems alike."""
    target = Path(path)
    if target.is_dir():
        raise UserError(f"{target}: is a directory; give the name of a file to write")
    parent = target.parent
    if not parent.is_dir():
        raise UserError(f"{target}: no such directory {parent}")
    try:
        fd, probe = _create_unique(target)
    except OSError as exc:
        raise UserError(f"{target}: cannot write in {parent} ({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)
    return target


def _create_unique(target: Path) -> tuple[int, Path]:
    """A new file beside ``target``, named for this writer alone, created exclusively and never
    through a symbolic link: two writers of one output never share a temporary file, and a link
    planted at a predictable name cannot redirect the write."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    return os.open(tmp, flags, 0o644), tmp


@contextmanager
def atomic_open(path: str | os.PathLike[str],
                newline: str | None = None) -> Iterator[TextIO]:
    """A text file beside ``path`` that takes its place only once written in full: an
    interrupted or failed write (an error, Ctrl-C, a full disk) never leaves half a file and
    never replaces a good one. A write that fails is one line naming the file."""
    target = Path(path)
    try:
        fd, tmp = _create_unique(target)
    except OSError as exc:
        raise UserError(f"{target}: cannot write ({exc.strerror})") from None
    try:
        with open(fd, "w", encoding="utf-8", newline=newline) as f:
            yield f
        os.replace(tmp, target)
    except OSError as exc:
        kept = " (the older file is kept)" if target.exists() else ""
        raise UserError(f"{target}: cannot write ({exc.strerror}); nothing was written{kept}"
                        ) from None
    finally:
        tmp.unlink(missing_ok=True)
