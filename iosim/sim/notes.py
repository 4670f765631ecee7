"""The labels of what waits in the kernel, written on a connection's kernel lane as QUEUED
spans (beside phase 1 and 2): what a state pane shows of a socket at the playhead. Each span
covers the time it waits; its label says what it is, and a dropped datagram's label how it
ended. docs/simulator.md lists them."""

from __future__ import annotations

DROP_LABEL = "checksum bad: the datagram is dropped"  # the end of a corrupt datagram's copy
ACCEPT_NOTE = "connection established, in the accept queue"
CORRUPT_NOTE = "datagram with a bad checksum queued, not yet checked"


def note(what: str, nbytes: int = 0) -> str:
    """The label of a kernel lane's note: ``what`` waits there ("left": the ``nbytes`` a read
    left of a message; "corrupt"; "accept")."""
    if what == "left":
        return f"{nbytes:,} bytes left queued after a read"
    return CORRUPT_NOTE if what == "corrupt" else ACCEPT_NOTE
