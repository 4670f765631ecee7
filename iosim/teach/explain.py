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

from iosim.teach.index import LaneTracks, RunIndex
from iosim.teach.moment import Doing, Moment
from iosim.teach.sentences import render
from iosim.teach.words import ALL_BLOCKED_LABEL, GIL_LABEL, MULTIPLEXERS, call_name
from iosim.trace import COPY_LABEL, Kind, Run

SUMMARIES = {
    "blocking": (
        "Blocking IO: recvfrom puts the process to sleep until a datagram arrives (phase 1) and "
        "keeps it blocked while the kernel copies the data into its buffer (phase 2). One system "
        "call per message, but while the process waits on one idle socket the others wait too."),
    "nonblocking": (
        "Non-blocking IO: with nothing queued, recvfrom returns EWOULDBLOCK at once, so the "
        "process polls, doing its own work between passes. Only the call does not wait: data "
        "that arrives between two polls waits for the next one, and the copy (phase 2) still "
        "blocks the process."),
    "select": (
        "IO multiplexing with select: the process sleeps in select until one of its sockets is "
        "readable, then calls recvfrom, which still blocks for the copy. select only reports "
        "readiness (two system calls where blocking makes one) and cannot watch a descriptor of "
        "1024 or more (FD_SETSIZE)."),
    "poll": (
        "IO multiplexing with poll: like select, the process sleeps until a socket is readable "
        "and recvfrom then copies the data. poll has no FD_SETSIZE limit, but every call still "
        "pays for every watched descriptor."),
    "epoll": (
        "IO multiplexing with epoll: each socket is registered once with epoll_ctl, then "
        "epoll_wait sleeps until some are readable, at a cost that does not grow with the idle "
        "ones. recvfrom still blocks for the copy."),
    "epoll-et": (
        "Edge-triggered epoll (EPOLLET): epoll_wait reports a socket once per arrival, not for "
        "as long as data is queued, and recvfrom still copies the data. This program reads once "
        "per report, so what a read leaves waits, unreported, until the next arrival; reading "
        "until EAGAIN after each report is the cure."),
    "sigio": (
        "Signal-driven IO: the process runs its own code until the kernel sends SIGIO to say "
        "that data has arrived. SIGIO only reports readiness and is not queued, so the handler "
        "reads every socket until EWOULDBLOCK, and each recvfrom still blocks for the copy."),
    "aio": (
        "Asynchronous IO: aio_read hands both phases to the kernel and returns at once; the "
        "kernel waits for the data, copies it into the buffer and only then signals. The "
        "process never blocks, but a message is handled only when its handler gets to it."),
    "threaded": (
        "A thread per connection: each thread blocks in recvfrom on its own socket, so an idle "
        "client holds up no one else. The threads share the CPU (in CPython the GIL runs one "
        "at a time), and each costs memory and context switches."),
    "asyncio": (
        "asyncio: one thread runs an event loop that sleeps in epoll_wait and resumes the task "
        "of each readable socket, which then reads it without blocking for data."),
}


def model_summary(model: str) -> str:
    """What an IO model is, in one or two plain sentences."""
    known = SUMMARIES.get(model)
    if known:
        return known
    return (f"{model}: a program iosim did not write; the timeline shows the system calls it "
            "made, as they were recorded.")


