"""The kinds of event a student is asked to predict, as choices: what they say and why they
happen, and each model's vocabulary for wrong choices drawn from the other models."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from iosim.teach.words import MULTIPLEXERS, Words, capital


class What(StrEnum):
    """The kinds of significant event, most telling first: when several happen at the same
    instant, the first is the one asked about."""

    ERROR = "error"
    SIGIO = "sigio"
    AIO_SIGNAL = "aio signal"
    SIGNAL = "signal"
    READABLE = "readable"
    EWOULDBLOCK = "ewouldblock"
    EOF = "eof"
    RETURNS = "returns"
    RETURNS_AT_ONCE = "returns at once"
    COPY_DONE = "copy done"
    COPY_STARTS = "copy starts"
    ARRIVES = "arrives"
    BLOCKS = "blocks"
    WAKES = "wakes"
    PROCESSES = "processes"
    OWN_WORK = "own work"


PRIORITY = {what: n for n, what in enumerate(What)}
POLLING, MAIN_LOOP = "polling", "main loop"  # the two kinds of own work


@dataclass(frozen=True)
class Happening:
    """One kind of event as a choice: what, the call it concerns, who does it ("" the
    process), and how the process came to it (own work: polling or the main loop)."""

    what: What
    call: str = ""
    who: str = ""
    how: str = ""

    @property
    def key(self) -> tuple[What, str]:
        """Two happenings with the same key are the same event for a student: "thread 2
        blocks in recvfrom" makes "the process blocks in recvfrom" true too."""
        return self.what, self.call

    def text(self, w: Words) -> str:
        subject = self.who or "the process"
        call = self.call or "the call"
        calls = f"{self.who}'s {call}" if self.who else call  # "thread 2's recvfrom"
        return capital({
            What.ERROR: "the run stops with an error",
            What.SIGIO: "the kernel delivers SIGIO",
            What.AIO_SIGNAL: "the kernel delivers the aio completion signal",
            What.SIGNAL: "the kernel delivers a signal",
            What.READABLE: f"{calls} returns readable",
            What.EWOULDBLOCK: f"{calls} returns EWOULDBLOCK",
            What.EOF: f"{calls} returns 0: {w.goodbye}",
            What.RETURNS: f"{calls} returns the data",
            What.RETURNS_AT_ONCE: f"{calls} returns at once",
            What.COPY_DONE: f"the kernel finishes copying {w.the} into the aio_read buffer",
            What.COPY_STARTS: f"the kernel starts copying {w.the} into the buffer",
            What.ARRIVES: f"{w.a} arrives in the kernel",
            What.BLOCKS: f"{subject} blocks in {call}",
            What.WAKES: f"{subject} wakes up",
            What.PROCESSES: f"{subject} starts processing {w.the}",
            What.OWN_WORK: f"{subject} keeps running its own work",
        }[self.what], self.call)

    def because(self, w: Words, error: str | None) -> str:
        """Why it happens, in one clause (the reveal's reason)."""
        s = self.who or "the process"
        call = self.call or "the call"
        if self.what is What.BLOCKS:
            if call in MULTIPLEXERS:
                return (f"no watched socket is readable, so {call} puts {s} to sleep until one "
                        "becomes readable")
            return (f"the socket is blocking and nothing is queued, so {call} puts {s} to sleep "
                    "until data arrives")
        if self.what is What.RETURNS and call == "aio_return":
            return "the kernel had already copied the data, so aio_return only collects it"
        if self.what is What.COPY_STARTS and not self.call:
            return (f"{w.the} has arrived, so the kernel copies it into the buffer given to "
                    "aio_read while the process runs on")
        if self.what is What.OWN_WORK and self.how == MAIN_LOOP:
            return (f"nothing needs {s} now, so it goes on with its own code until a signal "
                    "interrupts it")
        if self.what is What.ERROR:
            return f"the run stops here: {error or 'an error'}"
        if self.what is What.EOF:
            return f"{w.goodbye}, so {call} returns 0 and the server drops that socket"
        return {
            What.SIGIO: ("a socket with O_ASYNC set became readable, so the kernel sends SIGIO "
                         "to its owner; the data itself is still in the kernel"),
            What.AIO_SIGNAL: ("the kernel has finished the copy, so it sends the signal named "
                              "in aio_read: the data is already in the buffer"),
            What.SIGNAL: f"the kernel interrupts {s} with a signal",
            What.READABLE: (f"data is queued on a watched socket, so {call} returns and reports "
                            "it readable; it has read nothing"),
            What.EWOULDBLOCK: (f"the socket is non-blocking, so with nothing queued {call} "
                               "returns EWOULDBLOCK at once instead of sleeping"),
            What.RETURNS: (f"the kernel has finished copying the data into the buffer, so "
                           f"{call} returns with it"),
            What.RETURNS_AT_ONCE: (f"{call} only hands the read to the kernel, so it returns "
                                   "at once and the process goes on"),
            What.COPY_DONE: ("the kernel has finished copying into the buffer given to "
                             "aio_read, without the process"),
            What.COPY_STARTS: (f"{call} found data queued, so the kernel copies it into the "
                               f"buffer (phase 2) while {s} stays blocked"),
            What.ARRIVES: (f"{w.the} has crossed the network and is queued on its socket: "
                           "phase 1 ends for a call waiting on that socket, if one is"),
            What.WAKES: f"the socket {s} sleeps on has become readable, so the kernel wakes it",
            What.PROCESSES: f"the data is now in the buffer, so {s} processes it",
            What.OWN_WORK: (f"nothing was queued, so {s} does its own work before it asks "
                            "again"),
        }[self.what]


