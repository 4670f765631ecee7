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
from dataclasses import dataclass
from enum import StrEnum

from iosim.teach.index import LaneTracks, RunIndex, Track
from iosim.teach.units import format_bytes, format_us
from iosim.teach.words import (
    ALL_BLOCKED_LABEL,
    GIL_LABEL,
    MAIN_LOOP_LABEL,
    MULTIPLEXERS,
    READS,
    Words,
    call_name,
    capital,
)
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

MAX_SENTENCES = 3
JUST_NOW_US = 0.0005  # below this, "has just arrived" (format_us would print 0.000 µs)
SETUP_CALLS = {
    "sigaction": "sigaction installs the SIGIO handler",
    "fcntl F_SETOWN": "fcntl F_SETOWN makes {subject} the owner of a socket, so SIGIO goes to it",
    "fcntl O_ASYNC": "fcntl sets O_ASYNC on a socket: the kernel will send SIGIO when data arrives",
    "epoll_create": "epoll_create makes the epoll instance that will watch the sockets",
    "epoll_ctl": "epoll_ctl registers a socket with epoll, once, not on every wait",
    "aio_read": "aio_read hands a read to the kernel and returns at once: the kernel will wait "
                "for the data and copy it",
    "aio_return": "aio_return collects a finished read: the data is already in the buffer",
}


def model_summary(model: str) -> str:
    """What an IO model is, in one or two plain sentences."""
    known = SUMMARIES.get(model)
    if known:
        return known
    return (f"{model}: a program iosim did not write; the timeline shows the system calls it "
            "made, as they were recorded.")


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
    GIL = "gil"  # a thread waiting for the CPU
    ALL_BLOCKED = "all blocked"  # no thread of the process runs
    HANDLER = "handler"  # in a signal handler, nothing finer recorded
    IDLE = "idle"  # between recorded events
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
        if run.lanes[lane].role == "kernel":
            return self._kernel_moment(t, lane)
        subject = self._subject(lane)
        if t < 0 or not len(run):
            return Moment(t, lane, subject, Doing.BEFORE)
        if t >= run.end_us:
            return Moment(t, lane, subject, Doing.ENDED, done=self._done(t),
                          messages=run.message_count, error=run.error)
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
                        for p in _last(tracks.results, start))
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
        positions = _last(tracks.results, start)
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
                   for p in _last(tracks.calls, end))

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
        if t < 0:
            return Moment(t, lane, subject, Doing.BEFORE, conn=conn)
        facts = self._data(t, conn)
        copying = None if self.index.estimated else self.index.messages(conn).copying(t)
        return Moment(t, lane, subject, Doing.KERNEL, conn=conn, copying=copying, **facts)



def _last(track: Track, t: float) -> range:
    """Positions of a track's events at exactly ``t``, at most the last few."""
    found = track.at(t)
    return found[-8:]


# -- sentences ----------------------------------------------------------------------------------


def render(m: Moment, noun: str = "datagram", ahead: bool = True) -> list[str]:
    """The sentences of a moment: the first says what the lane does, the others add what the
    kernel holds or what this model is known for, at most three in all."""
    words = Words(noun)
    out = [s for s in _sentences(m, words, ahead) if s]
    return [capital(s, m.call) for s in out[:MAX_SENTENCES]]


def _sentences(m: Moment, w: Words, ahead: bool) -> list[str]:
    s = m.subject
    d = m.doing
    t = m.t
    if d is Doing.BEFORE:
        return [f"{s} has not done anything yet." if m.lane else "The run has not started yet."]
    if d is Doing.ENDED:
        if m.error:
            return [f"The run stopped: {m.error}."]
        return [f"The run is over: {m.done} of {w.count(m.messages)} handled."]
    if d is Doing.KERNEL:
        return _kernel(m, w)
    if d is Doing.IDLE:
        ended = "which ended " if m.end > m.start else ""
        return [f"{s} is between recorded events; the last was “{m.label}”, {ended}"
                f"{format_us(t - m.end)} ago."]
    if d is Doing.ASLEEP:
        return _asleep(m, w, ahead)
    if d is Doing.WAKING:
        return _waking(m, w, ahead)
    if d is Doing.COPY:
        return _copy(m, w)
    if d is Doing.IN_CALL:
        return [_in_call(m)]
    if d is Doing.WORK:
        return _work(m, w, ahead)
    if d is Doing.PROCESS:
        return _process(m, w)
    if d is Doing.DELIVERY:
        return _delivery(m, ahead)
    if d is Doing.OVERHEAD:
        return [f"{s} runs Python code between two recorded calls (call overhead)."]
    if d is Doing.GIL:
        return [f"{s} could run but waits for the GIL: another thread is running Python code."]
    if d is Doing.ALL_BLOCKED:
        return _all_blocked(m, w)
    return [f"{s} runs its signal handler."]


