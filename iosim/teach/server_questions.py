"""Questions about the lessons beyond Fig 6.1-6.6, each found in the run's own events, never
in its scenario's name: a send on a full send buffer (it sleeps, returns a partial count or
EWOULDBLOCK) and the multiplexer that reports the socket writable once room is made
(backpressure); how many threads a connection wakes when several wait on one listening
socket, and how many of them accept then refuses (the thundering herd); what epoll_wait
does with bytes a read left queued (level- vs edge-triggered); a read of a datagram with a bad
checksum after select said readable; and what raised a SIGIO on TCP.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import islice

from iosim.sim.notes import CORRUPT_NOTE
from iosim.sim.process import SEND_BLOCKS_LABEL
from iosim.teach.asking import Speaker, stop_before
from iosim.teach.calls import Call, Outcome
from iosim.teach.drafts import Choice, Draft
from iosim.teach.index import LEFT_NOTE
from iosim.teach.words import BLOCKS_IN, MULTIPLEXERS, call_name, capital
from iosim.trace import Kind, Run

PARTIAL = re.compile(r"return ([\d,]+) of ([\d,]+) bytes")
WRITABLE = re.compile(r"return writable: connection (\d+)$")
ROOM = "until a third of the send buffer is free"  # SEND_BLOCKS_LABEL's words
WAITS_FOR_CONNECTION = ("accept", *sorted(MULTIPLEXERS))
OUT_FLAG = {"epoll_wait": "EPOLLOUT", "epoll_pwait": "EPOLLOUT", "poll": "POLLOUT",
            "ppoll": "POLLOUT"}


def server_drafts(sp: Speaker) -> list[Draft]:
    """The questions of this module that the run's events allow, in no particular order."""
    return [*_send_drafts(sp), *_herd_drafts(sp), *sigio_drafts(sp)]


def _number(text: str) -> int:
    return int(text.replace(",", ""))


# -- send on a full send buffer -----------------------------------------------------------------

class SendBuffer:
    """A run's send buffers as its meta keeps them: their size and, per connection, how many
    bytes they held from when."""

    def __init__(self, run: Run) -> None:
        size, fills = run.meta.get("send_buffer_bytes"), run.meta.get("send_buffer")
        self.size = size if isinstance(size, int) and size > 0 else 0
        self.fills = fills if isinstance(fills, dict) else {}

    def __bool__(self) -> bool:
        return bool(self.size and self.fills)

    def held(self, conn: int, t: float) -> int:
        """Bytes held in ``conn``'s send buffer at ``t`` (before what happens at ``t``)."""
        changes = self.fills.get(str(conn), [])
        k = bisect_right([c[0] for c in changes], t) - 1
        while k >= 0 and changes[k][0] == t:
            k -= 1
        return int(changes[k][1]) if k >= 0 else 0


def _send_drafts(sp: Speaker) -> list[Draft]:
    buffers = SendBuffer(sp.run)
    if not buffers:
        return []
    run = sp.run
    out: list[Draft] = []
    asked: set = set()
    for lane, events in sp.facts.by_lane.items():
        made = -1
        for j, i in enumerate(events):
            kind = run.kind[i]
            if kind == Kind.SYSCALL:
                name = call_name(run, i)
                made = i if name == "send" else -1
                if name in MULTIPLEXERS:
                    draft = _writable_draft(sp, buffers, lane, events, j)
                    if draft is not None and draft.topic not in asked:
                        asked.add(draft.topic)
                        out.append(draft)
                continue
            if made < 0:
                continue
            label = run.labels[run.label[i]]
            outcome = _send_outcome(kind, label)
            if outcome is None and kind not in (Kind.RETURN, Kind.EWOULDBLOCK):
                continue
            if outcome is not None and ("send", outcome) not in asked:
                draft = _send_draft(sp, buffers, made, i, outcome, label)
                if draft is not None:
                    asked.add(draft.topic)
                    out.append(draft)
            made = -1
    return out


def _send_outcome(kind: int, label: str) -> str | None:
    if kind == Kind.BLOCKED and label == SEND_BLOCKS_LABEL:
        return "sleeps"
    if kind == Kind.EWOULDBLOCK:
        return "refused"
    if kind == Kind.RETURN and PARTIAL.match(label):
        return "partial"
    return None


