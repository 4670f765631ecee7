"""Drawing one frame with pygame: the all-runs view and the one-run view (Figures 6.1-6.5 with
their braces). The comparison view (Figure 6.6) is drawn by draw_compare.py, the frame around
the timeline by draw_chrome.py, the code pane by draw_code.py, predict mode's question by
draw_predict.py.

A frame only touches what is visible: each lane's events come from ``LaneIndex.visible`` and,
where more events fall in the window than there are pixels, one in every few is drawn. No text
is ever cut: a label that does not fit its room is drawn shorter or not at all (the caption and
the code pane say what the playhead is on).
"""

from __future__ import annotations

from collections import Counter

import pygame

from iosim.trace import READY_ESTIMATED, Kind
from iosim.view import draw_chrome, draw_slide, theme
from iosim.view.braces import COPY_BRACE
from iosim.view.caption import caption, run_name
from iosim.view.compare import FIGURES
from iosim.view.draw_code import draw_code_pane, lane_of
from iosim.view.draw_compare import draw_compare
from iosim.view.draw_counters import counter_lines, draw_counters, draw_definition
from iosim.view.draw_help import help_overlay
from iosim.view.draw_predict import draw_predict
from iosim.view.draw_setup import draw_setup
from iosim.view.draw_state import draw_state_pane
from iosim.view.draw_whatif import draw_whatif
from iosim.view.follow import journey
from iosim.view.hit import details
from iosim.view.index import RunIndex
from iosim.view.labels import Box, Placer, place_braces
from iosim.view.layout import BRACE_ROW_H, Band, Screen, Viewport, screen_layout
from iosim.view.scene import COMPARE, ONE, Scene
from iosim.view.theme import INK, MUTED, Colour, Text

UP_ARROWS = {Kind.RETURN, Kind.EWOULDBLOCK, Kind.READABLE, Kind.SIGNAL}
MAX_PER_PIXEL = 2  # beyond this many events per pixel of a lane, draw one in every few
PLATE_ALPHA = 190  # how much of an arrow a label's plate hides: enough to read the text
REPEAT_GAP_PX = 60  # the same label again on a row: only this far after the last one, so the
# arrows of a polling loop stay visible between their labels
FADE_ALPHA = 185  # how much what lies after the playhead fades
DIM_ALPHA = 200  # following a message: how much the rest of the band fades
ERROR_BACKING = (255, 255, 255, 225)  # behind a run's error text: readable over its lanes


