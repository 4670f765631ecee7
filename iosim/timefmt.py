"""Times and numbers as people read them: one readable unit, never scientific notation.

Used wherever iosim prints a time for a person (the window, the summary's sentences), so that
999.6 µs never reads "1e+03 µs" and one axis never mixes µs and ms.
"""

from __future__ import annotations

import math

SIGNIFICANT = 4  # plain numbers (the window's speed) keep this many significant digits
UNITS = (("s", 1_000_000.0), ("ms", 1000.0), ("µs", 1.0))


def plain(value: float, significant: int = SIGNIFICANT) -> str:
    """A number with at most ``significant`` significant digits, no exponent, no trailing
    zeros: 999.6, 15.9, 100, 0.256, 12288."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    decimals = max(0, significant - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_us(us: float) -> str:
    """A time or duration in µs in one readable unit: "0.256 µs", "15.9 µs", "999.6 µs",
    "1.240 ms", "20.000 ms", "12.500 s". Below 1 µs three decimals, below 1 ms one, then
    milliseconds with three (to the µs), from 10 s seconds; the unit is chosen after rounding,
    so 999.96 µs reads "1.000 ms"."""
    if not math.isfinite(us):
        return "unknown"
    if us == 0:
        return "0 µs"
    size = abs(us)
    if round(size / 1000.0, 3) >= 10_000.0:
        return f"{us / 1_000_000.0:.3f} s"
    if round(size, 1) >= 1000.0:
        return f"{us / 1000.0:.3f} ms"
    if round(size, 3) >= 1.0:
        return f"{us:.1f} µs"
    return f"{us:.3f} µs"


def axis_unit(span_us: float) -> tuple[str, float]:
    """The one unit for an axis whose ticks are ``span_us`` apart (or whose largest time is
    ``span_us``): (name, µs per unit)."""
    for name, size in UNITS:
        if span_us >= size:
            return name, size
    return "µs", 1.0


def nice_step(span: float, target_ticks: int) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about ``target_ticks``."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(target_ticks, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5):
        if raw <= mult * power * (1 + 1e-9):
            return mult * power
    return 10 * power


def tick_labels(times_us: list[float], step_us: float | None = None) -> list[str]:
    """Labels for the ticks of one axis, all in one unit, the unit of the largest time shown;
    to scale with the decimals the tick step needs, schematic with up to three."""
    if not times_us:
        return []
    name, size = axis_unit(max(abs(t) for t in times_us))
    if step_us:
        decimals = max(0, -math.floor(math.log10(step_us / size) + 1e-9))
    else:
        decimals = 3 if name != "µs" else 1
    out = []
    for t in times_us:
        text = f"{t / size:.{decimals}f}"
        if not step_us and "." in text:
            text = text.rstrip("0").rstrip(".")
        out.append(f"{text} {name}")
    return out
