"""The view's pure logic: player, axes, layout, lookups, caption, braces, comparison columns,
label placement."""

import math
import random
from itertools import pairwise

import pytest

from iosim import scenario, timefmt
from iosim.sim.run import simulate
from iosim.timefmt import format_us
from iosim.trace import COPY_LABEL, Kind, Lane, RunRecorder
from iosim.view import braces, compare, labels, layout
from iosim.view.caption import caption
from iosim.view.index import RunIndex
from iosim.view.player import (
    FIT_SLOTS,
    MAX_SPEED,
    PLAY_SECONDS,
    SCALE,
    SCHEMATIC,
    WINDOW_SLOTS,
    Player,
)


@pytest.fixture(scope="module")
def indexed(one_datagram):
    return [RunIndex(r) for r in one_datagram.runs]


def by_model(trace, model):
    return next(r for r in trace.runs if r.model == model)


def test_schematic_axis_gives_every_event_time_its_own_slot(one_datagram):
    p = Player(one_datagram.runs)
    axis = p.axes[SCHEMATIC]
    blocking = by_model(one_datagram, "blocking")
    copy = next(e for e in blocking.events() if e.kind == Kind.COPY)
    wait = next(e for e in blocking.events() if e.kind == Kind.WAIT)
    # the 0.64 µs copy and the 20 ms wait both cover at least one whole slot
    assert axis.pos(copy.t1) - axis.pos(copy.t0) == pytest.approx(1.0)
    assert axis.pos(wait.t1) - axis.pos(wait.t0) >= 1.0
    for u in (0.0, 3.5, 17.25, axis.length):
        assert axis.pos(axis.time(u)) == pytest.approx(u)


def test_default_scenario_plays_in_ten_to_twenty_seconds(one_datagram):
    p = Player(one_datagram.runs)
    p.toggle_play()
    frames = 0
    while p.playing and frames < 60 * 60:
        p.tick(1 / 60)
        frames += 1
    assert 10.0 <= frames / 60 <= 20.0
    assert p.t == p.end


def test_to_scale_axis_plays_in_play_seconds_and_keeps_the_moment(one_datagram):
    p = Player(one_datagram.runs)
    p.seek(20040.0)
    p.toggle_axis()
    assert p.axis.name == SCALE and p.t == 20040.0
    assert p.rate() == pytest.approx(p.end / PLAY_SECONDS)
    p.toggle_axis()
    assert p.axis.name == SCHEMATIC and p.t == 20040.0


def test_stepping_visits_every_distinct_time_in_order(one_datagram):
    p = Player(one_datagram.runs)
    seen = [p.t]
    for _ in range(len(p.times) + 2):
        p.next_event()
        seen.append(p.t)
    assert seen[: len(p.times)] == list(p.times)
    assert seen[-1] == p.end
    p.prev_event()
    assert p.t == p.times[-2]
    p.home()
    assert p.t == 0.0 and not p.playing


def test_message_stepping_jumps_to_data_ready(one_datagram):
    p = Player(one_datagram.runs)
    ready = by_model(one_datagram, "blocking").m_ready[0]
    p.next_message()
    assert p.t == ready
    p.next_message()
    assert p.t == p.end
    p.prev_message()
    assert p.t == ready
    p.prev_message()
    assert p.t == 0.0


def test_speed_doubles_and_halves_within_bounds(one_datagram):
    p = Player(one_datagram.runs)
    base = p.rate()
    p.faster()
    assert p.rate() == pytest.approx(2 * base)
    p.slower()
    p.slower()
    assert p.rate() == pytest.approx(base / 2)
    for _ in range(40):
        p.faster()
    assert p.speed == MAX_SPEED
    assert p.speed_text().startswith("x")


def test_zoom_and_pan_keep_the_playhead_and_fit_restores(one_datagram):
    p = Player(one_datagram.runs)
    p.seek(20040.0)
    lo, hi = p.window
    p.zoom(2.0)
    zlo, zhi = p.window
    head = p.axis.pos(p.t)
    assert zhi - zlo == pytest.approx((hi - lo) / 2)
    assert zlo <= head <= zhi
    p.pan(0.5)
    assert p.window[0] == pytest.approx(zlo + 0.5 * (zhi - zlo))
    p.fit()
    assert p.window == (0.0, p.axis.length)