def _send_draft(sp: Speaker, buffers: SendBuffer, made: int, shown: int, outcome: str,
                label: str) -> Draft | None:
    run = sp.run
    lane, conn, t, shown_at = run.lane[made], run.conn[made], run.t0[made], run.t0[shown]
    who, size = sp.who(lane), buffers.size
    held = buffers.held(conn, t)
    free = size - held
    state = f"its send buffer holds {held:,} of {size:,} bytes" if held else \
        f"its send buffer ({size:,} bytes) is empty"
    what = "what is left of its reply" if outcome == "refused" else "its reply"
    partial = PARTIAL.match(label)
    if partial:
        what = f"{_number(partial[2]):,} bytes of its reply"
    text = f"{who} calls send on {sp.sock(conn)} with {what}; {state}. What does send do?"
    fits = "copies what fits into the send buffer, then " if free else ""
    sleeps = f"send {fits}puts {who} to sleep {ROOM}"
    count = "send copies what fits into the send buffer and returns at once with that count " \
            "(a partial count)"
    refused = "send returns EWOULDBLOCK at once"
    whole = "send copies the whole reply into the send buffer and returns"
    everything = f"send puts {who} to sleep until the client has read everything sent"
    never_sleeps = Choice(sleeps, "the socket is non-blocking (O_NONBLOCK): send never sleeps "
                                  "waiting for room")
    if outcome == "sleeps":
        right = Choice(sleeps, "the socket is blocking and the send buffer has no room for the "
                               "whole reply: send copies what fits and sleeps; the kernel "
                               "wakes it once the client has read enough that a third of the "
                               "buffer is free")
        wrong = [Choice(count, "a blocking send returns only once every byte is in the send "
                               "buffer; a partial count is a non-blocking socket's answer"),
                 Choice(refused, "the socket is blocking: EWOULDBLOCK is a non-blocking "
                                 "socket's answer"),
                 Choice(everything, "a blocking send waits for room in the send buffer, not for "
                                    "the client: it returns once the last byte is in the "
                                    "buffer")]
    elif outcome == "partial" and partial and free:
        n = _number(partial[1])
        right = Choice(count, f"the socket is non-blocking: send copies the {n:,} bytes that "
                              "fit and returns that count at once; the program must send the "
                              "rest later")
        wrong = [never_sleeps,
                 Choice(refused, f"{free:,} bytes of room were free: EWOULDBLOCK means not "
                                 "one byte fitted"),
                 Choice(whole, f"the send buffer has room for {free:,} bytes only, not for "
                               f"all {_number(partial[2]):,}")]
    elif outcome == "refused" and not free:
        right = Choice(refused, "the socket is non-blocking and its send buffer is full: not "
                                "one byte fits, so send returns EWOULDBLOCK at once")
        wrong = [never_sleeps,
                 Choice(count, "the send buffer is full: not one byte fits, so there is no "
                               "count to return"),
                 Choice(whole, "the send buffer is full: the client has not read enough yet "
                               "to make room for anything")]
    else:
        return None
    stop = t if t < shown_at else stop_before(run, shown_at)
    return Draft("send", lane, stop, shown_at, capital(text), right, tuple(wrong),
                 ("send", outcome))


