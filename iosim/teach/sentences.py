"""The sentences about a moment: present tense, plain words, one readable unit per time.

Each sentence is made only of facts the Moment holds (moment.py), so what the trace does not
say is not said. The first sentence says what the lane does; the others add what the kernel
holds or what this model is known for (docs/teaching.md), at most three in all. A duration
that comes from the cost profile says so (``Moment.costs``): it is a figure of that profile,
not a law of the kernel.
"""

from __future__ import annotations

from iosim.teach.moment import Doing, Moment
from iosim.teach.units import format_bytes, format_us
from iosim.teach.words import (
    BIG_TCP_READ,
    COLD_LABEL,
    INTERRUPT_LABEL,
    MAIN_LOOP_LABEL,
    MULTIPLEXERS,
    OVERHEAD_LABEL,
    READS,
    READY_LIST_LABEL,
    RESCAN_LABEL,
    Words,
    capital,
)
from iosim.trace import Kind
from iosim.traced.build import PERF_RETURN_LABEL, TRACER_LABEL

MAX_SENTENCES = 3
JUST_NOW_US = 0.0005  # below this, "has just arrived" (format_us would print 0.000 µs)
EPOLL_WAITS = ("epoll_wait", "epoll_pwait")
SIGIO_ON_TCP = ("On TCP, SIGIO says only that something happened on a socket: data, but also "
                "a connect, a close, a half-close, send-buffer space or an error.")
SIGIO_TWO_REASONS = ("Plain SIGIO names no descriptor, so the handler reads every socket, and "
                     "is not queued, so it reads each until EWOULDBLOCK (F_SETSIG would give a "
                     "queued real-time signal with si_fd).")
POSIX_AIO = ("That is POSIX's model (Figure 6.5): on Linux, glibc's aio_read runs a blocking "
             "read in a helper thread instead, and io_uring posts a completion to a ring with "
             "no signal.")
SETUP_CALLS = {
    "sigaction": "sigaction installs the SIGIO handler",
    "fcntl F_SETOWN": "fcntl F_SETOWN makes {subject} the owner of a socket, so SIGIO goes to it",
    "fcntl O_ASYNC": ("fcntl sets O_NONBLOCK and O_ASYNC on a socket: its reads will return "
                      "EWOULDBLOCK rather than sleep, and the kernel will send SIGIO when it "
                      "becomes readable"),
    "epoll_create": "epoll_create makes the epoll instance that will watch the sockets",
    "epoll_ctl": ("epoll_ctl registers a socket with epoll, once: from now on the socket's "
                  "callback puts it on the ready list when data comes in"),
}
ANY_READY = "to become ready"  # a server variant's multiplexer: readable, writable, accept
WOULDBLOCK_WHY = {"send": ": the socket's send buffer is full",
                  "accept": ": no connection waits in the accept queue"}
AIO_READ = {
    "sim": ("aio_read queues a read and returns at once: in POSIX's model the kernel will wait "
            "for the data and copy it into the buffer"),
    "real": ("aio_read puts a recv in io_uring's submission ring and returns at once: the "
             "kernel will wait for the data and copy it into the buffer"),
}


def render(m: Moment, noun: str = "datagram", ahead: bool = True,
           read: str = "recvfrom") -> list[str]:
    """The sentences of a moment: the first says what the lane does, the others add what the
    kernel holds or what this model is known for, at most three in all (``read``: the call
    that copies the data)."""
    words = Words(noun, read)
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
    if d is Doing.THREAD_ENDED:
        return [f"{s} has ended: its last {w.read} returned 0 ({w.goodbye}), so its function "
                f"returned {format_us(t - m.start)} ago."]
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
        return _in_call(m, w)
    if d is Doing.WORK:
        return _work(m, w, ahead)
    if d is Doing.PROCESS:
        return _process(m, w)
    if d is Doing.DELIVERY:
        return _delivery(m, w, ahead)
    if d is Doing.OVERHEAD:
        if m.call == "aio_return":  # io_uring: a completion read from memory, no call
            return [_aio_return(m, w, f"{format_us(m.end - m.start)}, {m.costs}")]
        return [_overhead(m)]
    if d is Doing.GIL:
        return _gil(m)
    if d is Doing.GIL_HANDOFF:
        return [f"{s} has been handed the GIL: the CPU switches to it "
                f"({format_us(m.end - m.start)}, {m.costs})."]
    if d is Doing.ALL_BLOCKED:
        return _all_blocked(m, w)
    if m.handler == "completion" and m.source == "real":
        return [f"{s} takes the completions it found in io_uring's completion ring."]
    return [f"{s} runs its signal handler."]


