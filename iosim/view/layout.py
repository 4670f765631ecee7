"""Where things go on the screen, as pure logic: the bands of the runs and their lanes, and the
mapping of time to pixels. No pygame here, so it is unit-tested directly.

A band is one run: an application lane (plus one sub-lane per thread for the threaded model)
over the kernel lanes, one sub-lane per connection when there are at most ``MAX_SUBLANES`` and
each stays readable, else one *density strip* where all connections are drawn over each other.
Between the two groups is the gap where the system-call and return arrows run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from iosim.trace import Kind, Run
from iosim.view.player import ScaleAxis, SchematicAxis

Box = tuple[int, int, int, int]  # x, y, width, height

MAX_SUBLANES = 16
MIN_SUBLANE_PX = 4
HEADER_H, OVERVIEW_H, RULER_H = 30, 12, 20
CAPTION_H, LEGEND_ROW_H, HINTS_H = 46, 20, 20
BRACE_ROW_H = 30  # one row of braces: a label over its bracket
BRACES_H = 3 * BRACE_ROW_H + 4  # one-run view: room above the application lane for the braces
ONE_RUN_BASE_H = 460  # the one-run band's height at 1024x600; taller windows get taller lanes
KERNEL_NOTES_H = 24  # one-run view: the kernel's words under its lane ("datagram ready")
MIN_COUNTERS_H = 36
STOPPED_WEIGHT = 0.4  # the share of a band's height left to a run stopped before it began
PANE_SHARE, PANE_MIN_W, PANE_MAX_W = 0.4, 330, 640  # the one-run view's code pane
SIDE_PANE_SHARE = 0.3  # the all-runs view's narrower code pane
SLIDE_TITLE_H = 78  # presentation: a title line and the caption's two lines over the timeline
COUNTER_ROW_H = 15  # a line of counters at their smaller size
COUNTERS_W_BY_ROWS = ((8, 120), (4, 210), (3, 250), (1, 400))  # lines a band holds -> width
STATE_SHARE, STATE_MIN_H, STATE_MAX_H = 0.4, 150, 320  # the state pane under the timeline


@dataclass(frozen=True)
class Chrome:
    """The heights of what frames the timeline. The window: a header over it, the caption
    bar and the key hints under it. A slide (presentation): a title over it (the caption
    becomes the slide's title), no caption bar, no key hints; a lesson's moment may add a
    question under the bands and the presenter's line at the very bottom."""

    header_h: int = HEADER_H
    caption_h: int = CAPTION_H
    hints_h: int = HINTS_H
    question_h: int = 0


@dataclass
class LaneGroup:
    """Lanes of one role in a band: one row each, or a single density strip for all."""

    title: str
    lanes: list[int]
    box: Box
    rows: dict[int, Box] = field(default_factory=dict)

    @property
    def density(self) -> bool:
        return len(self.lanes) > 1 and len(set(self.rows.values())) == 1

    def row(self, lane: int) -> Box:
        return self.rows.get(lane, self.box)

    def labelled_rows(self, min_height: int = 14) -> list[int]:
        """The lanes tall enough to carry their own name (none when they share one strip)."""
        if self.density or len(self.lanes) < 2:
            return []
        return [lane for lane in self.lanes if self.row(lane)[3] >= min_height]


@dataclass
class Band:
    number: int
    box: Box
    name_box: Box
    counters_box: Box | None
    app: LaneGroup
    kernel: LaneGroup | None
    gap: Box
    braces: Box | None = None
    conn_lane: dict[int, int] = field(default_factory=dict)  # connection -> kernel lane

    def groups(self) -> list[LaneGroup]:
        return [self.app] + ([self.kernel] if self.kernel else [])

    def kernel_row(self, conn: int) -> Box | None:
        if self.kernel is None:
            return None
        lane = self.conn_lane.get(conn)
        return self.kernel.box if lane is None else self.kernel.row(lane)


@dataclass
class Screen:
    size: tuple[int, int]
    header: Box
    overview: Box  # the whole run to scale, the visible window marked
    ruler: Box
    axis_note: Box  # beside the overview and the ruler: what the axis means
    timeline: Box  # the x extent of the time axis and the y extent of all bands
    bands: list[Band]
    caption: Box
    legend: Box
    hints: Box  # the key hints, or a lesson's presenter's line (height 0: neither)
    pane: Box | None = None  # the code pane, when shown
    question: Box = (0, 0, 0, 0)  # a lesson's question, under the bands (height 0: none)
    state: Box | None = None  # the state pane (one-run view), when shown


def _columns(width: int, counters: bool, band_h: float) -> tuple[int, int, int]:
    """Width of the name column, the timeline and the counters column (wider where the bands
    are short: eight counters on three lines need about twice the room of eight lines)."""
    name_w = max(70, min(175, width // 7))
    rows = max(1, int(band_h - 4) // COUNTER_ROW_H)
    need = next(w for least, w in COUNTERS_W_BY_ROWS if rows >= least)
    counters_w = max(120, min(190, width // 7), min(need, width // 3)) if counters else 0
    return name_w, width - name_w - counters_w - 8, counters_w


def _split_rows(lanes: list[int], box: Box, first_share: float | None = None) -> dict[int, Box]:
    """One row per lane, the first taking ``first_share`` of the height if given; or, when
    there are too many lanes or too few pixels, all lanes in one strip."""
    x, y, w, h = box
    n = len(lanes)
    if n == 0:
        return {}
    if n == 1:
        return {lanes[0]: box}
    if first_share is not None:
        top = int(h * first_share)
        rows = {lanes[0]: (x, y, w, top)}
        rest = _split_rows(lanes[1:], (x, y + top + 1, w, h - top - 1))
        rows.update(rest)
        return rows
    if n > MAX_SUBLANES or h / n < MIN_SUBLANE_PX:
        return {lane: box for lane in lanes}
    rows = {}
    for k, lane in enumerate(lanes):
        y0 = y + round(k * h / n)
        y1 = y + round((k + 1) * h / n)
        rows[lane] = (x, y0, w, max(1, y1 - y0 - (1 if h / n >= 6 else 0)))
    return rows


def band_layout(number: int, run: Run, box: Box, name_w: int, counters_w: int,
                one_run: bool) -> Band:
    x, y, w, h = box
    tl_x, tl_w = x + name_w, w - name_w - counters_w - 8
    app_lanes = [i for i, ln in enumerate(run.lanes) if ln.role in ("app", "thread")]
    kernel_lanes = [i for i, ln in enumerate(run.lanes) if ln.role == "kernel"]
    threads = len(app_lanes) - 1
    pad = 4 if h > 40 else 2
    counters = (x + w - counters_w, y, counters_w - 6, h) if counters_w else None
    braces_h = min(BRACES_H, h // 4) if one_run else 0
    gap_h = 44 if one_run else max(10, min(26, int(h * 0.24)))
    if not kernel_lanes:
        gap_h = 0
    avail = h - 2 * pad - gap_h - braces_h
    app_weight = 1.0 + (1.0 if threads else 0.0)
    kernel_weight = (1.0 + min(len(kernel_lanes) - 1, 3) * 0.25) if kernel_lanes else 0.0
    app_h = int(avail * app_weight / (app_weight + kernel_weight))
    kernel_h = avail - app_h
    if one_run:  # lanes of a readable height, room below them for the words and counters
        grow = max(1.0, h / ONE_RUN_BASE_H)
        app_h = min(app_h, int((220 if threads else 110) * grow))
        kernel_h = min(kernel_h, int((90 if len(kernel_lanes) <= 1 else 200) * grow))
    top = y + pad + braces_h
    if one_run and not counters_w:  # the counters go under the lanes and the kernel's notes
        below = top + app_h + gap_h + kernel_h + KERNEL_NOTES_H
        if y + h - below >= MIN_COUNTERS_H:
            counters = (tl_x, below, tl_w, y + h - below - pad)
    app_box = (tl_x, top, tl_w, app_h)
    title = f"app + {threads} threads" if threads else "application"
    app = LaneGroup(title, app_lanes, app_box,
                    _split_rows(app_lanes, app_box, 0.45 if threads else None))
    gap = (tl_x, top + app_h, tl_w, gap_h)
    kernel = None
    if kernel_lanes:
        k_box = (tl_x, top + app_h + gap_h, tl_w, kernel_h)
        rows = _split_rows(kernel_lanes, k_box)
        kernel = LaneGroup("kernel", kernel_lanes, k_box, rows)
        if kernel.density:
            kernel.title = f"kernel ×{len(kernel_lanes)}"
    return Band(
        number=number, box=box, name_box=(x + 6, y, name_w - 10, h),
        counters_box=counters,
        app=app, kernel=kernel, gap=gap,
        braces=(tl_x, y + pad, tl_w, braces_h) if one_run else None,
        conn_lane={run.lanes[i].conn: i for i in kernel_lanes},
    )


def pane_width(width: int, side: bool) -> int:
    """The code pane's width: a readable column, never most of the window."""
    share = SIDE_PANE_SHARE if side else PANE_SHARE
    return max(PANE_MIN_W, min(PANE_MAX_W, int(width * share)))


def screen_layout(size: tuple[int, int], runs: list[Run], numbers: list[int] | None = None,
                  one_run: bool = False, pane: bool = False, legend_rows: int = 1,
                  chrome: Chrome = Chrome(), state: bool = False) -> Screen:
    """Bands for ``runs`` (numbered ``numbers``, their places among all shown runs). With
    ``pane`` the code pane takes the right of the window (and, in the one-run view, holds the
    counters); ``legend_rows`` is how many rows the legend needs at this width; ``chrome``
    the heights around the timeline (the window's, or a slide's); with ``state`` the state
    pane takes the bottom of the timeline's column, under the bands."""
    width, height = size
    head_h = chrome.header_h
    pane_w = pane_width(width, not one_run) if pane else 0
    plot_w = width - pane_w
    top = head_h + OVERVIEW_H + RULER_H
    footer = chrome.caption_h + LEGEND_ROW_H * legend_rows + chrome.hints_h
    pane_bottom = bottom = height - footer - chrome.question_h
    state_box = None
    if state:
        avail = bottom - top  # a small window keeps at least half of it for the timeline
        state_h = max(min(STATE_MIN_H, avail // 2), min(STATE_MAX_H, int(avail * STATE_SHARE)))
        bottom -= state_h
        state_box = (0, bottom, plot_w, state_h)
    name_w, tl_w, counters_w = _columns(plot_w, not one_run or not pane,
                                        (bottom - top) / max(1, len(runs)))
    header = (0, 0, width, head_h)
    overview = (name_w, head_h, tl_w, OVERVIEW_H)
    ruler = (name_w, head_h + OVERVIEW_H, tl_w, RULER_H)
    axis_note = (name_w + tl_w + 8, head_h, max(counters_w, 0), OVERVIEW_H + RULER_H)
    numbers = numbers if numbers is not None else list(range(len(runs)))
    weights = [STOPPED_WEIGHT if stopped_at_once(run) and len(runs) > 1 else 1.0
               for run in runs]
    total = sum(weights) or 1.0
    bands = []
    above = 0.0
    for number, run, weight in zip(numbers, runs, weights, strict=True):
        y0 = top + round(above / total * (bottom - top))
        above += weight
        y1 = top + round(above / total * (bottom - top))
        bands.append(band_layout(number, run, (0, y0, plot_w, y1 - y0), name_w, counters_w,
                                 one_run))
    return Screen(size=size, header=header, overview=overview, ruler=ruler,
                  axis_note=axis_note, timeline=(name_w, top, tl_w, bottom - top),
                  bands=bands, caption=(0, height - footer, width, chrome.caption_h),
                  legend=(0, height - footer + chrome.caption_h, width,
                          LEGEND_ROW_H * legend_rows),
                  hints=(0, height - chrome.hints_h, width, chrome.hints_h),
                  pane=(plot_w, head_h, pane_w, pane_bottom - head_h) if pane else None,
                  question=(0, pane_bottom, width, chrome.question_h), state=state_box)


def stopped_at_once(run: Run) -> bool:
    """A run that stopped with an error before anything took time (select refusing a
    descriptor >= FD_SETSIZE): its band needs room for its name, error and counters only."""
    return run.error is not None and all(k >= Kind.SYSCALL for k in run.kind)


class Viewport:
    """Time -> x pixels for the current axis and window."""

    def __init__(self, axis: SchematicAxis | ScaleAxis, window: tuple[float, float], x0: int,
                 width: int) -> None:
        self.axis = axis
        self.lo, hi = window
        self.x0 = x0
        self.width = width
        self.scale = width / (hi - self.lo) if hi > self.lo else 1.0
        self.t_lo = axis.time(self.lo)
        self.t_hi = axis.time(hi)

    def x(self, t: float) -> float:
        return self.x0 + (self.axis.pos(t) - self.lo) * self.scale

    def time_at(self, x: float) -> float:
        return self.axis.time(self.lo + (x - self.x0) / self.scale)
