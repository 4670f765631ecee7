"""Numeric questions, as OSTEP's homework asks them: how many EWOULDBLOCKs before the first
data arrives, how many system calls until the first message is processed, how many SIGIOs
for the run's messages. Asked at the start of the run, from what the scenario and the program
say; each wrong number has its own why (one pass too few, a signal per message, ...)."""

from __future__ import annotations

from iosim.teach.asking import Speaker
from iosim.teach.calls import Outcome, ready_is_known
from iosim.teach.drafts import Choice, Draft
from iosim.teach.words import MULTIPLEXERS, call_name
from iosim.timefmt import format_us
from iosim.trace import Kind, Run

MOST_CALLS = 10  # more calls than this until the first message: not a question to count


def count_drafts(sp: Speaker) -> list[Draft]:
    return [d for d in (_refusals(sp), _calls_until_first(sp), _signals(sp)) if d is not None]


def _draft(sp: Speaker, text: str, right: Choice, wrong: list[Choice], topic: str) -> Draft:
    lane = min(sp.facts.lanes, default=0)
    return Draft("count", lane, 0.0, 0.0, text, right, tuple(wrong), ("count", topic))


def _refusals(sp: Speaker) -> Draft | None:
    """A polling program: how many EWOULDBLOCKs before the first data arrives?"""
    run = sp.run
    if not run.message_count:
        return None
    first_m = min(range(run.message_count), key=run.m_ready.__getitem__)
    if not ready_is_known(run, first_m):
        return None
    first = run.m_ready[first_m]
    refused = [t for k, t in zip(run.kind, run.t0, strict=True)
               if k == Kind.EWOULDBLOCK and t < first]
    lane = min(sp.facts.lanes, default=0)
    passes = _pass_starts(run, lane, first)
    if len(refused) < 2 or len(passes) < 2 or int(Kind.SIGNAL) in run.kind:
        return None
    per_pass = sum(1 for t in refused if t < passes[1])
    answer = len(refused)
    work = _first_work(run, lane)
    call = next((c.name for c in sp.facts.calls if c.outcome is Outcome.EWOULDBLOCK),
                "recvfrom")
    each = f"calls {call} on each of its {per_pass} sockets" if per_pass > 1 else \
        f"calls {call} on its socket"
    text = (f"The process polls: each pass {each}, and when nothing is queued it does "
            f"{format_us(work)} of its own work before the next pass. The first "
            f"{_unit(sp)} arrives at {format_us(first)}. How many times does {call} return "
            "EWOULDBLOCK before then?")
    begun = [t for t in passes if t < first]
    if len(begun) < 2:
        return None
    later = next((t for t in passes if t >= first), None)
    right = Choice(str(answer), f"passes begin at {format_us(begun[0])}, "
                                f"{format_us(begun[1])}, … the last at {format_us(begun[-1])}: "
                                f"{len(begun)} passes before {format_us(first)}, whose calls "
                                f"return EWOULDBLOCK {answer} times")
    wrong = [Choice("0", f"0 is a blocking socket's count: it sleeps in {call} instead; these "
                         "sockets are non-blocking, so each call that finds nothing returns "
                         "EWOULDBLOCK at once")]
    if answer - per_pass > 0:
        wrong.append(Choice(str(answer - per_pass), "one pass too few: count the pass at "
                                                    f"{format_us(begun[0])} too"))
    after = f"the next pass begins at {format_us(later)}, after the arrival" if later else \
        "no pass begins after the last one before the arrival"
    wrong.append(Choice(str(answer + per_pass), f"one pass too many: {after}"))
    return _draft(sp, text, right, wrong, "ewouldblock")


def _unit(sp: Speaker) -> str:
    """What one message is called: a datagram (UDP) or a message (TCP data)."""
    return "datagram" if sp.words.udp else "message"


def _pass_starts(run: Run, lane: int, until: float) -> list[float]:
    """When each pass of a polling loop begins: the first call, then the end of each stretch
    of own work (up to the first call after ``until``)."""
    starts: list[float] = []
    for k, ln, t0, t1 in zip(run.kind, run.lane, run.t0, run.t1, strict=True):
        if ln != lane:
            continue
        if k == Kind.SYSCALL and not starts:
            starts.append(t0)
        elif k == Kind.WORK and starts:
            starts.append(t1)
            if t1 >= until:
                break
    return starts


