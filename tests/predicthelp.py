"""Predict mode's questions walked as the window walks them, each checked against a reading of
the whole trace: the true choice is what the trace shows at its moment, no wrong choice is,
no choice names a call or signal the program never uses, and each choice has its own why."""

from __future__ import annotations

import re

from iosim.teach.predict import ALL_RUNS, MOST, Question, Quiz
from iosim.teach.words import BLOCKS_IN, call_name
from iosim.trace import COPY_LABEL, Kind, Run

CODE_WORDS = re.compile(
    r"\b(recvfrom|select|poll|epoll_wait|aio_read|aio_return|SIGIO|send|accept)\b")
PARTIAL = re.compile(r"return [\d,]+ of [\d,]+ bytes")


def questions(quiz: Quiz) -> list[Question]:
    """Walk a quiz as the window does: answer, then go on from the event."""
    out: list[Question] = []
    t = -1.0
    while len(out) <= MOST and (q := quiz.question_after(t)) is not None:
        out.append(q)
        quiz.answer(q.answer)
        t = q.event_t
    return out


def check_questions(run: Run, quiz: Quiz) -> int:
    """Every question of a run's quiz, checked; returns how many there were."""
    asked = questions(quiz)
    assert len(asked) <= MOST
    used = _used_words(run)
    previous = float("-inf")
    for q in asked:
        check_shape(q)
        assert previous <= q.stop_at <= q.event_t, q
        assert q.model == run.model
        for choice in q.choices:
            assert set(CODE_WORDS.findall(choice)) <= used, (choice, used)
            assert "processing" not in choice and "processes" not in choice, choice
        truth = TRUTHS[q.kind](run, q)
        assert truth[q.answer], (q.text, q.choices[q.answer])
        assert sum(truth) == 1, (q.text, q.choices, truth)
        previous = q.event_t
    assert asked or not len(run) or run.error
    return len(asked)


def check_shape(q: Question) -> None:
    assert 3 <= len(q.choices) <= 4 and len(set(q.choices)) == len(q.choices), q
    assert len(q.whys) == len(q.choices) and len(set(q.whys)) == len(q.whys), q.whys
    assert q.text.endswith("?"), q.text
    for k in range(len(q.choices)):
        reveal = q.reveal(k)
        assert reveal.right == (k == q.answer)
        assert reveal.why.startswith("Right: " if reveal.right else "Wrong: ")
        assert reveal.why.endswith(".") and not reveal.why.endswith(".."), reveal.why
        assert reveal.answer == q.choices[q.answer]
        assert bool(reveal.answer_why) != reveal.right


def _used_words(run: Run) -> set[str]:
    """The calls the run makes and the signal it takes: what a choice may name."""
    used = {call_name(run, i) for i in range(len(run)) if run.kind[i] == Kind.SYSCALL}
    used |= set(CODE_WORDS.findall(run.error or ""))
    if any(run.kind[i] == Kind.SIGNAL and "SIGIO" in run.labels[run.label[i]]
           for i in range(len(run))):
        used.add("SIGIO")
    return used


def _at(run: Run, lane: int, t: float) -> list[int]:
    return [i for i in range(len(run)) if run.t0[i] == t and run.lane[i] == lane]


def _call_truth(run: Run, q: Question) -> list[bool]:
    """What the lane did at the answer's moment, matched against each choice's words."""
    events = _at(run, q.lane, q.event_t)
    kinds = {run.kind[i] for i in events}
    labels = {run.labels[run.label[i]] for i in events}
    shows = {
        "to sleep": any(label.startswith(BLOCKS_IN) for label in labels)
        and Kind.BLOCKED in kinds,
        "copies": COPY_LABEL in labels,
        "EWOULDBLOCK at once": Kind.EWOULDBLOCK in kinds,
        "reporting the readable": Kind.READABLE in kinds,
        "at once: it has only queued": Kind.RETURN in kinds,
        "at once with the result": Kind.RETURN in kinds,
        "cannot watch": Kind.ERROR in kinds,
    }
    return _matched(q, shows)


def _matched(q: Question, shows: dict[str, bool]) -> list[bool]:
    """A choice is true when it says at least one of the things ``shows`` knows, and each
    of them is true."""
    out = []
    for choice in q.choices:
        said = [key for key in shows if key in choice]
        out.append(bool(said) and all(shows[key] for key in said))
    return out


def _send_truth(run: Run, q: Question) -> list[bool]:
    """A send, or a multiplexer waiting for room: what the lane did at the answer's moment
    (and whether it slept since the stop)."""
    events = _at(run, q.lane, q.event_t)
    kinds = {run.kind[i] for i in events}
    labels = {run.labels[run.label[i]] for i in events}
    writable = Kind.READABLE in kinds and any("writable" in label for label in labels)
    slept = any(run.lane[i] == q.lane and run.kind[i] == Kind.BLOCKED
                and run.labels[run.label[i]].startswith(BLOCKS_IN)
                and q.stop_at <= run.t0[i] < q.event_t for i in range(len(run)))
    shows = {
        "until a third of the send buffer is free": Kind.BLOCKED in kinds and any(
            "until a third of the send buffer is free" in label for label in labels),
        "EWOULDBLOCK at once": Kind.EWOULDBLOCK in kinds,
        "a partial count": Kind.RETURN in kinds and any(map(PARTIAL.match, labels)),
        "copies the whole reply": "return OK" in labels,
        "then returns, reporting the socket writable": writable and slept,
        "returns at once, reporting the socket writable": writable and not slept,
        "has read everything": False,  # a send waits for room, never for the reader
        "sends the rest": False,  # a multiplexer sends nothing
    }
    return _matched(q, shows)


