"""The handout's words, as pure logic: for each IO model who blocks in each phase, how its cost
grows, its pitfalls (the statements are Stevens's, Kerrisk's and the man pages'), and the
system calls of a simulated run counted from its trace, so the figures are the run's own."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from iosim.trace import Kind, Run
from iosim.view.compare import FIGURES

NAMES = {"blocking": "Blocking I/O", "nonblocking": "Nonblocking I/O",
         "select": "I/O multiplexing: select", "poll": "I/O multiplexing: poll",
         "epoll": "I/O multiplexing: epoll",
         "epoll-et": "I/O multiplexing: epoll, edge-triggered (EPOLLET)",
         "sigio": "Signal-driven I/O (SIGIO)",
         "aio": "Asynchronous I/O", "threaded": "Blocking I/O, a thread per connection"}
# the scenario each model's page shows
SCENARIOS = {"threaded": "many-clients", "epoll-et": "edge-triggered"}
DEFAULT_SCENARIO = "one-datagram"
_COPY_BLOCKS = "Blocked in recvfrom while the kernel copies the data into its buffer."


@dataclass(frozen=True)
class Sheet:
    model: str
    phase1: str
    phase2: str
    cost: str
    pitfalls: tuple[str, ...]

    @property
    def title(self) -> str:
        return NAMES[self.model]

    @property
    def figure(self) -> str:
        return f"Stevens, UNIX Network Programming vol. 1, §6.2, {FIGURES[self.model]}"


SHEETS = {s.model: s for s in (
    Sheet("blocking",
          "Blocked in recvfrom: the process sleeps, using no CPU, until data is ready.",
          _COPY_BLOCKS,
          "One system call per read. One process serves its sockets in turn: an idle socket "
          "holds up the others.",
          ("Head-of-line blocking: with several sockets, data on one waits while recvfrom "
           "sleeps on another.",
           "The sleeping process must be woken before the copy starts (about 100 µs in this "
           "cost profile).")),
    Sheet("nonblocking",
          "Not blocked: recvfrom returns EWOULDBLOCK at once and the process polls again "
          "(here after 1 ms of its own work).",
          _COPY_BLOCKS,
          "A call per socket on every poll, data or not: the calls grow with the time spent "
          "waiting and with the number of sockets.",
          ("Data waits in the receive queue until the next poll: up to one poll interval of "
           "latency.",
           "Every EWOULDBLOCK is a system call for nothing; a short interval is a busy loop.",
           "On Linux a socket returned by accept does not inherit O_NONBLOCK from the "
           "listening socket: set it on each.")),
    Sheet("select",
          "Blocked in select, waiting for one of possibly many sockets to become readable.",
          _COPY_BLOCKS,
          "Each call copies the descriptor sets in and out, and the kernel checks every "
          "descriptor up to the highest: the cost of a call grows with the descriptors "
          "watched (Kerrisk, TLPI Table 63-9).",
          ("FD_SETSIZE is 1024: select cannot watch descriptor 1024 or higher at all.",
           "select only reports readiness; it does not read: two system calls per read "
           "where blocking I/O needs one.")),
    Sheet("poll",
          "Blocked in poll, waiting for one of possibly many sockets to become readable.",
          _COPY_BLOCKS,
          "No FD_SETSIZE limit, but each call passes the whole pollfd array and the kernel "
          "checks every entry: the cost of a call grows with the descriptors watched.",
          ("With thousands of mostly idle connections most of the time goes to checking "
           "idle descriptors.",
           "poll only reports readiness: two system calls per read.")),
    Sheet("epoll",
          "Blocked in epoll_wait until a socket is on epoll's ready list.",
          _COPY_BLOCKS,
          "Each descriptor is registered once with epoll_ctl; epoll_wait takes the ready "
          "list that callbacks filled when data arrived. Its cost grows with the ready "
          "descriptors, not the watched ones.",
          ("Registering costs a system call per descriptor (c10k: 10,100 epoll_ctl calls, "
           "33 ms, before the first wait).",
           "Linux only. Edge-triggered mode (EPOLLET) reports a change once: read until "
           "EAGAIN.",
           "epoll only reports readiness: recvfrom still blocks for the copy.")),
    Sheet("epoll-et",
          "Blocked in epoll_wait until a socket's state changes: an arrival is reported "
          "once, not for as long as data stays queued.",
          _COPY_BLOCKS,
          "As epoll: each descriptor registered once (EPOLLIN | EPOLLET), a wait's cost grows "
          "with the ready descriptors; at most one report per arrival.",
          ("A read that leaves data behind is not reported again: the rest waits for the "
           "next arrival (this page's run reads 1 KB of each 4 KB message, once per report).",
           "The cure (epoll(7)): non-blocking sockets, and read until EAGAIN after each "
           "report.",
           "Linux only.")),
    Sheet("sigio",
          "Not blocked: the process continues executing; the kernel delivers SIGIO when the "
          "socket becomes readable.",
          "The handler's recvfrom blocks the process while the kernel copies the data.",
          "Set-up once (sigaction; fcntl F_SETOWN and O_ASYNC on each socket), then a signal "
          "and a handler per burst of readiness, plus the reads.",
          ("Signal-driven I/O is not asynchronous I/O: SIGIO only says the data can be read.",
           "SIGIO is not queued: one signal can stand for many arrivals; read each socket "
           "until EWOULDBLOCK.",
           "On TCP, SIGIO also comes on connect, close, half-close, send space and errors.")),
    Sheet("aio",
          "Not blocked: aio_read returns at once and the process continues executing.",
          "Not blocked: the data is copied into the buffer while the process runs; a signal "
          "(or a completion entry) says it is done.",
          "A request per read; the completion is a signal (POSIX aio) or an entry in a ring "
          "(io_uring), then the process still handles the data.",
          ("On Linux, glibc's aio_read runs a blocking read in a helper thread of the "
           "process; io_uring is the kernel's own completion model (a ring, no signal by "
           "default).",
           "Copied early is not handled early: the completion must still be noticed, and "
           "the data processed.",
           "The buffer is the kernel's until the operation completes: do not touch it.")),
    Sheet("threaded",
          "Each thread is blocked in recvfrom on its own socket; the other threads run.",
          "That thread is blocked while the kernel copies; the others are not.",
          "A thread per connection: stacks, kernel threads and context switches grow with "
          "the connections.",
          ("In CPython the GIL lets one thread run Python code at a time; a thread in a "
           "blocking system call has released it.",
           "Thousands of threads cost memory and scheduling; shared state needs locks.")),
)}


def scenario_of(model: str) -> str:
    return SCENARIOS.get(model, DEFAULT_SCENARIO)


def calls_sentence(run: Run) -> str:
    """The run's system calls counted from its trace: "22 system calls: 22 × recvfrom (21
    returned EWOULDBLOCK)"."""
    names: Counter[str] = Counter()
    ewouldblock = 0
    for kind, label in zip(run.kind, run.label, strict=True):
        if kind == Kind.SYSCALL:
            text = run.labels[label]
            names[text.split()[0] if text else "?"] += 1
        elif kind == Kind.EWOULDBLOCK:
            ewouldblock += 1
    total = sum(names.values())
    listing = ", ".join(name if n == 1 else f"{n:,} × {name}" for name, n in names.items())
    extra = f" ({ewouldblock:,} returned EWOULDBLOCK)" if ewouldblock else ""
    messages = run.message_count
    return f"{total:,} system call{'s' if total != 1 else ''} for {messages:,} " \
           f"message{'s' if messages != 1 else ''}: {listing}{extra}"