class Renderer:
    def __init__(self) -> None:
        self.text = Text()
        self._veils: dict[int, pygame.Surface] = {}
        self._layouts: dict[tuple, Screen] = {}
        self._plates: dict[tuple, pygame.Surface] = {}
        self._text_limit = float("inf")

    # -- the frame ------------------------------------------------------------------------------

    def draw(self, surf: pygame.Surface, scene: Scene, busy: str = "") -> None:
        """One frame; ``busy`` says what is being done meanwhile (a what-if simulation)."""
        surf.fill(theme.BACKGROUND)
        scene.counter_spots.clear()
        if scene.slide is not None and scene.slide.blank:
            draw_slide.blank(surf)
            return
        entries = self._legend_entries(scene)
        pane_run = scene.pane_run()
        screen = self.layout(surf.get_size(), scene, entries, pane_run is not None)
        p = scene.player
        vp = Viewport(p.axis, p.window, screen.timeline[0], screen.timeline[2])
        cap = caption(scene.runs, p.t, scene.focus if scene.view == ONE else None,
                      durations=scene.predict is None)
        if scene.view == COMPARE:
            draw_compare(surf, self.text, scene.runs, p.t, scene.cache, screen, p.axis.name,
                         scene.whole)
        else:
            self._timeline(surf, scene, screen, vp)
        noted = scene.view == COMPARE or draw_chrome.axis_note(self.text, surf, screen,
                                                               p.axis.name)
        if scene.presentation:
            draw_slide.title_bar(self.text, surf, screen, cap, scene,
                                 [v.removeprefix("iosim · ") for v in self._header_left(scene)])
            draw_slide.question_box(self.text, surf, screen, scene)
            draw_slide.presenter_line(self.text, surf, screen, scene)
        else:
            draw_chrome.header(self.text, surf, screen, p, self._header_left(scene))
            draw_chrome.caption_bar(self.text, surf, screen, cap, scene.flash,
                                    ahead=scene.predict is None)
            if scene.hints:
                draw_chrome.hints(self.text, surf, screen)
        draw_chrome.legend(self.text, surf, screen, entries)
        if scene.whatif is not None and screen.pane is not None:
            draw_whatif(surf, self.text, scene.whatif, screen.pane, busy)
        elif pane_run is not None and screen.pane is not None:
            left = draw_code_pane(surf, self.text, scene, screen.pane, pane_run,
                                  axis_note=None if noted else p.axis.name)
            if scene.view == ONE and screen.bands[0].counters_box is None:
                draw_counters(self.text, surf, counter_lines(scene, scene.runs[pane_run]),
                              left, top=True, spots=scene.counter_spots)
        if screen.state is not None:
            ri = scene.runs[scene.focus]
            draw_state_pane(surf, self.text, scene, screen.state, scene.focus,
                            lane_of(ri, p.t))
        if scene.hover is not None and scene.view != COMPARE:
            self._hover_box(surf, scene)
        if scene.hover_counter is not None:
            draw_definition(self.text, surf, scene.hover_counter, scene.pointer)
        if scene.predict is not None:
            shown = scene.predict.run
            draw_predict(surf, self.text, scene.predict, screen, p.t,
                         "all runs" if shown is None else run_name(scene.runs[shown]),
                         vp.x(p.t))
        if scene.help:
            help_overlay(self.text, surf)

    def layout(self, size: tuple[int, int], scene: Scene,
               entries: list | None = None, pane: bool | None = None) -> Screen:
        """The screen's layout for this scene (cached: it changes with the size and view)."""
        if entries is None:
            entries = self._legend_entries(scene)
        if pane is None:
            pane = scene.pane_run() is not None
        one = scene.view == ONE
        rows = draw_chrome.legend_rows(self.text, entries, size[0])
        chrome = draw_slide.chrome(self.text, scene, size[0])
        state = scene.state_shown
        key = (size, scene.view, scene.focus if one else -1, pane, rows, id(scene.runs), chrome,
               state)
        screen = self._layouts.get(key)
        if screen is None:
            if len(self._layouts) > 32:
                self._layouts.clear()
            if one:
                screen = screen_layout(size, [scene.runs[scene.focus].run], [scene.focus],
                                       True, pane, rows, chrome, state)
            else:
                screen = screen_layout(size, [r.run for r in scene.runs], None, False, pane,
                                       rows, chrome)
            self._layouts[key] = screen
        return screen

    @staticmethod
    def _legend_entries(scene: Scene) -> list:
        key = ("legend", id(scene.runs))
        entries = scene.cache.get(key)
        if entries is None:
            kinds = {k for ri in scene.runs for k in set(ri.run.kind)}
            entries = scene.cache[key] = draw_chrome.legend_entries(kinds)
        return entries

    @staticmethod
    def _header_left(scene: Scene) -> list[str]:
        """The header's title, longest variant first."""
        view = ""
        if scene.view == ONE:
            model = scene.runs[scene.focus].run.model
            view = f"run {scene.focus + 1}: {model} ({FIGURES.get(model, 'one run')})"
        elif scene.view == COMPARE:
            view = "comparison of the IO models (Figure 6.6)"
        base = f"iosim · {scene.title}"
        short = f"iosim · {scene.title.split(' · ')[0]}"
        if view:
            return [f"{base} · {view}", f"{short} · {view}", view, short]
        return [base, short, "iosim"]

    def _hover_box(self, surf: pygame.Surface, scene: Scene) -> None:
        """The details of the span or instant under the mouse, beside the pointer and kept
        on the screen."""
        k, i = scene.hover  # type: ignore[misc]
        if not (0 <= k < len(scene.runs) and 0 <= i < len(scene.runs[k].run)):
            return
        lines = details(scene.runs[k], k, i)
        w, h = surf.get_size()
        width = min(max(self.text.width(line, 13) for line in lines) + 20, w - 8)
        lines = [ln for ln in lines if self.text.width(ln, 13) <= width - 20]
        box = pygame.Rect(0, 0, width, 10 + 18 * len(lines))
        px, py = scene.pointer
        box.topleft = (px + 16, py + 16)
        if box.right > w - 4:
            box.right = px - 12
        if box.bottom > h - 4:
            box.bottom = py - 12
        box.clamp_ip(surf.get_rect())
        surf.fill((255, 255, 255), box)
        pygame.draw.rect(surf, INK, box, 1)
        for n, line in enumerate(lines):
            self.text.blit(surf, line, (box.x + 10, box.y + 5 + 18 * n), 13, INK, n == 0,
                           room=box)

    def _veil(self, size: tuple[int, int], alpha: int) -> pygame.Surface:
        """A translucent sheet of the background's colour (the future fades under one, the
        rest of a band under another while a message is followed), kept while its size is."""
        veil = self._veils.get(alpha)
        if veil is None or veil.get_size() != size:
            veil = self._veils[alpha] = pygame.Surface(size, pygame.SRCALPHA)
            veil.fill((*theme.BACKGROUND, alpha))
        return veil

    # -- the timeline views ---------------------------------------------------------------------

    def _timeline(self, surf: pygame.Surface, scene: Scene, screen: Screen,
                  vp: Viewport) -> None:
        p = scene.player
        # predict mode hides the future: no label may reach past the playhead
        self._text_limit = vp.x(p.t) if scene.predict is not None else float("inf")
        tx, ty, tw, th = screen.timeline
        until = p.t if scene.predict is not None else float("inf")  # the future is asked
        draw_chrome.overview(surf, screen, p, vp, self._ready_times(scene), until)
        draw_chrome.ruler(self.text, surf, screen, vp, until)
        for k, band in enumerate(screen.bands):
            shade = theme.BAND_SHADE if k % 2 == 1 else theme.BACKGROUND
            if k % 2 == 1:
                surf.fill(shade, band.box)
            self._band(surf, scene, band, vp, scene.view == ONE, shade)
        head_x = vp.x(p.t)
        surf.set_clip(screen.timeline)
        fx = int(max(head_x, tx))
        if fx < tx + tw and scene.predict is not None:  # the future is what is asked
            surf.fill(theme.BACKGROUND, (fx + 1, ty, tx + tw - fx - 1, th))
        elif fx < tx + tw:
            surf.blit(self._veil((tw, th), FADE_ALPHA), (fx, ty), (0, 0, tx + tw - fx, th))
        surf.set_clip(None)
        if tx <= head_x <= tx + tw:
            pygame.draw.line(surf, INK, (head_x, ty - 4), (head_x, ty + th), 2)
        for band in screen.bands:
            if band.counters_box is not None:
                self._counters(surf, scene, band)

    @staticmethod
    def _ready_times(scene: Scene) -> list[float]:
        key = ("ready", id(scene.runs), scene.view, scene.focus)
        times = scene.cache.get(key)
        if times is None:
            runs = [scene.runs[scene.focus]] if scene.view == ONE else scene.runs
            times = scene.cache[key] = sorted({t for ri in runs for t in ri.run.m_ready
                                               if t == t})
        return times

    def _band(self, surf: pygame.Surface, scene: Scene, band: Band, vp: Viewport,
              one_run: bool, shade: Colour) -> None:
        ri = scene.runs[band.number]
        run = ri.run
        bx, by, bw, bh = band.box
        nx, ny, nw, nh = band.name_box
        name = run_name(ri)
        prefix = f"{band.number + 1} " if len(scene.runs) > 1 else ""
        title = self.text.first_fitting([prefix + name, name, run.model, prefix.strip()], 14,
                                        nw, True)
        name_rect = self.text.blit(surf, title, (nx, by + 3), 14, INK, True, room=band.name_box)
        taken = [name_rect]
        for group in band.groups():
            self._group_titles(surf, ri, band, group, name_rect, taken)
        surf.set_clip((vp.x0, by, vp.width, bh))
        t_lo, t_hi = vp.t_lo, vp.t_hi
        instants: list[tuple[int, float, int]] = []
        labels: list[tuple[pygame.Rect, str, Colour]] = []
        for group in band.groups():
            self._lanes(surf, ri, group, vp, t_lo, t_hi, instants, labels, scene.labels)
        span_labels = Placer(6)  # spans of one lane may overlap (messages queued together)
        for rect, text, colour in labels:
            self._span_label(surf, span_labels, rect, text, colour)
        if scene.labels:
            draw_setup(surf, self.text, ri, band, vp, self._text_limit)
        self._arrows(surf, ri, band, vp, instants, scene.labels, one_run, shade)
        if one_run and band.braces:
            self._braces(surf, ri, band, vp)
        if scene.follow is not None:
            self._follow(surf, scene, ri, band, vp)
        if run.error:
            self._error(surf, run.error, band, vp)
        surf.set_clip(None)

    def _group_titles(self, surf: pygame.Surface, ri: RunIndex, band: Band, group,
                      name_rect: pygame.Rect, taken: list[pygame.Rect]) -> None:
        run = ri.run
        nw = band.name_box[2]
        gx, gy, gw, gh = group.box
        named = group.labelled_rows()
        if len(named) == len(group.lanes):  # each sub-lane says whose it is
            for lane in named:
                lx, ly, lw, lh = group.row(lane)
                name = run.lanes[lane].name
                shown = self.text.first_fitting([name, name.replace("kernel ", "")], 11, nw - 10)
                if shown:
                    img = self.text.get(shown, 11, MUTED)
                    place = img.get_rect(midright=(lx - 6, ly + lh // 2))
                    self._lane_title(surf, shown, img, [place], taken, _name_column(band))
            return
        if gh < 10:
            return
        size = 11 if gh < 40 else 12
        shown = self.text.first_fitting([group.title], size, nw - 10)
        if not shown:
            return
        img = self.text.get(shown, size, MUTED)
        under_name = img.get_rect(topright=(gx - 6, name_rect.bottom + 1))
        self._lane_title(surf, shown, img, [img.get_rect(bottomright=(gx - 6, gy + gh - 1)),
                                            under_name], taken, _name_column(band))

    def _lane_title(self, surf: pygame.Surface, text: str, img: pygame.Surface,
                    places: list[pygame.Rect], taken: list[pygame.Rect],
                    room: pygame.Rect) -> None:
        """A lane's title at the first of its places that covers no other title (the run's
        name first of all) and stays inside ``room`` (the band's name column); left out when
        none does."""
        for rect in places:
            if room.contains(rect) and rect.collidelist(taken) < 0:
                surf.blit(img, rect)
                if self.text.record is not None:
                    self.text.record.append((text, rect, room))
                taken.append(rect)
                return

    def _error(self, surf: pygame.Surface, error: str, band: Band, vp: Viewport) -> None:
        """The run's error in the band, wrapped to its width; the part after a ';' goes when
        two lines are still too many."""
        room = pygame.Rect(vp.x0 + 10, band.app.box[1] + 2, vp.width - 20,
                           band.box[1] + band.box[3] - band.app.box[1] - 4)
        rows = max(1, room.h // 17)
        for text in (f"error: {error}", f"error: {error.split(';')[0]}"):
            lines = self.text.wrap(text, 13, room.w, True)
            if len(lines) <= rows and all(self.text.width(ln, 13, True) <= room.w
                                          for ln in lines):
                for k, line in enumerate(lines):  # on a pale backing: readable over lanes
                    back = pygame.Rect(room.x - 4, room.y + 17 * k - 1,
                                       self.text.width(line, 13, True) + 8, 17)
                    veil = pygame.Surface(back.size, pygame.SRCALPHA)
                    veil.fill(ERROR_BACKING)
                    surf.blit(veil, back)
                    self.text.blit(surf, line, (room.x, room.y + 17 * k), 13, theme.ERROR,
                                   True, room=room)
                return

    def _lanes(self, surf: pygame.Surface, ri: RunIndex, group, vp: Viewport, t_lo: float,
               t_hi: float, instants: list, labels: list, with_labels: bool) -> None:
        run = ri.run
        kinds, t0s, t1s, label_ids = run.kind, run.t0, run.t1, run.label
        x_of = vp.x
        x_min, x_max = vp.x0 - 2, vp.x0 + vp.width + 2
        strips = Counter(group.rows.values())
        density = group.density
        if density:
            gx, gy, gw, gh = group.box
            end_x = min(x_of(run.end_us), x_max)
            if end_x > x_min:
                surf.fill(theme.WAIT, (x_min, gy, end_x - x_min, gh))
        for lane in group.lanes:
            row = group.row(lane)
            _, ry, _, rh = row
            li = ri.lanes[lane]
            events = li.events
            rng = li.visible(t_lo, t_hi)
            step = max(1, len(rng) // (MAX_PER_PIXEL * vp.width))
            handler_h = max(2, rh // 3)
            shared = strips[row] > 1
            for j in range(rng.start, rng.stop, step):
                i = events[j]
                kind = kinds[i]
                t1 = t1s[i]
                if t1 < t_lo:
                    continue
                if kind >= 20:
                    instants.append((i, t0s[i], lane))
                    continue
                if density and kind == Kind.WAIT:
                    continue
                a = max(x_of(t0s[i]), x_min)
                w = min(x_of(t1), x_max) - a
                colour = theme.SPAN_COLOURS[kind]
                if kind == Kind.HANDLER:
                    surf.fill(colour, (a, ry, max(w, 1), handler_h))
                    continue
                surf.fill(colour, (a, ry, max(w, 1), rh))
                if kind in theme.HATCHED:
                    draw_chrome.hatch(surf, theme.HATCHED[kind], (a, ry, max(w, 1), rh))
                if with_labels and w > 40 and rh >= 13 and not shared:
                    labels.append((pygame.Rect(a, ry, w, rh), run.labels[label_ids[i]], colour))
            longs = ri.long_spans(lane, t_lo, t_hi) if step > 1 else []
            if len(longs) <= 2 * vp.width:  # one event in every few drawn: the long ones too
                for t0, t1, kind in longs:
                    if density and kind == Kind.WAIT:
                        continue
                    a = max(x_of(t0), x_min)
                    w = max(min(x_of(t1), x_max) - a, 1)
                    surf.fill(theme.SPAN_COLOURS[kind],
                              (a, ry, w, handler_h if kind == Kind.HANDLER else rh))

    def _span_label(self, surf: pygame.Surface, placer: Placer, rect: pygame.Rect, text: str,
                    fill: Colour) -> None:
        """A span's label inside it, whole, or not at all (the caption names the span when
        the playhead is on it)."""
        colour = (255, 255, 255) if fill in theme.DARK_FILLS else INK
        size = 13 if rect.h >= 22 else 11
        if self.text.width(text, size) > rect.w - 8:
            size = 11
            if self.text.width(text, size) > rect.w - 8:
                return
        img = self.text.get(text, size, colour)
        pos = img.get_rect(center=rect.center).topleft
        bx, by, bw, bh = self.text.bounds(text, size)
        if pos[0] + img.get_width() <= self._text_limit and \
                placer.offer((pos[0] + bx, pos[1] + by, bw, bh)):
            self.text.blit(surf, text, pos, size, colour, room=rect)

    def _arrows(self, surf: pygame.Surface, ri: RunIndex, band: Band, vp: Viewport,
                instants: list, with_labels: bool, one_run: bool, shade: Colour) -> None:
        """All arrows first, then the labels that have room: a label never covers another,
        and sits on a faint plate so the arrows it crosses stay visible but not in the way."""
        run = ri.run
        gx, gy, gw, gh = band.gap
        rows = 2 if gh >= 22 else 1
        row_h = gh // rows
        wanted: list[tuple[int, int, str, Colour]] = []
        notes = Placer(6, sweep=True)
        x_end = vp.x0 + vp.width  # past it a label would be cut by the clip
        room = pygame.Rect(vp.x0, band.box[1], vp.width, band.box[3])
        instants.sort(key=lambda e: e[1])
        for i, t, lane in instants:
            kind = Kind(run.kind[i])
            x = int(vp.x(t))
            label = run.labels[run.label[i]]
            lane_row = band.app.row(lane) if run.lanes[lane].role != "kernel" else None
            k_row = band.kernel_row(run.conn[i]) if band.kernel else None
            if kind in (Kind.ARRIVAL, Kind.COMPLETE, Kind.EOF) and lane_row is None:
                ky, kh = band.kernel.row(lane)[1::2] if band.kernel else (gy, gh)
                colour = INK if kind == Kind.ARRIVAL else theme.COPY
                tip = max(3, min(6, kh))
                points = [(x - tip * 2 // 3, ky), (x + tip * 2 // 3, ky), (x, ky + tip)]
                estimated = kind == Kind.ARRIVAL and run.msg[i] >= 0 and \
                    run.m_flags[run.msg[i]] & READY_ESTIMATED
                pygame.draw.polygon(surf, colour, points, 1 if estimated else 0)
                if one_run and with_labels and band.kernel:
                    kb = band.kernel.box
                    note = f"≈ {label} (estimated)" if estimated else label
                    self._label(surf, notes, note, 12, INK, (x - 3, kb[1] + kb[3] + 4), None,
                                x_end, room)
                continue
            if kind == Kind.ERROR:
                pygame.draw.line(surf, theme.ERROR, (x, band.box[1] + 2),
                                 (x, band.box[1] + band.box[3] - 2), 3)
                continue
            if lane_row is None or kind == Kind.WAKEUP or k_row is None:
                if lane_row is not None and kind == Kind.WAKEUP:
                    pygame.draw.circle(surf, INK, (x, lane_row[1] + lane_row[3] - 3), 2)
                continue
            y_app = lane_row[1] + lane_row[3]
            y_kernel = k_row[1]
            up = kind in UP_ARROWS
            colour = theme.HANDLER if kind == Kind.SIGNAL else theme.ARROW
            pygame.draw.line(surf, colour, (x, y_app), (x, y_kernel), 2)
            tip = y_app if up else y_kernel
            d = 6 if up else -6
            pygame.draw.polygon(surf, colour, [(x - 4, tip + d), (x + 4, tip + d), (x, tip)])
            if with_labels and gh >= 10:
                text = "system call " + label if (kind == Kind.SYSCALL and one_run) else label
                ink = theme.SIGNAL_INK if kind == Kind.SIGNAL else theme.ARROW_INK
                wanted.append((x, 0 if (rows == 1 or not up) else 1, text, ink))
        size = 12 if one_run else 11
        placer = Placer(4, sweep=True)
        frontier = [-1e9] * rows
        last_text = [""] * rows
        for x, r, text, ink in wanted:
            if x + 3 < frontier[r] + (REPEAT_GAP_PX if text == last_text[r] else 0):
                continue
            height = self.text.get(text, size, ink).get_height()
            box = self._label(surf, placer, text, size, ink,
                              (x + 3, gy + r * row_h + (row_h - height) // 2), shade, x_end,
                              room)
            if box is not None:
                frontier[r] = box[0] + box[2]
                last_text[r] = text

    def _label(self, surf: pygame.Surface, placer: Placer, text: str, size: int, ink: Colour,
               pos: tuple[int, int], plate: Colour | None, right: float,
               room: pygame.Rect) -> Box | None:
        """Draw ``text`` at ``pos`` if it ends before ``right`` and its inked pixels clear
        every label ``placer`` holds; with ``plate``, over a translucent patch of that colour.
        Returns the box it took."""
        img = self.text.get(text, size, ink)
        bx, by, bw, bh = self.text.bounds(text, size)
        box = (pos[0] + bx, pos[1] + by, bw, bh)
        if pos[0] + img.get_width() > min(right, self._text_limit) or pos[0] < room.left or \
                pos[1] + img.get_height() > room.bottom or not placer.offer(box):
            return None
        if plate is not None:
            surf.blit(self._plate(bw + 2, bh + 2, plate), (box[0] - 1, box[1] - 1))
        self.text.blit(surf, text, pos, size, ink, room=room)
        return box

    def _plate(self, w: int, h: int, colour: Colour) -> pygame.Surface:
        key = (w, h, colour)
        plate = self._plates.get(key)
        if plate is None:
            if len(self._plates) > 500:
                self._plates.clear()
            plate = self._plates[key] = pygame.Surface((w, h), pygame.SRCALPHA)
            plate.fill((*colour, PLATE_ALPHA))
        return plate

    def _braces(self, surf: pygame.Surface, ri: RunIndex, band: Band, vp: Viewport) -> None:
        """Brackets over the application lane, each with its label centred above it; a label
        that would hit another moves up a row, else the bracket goes without it."""
        bx, by, bw, bh = band.braces
        rows = max(1, bh // BRACE_ROW_H)
        x_min, x_max = vp.x0, vp.x0 + vp.width
        size = 13
        shown = []
        named: set[str] = set()
        x_max = min(x_max, self._text_limit)
        for t0, t1, label in ri.braces(vp.t_lo, vp.t_hi):
            if vp.x(t0) >= x_max:
                continue
            x0, x1 = max(vp.x(t0), x_min), min(vp.x(t1), x_max)
            variants = []
            if label not in named:  # a label once a frame; its repeats are brackets alone
                whole = [label, label.split(",")[0]]  # the part before a comma says it too
                variants = [v for v in dict.fromkeys(whole)
                            if self.text.width(v, size) <= x_max - x_min - 12]
            shown.append((x0, x1, label, variants))
            named.add(label)
        spans = [(x0, x1, [self.text.width(v, size) for v in variants])
                 for x0, x1, _, variants in shown]
        room = pygame.Rect(x_min, by, x_max - x_min, bh)
        for (x0, x1, label, variants), (row, variant, lx) in zip(
                shown, place_braces(spans, rows, x_min, x_max), strict=True):
            if row < 0:
                continue
            y = by + bh - (row + 1) * BRACE_ROW_H
            if variant >= 0:
                self.text.blit(surf, variants[variant], (lx, y + 1), size, INK, room=room)
            line_y = y + 21
            centre = (x0 + x1) / 2
            colour = theme.COPY if label == COPY_BRACE else INK
            pygame.draw.line(surf, colour, (x0, line_y), (x1, line_y), 2)
            pygame.draw.line(surf, colour, (x0, line_y), (x0, line_y + 5), 2)
            pygame.draw.line(surf, colour, (x1, line_y), (x1, line_y + 5), 2)
            pygame.draw.line(surf, colour, (centre, line_y), (centre, line_y - 3), 2)

    # -- following a message ------------------------------------------------------------------

    def _follow(self, surf: pygame.Surface, scene: Scene, ri: RunIndex, band: Band,
                vp: Viewport) -> None:
        """Fade the band, then draw the followed message's events over it, outlined."""
        m = scene.follow
        assert m is not None
        key = ("journey", id(ri), m)
        events = scene.cache.get(key)
        if events is None:
            events = scene.cache[key] = sorted(journey(ri, m), key=lambda i: ri.run.t0[i])
        lanes = band.app.box[1], band.box[1] + band.box[3]
        surf.blit(self._veil((vp.width, lanes[1] - lanes[0]), DIM_ALPHA), (vp.x0, lanes[0]))
        run = ri.run
        for i in events:
            kind = Kind(run.kind[i])
            lane = run.lane[i]
            group = band.kernel if run.lanes[lane].role == "kernel" else band.app
            if group is None:
                continue
            _, ry, _, rh = group.row(lane)
            x0, x1 = vp.x(run.t0[i]), vp.x(run.t1[i])
            if x1 < vp.x0 or x0 > vp.x0 + vp.width:
                continue
            if kind.is_span:
                rect = (x0, ry, max(x1 - x0, 2), rh if kind != Kind.HANDLER else max(2, rh // 3))
                surf.fill(theme.SPAN_COLOURS[kind], rect)
                pygame.draw.rect(surf, INK, rect, 1)
            else:
                pygame.draw.line(surf, INK, (x0, ry), (x0, ry + rh), 3)

    # -- counters -----------------------------------------------------------------------------

    def _counters(self, surf: pygame.Surface, scene: Scene, band: Band) -> None:
        """One figure a line, in the room the band gives; what does not fit is left out,
        never cut (two to a line where the column is wide enough)."""
        ri = scene.runs[band.number]
        box = pygame.Rect(band.counters_box)
        one = scene.view == ONE
        if one:  # under the lanes, over the timeline's grid
            surf.fill(theme.BACKGROUND, box)
        draw_counters(self.text, surf, counter_lines(scene, ri), box, top=one,
                      spots=scene.counter_spots)


def _name_column(band: Band) -> pygame.Rect:
    return pygame.Rect(0, band.box[1], band.app.box[0], band.box[3])