def _asleep(m: Moment, w: Words, ahead: bool) -> list[str]:
    s, call = m.subject, m.call or "a call"
    multi = m.call in MULTIPLEXERS
    where = " on any of its sockets" if multi and m.sockets > 1 else ""
    wakes = f" and wakes in about {format_us(m.end - m.t)}" if ahead else ""
    if m.queued and m.oldest_ready is not None:
        first = f"{_arrived(w, m)}; {s} is still asleep in {call}{wakes}."
    elif m.nothing_yet:
        first = (f"Phase 1: {_none_yet(w, m)}{where} yet; {s} sleeps inside {call} and uses "
                 "no CPU.")
    elif m.no_more:
        first = (f"{s} sleeps inside {call}, but nothing more arrives here: only the peer "
                 "closing the connection can wake it.")
    else:
        first = f"{s} sleeps inside {call} and uses no CPU."
    out = [first]
    if multi:
        out.append(f"{call} only reports readiness: recvfrom must still copy the data.")
    return out


def _arrived(w: Words, m: Moment) -> str:
    """ "the datagram arrived in the kernel 40.0 µs ago" (or "has just arrived")."""
    assert m.oldest_ready is not None
    ago = m.t - m.oldest_ready
    if ago < JUST_NOW_US:
        return f"{w.the} has just arrived in the kernel"
    return f"{w.the} arrived in the kernel {format_us(ago)} ago"


def _none_yet(w: Words, m: Moment) -> str:
    """ "no datagram has arrived" before the first, "no new datagram has arrived" after."""
    return f"{w.no} has arrived" if m.first else f"no new {w.noun} has arrived"


def _waking(m: Moment, w: Words, ahead: bool) -> list[str]:
    s, call = m.subject, m.call or "its call"
    runs = (f"which runs again in about {format_us(m.end - m.t)}" if ahead
            else "which is not running yet")
    if m.queued and m.oldest_ready is not None:
        return [f"{_arrived(w, m)}; the kernel has woken {s}, {runs}."]
    return [f"The kernel has woken {s} in {call}, {runs}."]


def _copy(m: Moment, w: Words) -> list[str]:
    s, call = m.subject, m.call or "its read"
    what = format_bytes(m.nbytes) if m.nbytes else w.the
    whose = "the process's" if s == "the process" else f"{s}'s"
    if m.woken_copy:
        first = (f"Phase 2: the kernel wakes {s} and copies {what} into its buffer (a real "
                 f"trace cannot tell the two apart); {s} stays blocked in {call} meanwhile.")
    else:
        first = (f"Phase 2: the kernel copies {what} into {whose} buffer; {s} stays blocked "
                 f"in {call} until the copy ends.")
    out = [first]
    if m.handler == "SIGIO":
        out.append("SIGIO only said that data was there: the handler's read still waits for "
                   "the copy.")
    return out


def _in_call(m: Moment) -> str:
    s, call = m.subject, m.call or "a system call"
    cost = format_us(m.end - m.start)
    if m.label.startswith("first reads"):
        return f"{s} is inside {call}; the first reads run slower (cold code and caches)."
    if m.label.endswith("scans again"):
        return f"{s} is awake again: {call} scans its sockets to find the readable ones."
    if m.call in SETUP_CALLS:
        return SETUP_CALLS[m.call].format(subject=s) + f" ({cost} in the kernel)."
    if m.call in MULTIPLEXERS:
        return f"{s} is inside {call}, checking which of its sockets are readable ({cost})."
    if m.call in READS:
        return f"{s} is inside {call}, asking the kernel for data ({cost} in the kernel)."
    return f"{s} is inside {call} ({cost} in the kernel)."