def test_window_follows_the_playhead_while_playing():
    rec = RunRecorder("blocking", "sim", [Lane("application", "app")])
    for i in range(400):
        rec.instant(Kind.SYSCALL, 0, i * 10.0, "recvfrom")
    run = rec.finish(4000.0)
    p = Player([run])
    assert p.axis.length > FIT_SLOTS
    assert p.window == (0.0, WINDOW_SLOTS)
    p.toggle_play()
    for _ in range(60 * 30):
        p.tick(1 / 60)
        lo, hi = p.window
        assert lo <= p.axis.pos(p.t) <= hi
    assert p.window[0] > 0


def test_restart_and_play_again_from_the_end(one_datagram):
    p = Player(one_datagram.runs)
    p.go_end()
    p.toggle_play()
    assert p.playing and p.t == 0.0
    p.seek(5000.0)
    p.restart()
    assert p.t == 0.0 and p.playing


def test_lane_index_finds_long_spans_without_scanning_the_run():
    rec = RunRecorder("blocking", "sim", [Lane("application", "app"),
                                          Lane("kernel conn 0", "kernel", 0)])
    rec.span(Kind.WAIT, 1, 0.0, 1_000_000.0, "wait for data", 0)
    for i in range(1000):
        rec.span(Kind.WORK, 0, i * 1000.0, i * 1000.0 + 500.0, "work")
    ri = RunIndex(rec.finish(1_000_000.0))
    app = ri.lanes[0].visible(500_100.0, 502_000.0)
    assert len(app) <= 3
    assert any(ri.run.t0[ri.lanes[0].events[j]] == 501_000.0 for j in app)
    kernel = ri.lanes[1].visible(500_100.0, 502_000.0)
    assert [ri.run.kind[ri.lanes[1].events[j]] for j in kernel] == [Kind.WAIT]


def test_counters_up_to_the_playhead(one_datagram, indexed):
    nonblocking = next(r for r in indexed if r.run.model == "nonblocking")
    at_half = nonblocking.counters(10_000.0)
    at_end = nonblocking.counters(nonblocking.end_us)
    assert 0 < at_half.ewouldblock < at_end.ewouldblock
    assert at_end.syscalls == at_end.ewouldblock + 1
    assert at_end.messages_done == 1
    assert at_half.work_pct > 90
    blocking = next(r for r in indexed if r.run.model == "blocking")
    assert blocking.counters(10_000.0).blocked_pct > 99
    sigio = next(r for r in indexed if r.run.model == "sigio")
    assert sigio.counters(10_000.0).signals == 0 and sigio.counters(sigio.end_us).signals == 1


def test_caption_names_the_event_just_passed_and_the_next_one(one_datagram, indexed):
    select = next(k for k, r in enumerate(indexed) if r.run.model == "select")
    run = indexed[select].run
    readable = next(e.t0 for e in run.events() if e.kind == Kind.READABLE)
    cap = caption(indexed, readable, focus=select)
    anything = lambda s: True  # noqa: E731 - every variant fits
    assert cap.first_line(anything) == (f"t = {format_us(readable)} · select · just now: "
                                        "select returns readable, then system call recvfrom")
    later = min(t for t in run.t0 if t > readable)
    assert cap.second_line(anything).startswith(f"next, at {format_us(later)}: ")
    ready = by_model(one_datagram, "blocking").m_ready[0]
    cap = caption(indexed, ready)
    assert cap.first_line(anything) == (f"t = {format_us(ready)} · blocking · just now: "
                                        "the process wakes up; kernel: datagram ready")
    assert cap.second_line(anything).endswith(
        "same moment in: nonblocking, select, sigio, aio")
    assert cap.first_line(lambda s: len(s) <= 40) == f"t = {format_us(ready)} · blocking"
    assert caption(indexed, 0.0).first_line(anything).startswith("t = 0 µs · blocking")


def test_a_caption_never_says_the_same_thing_twice(indexed):
    """At every moment of every run: no phrase repeated, no call named twice in a row."""
    for k, ri in enumerate(indexed):
        for t in sorted(set(ri.run.t0)):
            words = caption(indexed, t, focus=k).first_line(lambda s: True)
            phrases = words.split(": ", 1)[-1].split("; ")
            assert len(phrases) == len(set(phrases)), words
            for phrase in phrases:
                names = [w for w in phrase.replace(",", " ").split() if w in
                         ("recvfrom", "select", "aio_read", "aio_return", "sigaction")]
                assert len(names) == len(set(names)) or "then" in phrase, words