def _sigio_truth(run: Run, q: Question) -> list[bool]:
    """What the SIGIO delivered at the answer's moment says raised it."""
    said = " ".join(run.labels[run.label[i]] for i in _at(run, q.lane, q.event_t)
                    if run.kind[i] == Kind.SIGNAL)
    causes = {"set up": "connection established", "data arriving": "data arrived",
              "half-close": "half-closed", "room made": "send space"}
    return [any(key in choice.lower() and cause in said for key, cause in causes.items())
            for choice in q.choices]


def _arrival_truth(run: Run, q: Question) -> list[bool]:
    events = _at(run, q.lane, q.event_t)
    kinds = {run.kind[i] for i in events}
    labels = " ".join(run.labels[run.label[i]] for i in events)
    ready = [run.t0[i] for i in range(len(run)) if run.kind[i] == Kind.ARRIVAL
             and run.t0[i] <= q.event_t and run.t0[i] > q.stop_at]
    assert ready, q  # the arrival the question gives is the next one after the stop
    woken = Kind.WAKEUP in kinds
    signalled = Kind.SIGNAL in kinds and "SIGIO" in labels
    completed = Kind.SIGNAL in kinds and "SIGIO" not in labels
    quiet = not kinds & {Kind.WAKEUP, Kind.SIGNAL, Kind.SYSCALL}
    out = []
    for choice in q.choices:
        if choice.startswith("The kernel wakes every thread"):
            out.append(False if woken else quiet)
        elif choice.startswith("The kernel wakes") and "returns connection" in choice:
            out.append(False)  # a read returns only its own socket's data
        elif choice.startswith("The kernel wakes") and "so that it can read" in choice:
            out.append(False)
        elif choice.startswith("The kernel wakes"):
            out.append(woken and ("copied into the buffer" not in choice))
        elif choice.startswith("The kernel first copies") or "then sends SIGIO" in choice:
            out.append(False)  # the copy follows the wake-up, or the handler's read
        elif choice.startswith("The kernel sends SIGIO"):
            out.append(signalled)
        elif choice.startswith("The data is copied into aio_read's buffer"):
            out.append(completed)
        elif choice.startswith("Nothing in"):
            out.append(quiet)
        else:  # "nothing happens until ...", "the process sleeps on: ... every socket", ...
            out.append(False)
    return out


def _count_truth(run: Run, q: Question) -> list[bool]:
    lanes = {i for i, ln in enumerate(run.lanes) if ln.role in ("app", "thread")}
    threads = {i for i, ln in enumerate(run.lanes) if ln.role == "thread"}
    if "threads does the kernel wake" in q.text:
        n = sum(1 for k, t, ln in zip(run.kind, run.t0, run.lane, strict=True)
                if k == Kind.WAKEUP and t == q.event_t and ln in threads)
    elif "accepts return EWOULDBLOCK" in q.text:
        n = sum(1 for i in range(len(run)) if run.kind[i] == Kind.EWOULDBLOCK
                and run.lane[i] in threads and call_name(run, i) == "accept"
                and q.stop_at <= run.t0[i] <= q.event_t)
    elif "EWOULDBLOCK before then" in q.text:
        first = min(run.m_ready)
        n = sum(1 for k, t in zip(run.kind, run.t0, strict=True)
                if k == Kind.EWOULDBLOCK and t < first)
    elif "system calls" in q.text:
        done = min(t for t in run.m_done if t == t)
        n = sum(1 for k, t, ln in zip(run.kind, run.t0, run.lane, strict=True)
                if k == Kind.SYSCALL and t < done and ln in lanes)
    else:
        assert "SIGIO" in q.text
        n = sum(1 for k, label in zip(run.kind, run.label, strict=True)
                if k == Kind.SIGNAL and "SIGIO" in run.labels[label])
    return [choice == str(n) for choice in q.choices]


TRUTHS = {"call": _call_truth, "arrival": _arrival_truth, "count": _count_truth,
          "send": _send_truth, "sigio": _sigio_truth}


def check_first_questions(runs: list[Run], quiz: Quiz) -> int:
    """Across runs: the true choice handles the message first, strictly before the others
    offered, and is asked at the moment the message is ready."""
    asked = questions(quiz)
    by_name = {(run.model if run.source == "sim" else f"{run.model} ({run.source})"): run
               for run in runs}
    previous = float("-inf")
    for q in asked:
        check_shape(q)
        assert q.model == ALL_RUNS and q.kind == "first" and q.lane == -1
        m = int(re.match(r"(?:Message (\d+)|The)", q.text)[1] or 1) - 1
        done = [by_name[c].m_done[m] for c in q.choices]
        assert min(done) == done[q.answer] == q.event_t
        assert sorted(done)[1] > done[q.answer]
        assert q.stop_at == min(run.m_ready[m] for run in runs) >= previous
        previous = q.event_t
    return len(asked)