def _first_work(run: Run, lane: int) -> float:
    return next((t1 - t0 for k, ln, t0, t1 in zip(run.kind, run.lane, run.t0, run.t1,
                                                  strict=True)
                 if ln == lane and k == Kind.WORK), 0.0)


def _calls_until_first(sp: Speaker) -> Draft | None:
    """How many system calls until the first message is processed (setup included)?"""
    run = sp.run
    done = [t for t in run.m_done if t == t]
    if not done or "thread" in (ln.role for ln in run.lanes) or sp.nonblocking:
        return None
    first = min(done)
    names = [call_name(run, i) for i in range(len(run))
             if run.kind[i] == Kind.SYSCALL and run.t0[i] < first and run.lane[i] in
             sp.facts.lanes]
    answer = len(names)
    if not answer or answer > MOST_CALLS:
        return None
    listed = _listed(names)
    text = (f"Count the system calls the process makes from the start until it has processed "
            f"its first {_unit(sp)}, setup calls included. How many are there?")
    right = Choice(str(answer), f"the process calls {listed}: {answer}")
    readiness = next((n for n in names if n in MULTIPLEXERS), "")
    fewer = f"; {readiness} only reports readiness, so recvfrom must still be called to " \
            "copy the data" if readiness else ""
    wrong = []
    for n in (answer - 1, answer + 1, answer + 2):
        if n < 1 or len(wrong) == 3:
            continue
        if n < answer:
            why = f"one too few: the process calls {listed}{fewer}"
        else:
            why = f"{'one' if n == answer + 1 else 'two'} too many: the process calls only " \
                  f"{listed}"
        wrong.append(Choice(str(n), why))
    return _draft(sp, text, right, wrong, "calls")


def _listed(names: list[str]) -> str:
    """ "sigaction, fcntl F_SETOWN, fcntl O_ASYNC and recvfrom" (repeats counted: "x2")."""
    parts: list[str] = []
    for name in names:
        if parts and parts[-1].split(" ×")[0] == name:
            n = int(parts[-1].split(" ×")[1]) + 1 if " ×" in parts[-1] else 2
            parts[-1] = f"{name} ×{n}"
        else:
            parts.append(name)
    if len(parts) == 1:
        return parts[0]
    return f"{', '.join(parts[:-1])} and {parts[-1]}"


def _signals(sp: Speaker) -> Draft | None:
    """SIGIO is not queued: how many does the kernel deliver for the run's messages?"""
    run = sp.run
    n = run.message_count
    labels = run.labels
    signals = sum(1 for k, label in zip(run.kind, run.label, strict=True)
                  if k == Kind.SIGNAL and "SIGIO" in labels[label])
    if run.source != "sim" or n < 3 or not signals:
        return None
    conns = len({c for c in run.m_conn})
    noun = sp.words.count(n)
    tcp = "" if sp.words.udp else (" (this simulation raises SIGIO for arrivals only; on a "
                                   "real TCP socket, connection set-up, close and errors "
                                   "raise it too)")
    text = f"Over the run, {noun} arrive on {conns} connection{'s' if conns > 1 else ''}. " \
           f"How many times does the kernel deliver SIGIO{tcp}?"
    if signals == n:
        why = ("each arrives when no handler is running and no SIGIO is pending, so each "
               "raises its own")
    else:
        why = (f"SIGIO is not queued: arrivals while its handler runs leave at most one SIGIO "
               f"pending, which the handler's loop takes; so {noun} need only {signals}")
    right = Choice(str(signals), why)
    wrong: list[Choice] = []
    if n != signals:
        wrong.append(Choice(str(n), "one per message would need signals to be queued: plain "
                                    "SIGIO is not, so the handler reads every socket until "
                                    "EWOULDBLOCK to find all the data"))
    if signals != 1:
        wrong.append(Choice("1", f"one SIGIO covers only the arrivals while it is pending or "
                                 f"its handler runs; {signals} arrivals here find no handler "
                                 "running, and each raises its own"))
    if conns not in (n, signals, 1):
        wrong.append(Choice(str(conns), "SIGIO does not come once per connection: it comes "
                                        "per arrival that finds none pending, and plain SIGIO "
                                        "does not even say which socket is ready (F_SETSIG "
                                        "with a real-time signal would)"))
    for extra in (signals + 1, signals * 2):
        if len(wrong) < 2 and str(extra) not in {c.text for c in wrong}:
            wrong.append(Choice(str(extra), f"too many: the kernel delivers {signals}; "
                                            f"{why}"))
    return _draft(sp, text, right, wrong, "sigio")