# What each model's events can be, for wrong choices from the other models (who: the process).
READ = "recvfrom"
VOCABULARY: dict[str, tuple[Happening, ...]] = {
    "blocking": (Happening(What.BLOCKS, READ), Happening(What.WAKES),
                 Happening(What.COPY_STARTS, READ), Happening(What.RETURNS, READ),
                 Happening(What.EOF, READ), Happening(What.PROCESSES)),
    "nonblocking": (Happening(What.EWOULDBLOCK, READ), Happening(What.OWN_WORK, how=POLLING),
                    Happening(What.COPY_STARTS, READ), Happening(What.RETURNS, READ),
                    Happening(What.PROCESSES)),
    "select": (Happening(What.BLOCKS, "select"), Happening(What.READABLE, "select"),
               Happening(What.WAKES), Happening(What.RETURNS, READ)),
    "poll": (Happening(What.BLOCKS, "poll"), Happening(What.READABLE, "poll")),
    "epoll": (Happening(What.BLOCKS, "epoll_wait"), Happening(What.READABLE, "epoll_wait")),
    "sigio": (Happening(What.SIGIO), Happening(What.OWN_WORK, how=MAIN_LOOP),
              Happening(What.EWOULDBLOCK, READ), Happening(What.RETURNS, READ)),
    "aio": (Happening(What.RETURNS_AT_ONCE, "aio_read"), Happening(What.OWN_WORK, how=MAIN_LOOP),
            Happening(What.COPY_STARTS), Happening(What.COPY_DONE),
            Happening(What.AIO_SIGNAL), Happening(What.RETURNS, "aio_return")),
    "threaded": (Happening(What.BLOCKS, READ), Happening(What.WAKES)),
    "any": (Happening(What.ARRIVES),),
}

# The usual confusions: for a true event, the events students expect in its place.
RIVALS: dict[What, frozenset[What]] = {
    What.BLOCKS: frozenset({What.EWOULDBLOCK, What.RETURNS, What.OWN_WORK}),
    What.EWOULDBLOCK: frozenset({What.BLOCKS, What.RETURNS, What.OWN_WORK}),
    What.READABLE: frozenset({What.RETURNS, What.SIGIO, What.OWN_WORK, What.COPY_STARTS}),
    What.RETURNS: frozenset({What.READABLE, What.PROCESSES, What.EWOULDBLOCK, What.AIO_SIGNAL}),
    What.ARRIVES: frozenset({What.RETURNS, What.READABLE, What.SIGIO, What.WAKES}),
    What.WAKES: frozenset({What.RETURNS, What.READABLE, What.ARRIVES}),
    What.COPY_STARTS: frozenset({What.RETURNS, What.PROCESSES, What.READABLE}),
    What.COPY_DONE: frozenset({What.SIGIO, What.RETURNS, What.PROCESSES}),
    What.SIGIO: frozenset({What.RETURNS, What.READABLE, What.AIO_SIGNAL, What.OWN_WORK}),
    What.AIO_SIGNAL: frozenset({What.SIGIO, What.RETURNS, What.COPY_STARTS}),
    What.SIGNAL: frozenset({What.RETURNS, What.READABLE}),
    What.PROCESSES: frozenset({What.RETURNS, What.BLOCKS, What.OWN_WORK}),
    What.OWN_WORK: frozenset({What.BLOCKS, What.EWOULDBLOCK, What.SIGIO}),
    What.RETURNS_AT_ONCE: frozenset({What.BLOCKS, What.RETURNS}),
    What.EOF: frozenset({What.RETURNS, What.BLOCKS, What.EWOULDBLOCK}),
    What.ERROR: frozenset({What.BLOCKS, What.READABLE}),
}