def _asleep(m: Moment, w: Words, ahead: bool) -> list[str]:
    s, call = m.subject, m.call or "a call"
    multi = m.call in MULTIPLEXERS
    where = " on any of its sockets" if multi and m.sockets > 1 else ""
    one_of = m.conn >= 0 and m.sockets > 1  # one socket of several: say which
    on = f" on connection {m.conn}" if one_of else ""
    wakes = f" and wakes in about {format_us(m.end - m.t)} ({m.costs})" if ahead else ""
    idle = "" if m.copying else " and uses no CPU"  # another thread may be copying
    if m.call in ("send", "accept"):
        return _asleep_for_room_or_connection(m, w, on, idle)
    variant = m.label.endswith(ANY_READY)  # also writable, or a connection to accept
    out = []
    if variant and not m.queued:
        out.append(f"{s} sleeps inside {call}{idle}, until one of its sockets is ready: "
                   "readable, writable, or a listening socket with a connection to accept.")
    elif m.queued and m.oldest_ready is not None:
        out.append(f"{_arrived(w, m)}; {s} is still asleep in {call}{wakes}.")
    elif m.nothing_yet:
        none = _nothing_on(m) if one_of else f"{_none_yet(w, m)}{where}"
        out.append(f"Phase 1: {none} yet; {s} sleeps inside {call}{idle}.")
    elif m.no_more:
        out.append(f"{s} sleeps inside {call}, but no more data comes{on}: only "
                   f"{_goodbye_can_wake(w)} can wake it.")
    else:
        out.append(f"{s} sleeps inside {call}{on}{idle}.")
    if m.elsewhere:
        out.append(f"Meanwhile {_queued_count(w, m.elsewhere)} on the other connections, held "
                   f"up behind connection {m.conn}: head-of-line blocking.")
    if m.model == "epoll-et" and m.left_bytes and m.call in EPOLL_WAITS:
        out.append(f"A read left {format_bytes(m.left_bytes)} of a message queued on "
                   f"connection {m.left_conn}, but edge-triggered epoll reported the socket "
                   "once and will not again until new data arrives; reading until EAGAIN "
                   "would have taken them.")
    if variant:
        out.append(f"{call} only reports readiness: the accept, recvfrom or send it reports "
                   "for must still be made.")
    elif multi:
        if m.call in EPOLL_WAITS:
            out.append(f"{call} only reports readiness: when data comes in, the socket's "
                       f"callback puts it on the ready list, and {w.read} must still copy "
                       "it.")
        else:
            out.append(f"{call} only reports readiness: {w.read} must still copy the data.")
    return out


def _asleep_for_room_or_connection(m: Moment, w: Words, on: str, idle: str) -> list[str]:
    """A sleep in send (for room in the send buffer) or in accept (for a connection): no
    data is waited for, so nothing is said about data."""
    s = m.subject
    if m.call == "send":
        out = [f"{s} sleeps inside send{on}{idle}: the socket's send buffer is full, and send "
               "waits until the client has read enough of it to make room."]
        if m.elsewhere:
            out.append(f"Meanwhile {_queued_count(w, m.elsewhere)} on the other "
                       f"connections, held up behind this send.")
        return out
    return [f"{s} sleeps inside accept{idle}, until a connection waits in the accept queue.",
            "The wait in accept is exclusive: each connection wakes one thread waiting in "
            "accept, not all of them."]


def _goodbye_can_wake(w: Words) -> str:
    return w.goodbye.replace("the peer closed", "the peer closing", 1)


def _queued_count(w: Words, n: int) -> str:
    """ "4 messages are queued" """
    return f"{w.count(n)} {'is' if n == 1 else 'are'} queued"


def _arrived(w: Words, m: Moment) -> str:
    """ "the datagram arrived in the kernel 40.0 µs ago" (or "has just arrived")."""
    assert m.oldest_ready is not None
    ago = m.t - m.oldest_ready
    if ago < JUST_NOW_US:
        return f"{w.the} has just arrived in the kernel"
    return f"{w.the} arrived in the kernel {format_us(ago)} ago"


