"""The words beside the timeline: what a model is, and what is happening right now.

``model_summary`` says in one or two sentences what an IO model is, written against the
misconceptions students bring (docs/teaching.md). ``Explainer`` reads one run and answers, for
a time and a lane, which program line the thread is on (``line_at``) and what is happening
(``now``), in present-tense sentences built from the trace alone. Each answer is a few bisects
on tables built once (index.py): the window asks every frame.

What the trace does not say is not said: arrival times are stated only where the run has them
from the kernel (not flagged as estimated), "nothing has arrived yet" only where it is certain
(a simulation, or a real run before the client even sent), and a run without line keys (an
older file, a traced program) lights no line.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter

from iosim.teach.index import LaneTracks, RunIndex
from iosim.teach.moment import Doing, Moment
from iosim.teach.programs import THREAD_RETURNS
from iosim.teach.sentences import render
from iosim.teach.words import (
    ALL_BLOCKED_LABEL,
    BLOCKS_IN,
    COMPLETION_HANDLER,
    GIL_HANDOFF_LABEL,
    GIL_LABEL,
    MULTIPLEXERS,
    call_name,
    costs_note,
    noun_of,
)
from iosim.trace import COPY_LABEL, Kind, Run

READ_BLOCK_LABEL = f"{BLOCKS_IN}recvfrom"
BLOCKED_DOINGS = {COPY_LABEL: Doing.COPY, GIL_LABEL: Doing.GIL,
                  GIL_HANDOFF_LABEL: Doing.GIL_HANDOFF, ALL_BLOCKED_LABEL: Doing.ALL_BLOCKED}
PYTHON_KINDS = {int(Kind.PROCESS): "processing a message", int(Kind.OVERHEAD): "Python code",
                int(Kind.WORK): "its own work"}  # what runs Python code on the process lane

SIGIO_ON_TCP = ("on TCP not only when data arrives but also on connect, close, half-close, "
                "send-buffer space and errors")
SUMMARIES = {
    "blocking": (
        "Blocking IO: recvfrom puts the process to sleep until data arrives (phase 1) and "
        "keeps it blocked while the kernel copies the data into its buffer (phase 2). "
        "{reads} A process that reads several sockets in turn sleeps on an idle one while data "
        "waits on the others (head-of-line blocking)."),
    "nonblocking": (
        "Non-blocking IO: with nothing queued, recvfrom returns EWOULDBLOCK at once, so the "
        "process polls, doing its own work between passes. Only the call does not wait: data "
        "that arrives between two polls waits for the next one, and the copy (phase 2) still "
        "blocks the process."),
    "select": (
        "IO multiplexing with select: the process sleeps in select until one of its sockets is "
        "readable, then calls recvfrom, which still blocks for the copy. select only reports "
        "readiness (two system calls where blocking makes one), copies and scans its "
        "descriptor sets on every call, and cannot watch a descriptor of 1024 or more "
        "(FD_SETSIZE)."),
    "poll": (
        "IO multiplexing with poll: like select, the process sleeps until a socket is readable "
        "and recvfrom then copies the data. poll has no FD_SETSIZE limit, but every call "
        "copies in and scans every watched descriptor."),
    "epoll": (
        "IO multiplexing with epoll: each socket is registered once with epoll_ctl, and when "
        "data arrives the socket's callback puts it on the epoll instance's ready list. "
        "epoll_wait sleeps until that list is not empty and returns it, at a cost that follows "
        "the ready sockets, not the watched ones; recvfrom still blocks for the copy."),
    "epoll-et": (
        "Edge-triggered epoll (EPOLLET): epoll_wait reports a socket once per arrival, not for "
        "as long as data is queued, and recvfrom still copies the data. This program reads once "
        "per report, so what a read leaves waits, unreported, until the next arrival; reading "
        "until EAGAIN after each report is the cure."),
    "sigio": (
        "Signal-driven IO: the process runs its own code until the kernel sends SIGIO for a "
        "socket with O_ASYNC{tcp}; SIGIO only reports readiness. Plain SIGIO names no "
        "descriptor, so the handler reads every "
        "socket, and is not queued, so it reads each until EWOULDBLOCK (F_SETSIG would give a "
        "queued real-time signal with si_fd); each recvfrom still blocks for the copy."),
    "aio": (
        "Asynchronous IO as POSIX defines it (Stevens's Figure 6.5), as this simulation runs "
        "it: aio_read returns at once; the kernel waits for the data, copies it into the "
        "buffer and only then sends the signal named in aio_read, so the process never "
        "blocks. Linux does it otherwise: glibc's aio_read runs a blocking read in a helper "
        "thread of the process (aio_return is a library call), and the kernel's own "
        "completion model is io_uring (a ring, no signal by default)."),
    "threaded": (
        "A thread per connection: each thread blocks in recvfrom on its own socket, so an idle "
        "client holds up no one else. In C the threads run in parallel on several cores; in "
        "CPython the GIL lets one thread run Python code at a time (it is let go around each "
        "system call), and each thread costs memory and context switches."),
    "asyncio": (
        "asyncio: one thread runs an event loop that sleeps in epoll_wait and resumes the task "
        "of each readable socket, which then reads it without blocking for data."),
}
URING_SUMMARY = (
    "Asynchronous IO through io_uring, Linux's own completion model (iosim's real aio "
    "server): each read is queued in a submission ring and returns at once; the kernel waits "
    "for the data and copies it into the buffer, and the process finds the completion in the "
    "completion ring between slices of its own work, with no signal. glibc's POSIX aio_read "
    "would instead run a blocking read in a helper thread.")
READS_UDP = "One recvfrom per datagram."
READS_TCP = ("One recvfrom per read, which takes whatever is queued, up to the buffer: one "
             "read may bring several messages, or part of one.")


def _read_call(run: Run) -> str:
    """The call that copies the data in this run: a traced program's own (read, recv, ...),
    the one it makes most; recvfrom for iosim's own models."""
    counts = Counter(run.labels[run.label[i]] for i in range(len(run))
                     if run.kind[i] == Kind.SYSCALL)
    reads = [name for name in ("recvfrom", "read", "recv", "recvmsg", "readv")
             if counts.get(name)]
    return max(reads, key=lambda name: counts[name]) if reads and run.source == "traced" \
        else "recvfrom"


