"""Checks shared by the readers of user files (scenarios, cost profiles): how a bad value is
shown, whether a number is one the simulator can use, and on which line of a TOML file a key
is written, so that every refusal names the file, the key and the line."""

from __future__ import annotations

import datetime
import math
import re
import reprlib
import tomllib
import unicodedata
from typing import Any

from iosim.errors import UserError

HOUR_MS = 3_600_000.0  # one simulated hour: the longest time or cost a scenario may give
HOUR_US = HOUR_MS * 1000.0

_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40
_repr.maxlist = _repr.maxtuple = _repr.maxdict = 4
_repr.maxlevel = 2
_HUGE = 10**20


def show(value: Any) -> str:
    """A value as a message may quote it: short, whatever its size or depth (a 400-digit
    integer, a list nested 300 deep, a megabyte of text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) >= _HUGE:
        return f"an integer of {value.bit_length()} bits"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (datetime.date, datetime.time)):  # TOML's dates and times
        return value.isoformat()
    return _repr.repr(value)


def number_problem(value: Any, *, integer: bool = False, low: float = 0.0,
                   high: float | None = None, positive: bool = False, unit: str = "") -> str | None:
    """What is wrong with ``value`` as a number in [low, high] (above 0 when ``positive``), or
    None. Integers of any size are compared exactly, never converted (2**1000 is no float)."""
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        return f"must be {'an integer' if integer else 'a number'}, not {show(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, not {value}"
    if value < low:
        return f"must not be {'negative' if low == 0 else f'below {low:g}'} ({show(value)})"
    if positive and value == 0:
        return "must be at least 1, not 0" if integer else "must be greater than 0"
    if high is not None and value > high:
        return f"must be at most {high:,.{0 if high == int(high) else 3}f}{unit}, " \
               f"not {show(value)}"
    return None


def text_problem(value: Any, max_chars: int) -> str | None:
    """What is wrong with ``value`` as a name or title shown in the window and used in file
    names, or None: a non-empty string of printable characters, not too long."""
    if not isinstance(value, str) or not value:
        return f"must be a non-empty string, not {show(value)}"
    if len(value) > max_chars:
        return f"must be at most {max_chars} characters, not {len(value)}"
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        return "must not contain control characters"
    return None


_HEADER = re.compile(r"^\s*(\[\[?)\s*([\w.\"' -]+?)\s*\]\]?")


class TomlLines:
    """Finds the line of a key in TOML text: ``line_of("connections.bytes", 2)`` looks inside
    the third ``[[connections]]`` block, ``line_of("process.work_us")`` inside ``[process]``
    or at a dotted ``process.work_us =``; a key that is not written gives its block's line."""

    def __init__(self, text: str | None) -> None:
        self.lines = text.splitlines() if text else []
        self.headers: list[tuple[int, str, bool]] = []  # (index, table name, array of tables)
        for index, line in enumerate(self.lines):
            match = _HEADER.match(line)
            if match:
                name = re.sub(r"[\"'\s]", "", match.group(2))
                self.headers.append((index, name, match.group(1) == "[["))

    def line_of(self, key: str, occurrence: int = 0) -> int | None:
        if not self.lines:
            return None
        *tables, leaf = key.split(".")
        table = ".".join(tables)
        first_header = self.headers[0][0] if self.headers else len(self.lines)
        if not table:
            return self._find(leaf, 0, first_header)
        blocks = [k for k, (_, name, _) in enumerate(self.headers) if name == table]
        if blocks:
            k = blocks[min(occurrence, len(blocks) - 1)]
            start = self.headers[k][0]
            stop = self.headers[k + 1][0] if k + 1 < len(self.headers) else len(self.lines)
            return self._find(leaf, start + 1, stop) or start + 1
        return self._find(f"{table}.{leaf}", 0, first_header) or \
            self._find(table, 0, first_header)

    def _find(self, key: str, start: int, stop: int) -> int | None:
        parts = [re.escape(p) for p in key.split(".")]
        pattern = re.compile(r"^\s*" + r"\s*\.\s*".join(rf"[\"']?{p}[\"']?" for p in parts)
                             + r"\s*=")
        for index in range(start, stop):
            if pattern.match(self.lines[index]):
                return index + 1
        return None


MAX_KEY_PARTS = 32  # a.b.c = ...: iosim's files use two; tomllib's time grows as the square
# A dotted key once spaces and tabs are gone: a bare or quoted part, then dots and parts. It
# starts only where no part goes on (a part cannot start inside a word, after a dot or at an
# escaped quote), so the look stays linear in the text's length.
_PART = r"""(?:[\w-]++|"(?:[^"\\\n]|\\.)*+"|'[^'\n]*+')"""
_LONG_KEY = re.compile(rf"(?<![\w.\\-]){_PART}(?:\.{_PART}){{{MAX_KEY_PARTS}}}")
_BLANKS = str.maketrans("", "", " \t")


def long_key_line(text: str) -> int | None:
    """The line of the first key of more than MAX_KEY_PARTS dotted parts, or None. (A string
    of that many dotted words is taken for one too: no file of iosim's holds such a thing.)"""
    if text.count(".") < MAX_KEY_PARTS:
        return None
    packed = text.translate(_BLANKS)
    found = _LONG_KEY.search(packed)
    return None if found is None else packed.count("\n", 0, found.start()) + 1


def load_toml(text: str, where: str, nesting: str) -> dict[str, Any]:
    """TOML text as a dict, or UserError naming ``where``; ``nesting`` says how deep such a
    file nests. Deep nesting is refused at once: arrays and inline tables by tomllib's
    recursion limit, dotted keys thousands deep (tomllib would take minutes and gigabytes
    over them) by a look at the text first. The line numbers of the text stay as they were:
    only spaces and tabs are taken out of the copy looked at."""
    line = long_key_line(text)
    if line is not None:
        raise UserError(f"{where}, line {line}: a key of more than {MAX_KEY_PARTS} dotted "
                        f"parts ({nesting})")
    try:
        return tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError, or an integer of more than 4300 digits
        raise UserError(f"{where}: TOML syntax error: {exc}") from None
    except RecursionError:
        raise UserError(f"{where}: arrays or tables nested too deeply ({nesting})") from None