def _nothing_on(m: Moment, which: str = "") -> str:
    """ "nothing has arrived on connection 2": one connection's, said so that it is never
    read as the whole process's (data may wait on the others)."""
    which = which or f"on connection {m.conn}"
    return f"nothing has arrived {which}" if m.first else f"nothing new has arrived {which}"


def _none_yet(w: Words, m: Moment) -> str:
    """ "no datagram has arrived" before the first, "no new datagram has arrived" after."""
    return f"{w.no} has arrived" if m.first else f"no new {w.noun} has arrived"


def _waking(m: Moment, w: Words, ahead: bool) -> list[str]:
    s, call = m.subject, m.call or "its call"
    runs = (f"which runs again in about {format_us(m.end - m.t)} ({m.costs})" if ahead
            else "which is not running yet")
    if m.queued and m.oldest_ready is not None:
        return [f"{_arrived(w, m)}; the kernel has woken {s}, {runs}."]
    return [f"The kernel has woken {s} in {call}, {runs}."]


def _copy(m: Moment, w: Words) -> list[str]:
    s, call = m.subject, m.call or "its read"
    what = format_bytes(m.nbytes) if m.nbytes else w.the
    whose, cpu = ("the process's", "in this process") if s == "the process" else \
        (f"{s}'s", f"in {s}")
    if m.woken_copy:
        first = (f"Phase 2: the kernel wakes {s} and copies {what} into its buffer (a real "
                 f"trace cannot tell the two apart); {s} stays blocked in {call} meanwhile.")
    else:
        first = (f"Phase 2: the kernel copies {what} into {whose} buffer, CPU time in the "
                 f"kernel {cpu}; {s} stays blocked in {call} until the copy ends.")
    out = [first]
    if m.dropped and m.nbytes:
        out.append(f"The datagram holds {format_bytes(m.nbytes + m.dropped)} but the buffer "
                   f"only {format_bytes(m.nbytes)}: the kernel drops the other "
                   f"{format_bytes(m.dropped)} (MSG_TRUNC).")
    if m.nbytes and m.nbytes > BIG_TCP_READ and not w.udp and m.simulated:
        out.append(f"Real TCP brings {format_bytes(m.nbytes)} in segments, read by many "
                   "recvfrom calls (Linux's default tcp_rmem queues at most 6 MB); this "
                   "simulation queues it whole to show phase 2 alone.")
    if m.dropped_bad:
        out.append("Its checksum, computed as it is copied, is bad: the kernel drops it, and "
                   "the datagram is not returned.")
    if m.handler == "SIGIO":
        out.append("SIGIO only said that the socket was readable: the handler's read still "
                   "waits for the copy." if w.udp else "SIGIO did not say which socket or "
                   "why: the handler's read still waits for the copy.")
    return out


def _in_call(m: Moment, w: Words) -> list[str]:
    s, call = m.subject, m.call or "a system call"
    cost = format_us(m.end - m.start)
    if m.label == COLD_LABEL:
        return [f"{s} is inside {call}; the first reads run slower (cold code and caches: "
                f"{cost}, {m.costs})."]
    if m.label == READY_LIST_LABEL:
        return [f"{s} is awake again: {call} takes the ready list that the sockets' callbacks "
                f"filled as data came in ({cost}, {m.costs}).",
                "Its cost follows the ready sockets, not the watched ones."]
    if m.call in EPOLL_WAITS and m.left_bytes and m.model == "epoll":
        return [f"{s} is inside {call} ({cost}, {m.costs}): a read left "
                f"{format_bytes(m.left_bytes)} queued on connection {m.left_conn}, so "
                "level-triggered epoll_wait reports the socket again at once."]
    if m.label.endswith(RESCAN_LABEL):
        return [f"{s} is awake again: {call} scans every watched descriptor again to find the "
                f"ready ones ({cost}, {m.costs})."]
    if m.call == "aio_read":
        return [f"{AIO_READ.get(m.source, AIO_READ['sim'])} ({cost} in the kernel, {m.costs})."]
    if m.call == "aio_return":
        return [_aio_return(m, w, f"{cost}, {m.costs}")]
    if m.call == "epoll_ctl" and m.model == "epoll-et":
        return [f"epoll_ctl registers a socket edge-triggered (EPOLLET): epoll_wait will "
                f"report each arrival once ({cost} in the kernel, {m.costs})."]
    if m.call in SETUP_CALLS:
        out = [SETUP_CALLS[m.call].format(subject=s) + f" ({cost} in the kernel, {m.costs})."]
        if m.call == "fcntl O_ASYNC" and not w.udp:
            out.append(SIGIO_ON_TCP)
        return out
    if m.call in EPOLL_WAITS:
        return [f"{s} is inside {call}, which looks at the ready list the sockets' callbacks "
                f"fill as data comes in ({cost}, {m.costs}).",
                "It costs per ready socket, not per watched one."]
    if m.call in MULTIPLEXERS:
        return [f"{s} is inside {call}, which copies in its descriptor sets and checks every "
                f"watched descriptor ({cost}, {m.costs})."]
    if m.call in READS:
        if m.returns is Kind.EOF:
            return [f"{s} is inside {call}, which returns 0: {w.goodbye} ({cost} in the "
                    f"kernel, {m.costs})."]
        return [f"{s} is inside {call}, asking the kernel for data ({cost} in the kernel, "
                f"{m.costs})."]
    return [f"{s} is inside {call} ({cost} in the kernel, {m.costs})."]