def test_braces_of_figures_6_1_to_6_5(one_datagram):
    got = {r.model: braces.braces_of(r) for r in one_datagram.runs}
    ready = by_model(one_datagram, "blocking").m_ready[0]
    assert [b[2] for b in got["blocking"]] == [braces.BLOCKING_BRACE]
    assert got["blocking"][0][0] == 0.0 and got["blocking"][0][1] > ready
    assert [b[2] for b in got["nonblocking"]] == [braces.POLLING_BRACE, braces.COPY_BRACE]
    assert [b[2] for b in got["select"]] == [braces.mux_brace("select"), braces.COPY_BRACE]
    assert [b[2] for b in got["sigio"]] == [braces.RUNS_BRACE, braces.COPY_BRACE]
    assert [b[2] for b in got["aio"]] == [braces.RUNS_BRACE]


def test_comparison_columns_follow_figure_6_6(indexed):
    cache: dict = {}
    end = max(r.end_us for r in indexed)
    words = {r.run.model: [m.word for m in compare.column(r, k, end, cache).marks]
             for k, r in enumerate(indexed)}
    assert words["blocking"] == ["initiate", "complete"]
    assert words["nonblocking"][0] == "check" and words["nonblocking"][-2:] == ["initiate",
                                                                                  "complete"]
    assert words["select"] == ["check", "ready", "initiate", "complete"]
    assert words["sigio"] == ["notification", "initiate", "complete"]
    assert words["aio"] == ["initiate", "notification"]
    col = compare.column(indexed[0], 0, end, cache)
    assert col.frac(col.start) == (0, 0.0)
    assert col.frac(col.copy_start) == (0, 1.0)
    assert col.frac(col.copy_end) == (1, 1.0)


def test_a_read_of_several_messages_is_one_phase_2_in_the_comparison():
    """burst's TCP reads take several queued messages at once: the column of the first of them
    shows the read's whole copy as phase 2, up to its "complete", not its own bytes only."""
    run = simulate(scenario.load("burst"), ["select"]).runs[0]
    copies = [e for e in run.events() if e.lane == 0 and e.label == COPY_LABEL]
    read = next(e for e in copies if sum(e.t0 <= run.m_copy_start[m] <= e.t1
                                         for m in range(run.message_count)) > 1)
    m = min(m for m in range(run.message_count) if read.t0 <= run.m_copy_start[m] <= read.t1)
    assert run.m_copy_end[m] < read.t1  # its own bytes are copied before the others'
    col = compare.column(RunIndex(run), 0, run.m_done[m] - 1e-6, {})
    assert col.message == m
    assert (col.copy_start, col.copy_end) == (read.t0, read.t1)
    assert col.marks[-1] == compare.Mark(read.t1, "complete")
    assert col.frac(read.t0) == (0, 1.0) and col.frac(read.t1) == (1, 1.0)


def test_a_run_stopped_at_once_gets_a_thinner_band():
    runs = simulate(scenario.load("c10k")).runs
    assert [r.model for r in runs] == ["select", "poll", "epoll"]
    assert layout.stopped_at_once(runs[0]) and not layout.stopped_at_once(runs[1])
    screen = layout.screen_layout((1280, 720), runs)
    select, poll, epoll = (b.box for b in screen.bands)
    assert select[3] == pytest.approx(layout.STOPPED_WEIGHT * poll[3], abs=1)
    assert poll[3] == pytest.approx(epoll[3], abs=1)
    assert select[1] == screen.timeline[1]  # the bands still tile the timeline, top to bottom
    assert select[1] + select[3] == poll[1] and poll[1] + poll[3] == epoll[1]
    assert epoll[1] + epoll[3] == screen.timeline[1] + screen.timeline[3]
    alone = layout.screen_layout((1280, 720), runs[:1]).bands[0].box
    assert alone[3] == screen.timeline[3]  # shown alone, it has the whole height


