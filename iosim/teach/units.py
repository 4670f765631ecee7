"""Numbers as a student reads them: times in one unit (iosim.timefmt), bytes spelled out."""

from __future__ import annotations

from iosim.timefmt import format_us

__all__ = ["format_bytes", "format_us"]


def format_bytes(n: int) -> str:
    """ "1 byte", "1,024 bytes": thousands separated, the unit always spelled out."""
    return f"{n:,} byte" + ("" if n == 1 else "s")
