"""The vocabulary shared by the sentences and the questions: names of calls, the labels the
sources write, and the nouns of a run (UDP datagrams, TCP data)."""

from __future__ import annotations

from iosim.sim.costs import Costs
from iosim.trace import Kind, Run

DEFAULT_COSTS = Costs().to_dict()  # as a simulated run's meta records its cost profile
# What only ``iosim calibrate`` fits (0 by default): a profile with one of them is calibrated
CALIBRATED_KEYS = ("wakeup_idle_us", "call_after_wake_us", "signal_idle_us", "handle_us",
                   "call_overhead_us", "start_us", "cold_start_us", "send_us")

READS = frozenset({"recvfrom", "recv", "recvmsg", "read", "readv", "aio_return"})
MULTIPLEXERS = frozenset({"select", "pselect6", "poll", "ppoll", "epoll_wait", "epoll_pwait"})
NOT_CALLS = frozenset({"process", "work", "handler"})  # line keys that are not system calls
CODE_WORDS = READS | MULTIPLEXERS | {"sigaction", "fcntl", "epoll_create", "epoll_ctl",
                                     "aio_read"}
BLOCKS_IN = "process blocks in call to "
GIL_LABEL = "waiting for the GIL"
GIL_HANDOFF_LABEL = "the GIL handed over: the CPU switches threads"
ALL_BLOCKED_LABEL = "all threads blocked"
MAIN_LOOP_LABEL = "process continues executing"
OVERHEAD_LABEL = "call overhead (entry, exit, interpreter)"
READY_LIST_LABEL = "epoll_wait takes its ready list"  # epoll_wait, once woken
RESCAN_LABEL = "scans again"  # select and poll, once woken: "select ..."
INTERRUPT_LABEL = "SIGIO taken meanwhile (the handler notes it)"
COLD_LABEL = "first reads: cold code and caches"
RING_LABEL = "completion seen in the ring (no signal)"  # io_uring: iosim's real aio server
COMPLETION_HANDLER = "completion handler"  # io_uring: the loop that takes the completions
BIG_TCP_READ = 65536  # bytes: more than loopback's largest segment, so real TCP splits them


class Words:
    """The nouns of a run: UDP has datagrams, TCP a byte stream ("data")."""

    def __init__(self, noun: str, read: str = "recvfrom") -> None:
        self.udp = noun == "datagram"
        self.read = read  # the call that copies the data (a traced program's own: read, recv)
        self.noun = noun
        self.the = "the datagram" if self.udp else "the data"
        self.a = "a datagram" if self.udp else "data"
        self.no = "no datagram" if self.udp else "no data"

    def count(self, n: int) -> str:
        if self.udp:
            return f"{n} datagram" + ("" if n == 1 else "s")
        return f"{n} message" + ("" if n == 1 else "s")

    @property
    def goodbye(self) -> str:
        """What a read that returns 0 means: TCP's peer closed; UDP has no close, iosim's
        clients send an empty datagram to say goodbye."""
        return ("the client's empty goodbye datagram" if self.udp
                else "the peer closed the connection")


def costs_note(run: Run) -> str:
    """Where a run's durations come from, as a sentence's aside: a simulation's are its cost
    profile's figures (the defaults, a calibrated profile from iosim calibrate, known by the
    terms only it fits, or a scenario's own [costs]), a real run's were measured, a traced
    run's recorded by the tracer."""
    if run.source == "real":
        return "as measured"
    if run.source != "sim":
        return "as traced"
    costs = run.meta.get("costs")
    if costs == DEFAULT_COSTS:
        return "a figure of the default cost profile"
    if isinstance(costs, dict) and any(costs.get(k) for k in CALIBRATED_KEYS):
        return "a figure of this run's calibrated cost profile, not the defaults"
    return "a figure of this run's cost profile, not the defaults"


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
