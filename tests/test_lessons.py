"""Lesson files: the built-in lessons load and every moment finds its runs, view and time; a
bad lesson is refused in one line naming the file, the key and the line (exit status 2); the
talking points' figures are the simulation's own, and say nothing TEACHING's never-say list
forbids."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from iosim import scenario
from iosim.cli import main
from iosim.lesson import lesson as lesson_mod
from iosim.lesson.events import Event, event_time_us, parse_event
from iosim.lesson.lesson import MAX_MOMENTS, LessonError
from iosim.lesson.prepare import ready
from iosim.sim.run import simulate
from iosim.summary import summarize
from iosim.trace import Kind

GOOD = """name = "mine"
title = "My lesson"

[[moments]]
title = "Blocking waits"
scenario = "one-datagram"
view = "blocking"
at_ms = 10
notes = ["It sleeps.", "It uses no CPU meanwhile."]
question = "When does recvfrom return?"
answer = "After the copy."

[[moments]]
scenario = "one-datagram"
view = "compare"
event = "message 1 copied"
"""


def write(tmp_path: Path, text: str, name: str = "l.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_lesson_file_gives_its_moments(tmp_path: Path) -> None:
    lesson = lesson_mod.load(str(write(tmp_path, GOOD)))
    assert (lesson.name, lesson.title, len(lesson.moments)) == ("mine", "My lesson", 2)
    first, second = lesson.moments
    assert (first.view, first.at_ms, first.fit, first.notes) == \
        ("blocking", 10.0, True, ("It sleeps.", "It uses no CPU meanwhile."))
    assert second.event == Event("copied", 1) and second.at_ms is None
    moments = ready(lesson, simulate)
    trace = simulate(scenario.load("one-datagram"))
    assert [m.view for m in moments] == ["1", "compare"]  # a model's name is its run number
    assert moments[1].at_ms * 1000.0 == min(r.m_copy_end[0] for r in trace.runs)


def test_a_scenario_file_is_found_beside_the_lesson(tmp_path: Path) -> None:
    (tmp_path / "one.toml").write_text('name = "one"\nmodels = ["select"]\n\n'
                                       '[[connections]]\nsends = [[1.0, 100]]\n')
    text = '[[moments]]\nscenario = "one.toml"\nview = "select"\nevent = "message 1 ready"\n'
    other = tmp_path / "elsewhere"
    other.mkdir()
    lesson = lesson_mod.load(str(write(tmp_path, text)))
    (moment,) = ready(lesson, simulate)
    assert moment.trace.scenario == "one" and moment.view == "1"
    assert moment.at_ms == pytest.approx(moment.trace.runs[0].m_ready[0] / 1000.0)


def test_events_are_read_and_found_in_the_runs() -> None:
    assert parse_event("Message  12   handled") == Event("handled", 12)
    assert parse_event("end") == Event("end")
    for bad in ("message 0 copied", "message 3 eaten", "message three copied", "middle"):
        assert parse_event(bad) is None
    runs = simulate(scenario.load("one-datagram")).runs
    assert event_time_us(Event("ready", 1), runs) == runs[0].m_ready[0]
    assert event_time_us(Event("end"), runs) == max(r.end_us for r in runs)
    assert event_time_us(Event("copied", 2), runs) is None


REFUSED = [
    ('nmae = "x"\n' + GOOD.split("\n", 1)[1], "line 1: nmae: unknown key"),
    (GOOD.replace('view = "blocking"', 'view = "pol"'),
     "line 7: moments.view: 'pol' is not a run of one-datagram"),
    (GOOD.replace('view = "blocking"', "view = 9"),
     "line 7: moments.view: run 9: one-datagram has 5 runs"),
    (GOOD.replace('at_ms = 10', 'at_ms = -1'), "line 8: moments.at_ms: must not be negative"),
    (GOOD.replace('at_ms = 10', 'at_ms = 10\nevent = "end"'),
     "line 9: moments.event: give at_ms or event, not both"),
    (GOOD.replace('event = "message 1 copied"', 'event = "message 2 copied"'),
     "line 16: moments.event: message 2 copied: one-datagram has 1 message"),
    (GOOD.replace('event = "message 1 copied"', 'event = "later"'),
     "line 16: moments.event: 'later': expected start, end, or message N"),
    (GOOD.replace('answer = "After the copy."\n', ""),
     "line 10: moments.question: a question needs its answer"),
    (GOOD.replace('scenario = "one-datagram"\nview = "compare"', 'view = "compare"'),
     "line 13: moments.scenario: a moment shows one scenario or one trace"),
    (GOOD.replace('scenario = "one-datagram"\nview = "compare"',
                  'scenario = "nosuch"\nview = "compare"'),
     "line 14: moments.scenario: nosuch: no such file or built-in scenario"),
    (GOOD.replace('view = "blocking"', 'view = "blocking"\naxis = "log"'),
     "line 8: moments.axis: must be 'schematic' or 'scale'"),
    (GOOD.replace('view = "blocking"', 'view = "blocking"\nfit = "yes"'),
     "line 8: moments.fit: must be true or false"),
    (GOOD.replace('notes = ["It sleeps.", "It uses no CPU meanwhile."]',
                  "notes = [" + ", ".join(['"x"'] * 13) + "]"),
     "line 9: moments.notes: at most 12 talking points, not 13"),
    (GOOD.replace('"It sleeps."', '"' + "x" * 401 + '"'),
     "line 9: moments.notes: a talking point must be at most 400 characters"),
    (GOOD.replace('question = "When does recvfrom return?"', 'question = "' + "q" * 301 + '"'),
     "line 10: moments.question: must be at most 300 characters"),
    ('title = "no moments"\n', "moments: missing"),
    ("moments = []\n", "line 1: moments: a lesson needs at least one moment"),
    ('[[moments]]\nscenario = "one-datagram"\nwhen = 3\n', "line 3: moments.when: unknown key"),
    ("[[moments\n", "TOML syntax error"),
]


@pytest.mark.parametrize("text,expected", REFUSED)
def test_a_bad_lesson_is_one_line_with_file_key_and_line(tmp_path, capsys, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(LessonError) as caught:
        lesson_mod.load(str(path))
    assert str(caught.value).startswith(str(path))
    assert expected in str(caught.value)
    assert main(["lesson", str(path), "--outline"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err


def test_limits_on_size_and_moments(tmp_path: Path) -> None:
    many = "".join('[[moments]]\nscenario = "one-datagram"\n' for _ in range(MAX_MOMENTS + 1))
    with pytest.raises(LessonError, match=f"at most {MAX_MOMENTS} moments, not 101"):
        lesson_mod.load(str(write(tmp_path, many)))
    big = write(tmp_path, "# " + "x" * (1024 * 1024) + "\n", "big.toml")
    with pytest.raises(LessonError, match="a lesson file is at most 1,048,576 bytes"):
        lesson_mod.load(str(big))
    with pytest.raises(LessonError, match="no such file or built-in lesson"):
        lesson_mod.load("no-such-lesson")
    with pytest.raises(LessonError, match="not a regular file"):
        lesson_mod.load(str(tmp_path))


def test_what_the_runs_refuse_names_the_line(tmp_path: Path) -> None:
    """Found only once the runs exist: a trace that is not one, a message no run handles."""
    (tmp_path / "t.json").write_text("{}")
    bad_trace = write(tmp_path, '[[moments]]\ntrace = "t.json"\n')
    with pytest.raises(LessonError, match=r"l.toml, line 2: moments.trace: .*t.json"):
        ready(lesson_mod.load(str(bad_trace)), simulate)
    never = write(tmp_path, '[[moments]]\nscenario = "c10k"\nview = "select"\n'
                            'event = "message 1 copied"\n', "n.toml")
    with pytest.raises(LessonError, match="line 4: moments.event: message 1 copied: the select "
                                          "run never gets there"):
        ready(lesson_mod.load(str(never)), simulate)


def test_lesson_without_a_name_lists_the_builtin_ones(capsys) -> None:
    assert main(["lesson"]) == 0
    out = capsys.readouterr().out
    for name in lesson_mod.builtin_names():
        lesson = lesson_mod.load(name)
        assert f"{lesson.title} ({len(lesson.moments)} moments)" in out
    assert {"five-models", "c10k"} <= set(lesson_mod.builtin_names())


def test_the_outline_lists_every_moment_with_its_notes(capsys) -> None:
    assert main(["lesson", "c10k", "--outline"]) == 0
    out = capsys.readouterr().out
    lesson = lesson_mod.load("c10k")
    for k, moment in enumerate(lesson.moments):
        assert f"— moment {k + 1} of {len(lesson.moments)}: {moment.title}" in out
        for point in moment.notes:
            assert f"  • {point}" in out
        if moment.question:
            assert f"  Q: {moment.question}\n  A: {moment.answer}" in out


def test_lesson_without_a_display_points_to_the_slides(capsys, monkeypatch) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(name, raising=False)
    assert main(["lesson", "c10k"]) == 2
    err = capsys.readouterr().err
    assert "iosim render --lesson c10k -o slides.pdf" in err and err.count("\n") == 1
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    assert main(["lesson", "c10k", "--moment", "9"]) == 2
    assert "--moment 9: c10k has moments 1 to 7" in capsys.readouterr().err


# -- the built-in lessons say what their runs do ------------------------------------------------

def texts(name: str) -> str:
    lesson = lesson_mod.load(name)
    return " ".join(" ".join([m.title, m.question, m.answer, *m.notes]) for m in lesson.moments)


def runs_of(name: str, models=None) -> dict:
    trace = simulate(scenario.load(name), models)
    summary = summarize(trace)
    return {run["model"]: (trace.runs[k], run) for k, run in enumerate(summary["runs"])}


def ms(us: float, digits: int = 3) -> str:
    return f"{us / 1000:.{digits}f} ms"


def test_five_models_figures_are_the_simulations() -> None:
    words = texts("five-models")
    one = runs_of("one-datagram")
    blocking, select, sigio, aio = (one[m][0] for m in ("blocking", "select", "sigio", "aio"))
    nonblocking, nb = one["nonblocking"]
    assert f"ready at {ms(blocking.m_ready[0])}" in words
    assert f"return only at {ms(blocking.m_copy_end[0])}" in words
    totals = nb["totals"]
    assert f"{totals['syscalls']} times: {totals['ewouldblock']} calls return EWOULDBLOCK" in words
    assert f"at about {ms(nonblocking.m_copy_start[0], 2)}" in words
    assert f"starts at {ms(select.m_copy_start[0])} against blocking's " \
           f"{ms(blocking.m_copy_start[0])}" in words
    assert f"the copy starts at {ms(sigio.m_copy_start[0])}" in words
    assert f"aio's copy ends at {ms(aio.m_copy_end[0])}, sigio's at {ms(sigio.m_copy_end[0])}" \
        in words
    assert aio.m_done[0] == pytest.approx(sigio.m_done[0])
    assert f"both are done at {ms(aio.m_done[0])}" in words
    latency = {r.model: r.m_copy_end[0] - r.m_ready[0] for r in (aio, sigio)}
    handled = {r.model: r.m_done[0] - r.m_ready[0] for r in (aio, sigio)}
    assert f"aio {latency['aio']:.1f} µs, sigio {latency['sigio']:.0f} µs" in words
    assert round(handled["aio"]) == round(handled["sigio"])
    assert f"both {handled['aio']:.0f} µs" in words
    many = runs_of("many-clients")
    first = min(range(many["blocking"][0].message_count),
                key=lambda m: many["blocking"][0].m_ready[m])
    b = many["blocking"][0]
    assert f"ready at {ms(b.m_ready[first], 2)} is copied at {ms(b.m_copy_start[first], 2)}" \
        in words
    p50 = {m: many[m][1]["totals"]["latency_p50_us"] for m in ("threaded", "blocking")}
    assert f"latency p50 {ms(p50['threaded'])} here, against {ms(p50['blocking'], 1)}" in words
    copy = runs_of("big-copy")["blocking"][0]
    assert f"takes {ms(copy.m_copy_end[0] - copy.m_copy_start[0], 1)}" in words
    burst = runs_of("burst", ["blocking"])["blocking"][1]["totals"]["syscalls"]
    assert f"{burst} system calls for 160 messages" in words and f"{burst} in all" in words


def test_c10k_figures_are_the_simulations() -> None:
    words = texts("c10k")
    runs = runs_of("c10k")
    poll, epoll = runs["poll"][1]["totals"], runs["epoll"][1]["totals"]
    epoll_run = runs["epoll"][0]
    share = round(100 * poll["in_kernel_us"] / poll["end_us"])
    assert f"poll spends {share}% of this run inside the kernel" in words
    assert f"poll's ({share}%)" in words
    assert f"Latency p50: poll {ms(poll['latency_p50_us'], 2)}, epoll " \
           f"{ms(epoll['latency_p50_us'])}" in words
    first_wait = next(epoll_run.t0[i] for i in range(len(epoll_run))
                      if epoll_run.labels[epoll_run.label[i]] == "epoll_wait")
    assert f"first called at {round(first_wait / 1000)} ms" in words
    assert f"({round(first_wait / 1000)} ms of {round(epoll['end_us'] / 1000)} ms)" in words
    assert f"worst latency here, {round(epoll['latency_max_us'] / 1000)} ms" in words
    assert f"time in the kernel ({round(100 * epoll['in_kernel_us'] / epoll['end_us'])}%)" \
        in words
    costs = scenario.load("c10k").costs
    assert f"{costs.syscall_us + costs.epoll_ctl_us:.1f} µs each" in words
    assert f"costs {costs.poll_base_us} µs + {costs.poll_per_fd_us} µs per descriptor" in words


NEVER = [r"epoll_wait scans", r"the kernel does both phases", r"no data has arrived",
         r"waits for the GIL", r"one call per message", r"process uses no CPU during"]


@pytest.mark.parametrize("name", lesson_mod.builtin_names())
def test_builtin_lessons_say_nothing_false(name: str) -> None:
    """TEACHING's never-say list, and no "datagram" where the moment's data is TCP."""
    lesson = lesson_mod.load(name)
    moments = ready(lesson, simulate)
    assert len(moments) == len(lesson.moments)
    for r in moments:
        m = r.moment
        words = " ".join([m.title, m.question, m.answer, *m.notes])
        for phrase in NEVER:
            assert not re.search(phrase, words, re.IGNORECASE), (m.number, phrase)
        if r.trace.protocol == "tcp":
            assert "datagram" not in words.replace("Figure 6.6", ""), m.number


def calls(run, name: str) -> int:
    return sum(1 for i in range(len(run)) if run.kind[i] == Kind.SYSCALL
               and run.labels[run.label[i]].split()[0] == name)


def test_the_new_scenarios_lessons_figures_are_the_simulations() -> None:
    et = runs_of("edge-triggered")
    lt_run, et_run = et["epoll"][0], et["epoll-et"][0]
    words = texts("edge-triggered")
    assert f"Run 1 makes {calls(lt_run, 'recvfrom')} recvfrom calls, run 2 only " \
           f"{calls(et_run, 'recvfrom')}" in words
    assert f"{calls(lt_run, 'epoll_wait')} epoll_wait and {calls(lt_run, 'recvfrom')} " \
           "recvfrom calls for 9 KB" in words
    assert "6,144 bytes unread" in words and "6,144 bytes wait in the kernel" in et_run.error
    send = runs_of("send-side")
    words = texts("send-side")
    nb, sends = send["nonblocking"][1]["totals"], calls(send["nonblocking"][0], "send")
    assert f"{nb['syscalls']} system calls for 2 messages ({sends} of them send), " \
           f"{nb['ewouldblock']} of them EWOULDBLOCK" in words
    b_run, b = send["blocking"]
    assert f"ready at {ms(b_run.m_ready[1], 2)}. Why is it read only about " \
           f"{round(b['totals']['latency_max_us'] / 1000)} ms later" in words
    herd = runs_of("thundering-herd")
    words = texts("thundering-herd")
    blocking, select = herd["blocking"], herd["select"]
    assert f"{calls(blocking[0], 'accept')} accept calls for 2 connections, none of them " \
           "EWOULDBLOCK" in words and blocking[1]["totals"]["ewouldblock"] == 0
    assert f"{calls(select[0], 'accept')} accept calls for 2 connections, " \
           f"{select[1]['totals']['ewouldblock']} of them EWOULDBLOCK" in words
    sigio_run, sigio = runs_of("sigio-tcp")["sigio"]
    words = texts("sigio-tcp")
    signals = [sigio_run.t0[i] for i in range(len(sigio_run)) if sigio_run.kind[i] == Kind.SIGNAL]
    assert [round(t / 1000, 2) for t in signals] == [2.04, 6.04, 9.0, 12.0]
    assert "(2.04 ms)" in words and "(6.04 ms)" in words and "(9 ms and 12 ms)" in words
    assert f"{sigio['totals']['ewouldblock']} of its {sigio['totals']['syscalls']} system " \
           "calls say EWOULDBLOCK" in words
    lies = runs_of("select-lies")
    words = texts("select-lies")
    assert f"latency {ms(lies['select'][1]['totals']['latency_max_us'], 2)}" in words
    assert f"copied {ms(lies['epoll-et'][1]['totals']['latency_p50_us'])} after it is ready" \
        in words