class Explainer:
    """Answers about one run at any time, each in O(log n) (see index.py)."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.index = RunIndex(run)
        self.exact = run.source == "sim" and not self.index.estimated
        self.done = sorted(t for t in run.m_done if t == t)

    # -- the code pane -------------------------------------------------------------------------

    def line_at(self, t: float, lane: int = 0) -> str | None:
        """The line key the thread of ``lane`` is executing at ``t``: that of the span covering
        t, or else of the latest event before t that has one. None when nothing with a key has
        happened yet, or when the lane is blocked on no line (every thread of the process
        asleep)."""
        tracks = self.index.lanes.get(self._lane(lane))
        if tracks is None or t < 0:
            return None
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
        return render(self.moment(t, lane), self.index.noun, ahead)

    def moment(self, t: float, lane: int = 0) -> Moment:
        lane = self._lane(lane)
        run = self.run
        subject = self._subject(lane)
        if t < 0 or not len(run):
            return Moment(t, lane, subject, Doing.BEFORE)
        if t >= run.end_us:
            return Moment(t, lane, subject, Doing.ENDED, done=self._done(t),
                          messages=run.message_count, error=run.error)
        if run.lanes[lane].role == "kernel":
            return self._kernel_moment(t, lane)
        tracks = self.index.lanes[lane]
        k = tracks.spans.covering(t)
        if k < 0:
            last = tracks.everything.latest(t)
            if last < 0:
                return Moment(t, lane, subject, Doing.BEFORE)
            i = tracks.everything.event[last]
            return Moment(t, lane, subject, Doing.IDLE, label=run.labels[run.label[i]],
                          start=run.t0[i], end=run.t1[i])
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
        outcome, outcome_call = self._outcome(tracks, start)
        if not call:
            call = outcome_call
        facts = self._data(t, conn)
        extra: dict = {}
        if doing is Doing.COPY:
            entered = tracks.calls.latest(start)
            since = tracks.calls.t0[entered] if entered >= 0 else start
            if not self.index.estimated:
                extra["nbytes"] = self.index.messages(conn).copied_within(start, end, since)
            extra["woken_copy"] = run.source != "sim" and outcome is Kind.WAKEUP
        elif doing is Doing.WORK:
            extra["asks_again"] = self._asks_again(tracks, outcome, call, end)
            extra["copying"] = None if self.index.estimated else self.index.all.copying(t)
            nxt = tracks.signals.next_after(t)
            extra["next_signal"] = tracks.signals.t0[nxt] if nxt >= 0 else None
        elif doing is Doing.PROCESS:
            msg = run.msg[i]
            if msg >= 0 and not self.index.estimated:
                extra["message_ready"] = run.m_ready[msg]
        return Moment(t, lane, self._subject(lane, conn if self.index.threaded else -1),
                      doing, call, label, start, end, outcome, self._handler(tracks, t), conn,
                      sockets=self.index.kernel_lanes, simulated=run.source == "sim",
                      never_blocked=lane not in self.index.blocked_lanes, **facts, **extra)

    # -- what the trace says about a moment ------------------------------------------------------

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
            if label == COPY_LABEL:
                return Doing.COPY
            if label == GIL_LABEL:
                return Doing.GIL
            if label == ALL_BLOCKED_LABEL:
                return Doing.ALL_BLOCKED
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

    def _outcome(self, tracks: LaneTracks, start: float) -> tuple[Kind | None, str]:
        """The result recorded on the lane at ``start`` (the last one, if several), and the
        call it is the result of."""
        positions = tracks.results.last_at(start)
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
        if tracks.handlers.covering(t) < 0:
            return ""
        k = tracks.signals.latest(t)
        if k < 0:
            return "signal"
        label = self.run.labels[self.run.label[tracks.signals.event[k]]]
        return "SIGIO" if "SIGIO" in label else "completion" if "aio" in label else "signal"

    def _data(self, t: float, conn: int) -> dict:
        """What is queued in the kernel for ``conn`` (all for -1), as far as it is known."""
        index = self.index
        if index.estimated or not index.run.message_count:
            return {}
        msgs = index.messages(conn)
        queued = msgs.queued(t)
        facts: dict = {"queued": queued, "first": msgs.arrived(t) == 0}
        if queued:
            facts["oldest_ready"] = self.run.m_ready[msgs.oldest_queued(t)]
            return facts
        if msgs.copying(t) or (conn < 0 and index.closes_pending(t)):
            return facts
        nxt = msgs.next_ready(t)
        if nxt < 0:
            facts["no_more"] = self.exact
        else:
            sent = self.run.m_sent[nxt]
            facts["nothing_yet"] = self.exact or (sent == sent and sent > t)
        return facts

    def _kernel_moment(self, t: float, lane: int) -> Moment:
        conn = self.run.lanes[lane].conn
        subject = self._subject(lane)
        facts = self._data(t, conn)
        copying = None if self.index.estimated else self.index.messages(conn).copying(t)
        return Moment(t, lane, subject, Doing.KERNEL, conn=conn, copying=copying, **facts)
