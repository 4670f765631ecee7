"""The lines under the summary table that say what a traced run's times owe to strace and
what a long serve run's trace kept of it."""

from iosim.summary import kept_note, tracer_note
from iosim.trace import Kind, Lane, RunRecorder


def run_with(source: str, messages: int, **meta):
    rec = RunRecorder("select", source, [Lane("application", "app"),
                                         Lane("kernel conn 0", "kernel", 0)])
    for k in range(messages):
        rec.message(0, 10, float(k), float(k))
    rec.instant(Kind.SYSCALL, 0, 0.0, "select")
    return rec.finish(float(messages), **meta)


def test_a_serve_runs_note_says_what_was_kept_and_not_sent():
    run = run_with("real", 3, kept={"policy": "last:3", "first_message": 7,
                                    "messages_total": 10}, replies_unsent=2,
                   dropped_queue_full=1)
    assert kept_note(run) == ("served 10 messages; the trace keeps 3 (last:3), from message 8; "
                              "2 replies not sent; 1 connection dropped (the client did not "
                              "read)")
    assert kept_note(run_with("real", 3)) is None
    whole = run_with("real", 2, kept={"policy": "all", "first_message": 0, "messages_total": 2})
    assert kept_note(whole) == "served 2 messages; the trace keeps 2 (all)"


def test_a_traced_runs_note_says_what_strace_costs():
    run = run_with("traced", 1, strace_cost_us=37.3, ready_estimated=1)
    assert tracer_note(run) == ("traced with strace: each call ~37 µs slower; ready times "
                                "estimated from the calls")
    assert tracer_note(run_with("sim", 1, strace_cost_us=37.3)) is None