def _work(m: Moment, w: Words, ahead: bool) -> list[str]:
    s = m.subject
    dur = format_us(m.end - m.start)
    out: list[str] = []
    if m.outcome is Kind.EWOULDBLOCK and m.label != MAIN_LOOP_LABEL:
        every = " on every socket of this pass" if m.sockets > 1 else ""
        again = " and asks again" if m.asks_again and ahead else ""
        out.append(f"{m.call or 'the call'} returned EWOULDBLOCK{every}: nothing was queued, "
                   f"so {s} does its own work for {dur}{again}.")
        if m.queued and m.oldest_ready is not None:
            out.append(f"{_arrived(w, m)} and waits there: polling notices it only at the "
                       "next call.")
        return out
    if m.label == MAIN_LOOP_LABEL:
        out.append(f"{s} runs its own code; it does not wait for data.")
    else:
        out.append(f"{s} does its own work for {dur}.")
    if m.copying:
        out.append(f"Meanwhile the kernel copies {w.the} into the buffer given to aio_read "
                   "(phase 2), without the process.")
    elif m.queued and m.oldest_ready is not None:
        if ahead and m.next_signal is not None and m.label == MAIN_LOOP_LABEL:
            out.append(f"{_arrived(w, m)}; a signal interrupts {s} in about "
                       f"{format_us(m.next_signal - m.t)}.")
        else:
            out.append(f"{_arrived(w, m)} and is queued there.")
    elif m.nothing_yet:
        out.append(f"Phase 1: {_none_yet(w, m)} yet.")
    return out


def _process(m: Moment, w: Words) -> list[str]:
    s = m.subject
    out = [f"{s} processes {w.the} it received ({format_us(m.end - m.start)} of its own "
           "computation)."]
    if m.message_ready is not None and m.message_ready <= m.t:
        out.append(f"Its data reached the kernel {format_us(m.t - m.message_ready)} ago.")
    if m.handler == "completion" and m.never_blocked:
        out.append("The kernel had copied it before the handler ran: this process never "
                   "blocks for its data.")
    elif m.handler == "SIGIO":
        out.append("This runs inside the SIGIO handler.")
    return out


def _delivery(m: Moment, ahead: bool) -> list[str]:
    s = m.subject
    soon = f" in about {format_us(m.end - m.t)}" if ahead else " soon"
    if "SIGIO" in m.label:
        return [f"The kernel delivers SIGIO: it interrupts {s}, whose handler starts{soon}.",
                "SIGIO only says a socket is readable: the data is still in the kernel."]
    if "aio" in m.label:
        return [f"The kernel delivers the signal named in aio_read: the handler starts{soon}.",
                "The copy is finished: the data is already in the buffer."]
    return [f"The kernel delivers a signal to {s}: its handler starts{soon}."]


def _all_blocked(m: Moment, w: Words) -> list[str]:
    out = ["Every thread is blocked: the process uses no CPU." if m.simulated else
           "No thread is processing a message or running a recorded call."]
    if m.queued == 1:
        out.append(f"{w.count(1)} is queued in the kernel, waiting for its thread to run.")
    elif m.queued:
        out.append(f"{w.count(m.queued)} are queued in the kernel, each waiting for its thread "
                   "to run.")
    elif m.nothing_yet:
        out.append(f"Phase 1: {_none_yet(w, m)} on any connection yet.")
    return out


def _kernel(m: Moment, w: Words) -> list[str]:
    s = m.subject
    if m.copying:
        return [f"{s}: phase 2, the kernel copies {w.the} into the process's buffer."]
    if m.queued and m.oldest_ready is not None:
        return [f"{s}: {w.count(m.queued)} queued in the kernel, not yet copied (the oldest "
                f"for {format_us(m.t - m.oldest_ready)})."]
    if m.nothing_yet:
        return [f"{s}: phase 1, {_none_yet(w, m)} yet."]
    if m.no_more:
        return [f"{s}: everything sent has been copied; nothing more arrives."]
    return [f"{s}: nothing is known to be queued."]
