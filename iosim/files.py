"""Files: writing them so that nothing half-written is ever left behind, finding out before any
work that a file can be written at all, reading small input files without being fooled by a
device or a giant, and default output names that stay in the current directory."""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from iosim.errors import UserError


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Say now, before a long run, when ``path`` cannot be written: a missing directory, a
    directory given as the file, a device or pipe in the way (it would be replaced by a
    regular file: ``-o /dev/null`` as root would remove the device), a directory where files
    cannot be created (read-only, no permission). The check creates and removes a file beside
    ``path``, so it tells the truth for root and for read-only file systems alike."""
    target = Path(path)
    try:
        if not str(path):
            raise UserError("an empty output file name; give the name of a file to write")
        try:
            mode = os.lstat(target).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and stat.S_ISDIR(mode):
            raise UserError(f"{target}: is a directory; give the name of a file to write")
        if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            raise UserError(f"{target}: not a regular file; iosim writes a new file in its "
                            "place, so give the name of a file")
        parent = target.parent
        if not parent.is_dir():
            raise UserError(f"{target}: no such directory {parent}")
        fd, probe = _create_unique(target)
    except OSError as exc:
        raise UserError(f"{target}: cannot write in {target.parent} ({exc.strerror})") from None
    except ValueError as exc:  # a NUL in the name
        raise UserError(f"{str(path)!r}: not a file name ({exc})") from None
    os.close(fd)
    os.unlink(probe)
    return target


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when two output names are one file (``x.json`` and ``./x.json``)."""
    try:
        return os.path.realpath(a) == os.path.realpath(b)
    except (OSError, ValueError):
        return False


def _create_unique(target: Path) -> tuple[int, Path]:
    """A new file beside ``target``, named for this writer alone, created exclusively and never
    through a symbolic link: two writers of one output never share a temporary file, and a link
    planted at a predictable name cannot redirect the write. The name is kept short enough for
    any target whose own name fits."""
    tmp = target.with_name(f".{target.name[:200]}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    return os.open(tmp, flags, 0o644), tmp


@contextmanager
def atomic_open(path: str | os.PathLike[str],
                newline: str | None = None) -> Iterator[TextIO]:
    """A text file beside ``path`` that takes its place only once written in full: an
    interrupted or failed write (an error, Ctrl-C, a full disk) never leaves half a file and
    never replaces a good one. A write that fails is one line naming the file."""
    with _atomic(path, "w", newline) as f:
        yield f


@contextmanager
def atomic_open_binary(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """As atomic_open, for bytes (images)."""
    with _atomic(path, "wb", None) as f:
        yield f


@contextmanager
def _atomic(path: str | os.PathLike[str], mode: str, newline: str | None) -> Iterator[Any]:
    target = Path(path)
    try:
        fd, tmp = _create_unique(target)
    except OSError as exc:
        raise UserError(f"{target}: cannot write ({exc.strerror})") from None
    try:
        if "b" in mode:
            f = open(fd, mode)
        else:
            f = open(fd, mode, encoding="utf-8", newline=newline)
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # a full disk may only tell at the flush to the device
        os.replace(tmp, target)
    except OSError as exc:
        kept = " (the older file is kept)" if target.exists() else ""
        raise UserError(f"{target}: cannot write ({exc.strerror or exc}); nothing was "
                        f"written{kept}") from None
    finally:
        tmp.unlink(missing_ok=True)


def read_small_bytes(path: str | os.PathLike[str], limit: int, what: str) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes: a device (/dev/zero), a pipe or
    a directory is refused before anything is read, and so is a larger file."""
    name = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # opening a FIFO must not hang
    except FileNotFoundError:
        raise UserError(f"{name}: no such file") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{name}: cannot read ({getattr(exc, 'strerror', None) or exc})"
                        ) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):  # before open(), which refuses a directory itself
        os.close(fd)
        raise UserError(f"{name}: not a regular file (a {what} is expected)")
    with open(fd, "rb") as f:
        if info.st_size > limit:
            raise UserError(f"{name}: {info.st_size:,} bytes; a {what} is at most "
                            f"{limit:,} bytes")
        try:
            data = f.read(info.st_size + 1)  # read(n) allocates n at once: the size, not limit
        except OSError as exc:
            raise UserError(f"{name}: cannot read ({exc.strerror})") from None
    if len(data) > info.st_size:
        raise UserError(f"{name}: changed while being read; try again once it is written")
    return data


def read_small_text(path: str | os.PathLike[str], limit: int, what: str) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes (see read_small_bytes)."""
    data = read_small_bytes(path, limit, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start}); a {what} is expected"
                        ) from None


def file_or_builtin(name_or_path: str, folder: Path) -> Path | None:
    """What an argument names: a file if it exists or looks like one (a suffix, a slash),
    else the built-in ``folder/NAME.toml``; None when it is neither."""
    path = Path(name_or_path)
    try:
        exists = path.exists()
    except (OSError, ValueError):  # a name too long for the file system, a NUL
        exists = False
    if exists or path.suffix or "/" in name_or_path:
        return path
    builtin = folder / f"{name_or_path}.toml"
    return builtin if builtin.exists() else None


def is_regular_file(path: str | os.PathLike[str]) -> bool:
    """True for a regular file (not a directory, device or pipe), found without opening it."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
MAX_STEM = 80


def safe_name(name: str, fallback: str = "iosim") -> str:
    """``name`` made fit to be a file name in the current directory: letters, digits and
    ``._+-`` only, no leading dot, not too long. A scenario's name (any text) becomes a
    default output name this way, so ``../x`` or ``/etc/x`` never leaves the directory."""
    stem = _UNSAFE.sub("-", name).strip("-.")[:MAX_STEM].strip("-.")
    return stem or fallback
