"""Questions about what defines a run's model: what each of its calls does once made (sleep,
copy, EWOULDBLOCK, readable, return at once) and how it reacts when data arrives (woken,
signalled, or not at all). The wrong choices are things this program could do or the usual
confusions about its own calls (misconceptions in docs/teaching.md), never a call it does not
make; each says why it is wrong at this moment.
"""

from __future__ import annotations

import re
from bisect import bisect_left

from iosim.teach.calls import Arrival, Call, Facts, Outcome, Reaction
from iosim.teach.drafts import Choice, Draft
from iosim.teach.words import MULTIPLEXERS, Words, capital, noun_of
from iosim.trace import Kind, Run

FD_SETSIZE_ERROR = re.compile(r"descriptor (\d+) >= FD_SETSIZE \((\d+)\)")


class Speaker:
    """How one run's questions name its lanes, sockets and data."""

    def __init__(self, run: Run, facts: Facts) -> None:
        self.run = run
        self.facts = facts
        self.words = Words(noun_of(run))
        self.many = facts.connections > 1
        self.nonblocking = int(Kind.EWOULDBLOCK) in run.kind  # its reads can refuse
        self.watcher = next((c.name for c in facts.calls if c.name in MULTIPLEXERS), "")

    def who(self, lane: int) -> str:
        ln = self.run.lanes[lane]
        return ln.name if ln.role == "thread" else "the process"

    def sock(self, conn: int) -> str:
        return f"connection {conn}'s socket" if self.many else "its socket"

    def count(self, n: int) -> str:
        return self.words.count(n)

    def queued(self, n: int) -> str:
        if not n:
            return "nothing is queued"
        return f"{self.count(n)} {'is' if n == 1 else 'are'} queued"

    @staticmethod
    def connections(conns: list[int]) -> str:
        names = [str(c) for c in sorted(conns)]
        if len(names) > 3:
            return f"{len(names):,} connections"
        if len(names) == 1:
            return f"connection {names[0]}"
        return f"connections {', '.join(names[:-1])} and {names[-1]}"


Made = tuple[str, Choice, list[Choice]]  # the question, its true choice, the wrong ones


def stop_before(run: Run, t: float) -> float:
    """The run's last event time before ``t`` (``t`` itself at the run's first instant):
    playback stops there, so nothing of what happens at ``t`` is on the screen."""
    k = bisect_left(run.t0, t) - 1
    return run.t0[k] if k >= 0 else t


# -- what a call does -------------------------------------------------------------------------

def call_topic(sp: Speaker, call: Call) -> tuple:
    """What a question about ``call`` would teach: the call, what it did, where, and whether
    data was queued on its socket or only on others (head-of-line blocking)."""
    facts = sp.facts
    if call.name == "aio_read":
        return "call", call.name, call.outcome  # it returns at once, whatever is queued
    if call.name in MULTIPLEXERS:
        here, others = facts.queued(-1, call.t), 0
    else:
        here = facts.queued(call.conn, call.t)
        others = 0 if facts.threaded or not sp.many else facts.queued(-1, call.t) - here
    return "call", call.name, call.outcome, call.in_handler, here > 0, others > 0


def call_draft(sp: Speaker, call: Call) -> Draft | None:
    if call.outcome is Outcome.EOF:
        return None  # the peer's close is not on the screen: nothing to reason from
    if call.name in MULTIPLEXERS:
        made = _wait_choices(sp, call)
    elif call.name == "aio_read":
        made = _aio_read_choices(sp, call)
    elif call.name == "aio_return":
        made = _aio_return_choices(call)
    else:
        made = _read_choices(sp, call)
    if made is None:
        return None
    text, right, wrong = made
    stop = call.t if call.t < call.shown_at else stop_before(sp.run, call.shown_at)
    return Draft("call", call.lane, stop, call.shown_at, capital(text), right,
                 tuple(wrong), call_topic(sp, call))


