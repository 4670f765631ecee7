"""Numbers as a student reads them: one unit per time, never scientific notation."""

from __future__ import annotations

import math


def format_us(us: float) -> str:
    """A time in µs, in one readable unit: "0.256 µs", "15.9 µs", "999.6 µs", "1.240 ms",
    "20.000 ms". Below 1 µs three decimals, below 1 ms one, from 1 ms on milliseconds with
    three; the unit is chosen after rounding, so 999.96 µs reads "1.000 ms"."""
    if not math.isfinite(us):
        return "unknown"
    if us == 0:
        return "0 µs"
    size = abs(us)
    if round(size, 1) >= 1000.0:
        return f"{us / 1000.0:.3f} ms"
    if round(size, 3) >= 1.0:
        return f"{us:.1f} µs"
    return f"{us:.3f} µs"


def format_bytes(n: int) -> str:
    """ "1 byte", "1,024 bytes": thousands separated, the unit always spelled out."""
    return f"{n:,} byte" + ("" if n == 1 else "s")
