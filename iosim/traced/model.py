"""Which IO model a traced program uses, named in Stevens's words, from its calls alone: what
each task did before it read data (a select/poll/epoll_wait that returned readable, a SIGIO,
EWOULDBLOCKs, nothing: a read that blocked), which tasks read (the main thread, threads of
its own, child processes), and the marks of asynchronous IO (io_uring_enter; glibc's POSIX
aio, whose helper thread tries pread64 on the socket, fails with ESPIPE, then reads).

The result goes into the run's meta as ``model_guess`` (trace.py checks it when a trace is
loaded): {"model": NAME, "threads": N, "processes": N, "evidence": "..."}.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from iosim.traced.scan import MULTIPLEXERS, READS, WOULDBLOCK, Scan, Step
from iosim.traced.strace import Exit, Signal, nth_arg

FAMILIES = {"select": "select", "poll": "poll", "epoll_wait": "epoll"}


def model_sentence(guess: dict[str, Any]) -> str:
    """The model in one sentence, in Stevens's words (UNP 6.2), for the summary and the
    window's code pane."""
    model = guess.get("model", "")
    evidence = str(guess.get("evidence", ""))
    read = "read"
    if model == "blocking":
        return (f"Blocking I/O: the process blocks in its call to {read} until the data has "
                "arrived and been copied into its buffer.")
    if model == "nonblocking":
        return (f"Nonblocking I/O: the process repeatedly calls {read}, waiting for an OK "
                "return (polling); a call that finds no data returns EWOULDBLOCK at once.")
    if model in ("select", "poll", "epoll", "epoll-et"):
        call = {"select": "select", "poll": "poll"}.get(model, "epoll_wait")
        loop = " (an event loop)" if "event loop" in evidence else ""
        edge = (" Edge-triggered: it is told once per arrival, so it reads each socket until "
                "EWOULDBLOCK.") if model == "epoll-et" else ""
        return (f"I/O multiplexing with {call}{loop}: the process blocks in {call}, waiting "
                "for one of possibly many sockets to become readable, then calls "
                f"{read} to copy the data.{edge}")
    if model == "sigio":
        return ("Signal-driven I/O: the kernel delivers SIGIO when a socket becomes readable; "
                "the process continues executing, and its signal handler calls recvfrom, "
                "which blocks while the data is copied.")
    if model == "aio" and "io_uring" in evidence:
        return ("Asynchronous I/O (io_uring): the process hands each read to the kernel, "
                "which waits for the data and copies it; the process is told when the copy "
                "is complete.")
    if model == "aio":
        return ("Asynchronous I/O as glibc's POSIX aio does it: aio_read returns at once and "
                "a helper thread of the process blocks in read, so the kernel does not "
                "handle both phases.")
    if model == "threaded":
        return (f"A thread per connection: each thread blocks in its call to {read} on its "
                "own connection, so one slow client does not hold up the others.")
    if model == "fork":
        return ("A process per connection: the parent blocks in accept and forks a child "
                f"for each client; each child blocks in {read} on its own connection.")
    return ""


