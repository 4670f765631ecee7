"""The teaching pane's cost per frame: Explainer.now + line_at and Quiz.question_after on a run
of a million events against one of a thousand. Each answer is a few bisects on tables built once
(iosim/teach/index.py), so the two should cost about the same; building the tables is linear."""

from __future__ import annotations

import random
import statistics
import time

from iosim.teach.explain import Explainer
from iosim.teach.predict import Quiz
from iosim.trace import COPY_LABEL, Kind, Lane, Run, RunRecorder

CALLS = 20_000
EVENTS_PER_MESSAGE = 10


def synthetic_run(events: int) -> Run:
    """A blocking server's cycles (10 events each, with line keys), one message per ms."""
    rec = RunRecorder("blocking", "sim", [Lane("application", "app"),
                                          Lane("kernel conn 0", "kernel", 0)], 50.0)
    messages = max(1, events // EVENTS_PER_MESSAGE)
    for i in range(messages):
        base = i * 1000.0
        ready = base + 400.0
        m = rec.message(0, 1024, ready - 40.0, ready)
        rec.instant(Kind.SYSCALL, 0, base, "recvfrom", 0, line="recvfrom")
        rec.span(Kind.IN_KERNEL, 0, base, base + 2.0, "recvfrom", 0, line="recvfrom")
        rec.span(Kind.WAIT, 1, base, ready, "wait for data", 0, m)
        rec.span(Kind.BLOCKED, 0, base + 2.0, ready, "process blocks in call to recvfrom", 0,
                 line="recvfrom")
        rec.instant(Kind.ARRIVAL, 1, ready, "datagram ready", 0, m)
        rec.instant(Kind.WAKEUP, 0, ready, "wake up", 0, line="recvfrom")
        rec.span(Kind.COPY, 1, ready + 100.0, ready + 100.6, "copy data from kernel to user", 0,
                 m)
        rec.span(Kind.BLOCKED, 0, ready + 100.0, ready + 100.6, COPY_LABEL, 0, line="recvfrom")
        rec.instant(Kind.RETURN, 0, ready + 100.6, "return OK", 0, line="recvfrom")
        rec.span(Kind.PROCESS, 0, ready + 100.6, ready + 150.6, "process datagram", 0, m,
                 line="process")
        run = rec.run
        run.m_copy_start[m], run.m_copy_end[m] = ready + 100.0, ready + 100.6
        run.m_done[m] = ready + 150.6
    return rec.finish(messages * 1000.0)


def per_call_us(run: Run) -> dict[str, float]:
    started = time.perf_counter()
    ex = Explainer(run)
    built = time.perf_counter() - started
    started = time.perf_counter()
    quiz = Quiz(run)
    quiz_built = time.perf_counter() - started
    rng = random.Random(1)
    times = [rng.uniform(0.0, run.end_us) for _ in range(CALLS)]
    answer_us, question_us = [], []
    for t in times:
        started = time.perf_counter()
        ex.now(t)
        ex.line_at(t)
        answer_us.append((time.perf_counter() - started) * 1e6)
        started = time.perf_counter()
        quiz.question_after(t)
        question_us.append((time.perf_counter() - started) * 1e6)
    answer_us.sort()
    question_us.sort()
    return {"events": len(run), "explainer_build_s": round(built, 3),
            "quiz_build_s": round(quiz_built, 3),
            "now_p50_us": round(statistics.median(answer_us), 1),
            "now_p99_us": round(answer_us[int(0.99 * len(answer_us))], 1),
            "question_p50_us": round(statistics.median(question_us), 1),
            "question_p99_us": round(question_us[int(0.99 * len(question_us))], 1)}


def run() -> dict:
    small = per_call_us(synthetic_run(1_000))
    big = per_call_us(synthetic_run(1_000_000))
    for name, figures in (("1k events", small), ("1M events", big)):
        print(f"{name:10} " + "  ".join(f"{k} {v}" for k, v in figures.items()))
    ratio = big["now_p50_us"] / small["now_p50_us"]
    print(f"now + line_at p50, 1M / 1k events: {ratio:.2f}")
    return {"bench": "teach", "small": small, "big": big, "now_ratio_1m_vs_1k": round(ratio, 2)}