def _writable_draft(sp: Speaker, buffers: SendBuffer, lane: int, events: list[int],
                    j: int) -> Draft | None:
    """A multiplexer called while a reply waits for room, whose next result is that the
    socket is writable: does it sleep until room is made, or return at once?"""
    run = sp.run
    made = events[j]
    name, t = call_name(run, made), run.t0[made]
    slept, ret = False, -1
    for i in islice(events, j + 1, None):
        kind = run.kind[i]
        if kind == Kind.READABLE:
            ret = i
            break
        if kind == Kind.SYSCALL:
            return None
        slept |= kind == Kind.BLOCKED and run.labels[run.label[i]].startswith(BLOCKS_IN)
    found = WRITABLE.match(run.labels[run.label[ret]]) if ret >= 0 else None
    if found is None or sp.facts.queued(-1, t):
        return None
    conn = int(found[1])
    held, size = buffers.held(conn, t), buffers.size
    if not held:
        return None
    who, flag = sp.who(lane), OUT_FLAG.get(name, "writability")
    text = (f"{who}'s reply on connection {conn} is not all sent: the send buffer holds "
            f"{held:,} of {size:,} bytes, and {name} now watches the socket for {flag} too. "
            f"No data is queued; {who} calls {name}. What does {name} do?")
    waits = f"{name} puts {who} to sleep until the client has read enough to make room, then " \
            "returns, reporting the socket writable"
    at_once = f"{name} returns at once, reporting the socket writable"
    sends = Choice(f"{name} sends the rest of the reply itself, then returns",
                   f"{name} only reports readiness: send must still be called to copy the "
                   "rest into the send buffer")
    if slept:
        right = Choice(waits, f"{held:,} of {size:,} bytes are held: the socket is writable "
                              f"({flag}) only once a third of the buffer is free, after the "
                              "client has read enough")
        wrong = [Choice(at_once, f"{held:,} of {size:,} bytes are held: less than a third of "
                                 "the buffer is free, so the socket is not writable yet"),
                 sends,
                 Choice(f"{name} puts {who} to sleep until the client has read everything "
                        "sent", "writable means room in the send buffer (a third of it free), "
                                "not that the client has read everything")]
    else:
        right = Choice(at_once, f"a third of the buffer is already free: the socket is "
                                f"writable ({flag}), so {name} returns at once")
        wrong = [Choice(waits, f"{held:,} of {size:,} bytes are held: a third of the buffer "
                               "is already free, there is nothing to wait for"), sends]
    shown_at = run.t0[ret]
    stop = t if t < shown_at else stop_before(run, shown_at)
    return Draft("send", lane, stop, shown_at, capital(text), right, tuple(wrong),
                 ("writable", slept))


# -- the thundering herd ------------------------------------------------------------------------

def _herd_drafts(sp: Speaker) -> list[Draft]:
    """The first instant at which a connection wakes threads while several wait for one:
    how many wake, then how many of their accepts find nothing."""
    run = sp.run
    threads = {lane for lane in sp.facts.lanes if run.lanes[lane].role == "thread"}
    if len(threads) < 2 or "accept" not in run.code:
        return []
    for lane in sorted(threads):
        for i in sp.facts.by_lane[lane]:
            if run.kind[i] == Kind.WAKEUP and call_name(run, i) in WAITS_FOR_CONNECTION:
                drafts = _herd_at(sp, threads, run.t0[i])
                if drafts:
                    return drafts
                break
    return []


def _asleep_at(run: Run, lane: int, events: list[int], t: float) -> str:
    """The call ``lane`` sleeps in at ``t`` ("" none)."""
    for i in events:
        if run.t0[i] >= t:
            break
        label = run.labels[run.label[i]]
        if run.kind[i] == Kind.BLOCKED and label.startswith(BLOCKS_IN) and t <= run.t1[i]:
            return call_name(run, i)
    return ""