def guess_model(scan: Scan, runtime: str = "") -> dict[str, Any]:
    """The model of the traced program; ``runtime`` names an event-loop runtime found from
    the command or the source ("Node.js (libuv)", "asyncio"), for the evidence."""
    steps = [s for s in scan.steps if isinstance(s, Step)]
    main = scan.main
    process_of = scan.tasks.process_of
    networked = [s for s in steps if s.inet is not None or s.call.name in MULTIPLEXERS
                 or s.call.name.startswith("io_uring")]
    processes = {process_of(s.call.tid) for s in networked} or {main}
    threads = {s.call.tid for s in networked if process_of(s.call.tid) == main} or {main}
    reads = [s for s in steps if s.call.name in READS and s.inet is not None
             and (s.call.result or 0) > 0]
    ways = _how_read(scan.steps)
    how = Counter(ways.get(id(s), "blocking") for s in reads)
    counts = {"threads": len(threads), "processes": len(processes)}
    where = (f"; {len(processes)} process{'es' if len(processes) != 1 else ''}, "
             f"{len(threads)} thread{'s' if len(threads) != 1 else ''}")
    n = len(reads)

    def said(model: str, evidence: str) -> dict[str, Any]:
        return {"model": model, **counts, "evidence": evidence + where}

    if any(s.call.name.startswith("io_uring") for s in steps):
        return said("aio", f"io_uring: the program submits its reads to the kernel and reaps "
                           f"their completions in io_uring_enter ({n} reads seen)")
    if any(s.call.name == "pread64" and s.call.errno == "ESPIPE" for s in steps):
        helpers = {s.call.tid for s in reads if s.call.tid != main}
        return said("aio", "POSIX aio (glibc): each aio_read ran in a helper thread that tried "
                           f"pread64 on the socket (ESPIPE) and then read; {len(helpers)} "
                           "helper thread(s) read")
    in_children = [s for s in reads if process_of(s.call.tid) != main]
    if in_children and len(in_children) * 2 >= n:
        return said("fork", f"{len(in_children)} of {n} reads were made by child processes "
                            f"the main process forked ({len(processes) - 1} children)")
    sigio = sum(1 for s in scan.steps if isinstance(s, Signal) and s.name in ("SIGIO",
                                                                             "SIGPOLL"))
    if how["sigio"] and how["sigio"] * 2 >= n or sigio and not n:
        return said("sigio", f"{how['sigio']} of {n} reads were made in the SIGIO handler "
                             f"({sigio} SIGIO delivered)")
    in_threads = [s for s in reads if s.call.tid != main and process_of(s.call.tid) == main]
    if in_threads and len(in_threads) * 2 >= n and how["blocking"] >= how["multiplexer"]:
        per = len({s.call.tid for s in in_threads})
        return said("threaded", f"{len(in_threads)} of {n} reads were made by {per} threads "
                                "other than the main one, each blocking in its read")
    family = _family(scan, reads)
    if family and how["multiplexer"] * 2 >= n:
        model = family
        if family == "epoll" and _edge_triggered(steps):
            model = "epoll-et"
        call = {"select": "select", "poll": "poll"}.get(family, "epoll_wait")
        loop = f"; {runtime}'s event loop" if runtime else ""
        trigger = ", edge-triggered (EPOLLET)" if model == "epoll-et" else ""
        return said(model, f"{how['multiplexer']} of {n} reads came after a {call} that "
                           f"returned readable{trigger}{loop}")
    polls = sum(1 for s in steps if s.call.name in READS and s.call.errno in WOULDBLOCK)
    if how["polling"] or polls and not family:
        return said("nonblocking", f"{polls} reads returned EWOULDBLOCK between those that "
                                   f"got data, with no select, poll or epoll ({n} reads)")
    if family:
        call = {"select": "select", "poll": "poll"}.get(family, "epoll_wait")
        return said(family, f"it waits in {call}; {n} reads with data")
    return said("blocking", f"{how['blocking']} of {n} reads waited in the read itself, with "
                            "no select, poll, epoll or signal")


def _how_read(steps: list[Step | Signal | Exit]) -> dict[int, str]:
    """For each read (by id), how its task waits for data: "sigio" (read in a signal
    handler, or after a SIGIO, as CPython reads in its Python-level handler), "multiplexer"
    (the task waits in select, poll or epoll_wait), "polling" (its reads return EWOULDBLOCK
    and it waits in none) or "blocking" (the read itself waits)."""
    waits_in: set[int] = set()
    polled: set[int] = set()
    signalled: set[int] = set()  # tasks a SIGIO reached since their queue was last emptied
    how: dict[int, str] = {}
    for s in steps:
        if isinstance(s, Signal):
            if s.name in ("SIGIO", "SIGPOLL"):
                signalled.add(s.tid)
            continue
        if isinstance(s, Exit):
            continue
        c = s.call
        if c.name in MULTIPLEXERS:
            waits_in.add(c.tid)
        elif c.name in READS and s.inet is not None:
            if c.errno in WOULDBLOCK:
                (signalled if c.tid in signalled else polled).add(c.tid)
                signalled.discard(c.tid)
            elif (c.result or 0) > 0:
                how[id(s)] = "sigio" if s.handler or c.tid in signalled else \
                    "multiplexer" if c.tid in waits_in else \
                    "polling" if c.tid in polled else "blocking"
    return how


def _family(scan: Scan, reads: list[Step]) -> str:
    """The multiplexer the reading tasks wait in (the one they call most)."""
    tids = {s.call.tid for s in reads} or {scan.main}
    used = Counter(FAMILIES[MULTIPLEXERS[s.call.name]] for s in scan.steps
                   if isinstance(s, Step) and s.call.name in MULTIPLEXERS and s.call.tid in tids)
    return used.most_common(1)[0][0] if used else ""


def _edge_triggered(steps: list[Step]) -> bool:
    """Most sockets registered with epoll_ctl ADD whose flags are known (the perf tracer
    learns them from /proc while the program runs, and may miss a short-lived one's) were
    registered edge-triggered."""
    adds = [s for s in steps if s.call.name == "epoll_ctl" and
            nth_arg(s.call.args, 1) == "EPOLL_CTL_ADD" and "events=?" not in s.call.args]
    return bool(adds) and sum("EPOLLET" in s.call.args for s in adds) * 2 > len(adds)
