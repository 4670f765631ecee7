"""Teaching: each model's program with the line a thread is on, sentences about the current
moment, and predict-then-reveal questions, all read from a Trace (no drawing here)."""

from iosim.teach.units import format_us

__all__ = ["format_us"]