def model_summary(model: str, noun: str = "datagram", source: str = "sim") -> str:
    """What an IO model is, in two or three plain sentences, in the words of its protocol
    (``noun``: "datagram" for UDP, "data" for TCP) and of its source: a real aio run is
    io_uring, a simulated one POSIX aio."""
    if model == "aio" and source == "real":
        return URING_SUMMARY
    known = SUMMARIES.get(model)
    if known:
        udp = noun == "datagram"
        return known.format(reads=READS_UDP if udp else READS_TCP,
                            tcp="" if udp else f", {SIGIO_ON_TCP}")
    return (f"{model}: a program iosim did not write; the timeline shows the system calls it "
            "made, as they were recorded.")


def run_summary(run: Run) -> str:
    """What the model of this run is (model_summary in the run's words)."""
    return model_summary(run.model, noun_of(run), run.source)


class Explainer:
    """Answers about one run at any time, each in O(log n) (see index.py)."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.index = RunIndex(run)
        self.exact = run.source == "sim" and not self.index.estimated
        self.done = sorted(t for t in run.m_done if t == t)
        self.accepted = _accepted(run)
        self.costs = costs_note(run)
        buffer = run.meta.get("buffer_bytes")
        self.buffer = buffer if isinstance(buffer, int) and buffer > 0 else None
        self.read = _read_call(run)

    # -- the code pane -------------------------------------------------------------------------

    def line_at(self, t: float, lane: int = 0) -> str | None:
        """The line key the thread of ``lane`` is executing at ``t``: that of the span covering
        t, or else of the latest event before t that has one; a thread that has ended is on its
        ``return``. None when nothing with a key has happened yet, or when the lane is blocked
        on no line (every thread of the process asleep)."""
        tracks = self.index.lanes.get(self._lane(lane))
        if tracks is None or t < 0:
            return None
        if t >= tracks.ended and self.run.code:
            return THREAD_RETURNS
        run = self.run
        k = tracks.spans.covering(t)
        if k >= 0:
            i = tracks.spans.event[k]
            if run.line[i] >= 0:
                return run.code[run.line[i]]
            if run.kind[i] == Kind.BLOCKED:
                return None
        k = tracks.keyed.latest(t)
        return run.code[run.line[tracks.keyed.event[k]]] if k >= 0 else None

    # -- the sentences -------------------------------------------------------------------------

    def now(self, t: float, lane: int = 0, ahead: bool = True) -> list[str]:
        """One to three present-tense sentences about this moment. ``ahead=False`` leaves out
        what the trace says comes later (predict mode asks about it)."""
        return render(self.moment(t, lane), self.index.noun, ahead, self.read)

    def moment(self, t: float, lane: int = 0) -> Moment:
        lane = self._lane(lane)
        run = self.run
        subject = self._subject(lane)
        about = {"model": run.model, "source": run.source, "costs": self.costs,
                 "simulated": run.source == "sim", "sockets": self.index.kernel_lanes}
        if t < 0 or not len(run):
            return Moment(t, lane, subject, Doing.BEFORE, **about)
        if t >= run.end_us:
            return Moment(t, lane, subject, Doing.ENDED, done=self._done(t),
                          messages=run.message_count, error=run.error, **about)
        if run.lanes[lane].role == "kernel":
            return self._kernel_moment(t, lane, about)
        tracks = self.index.lanes[lane]
        if t >= tracks.ended:
            return Moment(t, lane, subject, Doing.THREAD_ENDED, start=tracks.ended, **about)
        k = tracks.spans.covering(t)
        if k < 0:
            last = tracks.everything.latest(t)
            if last < 0:
                return Moment(t, lane, subject, Doing.BEFORE, **about)
            i = tracks.everything.event[last]
            return Moment(t, lane, subject, Doing.IDLE, label=run.labels[run.label[i]],
                          start=run.t0[i], end=run.t1[i], **about)
        i = tracks.spans.event[k]
        kind = Kind(run.kind[i])
        label = run.labels[run.label[i]]
        start, end, conn = run.t0[i], run.t1[i], run.conn[i]
        doing = self._doing(kind, label, tracks, start)
        call = self._call(i, tracks)
        if doing is Doing.ALL_BLOCKED:
            conn = -1
        elif doing in (Doing.ASLEEP, Doing.WAKING) and call in MULTIPLEXERS:
            conn = -1
        elif doing in (Doing.WORK, Doing.DELIVERY, Doing.HANDLER):
            conn = -1
        outcome, outcome_call = self._result(tracks, start)
        if not call:
            call = outcome_call
        facts = self._data(t, conn)
        extra: dict = {"returns": self._result(tracks, end)[0]}
        extra["left_conn"], extra["left_bytes"] = self.index.left_at(t)
        if doing is Doing.COPY:
            entered = tracks.calls.latest(start)
            since = tracks.calls.t0[entered] if entered >= 0 else start
            if not self.index.estimated:
                extra.update(self._copied(conn, start, end, since))
            extra["woken_copy"] = run.source != "sim" and outcome is Kind.WAKEUP
            extra["dropped_bad"] = self.index.dropped_copy(t, conn)
        elif doing is Doing.ASLEEP:  # a copy elsewhere, known or not: no "uses no CPU"
            extra["copying"] = self.index.all.copying(t)
            if conn >= 0 and lane == 0 and facts:
                extra["elsewhere"] = self.index.all.queued(t) - (facts.get("queued") or 0)
        elif doing is Doing.WORK:
            extra["asks_again"] = self._asks_again(tracks, outcome, call, end)
            if run.model == "aio" and not self.index.estimated:
                extra["copying"] = self.index.all.copying(t)
            nxt = tracks.signals.next_after(t)
            extra["next_signal"] = tracks.signals.t0[nxt] if nxt >= 0 else None
        elif doing is Doing.PROCESS:
            msg = run.msg[i]
            if msg >= 0 and not self.index.estimated:
                extra["message_ready"] = run.m_ready[msg]
        elif doing is Doing.GIL:
            extra.update(self._gil_holder(t))
        if outcome is Kind.EWOULDBLOCK and outcome_call == "accept":
            extra["taken_by"] = self._taken_by(lane, start)
        elif doing is Doing.ALL_BLOCKED:
            extra.update(self._in_kernel(t))
            extra["copying"] = self.index.all.copying(t)
        return Moment(t, lane, self._subject(lane, conn if self.index.threaded else -1),
                      doing, call, label, start, end, outcome, self._handler(tracks, t), conn,
                      never_blocked=lane not in self.index.blocked_lanes, **facts, **extra,
                      **about)

    # -- what the trace says about a moment ------------------------------------------------------

    def _taken_by(self, lane: int, t: float) -> str:
        """The other thread whose accept took a connection while this thread waited in its
        multiplexer (from the call's entry to its own accept finding the queue empty): the
        thundering herd's wasted wake-up; "" when the trace shows none."""
        entered, taken = self.accepted
        times = entered.get(lane, [])
        k = bisect_right(times, t) - 1
        if k < 0:
            return ""
        since = times[k]
        return next((self.run.lanes[other].name for at, other in reversed(taken)
                     if since <= at <= t and other != lane), "")


    def _lane(self, lane: int) -> int:
        if not 0 <= lane < len(self.run.lanes):
            raise ValueError(f"lane {lane} is not a lane of this run "
                             f"(0-{len(self.run.lanes) - 1})")
        return lane

    def _subject(self, lane: int, conn: int = -1) -> str:
        """Who acts: a thread by its lane's name; the process lane of a threaded run names the
        thread running on it when the event says which."""
        ln = self.run.lanes[lane]
        if ln.role == "thread":
            return ln.name
        if conn >= 0 and conn in self.index.thread_names:
            return self.index.thread_names[conn]
        if ln.role == "kernel":
            return f"connection {ln.conn}"
        return "the process"

    def _done(self, t: float) -> int:
        return bisect_right(self.done, t)

    def _doing(self, kind: Kind, label: str, tracks: LaneTracks, start: float) -> Doing:
        if kind is Kind.BLOCKED:
            found = BLOCKED_DOINGS.get(label)
            if found is not None:
                return found
            woken = any(self.run.kind[tracks.results.event[p]] == Kind.WAKEUP
                        for p in tracks.results.last_at(start))
            return Doing.WAKING if woken else Doing.ASLEEP
        return {Kind.IN_KERNEL: Doing.IN_CALL, Kind.WORK: Doing.WORK,
                Kind.PROCESS: Doing.PROCESS, Kind.DELIVERY: Doing.DELIVERY,
                Kind.OVERHEAD: Doing.OVERHEAD}.get(kind, Doing.IDLE)

    def _call(self, i: int, tracks: LaneTracks) -> str:
        """The system call an event belongs to: its line key, else its label's, else the
        latest call made on the lane."""
        run = self.run
        name = call_name(run, i)
        if name:
            return name
        label = run.labels[run.label[i]]
        if run.kind[i] in (Kind.BLOCKED, Kind.IN_KERNEL) and label != ALL_BLOCKED_LABEL:
            k = tracks.calls.latest(run.t0[i])
            if k >= 0:
                return run.labels[run.label[tracks.calls.event[k]]]
        return ""

    def _result(self, tracks: LaneTracks, at: float) -> tuple[Kind | None, str]:
        """The result recorded on the lane at ``at`` (the last one, if several), and the call
        it is the result of."""
        positions = tracks.results.last_at(at)
        if not positions:
            return None, ""
        i = tracks.results.event[positions[-1]]
        return Kind(self.run.kind[i]), self._call(i, tracks)

    def _asks_again(self, tracks: LaneTracks, outcome: Kind | None, call: str,
                    end: float) -> bool:
        """Own work after EWOULDBLOCK that ends with the same call made again: polling."""
        if outcome is not Kind.EWOULDBLOCK or not call:
            return False
        run = self.run
        return any(run.labels[run.label[tracks.calls.event[p]]] == call
                   for p in tracks.calls.last_at(end))

    def _handler(self, tracks: LaneTracks, t: float) -> str:
        k = tracks.handlers.covering(t)
        if k < 0:
            return ""
        run = self.run
        if run.labels[run.label[tracks.handlers.event[k]]] == COMPLETION_HANDLER:
            return "completion"
        k = tracks.signals.latest(t)
        if k < 0:
            return "signal"
        label = run.labels[run.label[tracks.signals.event[k]]]
        return "SIGIO" if "SIGIO" in label else "completion" if "aio" in label else "signal"

    def _copied(self, conn: int, start: float, end: float, since: float) -> dict:
        """What the copy in [start, end) carries: its bytes, and what a UDP read drops of a
        datagram larger than the buffer (MSG_TRUNC)."""
        nbytes = self.index.messages(conn).copied_within(start, end, since)
        if nbytes and self.index.noun == "datagram" and self.buffer and nbytes > self.buffer:
            return {"nbytes": self.buffer, "dropped": nbytes - self.buffer}
        return {"nbytes": nbytes}

    def _gil_holder(self, t: float) -> dict:
        """Who holds the GIL a thread waits for, as far as the trace shows it: the thread
        running Python code on the process lane, or the one just handed the GIL."""
        run = self.run
        k = self.index.lanes[0].spans.covering(t)
        if k >= 0:
            i = self.index.lanes[0].spans.event[k]
            if run.kind[i] in PYTHON_KINDS:
                return {"gil_holder": self.index.thread_names.get(run.conn[i], "another thread"),
                        "gil_doing": PYTHON_KINDS[run.kind[i]]}
        k = self.index.handoffs.covering(t)
        if k >= 0:
            lane = run.lane[self.index.handoffs.event[k]]
            return {"gil_holder": run.lanes[lane].name, "gil_doing": "handed"}
        return {}

    def _in_kernel(self, t: float) -> dict:
        """A thread running in the kernel while no thread runs Python code: a call's own time
        or a copy, CPU time of the process all the same."""
        k = self.index.kernel_cpu.covering(t)
        if k < 0:
            return {}
        i = self.index.kernel_cpu.event[k]
        return {"in_kernel": self.run.lanes[self.run.lane[i]].name,
                "in_kernel_copy": self.run.kind[i] == Kind.BLOCKED}

    def _data(self, t: float, conn: int) -> dict:
        """What is queued in the kernel for ``conn`` (all for -1), as far as it is known."""
        index = self.index
        if index.estimated or not index.run.message_count:
            return {}
        msgs = index.messages(conn)
        queued = msgs.queued(t)
        corrupt = index.corrupt_arrived(t, conn)  # no message, but a datagram all the same
        facts: dict = {"queued": queued, "first": msgs.arrived(t) == 0 and not corrupt}
        if queued:
            facts["oldest_ready"] = self.run.m_ready[msgs.oldest_queued(t)]
            return facts
        if msgs.copying(t) or (conn < 0 and index.closes_pending(t)) or corrupt:
            return facts
        nxt = msgs.next_ready(t)
        if nxt < 0:
            facts["no_more"] = self.exact
        else:
            sent = self.run.m_sent[nxt]
            facts["nothing_yet"] = self.exact or (sent == sent and sent > t)
        return facts

    def _kernel_moment(self, t: float, lane: int, about: dict) -> Moment:
        conn = self.run.lanes[lane].conn
        subject = self._subject(lane)
        facts = self._data(t, conn)
        copying = None if self.index.estimated else self.index.messages(conn).copying(t)
        return Moment(t, lane, subject, Doing.KERNEL, conn=conn, copying=copying,
                      behind=self._sleeping_on(t, conn) if facts.get("queued") else -1,
                      **facts, **about)

    def _sleeping_on(self, t: float, conn: int) -> int:
        """The other connection a single-threaded process sleeps on in a read at ``t``, which
        holds up the data queued on ``conn`` (-1: none)."""
        if self.index.threaded:
            return -1
        run = self.run
        k = self.index.lanes[0].spans.covering(t)
        if k < 0:
            return -1
        i = self.index.lanes[0].spans.event[k]
        other = run.conn[i]
        asleep = run.kind[i] == Kind.BLOCKED and run.labels[run.label[i]] == READ_BLOCK_LABEL
        return other if asleep and other not in (-1, conn) else -1


def _accepted(run: Run) -> tuple[dict[int, list[float]], list[tuple[float, int]]]:
    """When each thread entered a multiplexer, and each accept that returned a connection
    (time, lane), read once from the run's labels."""
    entered: dict[int, list[float]] = {}
    taken: list[tuple[float, int]] = []
    for i in range(len(run)):
        kind, label = run.kind[i], run.labels[run.label[i]]
        if kind == Kind.SYSCALL and label in MULTIPLEXERS:
            entered.setdefault(run.lane[i], []).append(run.t0[i])
        elif kind == Kind.RETURN and label.startswith("return connection"):
            taken.append((run.t0[i], run.lane[i]))
    return entered, taken
