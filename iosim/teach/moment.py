"""A moment of a run as facts: what a lane is doing at a time, and what the kernel holds, each
read from the trace by the Explainer (explain.py) and put into words by sentences.py."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from iosim.trace import Kind


class Doing(StrEnum):
    """What a lane is doing at a moment."""

    BEFORE = "before"  # nothing recorded yet
    ENDED = "ended"  # the run is over
    ASLEEP = "asleep"  # blocked in a call, waiting
    WAKING = "waking"  # woken, not running yet (the wake-up's latency)
    COPY = "copy"  # blocked while the kernel copies (phase 2)
    IN_CALL = "in call"  # running inside a system call
    WORK = "work"  # the process's own work
    PROCESS = "process"  # processing a message
    DELIVERY = "delivery"  # the kernel delivering a signal
    OVERHEAD = "overhead"  # a real run's time between two recorded calls
    GIL = "gil"  # a thread waiting for the GIL while another runs Python code
    GIL_HANDOFF = "gil handoff"  # a thread handed the GIL, the CPU switching to it
    ALL_BLOCKED = "all blocked"  # no thread of the process runs
    HANDLER = "handler"  # in a signal handler, nothing finer recorded
    IDLE = "idle"  # between recorded events
    THREAD_ENDED = "thread ended"  # its last read returned 0 and the thread returned
    KERNEL = "kernel"  # a kernel lane: one connection's queue


@dataclass(frozen=True)
class Moment:
    """The facts about one lane at one time that the sentences are made of, each read from
    the trace (None: not known, so not said)."""

    t: float
    lane: int
    subject: str  # "the process", "thread 2", "connection 0"
    doing: Doing
    call: str = ""  # the system call concerned ("" unknown)
    label: str = ""  # the trace's label of what covers t
    start: float = 0.0  # of what covers t
    end: float = 0.0
    outcome: Kind | None = None  # the call result at ``start`` (EWOULDBLOCK before own work)
    handler: str = ""  # inside a handler: "SIGIO", "completion" or "signal"
    conn: int = -1  # the connection concerned (-1: all, or none)
    nbytes: int | None = None  # what the copy under way carries, when exactly known
    queued: int | None = None  # messages ready in the kernel, not yet being copied
    oldest_ready: float | None = None  # when the one queued longest became ready
    nothing_yet: bool = False  # certain: nothing queued or being copied, more still to come
    first: bool = False  # no message has arrived so far (for "yet" rather than "new")
    no_more: bool = False  # certain (simulation): nothing queued and nothing more will come
    copying: int | None = None  # kernel copies under way (all connections)
    asks_again: bool = False  # own work ends with the same call made again
    next_signal: float | None = None  # the next signal delivered on this lane
    message_ready: float | None = None  # the processed message's ready time
    sockets: int = 1  # connections with a kernel lane
    done: int = 0  # messages handled by t (for the end)
    messages: int = 0
    error: str | None = None
    woken_copy: bool = False  # a real read's wake-up and copy, which it cannot tell apart
    simulated: bool = True  # the source is the simulator: every span is what it says
    never_blocked: bool = False  # the lane is never blocked in this run (aio)
    model: str = ""  # the run's IO model ("aio" words depend on it)
    source: str = "sim"  # sim, real or traced
    costs: str = ""  # where durations come from ("a figure of the default cost profile")
    returns: Kind | None = None  # the call result that ends what covers t (aio_return's 0)
    elsewhere: int | None = None  # messages queued on the other sockets while one is waited on
    behind: int = -1  # kernel lane: the connection the process sleeps on, holding this one up
    dropped: int = 0  # UDP: bytes of a datagram beyond the buffer, lost (MSG_TRUNC)
    gil_holder: str = ""  # who holds the GIL a thread waits for ("thread 1")
    gil_doing: str = ""  # what the holder does: "processing a message", "handed the GIL"
    taken_by: str = ""  # an accept's EWOULDBLOCK: the thread whose accept took the connection
    in_kernel: str = ""  # all blocked: a thread running in the kernel ("thread 2")
    in_kernel_copy: bool = False  # ... and whether it is a copy (phase 2)
    left_conn: int = -1  # a connection where a read left part of a message queued
    left_bytes: int = 0  # ... and how many bytes
    dropped_bad: bool = False  # the copy under way is of a datagram with a bad checksum