def _aio_return(m: Moment, w: Words, cost: str) -> str:
    """aio_return in a simulation (POSIX's model, where it is a system call as on FreeBSD) or
    in iosim's real aio server (a completion taken from io_uring's ring)."""
    if m.returns is Kind.EOF:
        return (f"aio_return collects a finished read that returned 0 ({w.goodbye}): no data, "
                f"and no new read on this socket ({cost}).")
    if m.source == "real":
        return (f"aio_return takes a completion from io_uring's completion ring: the data is "
                f"already in the buffer ({cost}).")
    return (f"aio_return collects a finished read: the data is already in the buffer ({cost}; "
            "glibc makes it a library call, not a system call).")


def _work(m: Moment, w: Words, ahead: bool) -> list[str]:
    s = m.subject
    dur = format_us(m.end - m.start)
    out: list[str] = []
    if m.outcome is Kind.EWOULDBLOCK and m.label != MAIN_LOOP_LABEL:
        every = " on every socket of this pass" if m.sockets > 1 else ""
        again = " and asks again" if m.asks_again and ahead else ""
        why = WOULDBLOCK_WHY.get(m.call, f"{every}: nothing was queued")
        out.append(f"{m.call or 'the call'} returned EWOULDBLOCK{why}, so {s} does its own "
                   f"work for {dur} (the scenario's poll interval){again}.")
        if m.queued and m.oldest_ready is not None:
            out.append(f"{_arrived(w, m)} and waits there: polling notices it only at the "
                       "next call.")
        return out
    if m.label == MAIN_LOOP_LABEL:
        out.append(f"{s} runs its own code; it does not wait for data.")
    else:
        origin = "the scenario's poll interval" if m.simulated else m.costs
        out.append(f"{s} does its own work for {dur} ({origin}).")
    if m.copying:
        out.append(f"Meanwhile the kernel copies {w.the} into the buffer given to aio_read "
                   "(phase 2), without the process.")
    elif m.queued and m.oldest_ready is not None:
        if ahead and m.next_signal is not None and m.label == MAIN_LOOP_LABEL:
            out.append(f"{_arrived(w, m)}; a signal interrupts {s} in about "
                       f"{format_us(m.next_signal - m.t)} ({m.costs}).")
        else:
            out.append(f"{_arrived(w, m)} and is queued there.")
    elif m.nothing_yet:
        out.append(f"Phase 1: {_none_yet(w, m)} yet.")
    return out


def _process(m: Moment, w: Words) -> list[str]:
    s = m.subject
    what = w.the if w.udp else "one message of the data"
    out = [f"{s} handles {what} it received ({format_us(m.end - m.start)} of its own "
           "computation, the scenario's work_us)." if m.simulated else
           f"{s} handles {what} it received ({format_us(m.end - m.start)} of its own "
           "computation, as measured)."]
    if m.message_ready is not None and m.message_ready <= m.t:
        out.append(f"Its data reached the kernel {format_us(m.t - m.message_ready)} ago.")
    if m.handler == "completion" and m.never_blocked:
        seen = "the process saw the completion" if m.source == "real" else "the handler ran"
        out.append(f"The kernel had copied it before {seen}: this process never blocks for "
                   "its data.")
    elif m.handler == "SIGIO":
        out.append("This runs inside the SIGIO handler.")
    return out