def _read_choices(sp: Speaker, call: Call
                  ) -> Made | None:
    who, name, sock = sp.who(call.lane), call.name, sp.sock(call.conn)
    here = sp.facts.queued(call.conn, call.t)
    others = {} if sp.facts.threaded or not sp.many else \
        sp.facts.queued_elsewhere(call.conn, call.t)
    where = "its SIGIO handler" if call.in_handler else ""
    opening = f"in {where}, {who} calls {name} on {sock}" if where else \
        f"{who} calls {name} on {sock}"
    state = f"{sp.queued(here)} there"
    if not here and others:
        state += f", while data waits on {sp.connections(list(others))}"
    text = f"{opening}; {state}. What does {name} do?"
    sleeps = Choice(f"{name} puts {who} to sleep until data arrives on {sock}", "")
    data = "the first queued datagram" if sp.words.udp else "queued data"
    copies = Choice(f"{name} copies {data} into the buffer and returns it; {who} is blocked "
                    "during the copy", "")
    refused = Choice(f"{name} returns EWOULDBLOCK at once", "")
    outcome = call.outcome
    if (outcome is Outcome.COPIES) != bool(here):
        return None  # what is said to be queued would not explain what the call does
    if outcome is Outcome.SLEEPS:
        right = Choice(sleeps.text, f"nothing is queued on {sock} and the socket is blocking, "
                                    f"so {name} sleeps until data arrives (phase 1)")
        wrong = []
        if others:
            c = min(others)
            wrong.append(Choice(f"{name} returns the data queued on connection {c}",
                                f"{name} reads only {sock}; connection {c}'s data waits "
                                "behind it (head-of-line blocking)"))
        wrong += [Choice(refused.text, f"the socket is blocking: with nothing queued, {name} "
                                       "sleeps; EWOULDBLOCK is a non-blocking socket's answer"),
                  Choice(copies.text, f"nothing is queued on {sock}: there is nothing to copy "
                                      "yet")]
        return text, right, wrong
    if outcome is Outcome.EWOULDBLOCK:
        right = Choice(refused.text, f"the socket is non-blocking and nothing is queued on it, "
                                     f"so {name} returns EWOULDBLOCK at once instead of "
                                     "sleeping")
        wrong = [Choice(sleeps.text, f"the socket is non-blocking (O_NONBLOCK): {name} never "
                                     "sleeps waiting for data"),
                 Choice(copies.text, f"nothing is queued on {sock}: there is nothing to copy")]
        return text, right, wrong
    if outcome is Outcome.COPIES:
        right = Choice(copies.text, f"{sp.queued(here)} on {sock}, so {name} copies {data} "
                                    f"into the buffer at once; {who} is blocked during the "
                                    "copy (phase 2)")
        at_once = Choice(f"{name} returns the data at once, without blocking at all",
                         _no_free_copy(sp, call))
        wrong = [at_once, Choice(sleeps.text, f"data is already queued on {sock}: there is "
                                              f"nothing to wait for, {name} copies it")]
        if sp.nonblocking:
            wrong.append(Choice(refused.text, f"data is queued on {sock}, so {name} copies "
                                              "it; EWOULDBLOCK means nothing was queued"))
        return text, right, wrong
    return None


def _no_free_copy(sp: Speaker, call: Call) -> str:
    """Why a read that finds data still blocks: the misconception of each model."""
    name = call.name
    if call.in_handler:
        return (f"SIGIO only said that data was ready: the handler's {name} copies it, and "
                "the process is blocked during the copy")
    if sp.watcher:
        return (f"{sp.watcher} only reported readiness: {name} has not copied anything yet, "
                "and the process is blocked while it copies")
    if sp.nonblocking:
        return ("a non-blocking socket spares only the wait for data (phase 1); the copy "
                "into the buffer (phase 2) still blocks the process")
    return (f"the data is there, so {name} does not wait for it, but the copy into the buffer "
            "(phase 2) blocks the caller")


def _wait_choices(sp: Speaker, call: Call
                  ) -> Made | None:
    who, name = sp.who(call.lane), call.name
    ready = sp.facts.queued_elsewhere(-1, call.t)
    if (call.outcome is Outcome.READABLE) != bool(ready):
        return None  # readable for a close, or asleep beside data: not what is stated
    state = f"data is queued on {sp.connections(list(ready))}" if ready else \
        "no watched socket has data queued"
    text = f"{who} calls {name} on its sockets; {state}. What does {name} do?"
    sleeps = Choice(f"{name} puts {who} to sleep until a watched socket is readable", "")
    readable = Choice(f"{name} returns at once, reporting the readable socket", "")
    reads = Choice(f"{name} waits for data and returns it, already copied into the buffer",
                   f"{name} copies nothing: it only reports which sockets are readable, and "
                   "recvfrom must still read the data")
    if call.outcome is Outcome.SLEEPS:
        right = Choice(sleeps.text, f"no watched socket has data queued, so {name} sleeps "
                                    "until one becomes readable")
        wrong = [reads, Choice(readable.text, f"no watched socket has data queued: {name} has "
                                              "nothing to report yet")]
        return text, right, wrong
    if call.outcome is Outcome.READABLE:
        right = Choice(readable.text, f"data is already queued on a watched socket, so {name} "
                                      "returns at once and reports it; it has read nothing")
        wrong = [reads, Choice(sleeps.text, f"data is already queued on a watched socket: "
                                            f"{name} has something to report, it does not "
                                            "sleep")]
        return text, right, wrong
    return None


