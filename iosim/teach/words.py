"""The vocabulary shared by the sentences and the questions: names of calls, the labels the
sources write, and the nouns of a run (UDP datagrams, TCP data)."""

from __future__ import annotations

from iosim.trace import Kind, Run

READS = frozenset({"recvfrom", "recv", "recvmsg", "read", "readv", "aio_return"})
MULTIPLEXERS = frozenset({"select", "pselect6", "poll", "ppoll", "epoll_wait", "epoll_pwait"})
NOT_CALLS = frozenset({"process", "work", "handler"})  # line keys that are not system calls
CODE_WORDS = READS | MULTIPLEXERS | {"sigaction", "fcntl", "epoll_create", "epoll_ctl",
                                     "aio_read"}
BLOCKS_IN = "process blocks in call to "
GIL_LABEL = "waiting for the GIL"
ALL_BLOCKED_LABEL = "all threads blocked"
MAIN_LOOP_LABEL = "process continues executing"


class Words:
    """The nouns of a run: UDP has datagrams, TCP a byte stream ("data")."""

    def __init__(self, noun: str) -> None:
        self.udp = noun == "datagram"
        self.noun = noun
        self.the = "the datagram" if self.udp else "the data"
        self.a = "a datagram" if self.udp else "data"
        self.no = "no datagram" if self.udp else "no data"

    def count(self, n: int) -> str:
        if self.udp:
            return f"{n} datagram" + ("" if n == 1 else "s")
        return f"{n} message" + ("" if n == 1 else "s")


def noun_of(run: Run) -> str:
    """ "datagram" for a UDP run (its labels say so), else "data"."""
    return "datagram" if ("datagram ready" in run.labels
                          or "process datagram" in run.labels) else "data"


def call_name(run: Run, i: int) -> str:
    """The system call event ``i`` belongs to, from its line key or its label ("" unknown)."""
    line = run.line[i]
    if line >= 0 and run.code[line] not in NOT_CALLS:
        return run.code[line]
    label = run.labels[run.label[i]]
    if label.startswith(BLOCKS_IN):
        return label[len(BLOCKS_IN):].split(",")[0]
    if run.kind[i] == Kind.SYSCALL:
        return label
    return ""


def capital(sentence: str, code: str = "") -> str:
    """A sentence starts with a capital, unless it starts with a name from the code
    (recvfrom stays recvfrom); ``code`` is one more such name."""
    first = sentence.split(" ", 1)[0].rstrip(":,;")
    if first in CODE_WORDS or "_" in first or (code and first == code.split()[0]):
        return sentence
    return sentence[:1].upper() + sentence[1:]
