"""The sentences about a moment: present tense, plain words, one readable unit per time.

Each sentence is made only of facts the Moment holds (moment.py), so what the trace does not
say is not said. The first sentence says what the lane does; the others add what the kernel
holds or what this model is known for (docs/teaching.md), at most three in all.
"""

from __future__ import annotations

from iosim.teach.moment import Doing, Moment
from iosim.teach.units import format_bytes, format_us
from iosim.teach.words import MAIN_LOOP_LABEL, MULTIPLEXERS, READS, Words, capital
from iosim.trace import Kind

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
    out = [f"{s} handles {w.the} it received ({format_us(m.end - m.start)} of its own "
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
        waited = m.t - m.oldest_ready
        since = ("just arrived" if waited < JUST_NOW_US else
                 f"{'the oldest ' if m.queued > 1 else ''}waiting for {format_us(waited)}")
        return [f"{s}: {w.count(m.queued)} queued in the kernel, not yet copied ({since})."]
    if m.nothing_yet:
        return [f"{s}: phase 1, {_none_yet(w, m)} yet."]
    if m.no_more:
        return [f"{s}: everything sent has been copied; nothing more arrives."]
    return [f"{s}: nothing is known to be queued."]
