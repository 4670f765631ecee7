"""Which of a long run's messages a spool keeps on disk: a bound the user chooses
(``--keep``), so that an hour of serving fills a few megabytes rather than gigabytes.

Blocks are kept or left out whole (a block is 0.2 s of rows at most), so a policy keeps at least
the messages it names, rounded up to whole blocks; the counters of the whole run are kept
whatever the policy.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_KEEP = "last:100000"
KEEP_HELP = ("which messages the trace keeps: all, first:N, last:N (the last N messages, "
             "rounded up to whole blocks; the file holds at most about 2N while serving) or "
             f"every:K (one block of rows in K); default {DEFAULT_KEEP}")


@dataclass(frozen=True)
class Keep:
    how: str  # "all", "first", "last" or "every"
    n: int = 0

    def __str__(self) -> str:
        return self.how if self.how == "all" else f"{self.how}:{self.n}"

    def writes(self, seq: int, written_messages: int) -> bool:
        """Whether block ``seq`` goes to disk, given the messages written before it."""
        if self.how == "first":
            return written_messages < self.n
        if self.how == "every":
            return seq % self.n == 0
        return True


def parse_keep(text: str) -> Keep:
    """``all``, ``first:N``, ``last:N`` or ``every:K`` (N, K >= 1); ValueError says why not."""
    if text == "all":
        return Keep("all")
    how, sep, number = text.partition(":")
    if not sep or how not in ("first", "last", "every"):
        raise ValueError(f"{text!r} is not all, first:N, last:N or every:K")
    try:
        n = int(number)
    except ValueError:
        raise ValueError(f"{text!r}: {number!r} is not a whole number") from None
    if n < 1:
        raise ValueError(f"{text!r}: the number must be at least 1")
    return Keep(how, n)