def _aio_read_choices(sp: Speaker, call: Call) -> Made:
    here = sp.facts.queued(call.conn, call.t)
    text = f"The process calls aio_read on {sp.sock(call.conn)}; {sp.queued(here)} there. " \
           "What does aio_read do?"
    right = Choice("aio_read returns at once: it has only queued the read",
                   "aio_read hands the read over and returns; the program runs on and learns "
                   "later that the read has completed")
    wrong = [Choice("aio_read puts the process to sleep until the data has arrived and been "
                    "copied", "aio_read does not wait: it queues the read and returns at once"),
             Choice("aio_read returns at once with nothing read, so the program must call it "
                    "again later", "the read stays queued and completes by itself when data "
                                   "arrives: the program does not ask again")]
    return text, right, wrong


def _aio_return_choices(call: Call) -> Made:
    who = "the completion signal's handler" if call.in_handler else "the process"
    text = f"Told that a read has completed, {who} calls aio_return for it. What does " \
           "aio_return do?"
    right = Choice("aio_return returns at once with the result: the data is already in the "
                   "buffer", "the read had completed before the program was told, so "
                             "aio_return only collects its result")
    wrong = [Choice("aio_return blocks while the data is copied into the buffer",
                    "the copy was done before the program was told of the completion: "
                    "aio_return copies nothing"),
             Choice("aio_return puts the process to sleep until data arrives",
                    "the program was told because the read had completed: there is nothing "
                    "left to wait for")]
    return text, right, wrong


# -- what an arrival sets off -----------------------------------------------------------------

def arrival_draft(sp: Speaker, arrival: Arrival) -> Draft | None:
    made = _arrival_choices(sp, arrival)
    if made is None:
        return None
    situation, right, wrong = made
    noun = sp.words.a if not sp.many else f"{sp.words.a} on connection {arrival.conn}"
    text = f"{capital(situation)} Now {noun} arrives. What happens?"
    return Draft("arrival", arrival.lane, stop_before(sp.run, arrival.t), arrival.shown_at,
                 text, right, tuple(wrong), ("arrival", arrival.reaction))