def _herd_at(sp: Speaker, threads: set[int], t: float) -> list[Draft]:
    run, by_lane = sp.run, sp.facts.by_lane
    waiting = {lane: _asleep_at(run, lane, by_lane[lane], t) for lane in threads}
    waiting = {lane: call for lane, call in waiting.items() if call}
    calls = set(waiting.values())
    woken = [lane for lane in waiting
             if any(run.t0[i] == t and run.kind[i] == Kind.WAKEUP for i in by_lane[lane])]
    if len(waiting) < 2 or len(calls) != 1 or not woken:
        return []
    call = calls.pop()
    n = len(waiting)
    exclusive = any("EPOLLEXCLUSIVE" in label for label in run.labels)
    one = call == "accept" or exclusive
    if len(woken) != (1 if one else n):
        return []  # e.g. SO_REUSEPORT: each thread on a listening socket of its own
    text = f"{n} threads sleep in {call}, waiting for a connection. A client connects. How " \
           "many threads does the kernel wake?"
    if call == "accept":
        why_one = "the wait in accept is exclusive: the kernel wakes one thread, the one " \
                  "that has waited longest, and it takes the connection"
        why_all = "waking every waiter is the thundering herd of select and epoll_wait; the " \
                  "wait in accept is exclusive"
    elif exclusive:
        why_one = "the listening socket is registered with EPOLLEXCLUSIVE: the kernel wakes " \
                  f"one of the threads in {call}"
        why_all = "EPOLLEXCLUSIVE is there to stop that: one exclusive waiter is woken"
    else:
        why_one = f"only accept's wait (or EPOLLEXCLUSIVE) is exclusive: {call} is told that " \
                  "the socket is ready, and every thread watching it is"
        why_all = f"every thread in {call} watches the listening socket, and the kernel wakes " \
                  "them all when a connection makes it readable: the thundering herd"
    answer = "1" if one else str(n)
    choices = {"1": why_one, str(n): why_all}
    wrong = [Choice(k, why) for k, why in choices.items() if k != answer]
    wrong.append(Choice("0", "a connection in the accept queue is what these threads wait for: "
                             "at least one is woken to take it"))
    if n > 2:
        wrong.append(Choice("2", "only one, however many threads wait: the wait is exclusive"
                            if one else f"all {n}, not 2: {call} gives no thread priority, "
                                        "each one watching the listening socket is woken"))
    stop = stop_before(run, t)
    first = Draft("count", min(woken), stop, t, text, Choice(answer, choices[answer]),
                  tuple(wrong), ("herd", "woken"))
    later = _refusals_draft(sp, woken, t, call)
    return [first] if later is None else [first, later]


def _refusals_draft(sp: Speaker, woken: list[int], t: float, call: str) -> Draft | None:
    """Of the threads woken together, how many call accept and get EWOULDBLOCK: the
    connection went to one of them."""
    run = sp.run
    if len(woken) < 2:
        return None
    refused: list[float] = []
    accepted = 0
    for lane in woken:
        for i in sp.facts.by_lane[lane]:
            if run.t0[i] <= t:
                continue
            kind, label = run.kind[i], run.labels[run.label[i]]
            if kind == Kind.BLOCKED and label.startswith(BLOCKS_IN):
                break  # asleep again
            if call_name(run, i) != "accept":
                continue
            if kind == Kind.EWOULDBLOCK:
                refused.append(run.t0[i])
                break
            if kind == Kind.RETURN:
                accepted += 1
                break
    w, e = len(woken), len(refused)
    if not e or accepted != 1:
        return None
    again = w - 1 - e
    text = f"The kernel woke all {w} threads in {call} for one connection; each that finds " \
           "the listening socket readable calls accept on it (non-blocking). How many of " \
           "these accepts return EWOULDBLOCK?"
    if again:
        why = f"one thread's accept takes the connection; {e} other{'s' if e > 1 else ''} " \
              f"call accept and find the accept queue empty, and {again} scan again before " \
              f"{call} returns, find nothing and sleep on"
    else:
        why = "one thread's accept takes the connection; the others find the accept queue " \
              "empty"
    wrong = [Choice("0", "one connection waits in the accept queue: the first accept takes "
                         "it, and a later one finds the queue empty")]
    if w != e:
        wrong.append(Choice(str(w), "one of them does get the connection: its accept "
                                    "returns it"))
    if w - 1 != e:
        wrong.append(Choice(str(w - 1), f"only {e}: {again} of the threads scan again after "
                                        "the connection was taken and sleep on in "
                                        f"{call} without calling accept"))
    return Draft("count", min(woken), t, max(refused), text, Choice(str(e), why),
                 tuple(wrong), ("herd", "refused"))


# -- level- vs edge-triggered -------------------------------------------------------------------