def test_layout_bands_lanes_and_density_strip():
    c10k = simulate(scenario.load("c10k"), ["poll"])
    one = simulate(scenario.load("many-clients"), ["threaded"])
    runs = [one.runs[0], c10k.runs[0]]
    screen = layout.screen_layout((1280, 720), runs)
    threaded, poll = screen.bands
    assert threaded.box[1] + threaded.box[3] == poll.box[1]
    assert len(set(threaded.kernel.rows.values())) == 4  # a sub-lane per connection
    assert poll.kernel.density  # 100 connections: one strip
    assert threaded.app.box[1] + threaded.app.box[3] <= threaded.gap[1]
    assert threaded.gap[1] + threaded.gap[3] <= threaded.kernel.box[1]
    for band in screen.bands:
        assert band.kernel.box[1] + band.kernel.box[3] <= band.box[1] + band.box[3]
        assert band.name_box[0] + band.name_box[2] <= band.app.box[0]
        assert band.app.box[0] + band.app.box[2] <= band.counters_box[0]


def test_sub_lanes_are_named_only_when_each_has_room():
    many = simulate(scenario.load("many-clients"), ["blocking"]).runs[0]
    c10k = simulate(scenario.load("c10k"), ["poll"]).runs[0]
    one_run = layout.screen_layout((1280, 720), [many], one_run=True).bands[0]
    assert one_run.kernel.labelled_rows() == one_run.kernel.lanes  # 4 rows, each tall enough
    assert one_run.app.labelled_rows() == []  # a single lane keeps the group's title
    strip = layout.screen_layout((1280, 720), [c10k]).bands[0]
    assert strip.kernel.labelled_rows() == []  # 100 connections share one density strip
    squeezed = layout.screen_layout((1280, 300), [many] * 4).bands[0]
    assert squeezed.kernel.labelled_rows(min_height=1000) == []


def test_viewport_maps_the_window_onto_the_timeline(one_datagram):
    p = Player(one_datagram.runs)
    p.toggle_axis()
    vp = layout.Viewport(p.axis, (0.0, 10_000.0), 100, 1000)
    assert vp.x(0.0) == 100 and vp.x(5000.0) == pytest.approx(600)
    assert vp.time_at(600) == pytest.approx(5000.0)
    assert not math.isnan(vp.t_hi)


def test_axis_ticks_are_round_and_in_one_unit():
    assert timefmt.nice_step(10_000.0, 5) == 2000.0
    assert timefmt.nice_step(3.0, 3) == 1.0 and timefmt.nice_step(0.7, 2) == 0.5
    assert timefmt.tick_labels([0.0, 200.0, 400.0], 200.0) == ["0 µs", "200 µs", "400 µs"]
    assert timefmt.tick_labels([20_000.0, 20_200.0], 200.0) == ["20.0 ms", "20.2 ms"]
    assert timefmt.tick_labels([0.0, 2000.0, 4000.0], 2000.0) == ["0 ms", "2 ms", "4 ms"]
    assert timefmt.tick_labels([20_040.0, 20_040.5], 0.5) == ["20.0400 ms", "20.0405 ms"]
    assert timefmt.tick_labels([0.0, 15.9, 215.0, 1240.0]) == \
        ["0 ms", "0.016 ms", "0.215 ms", "1.24 ms"]  # schematic: the unit of the largest


def _random_boxes(seed: int, count: int) -> list[labels.Box]:
    rng = random.Random(seed)
    return sorted(((rng.uniform(0, 900), rng.choice((0.0, 13.0, 20.0)), rng.uniform(5, 120),
                    rng.uniform(6, 16)) for _ in range(count)), key=lambda b: b[0])


@pytest.mark.parametrize("sweep", [True, False])
def test_placed_labels_never_overlap_and_only_colliding_ones_are_dropped(sweep):
    margin = 4.0
    for seed in range(20):
        placer = labels.Placer(margin, sweep=sweep)
        offered = _random_boxes(seed, 300)
        rejected = [box for box in offered if not placer.offer(box)]
        placed = placer.placed
        assert len(placed) + len(rejected) == len(offered) and placed and rejected
        for k, a in enumerate(placed):
            assert all(labels.clear_of(a, b, margin) for b in placed[k + 1:])
        for box in rejected:  # dropped only for a reason
            assert not all(labels.clear_of(box, b, margin) for b in placed)