def _delivery(m: Moment, w: Words, ahead: bool) -> list[str]:
    s = m.subject
    soon = f" in about {format_us(m.end - m.t)} ({m.costs})" if ahead else " soon"
    if m.label == INTERRUPT_LABEL:
        return [f"Another SIGIO comes while the handler runs: taking it costs {s} "
                f"{format_us(m.end - m.start)} ({m.costs}), and the handler only notes that "
                "one more pass over the sockets is due."]
    if "SIGIO" in m.label:
        return [f"The kernel delivers SIGIO: it interrupts {s}, whose handler starts{soon}.",
                "SIGIO only says a socket is readable: the data is still in the kernel."
                if w.udp else SIGIO_ON_TCP, SIGIO_TWO_REASONS]
    if "aio" in m.label:
        return [f"The kernel delivers the signal named in aio_read: the handler starts{soon}.",
                "The copy is finished: the data is already in the buffer.", POSIX_AIO]
    return [f"The kernel delivers a signal to {s}: its handler starts{soon}."]


def _overhead(m: Moment) -> str:
    s = m.subject
    if m.label == OVERHEAD_LABEL:
        return f"{s} runs Python code between two recorded calls (call overhead)."
    if m.label == TRACER_LABEL:
        return (f"{s}'s call has copied its data, but strace holds it at the return "
                f"({format_us(m.end - m.start)}, {m.costs}): the cost of tracing, not the "
                "program's.")
    if m.label == PERF_RETURN_LABEL:
        return (f"{s}'s call has copied its data and returns through the kernel, where perf "
                f"records its exit ({format_us(m.end - m.start)}, {m.costs}).")
    return (f"{s} runs Python code of its own: {m.label} ({format_us(m.end - m.start)}, "
            f"{m.costs}).")


def _gil(m: Moment) -> list[str]:
    s = m.subject
    if m.taken_by:
        return [f"{s}'s accept returned EWOULDBLOCK: the accept queue is empty, as "
                f"{m.taken_by}'s accept took the connection first, so {s} woke for nothing "
                "(the thundering herd).",
                f"{s} could run Python code once it has the GIL."]
    if m.gil_doing == "handed":
        first = (f"{s} could run Python code, but the GIL has just been handed to "
                 f"{m.gil_holder}.")
    elif m.gil_holder:
        first = (f"{s} could run but waits for the GIL: {m.gil_holder} is running Python "
                 f"code ({m.gil_doing}).")
    else:
        return [f"{s} could run Python code once it has the GIL."]
    return [first, "CPython runs Python code in one thread at a time and lets the GIL go "
                   "around blocking calls; in C the threads would run in parallel on several "
                   "cores."]


def _all_blocked(m: Moment, w: Words) -> list[str]:
    if m.in_kernel:
        what = ("the kernel copies its data (phase 2)" if m.in_kernel_copy
                else "it runs a system call")
        out = [f"No thread runs Python code; in {m.in_kernel} {what}, CPU time in the kernel "
               "in that thread."]
    elif m.copying:
        out = ["No thread runs Python code; the kernel copies data for a thread (phase 2), CPU "
               "time in the kernel in that thread."]
    else:
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
        return [f"{s}: phase 2, the kernel copies {w.the} into the reader's buffer."]
    if m.queued and m.oldest_ready is not None:
        waited = m.t - m.oldest_ready
        since = ("just arrived" if waited < JUST_NOW_US else
                 f"{'the oldest ' if m.queued > 1 else ''}waiting for {format_us(waited)}")
        out = [f"{s}: {w.count(m.queued)} queued in the kernel, not yet copied ({since})."]
        if m.behind >= 0:
            out.append(f"{'It waits' if m.queued == 1 else 'They wait'} behind connection "
                       f"{m.behind}, where the process sleeps in {w.read}: head-of-line "
                       "blocking.")
        return out
    if m.nothing_yet:
        none = _nothing_on(m, "on it") if m.sockets > 1 else _none_yet(w, m)
        return [f"{s}: phase 1, {none} yet."]
    if m.no_more:
        return [f"{s}: everything sent has been copied; nothing more arrives."]
    return [f"{s}: nothing is known to be queued."]