def _arrival_choices(sp: Speaker, a: Arrival
                     ) -> tuple[str, Choice, list[Choice]] | None:
    who, call = sp.who(a.lane), a.call
    sock = sp.sock(a.conn)
    if a.reaction is Reaction.WAKES_READ:
        situation = f"{who} sleeps in {call} on {sock}."
        right = Choice(f"the kernel wakes {who}; {call} then copies the data and returns it",
                       f"{who} sleeps in {call} on this very socket: the arrival makes it "
                       f"readable and the kernel wakes {who}; the copy follows (phase 2)")
        wrong = [Choice(f"the kernel first copies the data into the buffer, then wakes {who}",
                        f"{call} copies the data itself once {who} runs again: {who} is woken "
                        "first, then blocked during the copy"),
                 Choice(f"nothing happens until {who} calls {call} again",
                        f"{who} is already inside {call} on this socket, asleep: the arrival "
                        "wakes it, there is nothing to ask again")]
        if sp.run.lanes[a.lane].role == "thread" and sp.many:
            wrong.append(Choice("the kernel wakes every thread",
                                "only the thread asleep on this connection's socket is woken; "
                                "the others sleep on in their own recvfrom"))
        return situation, right, wrong
    if a.reaction is Reaction.WAKES_WAIT:
        situation = f"{who} sleeps in {call}, watching its sockets."
        right = Choice(f"the kernel wakes {who}; {call} returns, reporting the socket readable",
                       f"{call} waits for any watched socket to become readable: this arrival "
                       f"makes one readable, so the kernel wakes {who}")
        wrong = [Choice(f"the kernel wakes {who}; {call} returns with the data copied into "
                        "the buffer", f"{call} only reports readiness: recvfrom has not run "
                                      "yet, and it is recvfrom that copies the data")]
        if sp.many:
            wrong.append(Choice(f"{who} sleeps on: {call} waits until every watched socket is "
                                "readable", f"{call} returns as soon as one watched socket is "
                                            "readable"))
        else:
            wrong.append(Choice("nothing happens until the process calls recvfrom",
                                f"the process is asleep in {call}, which watches this socket: "
                                "the arrival wakes it"))
        return situation, right, wrong
    if a.reaction is Reaction.NOTHING_BEHIND:
        x = a.call_conn
        situation = f"{who} sleeps in {call} on connection {x}'s socket."
        right = Choice(f"nothing in {who}: it sleeps on in {call} on connection {x}, and the "
                       f"data waits queued on connection {a.conn}",
                       f"{call} waits on connection {x}'s socket only; an arrival on "
                       f"connection {a.conn} wakes nobody (head-of-line blocking)")
        wrong = [Choice(f"the kernel wakes {who}, and {call} returns connection {a.conn}'s data",
                        f"{call} was called on connection {x}'s socket and returns only that "
                        "socket's data"),
                 Choice(f"the kernel wakes {who} so that it can read connection {a.conn}",
                        f"nothing asked to be told about connection {a.conn}: {who} sleeps in "
                        f"{call} on connection {x} and can call nothing until that returns")]
        return situation, right, wrong
    if a.reaction is Reaction.NOTHING_POLLING:
        read = _next_read(sp, a) or "recvfrom"
        situation = (f"the process is doing its own work between two rounds of {read} calls "
                     "on its non-blocking sockets." if sp.many else
                     f"the process is doing its own work before it calls {read} again.")
        right = Choice(f"nothing in the process: the data waits queued until its next {read}",
                       f"a polling process is told nothing: it finds the data only when it "
                       f"calls {read} again")
        wrong = [Choice("the kernel interrupts the process's own work so that it reads the "
                        "data", "nothing interrupts a polling process: it asked for no "
                                "signal, and it is not asleep in a call to be woken"),
                 Choice("the kernel copies the data into the process's buffer while it works",
                        f"data is copied only by a read: {read} copies it when the process "
                        "calls it again")]
        return situation, right, wrong
    if a.reaction is Reaction.SIGIO:
        situation = "the process runs its own code; its sockets have O_ASYNC set, with it as " \
                    "their owner."
        right = Choice("the kernel sends SIGIO; the handler will read the data",
                       "the kernel signals the socket's owner as data arrives; the data stays "
                       "queued until the handler's recvfrom copies it")
        wrong = [Choice("the kernel copies the data into the buffer, then sends SIGIO",
                        "SIGIO only says that a socket is ready: the copy is done by the "
                        "handler's recvfrom (a kernel that did both phases would be "
                        "asynchronous IO)"),
                 Choice("nothing happens until the main loop calls recvfrom",
                        "the main loop does not poll: O_ASYNC makes the kernel send SIGIO as "
                        "data arrives")]
        return situation, right, wrong
    if a.reaction is Reaction.COPIED:
        situation = "the process runs its own code; an aio_read is waiting on this socket."
        right = Choice("the data is copied into aio_read's buffer while the program runs on; "
                       "then the completion is signalled",
                       "the read was handed over with aio_read and completes while the "
                       "program's own code runs on; the program is told once the data is in the "
                       "buffer")
        wrong = [Choice("the kernel signals first; the handler's aio_return then copies the "
                        "data", "aio tells the program after the read has completed: the data "
                                "is already in the buffer when the handler runs (signal "
                                "first, copy after is signal-driven IO)"),
                 Choice("nothing happens until the program calls aio_return",
                        "the read completes by itself; the program calls aio_return only "
                        "once it is told the read is done")]
        return situation, right, wrong
    return None


def _next_read(sp: Speaker, a: Arrival) -> str:
    return next((c.name for c in sp.facts.calls if c.t >= a.t and c.lane == a.lane), "")


# -- a run that cannot start ------------------------------------------------------------------

def error_draft(run: Run) -> Draft | None:
    """select given a descriptor at or above FD_SETSIZE: the run stops at once."""
    found = FD_SETSIZE_ERROR.search(run.error or "")
    if found is None or not len(run) or run.kind[0] != Kind.ERROR:
        return None
    fd, limit = int(found[1]), int(found[2])
    text = f"The process calls select to watch its sockets; the highest descriptor is {fd:,}. " \
           "What happens?"
    right = Choice(f"select cannot watch them: descriptor {fd:,} is not below FD_SETSIZE "
                   f"({limit:,})", f"select's descriptor sets hold descriptors 0 to "
                                   f"{limit - 1:,} only; poll and epoll have no such limit")
    wrong = (Choice("select puts the process to sleep until one of the sockets is readable",
                    f"descriptor {fd:,} does not even fit in select's descriptor set: "
                    f"FD_SETSIZE is {limit:,}"),
             Choice("select works, only more slowly with so many descriptors",
                    "the limit is not speed: FD_SETSIZE fixes the size of the set, and a "
                    "descriptor at or above it cannot be watched at all"))
    t = run.t0[0]
    return Draft("call", run.lane[0], t, t, text, right, wrong, ("error",))