def test_brace_labels_stay_on_the_plot_and_apart_on_each_row():
    rng = random.Random(7)
    x_min, x_max, margin = 175.0, 1090.0, 10.0
    spans = []
    for _ in range(60):
        x0 = rng.uniform(x_min, x_max - 1)
        spans.append((x0, min(x_max, x0 + rng.uniform(1, 300)),
                      sorted((rng.uniform(40, 600), rng.uniform(20, 150)), reverse=True)))
    spans.sort(key=lambda s: s[0])
    placed = labels.place_braces(spans, 3, x_min, x_max, margin)
    extents: dict[int, list[tuple[float, float]]] = {}
    for (x0, x1, widths), (row, variant, lx) in zip(spans, placed, strict=True):
        if row < 0:
            continue
        w = widths[variant] if variant >= 0 else 0.0
        if w:
            assert x_min <= lx and lx + w <= x_max  # shifted onto the plot, never off it
            assert lx <= x1 and lx + w >= x0  # and still over its own bracket
        extents.setdefault(row, []).append((min(lx, x0), max(lx + w, x1)))
    assert len(extents) == 3  # crowded: the second and third rows are used
    for row in extents.values():
        row.sort()
        assert all(a[1] + margin <= b[0] for a, b in pairwise(row))


def test_a_long_brace_label_moves_up_a_row_instead_of_covering_its_neighbour():
    # Figure 6.3 at the end of the run: the select brace, then the short copy brace at the
    # right edge whose long label can only be shifted left, over the select label.
    spans = [(175.0, 899.0, [585.0]), (912.0, 927.0, [350.0, 160.0])]
    placed = labels.place_braces(spans, 2, 175.0, 1090.0)
    assert [p[:2] for p in placed] == [(0, 0), (1, 0)]
    one_row = labels.place_braces(spans, 1, 175.0, 1090.0)
    assert one_row[1][0] == 0 and one_row[1][1] == -1  # no second row: the bracket alone


def test_views_keep_their_place(one_datagram):
    """End shows the whole run with the playhead at its end; zooming keeps the playhead where
    it is on the screen; another window size shows the same time range."""
    p = Player(one_datagram.runs)
    p.toggle_axis()
    p.zoom(3.0)
    p.go_end()
    assert p.window == (0.0, p.axis.length) and p.t == p.end
    p.seek(12_000.0)
    p.zoom(1.7)
    before = layout.Viewport(p.axis, p.window, 100, 1000)
    x = before.x(p.t)
    p.zoom(1.5)
    after = layout.Viewport(p.axis, p.window, 100, 1000)
    assert after.x(p.t) == pytest.approx(x)
    assert after.t_hi - after.t_lo == pytest.approx((before.t_hi - before.t_lo) / 1.5)
    wide = layout.Viewport(p.axis, p.window, 175, 1500)
    assert (wide.t_lo, wide.t_hi) == (after.t_lo, after.t_hi)


def test_a_message_already_queued_has_no_phase_1_in_the_comparison():
    burst = simulate(scenario.load("burst"), ["select"])
    ri = RunIndex(burst.runs[0])
    run = ri.run
    queued = [m for m in range(run.message_count)
              if run.m_ready[m] < run.m_copy_start[m] - 100.0]  # waited 100 µs or more
    cache: dict = {}
    done = run.m_done[queued[-1]]
    col = compare.column(ri, 0, done - 1.0, cache)
    assert col.message == queued[-1] and col.queued and col.wait_us == 0.0
    assert col.frac(col.copy_start) == (1, 0.0)
    first = compare.column(ri, 0, run.m_done[0] - 1.0, cache)
    assert first.message == 0 and not first.queued and first.wait_us > 0


def test_the_acting_thread_is_the_one_whose_event_came_last():
    """Threaded: the code pane follows the thread lane with the latest event at or before t
    (the first of several at one moment; the first thread before any event)."""
    run = simulate(scenario.load("many-clients"), ["threaded"]).runs[0]
    ri = RunIndex(run)
    threads = [i for i, lane in enumerate(run.lanes) if lane.role == "thread"]
    for t in sorted(set(run.t0))[::3] + [-1.0]:
        latest = {lane: max((t0 for t0, ln in zip(run.t0, run.lane, strict=True)
                             if ln == lane and t0 <= t), default=-2.0) for lane in threads}
        top = max(latest.values())
        expected = threads[0] if top < -1.0 else min(ln for ln in threads if latest[ln] == top)
        assert ri.acting_thread(t) == expected, t
    assert RunIndex(simulate(scenario.load("one-datagram"), ["select"]).runs[0]
                    ).acting_thread(5.0) is None