class KernelNotes:
    """What the kernel lanes' notes say waits in a receive queue, and when: the bytes a read
    left of a message, and datagrams with a bad checksum nothing has checked yet."""

    def __init__(self, run: Run) -> None:
        left = {k for k, label in enumerate(run.labels) if label.endswith(LEFT_NOTE)}
        corrupt = {k for k, label in enumerate(run.labels) if label.startswith(CORRUPT_NOTE)}
        self.left: list[tuple[float, float, int, int]] = []
        self.corrupt: list[tuple[float, float, int]] = []
        if not left and not corrupt:
            return
        for i in range(len(run)):
            if run.kind[i] >= Kind.SYSCALL:
                continue
            if run.label[i] in left:
                self.left.append((run.t0[i], run.t1[i], run.conn[i],
                                  _number(run.labels[run.label[i]].split()[0])))
            elif run.label[i] in corrupt:
                self.corrupt.append((run.t0[i], run.t1[i], run.conn[i]))

    def left_at(self, t: float) -> tuple[int, int]:
        """(connection, bytes) left queued at ``t`` (by a read that returned at ``t``, too);
        (-1, 0) when none."""
        return next(((conn, n) for t0, t1, conn, n in self.left if t0 <= t < t1), (-1, 0))

    def corrupt_at(self, conn: int, t: float) -> bool:
        """A datagram with a bad checksum waits on ``conn`` at ``t``."""
        return any(t0 < t <= t1 and c == conn for t0, t1, c in self.corrupt)


def left_draft(sp: Speaker, notes: KernelNotes, call: Call) -> Draft | None:
    """epoll_wait called while a read has left bytes of a message queued: level-triggered, it
    reports the socket again at once; edge-triggered, it sleeps until the next arrival."""
    if call.name not in ("epoll_wait", "epoll_pwait"):
        return None
    run = sp.run
    conn, left = notes.left_at(call.t)
    if not left or call.outcome not in (Outcome.READABLE, Outcome.SLEEPS):
        return None
    edge = any("EPOLLET" in label for label in run.labels)
    who, name, sock = sp.who(call.lane), call.name, sp.sock(conn)
    trigger = "edge" if edge else "level"
    text = f"A read took only part of a message: {left:,} bytes are left queued on {sock}, " \
           f"registered {trigger}-triggered. {capital(who)} calls {name} again. What does " \
           f"{name} do?"
    again = f"{name} returns at once, reporting the readable socket again"
    sleeps = f"{name} puts {who} to sleep until new data arrives on {sock}"
    copied = Choice(f"{name} returns the {left:,} bytes left, already copied into the buffer",
                    f"{name} copies nothing: it only reports readiness, and a read must still "
                    "take the bytes")
    if call.outcome is Outcome.SLEEPS and edge:
        right = Choice(sleeps, f"edge-triggered: the socket was reported when data arrived, "
                               f"once; the {left:,} bytes left bring no new edge, so {name} "
                               "sleeps until the next arrival (reading until EAGAIN would "
                               "have taken them)")
        wrong = [Choice(again, "that is level-triggered epoll; edge-triggered reports a "
                               "socket once per arrival, and the bytes left were reported "
                               "already"), copied]
    elif call.outcome is Outcome.READABLE and not edge:
        right = Choice(again, f"level-triggered: {name} reports a socket as long as data is "
                              f"queued on it, and {left:,} bytes are")
        wrong = [Choice(sleeps, f"that is edge-triggered epoll; level-triggered reports the "
                                f"socket while the {left:,} bytes wait"), copied]
    else:
        return None
    stop = call.t if call.t < call.shown_at else stop_before(run, call.shown_at)
    return Draft("call", call.lane, stop, call.shown_at, capital(text), right, tuple(wrong),
                 ("left", call.outcome))


# -- select says readable, then the read blocks -------------------------------------------------

def corrupt_draft(sp: Speaker, notes: KernelNotes, call: Call) -> Draft | None:
    """A read made while the datagram at the head of its queue has a bad checksum: the kernel
    drops it as the read takes it; a blocking read then sleeps, a non-blocking one returns
    EWOULDBLOCK (readiness reported is no promise that a read will not block)."""
    run = sp.run
    if call.outcome is not Outcome.COPIES or not notes.corrupt_at(call.conn, call.t) or \
            sp.facts.queued(call.conn, call.t):
        return None
    events = sp.facts.by_lane[call.lane]
    after = [i for i in events if run.t0[i] >= call.shown_at]
    shown = next((i for i in after if run.kind[i] >= Kind.SYSCALL or (
        run.kind[i] == Kind.BLOCKED and run.labels[run.label[i]].startswith(BLOCKS_IN))), -1)
    if shown < 0 or run.kind[shown] not in (Kind.BLOCKED, Kind.EWOULDBLOCK):
        return None
    sleeps = run.kind[shown] == Kind.BLOCKED
    before = [i for i in events if run.t0[i] <= call.t and run.kind[i] == Kind.READABLE]
    who, name, sock = sp.who(call.lane), call.name, sp.sock(call.conn)
    told = f"{call_name(run, before[-1])} reported {sock} readable: " if before else ""
    text = f"{told}a datagram is queued on {sock}, with a bad checksum the kernel has not " \
           f"checked yet. {capital(who)} calls {name} on it. What does {name} do?"
    drops = f"{name} finds the checksum bad and drops the datagram, then "
    slept = Choice(f"{drops}puts {who} to sleep until data arrives on {sock}",
                   "the socket is blocking and nothing else is queued on it: once the bad "
                   f"datagram is dropped, {name} sleeps; readable was no promise, which is why "
                   "multiplexed sockets are made non-blocking")
    refused = Choice(f"{drops}returns EWOULDBLOCK at once",
                     "the socket is non-blocking: once the bad datagram is dropped nothing is "
                     f"queued, so {name} returns EWOULDBLOCK and the program goes back to "
                     "waiting")
    copies = Choice(f"{name} copies the datagram into the buffer and returns it",
                    "a datagram with a bad checksum is never handed to the program: the "
                    "kernel drops it when the read takes it")
    if sleeps:
        right = slept
        wrong = [copies, Choice(refused.text, "the socket is blocking: EWOULDBLOCK is a "
                                              "non-blocking socket's answer")]
    else:
        right = refused
        wrong = [copies, Choice(slept.text, "the socket is non-blocking (O_NONBLOCK): "
                                            f"{name} never sleeps")]
    stop = call.t if call.t < call.shown_at else stop_before(run, call.shown_at)
    return Draft("call", call.lane, stop, run.t0[shown], capital(text), right, tuple(wrong),
                 ("corrupt", sleeps))


# -- what raises SIGIO on TCP -------------------------------------------------------------------

RAISED_BY = re.compile(r"deliver SIGIO \(raised by: (.+)\)$")
CAUSES = {"connection established": "a client's connection set up on the listening socket",
          "data arrived": "data arriving on a connection",
          "the peer half-closed (FIN)": "the client's half-close (FIN) of its connection",
          "send space": "room made in a send buffer as the client read"}


def sigio_drafts(sp: Speaker) -> list[Draft]:
    """Each SIGIO raised by one cause, the first time: what raised it? On TCP a connection
    set up, data, a half-close and room to send all raise the same signal, and the handler
    cannot tell which (Stevens: next to useless with TCP)."""
    run = sp.run
    seen: dict[str, int] = {}
    for lane in sorted(sp.facts.lanes):
        for i in sp.facts.by_lane[lane]:
            found = RAISED_BY.match(run.labels[run.label[i]]) \
                if run.kind[i] == Kind.SIGNAL else None
            if found and found[1] in CAUSES:
                seen.setdefault(found[1], i)
    if len(seen) < 2:  # one cause alone is no lesson
        return []
    out = []
    for cause, i in seen.items():
        t = run.t0[i]
        text = "The kernel is about to deliver SIGIO to the process, the owner of its " \
               "listening socket and of its connections (O_ASYNC). What raised this SIGIO?"
        right = Choice(CAUSES[cause], f"this one was raised by {CAUSES[cause]}; the handler "
                                      "cannot tell: a standard signal carries no reason")
        others = [c for c in CAUSES if c != cause]
        wrong = tuple(Choice(CAUSES[c], f"{CAUSES[c]} raises SIGIO too on TCP, but not this "
                                        f"one: it was {CAUSES[cause]}") for c in others)
        out.append(Draft("sigio", run.lane[i], stop_before(run, t), t, text, right, wrong,
                         ("sigio", cause)))
    return out
