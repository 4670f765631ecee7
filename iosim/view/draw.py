"""Drawing one frame with pygame: the all-runs view and the one-run view (Figures 6.1-6.5 with
their braces), the header, caption, hints and help; the comparison view (Figure 6.6) is drawn by
draw_compare.py.

A frame only touches what is visible: each lane's events come from ``LaneIndex.visible`` and,
where more events fall in the window than there are pixels, one in every few is drawn.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pygame

from iosim.trace import Kind
from iosim.view import theme
from iosim.view.braces import COPY_BRACE
from iosim.view.caption import caption
from iosim.view.draw_compare import draw_compare
from iosim.view.index import RunIndex
from iosim.view.labels import Box, Placer, place_braces
from iosim.view.layout import (
    BRACE_ROW_H,
    Band,
    Screen,
    Viewport,
    format_us,
    nice_step,
    screen_layout,
)
from iosim.view.player import SCHEMATIC, Player
from iosim.view.theme import INK, MUTED, Colour, Text

ALL, ONE, COMPARE = "all", "one", "compare"
FIGURES = {"blocking": "Figure 6.1", "nonblocking": "Figure 6.2", "select": "Figure 6.3",
           "poll": "after Figure 6.3", "epoll": "after Figure 6.3", "sigio": "Figure 6.4",
           "aio": "Figure 6.5", "threaded": "after Figure 6.1"}
UP_ARROWS = {Kind.RETURN, Kind.EWOULDBLOCK, Kind.READABLE, Kind.SIGNAL}
HINTS = "Space play · ←/→ step · +/- speed · T axis · C compare · 1-9 one run · H help"
HELP = [
    ("Space", "play / pause"), ("→ or .", "next event"), ("← or ,", "previous event"),
    ("Shift+→ / Shift+←", "next / previous message (data ready)"), ("Home / End", "start / end"),
    ("+ / -", "speed x2 / ÷2"), ("T", "time axis: schematic / to scale"),
    ("W / S", "zoom in / out around the playhead"), ("A / D", "pan left / right"),
    ("F", "fit the whole run"), ("0", "all runs"), ("1-9", "one run (Figures 6.1-6.5)"),
    ("C", "comparison of the models (Figure 6.6)"),
    ("Tab / Shift+Tab", "next / previous built-in scenario"), ("R", "restart"),
    ("L", "labels on / off"), ("P", "screenshot (PNG)"), ("H or ?", "this help"),
    ("Esc or Q", "quit"),
]
MAX_PER_PIXEL = 2  # beyond this many events per pixel of a lane, draw one in every few
PLATE_ALPHA = 190  # how much of an arrow a label's plate hides: enough to read the text
REPEAT_GAP_PX = 60  # the same label again on a row: only this far after the last one, so the
# arrows of a polling loop stay visible between their labels
MIN_BRACE_TEXT_PX = 160  # a brace label cut to its bracket keeps at least this width


@dataclass
class Scene:
    """Everything a frame shows; the app changes it, the renderer only reads it."""

    title: str
    runs: list[RunIndex]
    player: Player
    view: str = ALL
    focus: int = 0
    labels: bool = True
    help: bool = False
    flash: str = ""
    cache: dict = field(default_factory=dict)


class Renderer:
    def __init__(self) -> None:
        self.text = Text()
        self._fade: pygame.Surface | None = None
        self._layouts: dict[tuple, Screen] = {}
        self._plates: dict[tuple, pygame.Surface] = {}

    # -- the frame ------------------------------------------------------------------------------

    def draw(self, surf: pygame.Surface, scene: Scene) -> None:
        surf.fill(theme.BACKGROUND)
        screen = self._layout(surf.get_size(), scene)
        if scene.view == COMPARE:
            draw_compare(surf, self.text, scene.runs, scene.player.t, scene.cache, screen)
        else:
            self._timeline(surf, scene, screen)
        self._header(surf, scene, screen)
        self._caption(surf, scene, screen)
        self._hints(surf, screen)
        if scene.help:
            self._help(surf)

    def _layout(self, size: tuple[int, int], scene: Scene) -> Screen:
        one = scene.view == ONE
        key = (size, one, scene.focus if one else -1, id(scene.runs))
        screen = self._layouts.get(key)
        if screen is None:
            if len(self._layouts) > 32:
                self._layouts.clear()
            if one:
                screen = screen_layout(size, [scene.runs[scene.focus].run], [scene.focus], True)
            else:
                screen = screen_layout(size, [r.run for r in scene.runs])
            self._layouts[key] = screen
        return screen

    def _fade_surface(self, size: tuple[int, int]) -> pygame.Surface:
        if self._fade is None or self._fade.get_size() != size:
            self._fade = pygame.Surface(size, pygame.SRCALPHA)
            self._fade.fill((*theme.BACKGROUND, 185))
        return self._fade

    # -- header, caption, hints, help -----------------------------------------------------------

    def _header(self, surf: pygame.Surface, scene: Scene, screen: Screen) -> None:
        x, y, w, h = screen.header
        surf.fill(theme.BAND_SHADE, screen.header)
        p = scene.player
        state = "playing" if p.playing else ("end" if p.t >= p.end else "paused")
        axis = "schematic" if p.axis.name == SCHEMATIC else "to scale"
        right = f"t = {p.t / 1000:.3f} ms    {axis}    {p.speed_text()}    {state}"
        rrect = self.text.blit(surf, right, (w - 10, y + h // 2), 14, INK, True, "midright")
        view = ""
        if scene.view == ONE:
            model = scene.runs[scene.focus].run.model
            view = f" · run {scene.focus + 1}: {model} ({FIGURES.get(model, 'one run')})"
        elif scene.view == COMPARE:
            view = " · comparison of the IO models (Figure 6.6)"
        left = self.text.fit(f"iosim · {scene.title}{view}", 15, rrect.left - 30, True)
        self.text.blit(surf, left, (10, y + h // 2), 15, INK, True, "midleft")

    def _caption(self, surf: pygame.Surface, scene: Scene, screen: Screen) -> None:
        x, y, w, h = screen.caption
        surf.fill((255, 255, 255), screen.caption)
        pygame.draw.line(surf, theme.GRID, (0, y), (w, y))
        p = scene.player
        focus = scene.focus if scene.view == ONE else None
        line1, line2 = caption(scene.runs, p.t, focus)
        if scene.flash:
            line2 = scene.flash
        self.text.blit(surf, self.text.fit(line1, 15, w - 20), (10, y + 5), 15, INK)
        if line2:
            colour = theme.ARROW_INK if scene.flash else MUTED
            self.text.blit(surf, self.text.fit(line2, 13, w - 20), (10, y + 26), 13, colour,
                           bool(scene.flash))

    def _hints(self, surf: pygame.Surface, screen: Screen) -> None:
        x, y, w, h = screen.hints
        surf.fill(theme.BAND_SHADE, screen.hints)
        hints = self.text.fit(HINTS, 12, max(w // 3, w - 760))
        rect = self.text.blit(surf, hints, (10, y + h // 2), 12, MUTED, anchor="midleft")
        lx = rect.right + 20
        for colour, name in theme.LEGEND:
            img = self.text.get(name, 12, INK)
            if lx + 14 + img.get_width() > w - 6:
                break
            surf.fill(colour, (lx, y + h // 2 - 5, 11, 11))
            surf.blit(img, (lx + 14, y + (h - img.get_height()) // 2))
            lx += 14 + img.get_width() + 12

    def _help(self, surf: pygame.Surface) -> None:
        w, h = surf.get_size()
        box = pygame.Rect(0, 0, min(640, w - 40), min(30 + 21 * len(HELP) + 20, h - 40))
        box.center = (w // 2, h // 2)
        shade = pygame.Surface(box.size, pygame.SRCALPHA)
        shade.fill((255, 255, 255, 240))
        surf.blit(shade, box)
        pygame.draw.rect(surf, INK, box, 1)
        self.text.blit(surf, "Keys", (box.x + 16, box.y + 10), 16, INK, True)
        for k, (key, what) in enumerate(HELP):
            y = box.y + 38 + 21 * k
            if y + 16 > box.bottom:
                break
            self.text.blit(surf, key, (box.x + 16, y), 14, INK, True)
            self.text.blit(surf, what, (box.x + 200, y), 14, INK)

    # -- the timeline views -----------------------------------------------------------------------

    def _timeline(self, surf: pygame.Surface, scene: Scene, screen: Screen) -> None:
        p = scene.player
        tx, ty, tw, th = screen.timeline
        vp = Viewport(p.axis, p.window, tx, tw)
        self._ruler(surf, screen, vp)
        for k, band in enumerate(screen.bands):
            shade = theme.BAND_SHADE if k % 2 == 1 else theme.BACKGROUND
            if k % 2 == 1:
                surf.fill(shade, band.box)
            self._band(surf, scene, band, vp, scene.view == ONE, shade)
        head_x = vp.x(p.t)
        surf.set_clip(screen.timeline)
        fx = int(max(head_x, tx))
        if fx < tx + tw:
            surf.blit(self._fade_surface((tw, th)), (fx, ty), (0, 0, tx + tw - fx, th))
        surf.set_clip(None)
        if tx <= head_x <= tx + tw:
            pygame.draw.line(surf, INK, (head_x, ty - 4), (head_x, ty + th), 2)
        for band in screen.bands:
            self._counters(surf, scene, band)

    def _ruler(self, surf: pygame.Surface, screen: Screen, vp: Viewport) -> None:
        x, y, w, h = screen.ruler
        top, bottom = screen.timeline[1], screen.timeline[1] + screen.timeline[3]
        if vp.axis.name == SCHEMATIC:
            xs = [x + k * 150 for k in range(0, w // 150 + 1)]
        else:
            step = nice_step(vp.t_hi - vp.t_lo, max(w // 150, 2))
            first = int(vp.t_lo // step) + (1 if vp.t_lo % step else 0)
            xs = [vp.x(k * step) for k in range(first, first + w // 60 + 2)
                  if k * step <= vp.t_hi]
        last = -1e9
        for px in xs:
            if px < x or px > x + w:
                continue
            pygame.draw.line(surf, theme.GRID, (px, top), (px, bottom))
            pygame.draw.line(surf, MUTED, (px, y + h - 5), (px, y + h))
            if px > last + 8:
                rect = self.text.blit(surf, format_us(vp.time_at(px)), (px + 3, y + 2), 11, MUTED)
                last = rect.right

    def _band(self, surf: pygame.Surface, scene: Scene, band: Band, vp: Viewport,
              one_run: bool, shade: Colour) -> None:
        ri = scene.runs[band.number]
        run = ri.run
        bx, by, bw, bh = band.box
        nx, ny, nw, nh = band.name_box
        name = run.model if run.source == "sim" else f"{run.model} ({run.source})"
        prefix = f"{band.number + 1} " if len(scene.runs) > 1 else ""
        name_rect = self.text.blit(surf, self.text.fit(prefix + name, 14, nw, True),
                                   (nx, by + 3), 14, INK, True)
        taken = [name_rect]
        for group in band.groups():
            gx, gy, gw, gh = group.box
            named = group.labelled_rows()
            if len(named) == len(group.lanes):  # each sub-lane says whose it is
                for lane in named:
                    lx, ly, lw, lh = group.row(lane)
                    img = self.text.get(self.text.fit(run.lanes[lane].name, 11, nw - 10), 11,
                                        MUTED)
                    self._lane_title(surf, img, [img.get_rect(midright=(lx - 6, ly + lh // 2))],
                                     taken)
                continue
            if gh < 10:
                continue
            size = 11 if gh < 40 else 12
            img = self.text.get(self.text.fit(group.title, size, nw - 10), size, MUTED)
            under_name = img.get_rect(topright=(gx - 6, name_rect.bottom + 1))
            self._lane_title(surf, img, [img.get_rect(bottomright=(gx - 6, gy + gh - 1)),
                                         under_name], taken, (by, by + bh))
        surf.set_clip((vp.x0, by, vp.width, bh))
        t_lo, t_hi = vp.t_lo, vp.t_hi
        instants: list[tuple[int, float, int]] = []
        labels: list[tuple[pygame.Rect, str, Colour]] = []
        for group in band.groups():
            self._lanes(surf, ri, group, vp, t_lo, t_hi, instants, labels, scene.labels)
        span_labels = Placer(6)  # spans of one lane may overlap (messages queued together)
        for rect, text, colour in labels:
            self._span_label(surf, span_labels, rect, text, colour)
        self._arrows(surf, ri, band, vp, instants, scene.labels, one_run, shade)
        if one_run and band.braces:
            self._braces(surf, ri, band, vp)
        if run.error:
            self.text.blit(surf, self.text.fit(f"error: {run.error}", 13, vp.width - 20),
                           (vp.x0 + 10, band.app.box[1] + 2), 13, theme.ERROR, True)
        surf.set_clip(None)

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
                x0 = x_of(t0s[i])
                x1 = x_of(t1)
                a = max(x0, x_min)
                w = min(x1, x_max) - a
                colour = theme.SPAN_COLOURS[kind]
                if kind == Kind.HANDLER:
                    surf.fill(colour, (a, ry, max(w, 1), handler_h))
                    continue
                surf.fill(colour, (a, ry, max(w, 1), rh))
                if with_labels and w > 40 and rh >= 13 and not shared:
                    labels.append((pygame.Rect(a, ry, w, rh), run.labels[label_ids[i]], colour))

    @staticmethod
    def _lane_title(surf: pygame.Surface, img: pygame.Surface, places: list[pygame.Rect],
                    taken: list[pygame.Rect], within: tuple[int, int] | None = None) -> None:
        """A lane's title at the first of its places that covers no other title (the run's
        name first of all) and stays inside the band; left out when none does."""
        for rect in places:
            inside = within is None or within[0] <= rect.top and rect.bottom <= within[1]
            if inside and rect.collidelist(taken) < 0:
                surf.blit(img, rect)
                taken.append(rect)
                return

    def _span_label(self, surf: pygame.Surface, placer: Placer, rect: pygame.Rect, text: str,
                    fill: Colour) -> None:
        colour = (255, 255, 255) if fill in theme.DARK_FILLS else INK
        size = 13 if rect.h >= 22 else 11
        img = self.text.get(text, size, colour)
        if img.get_width() > rect.w - 8:
            text = self.text.fit(text, size, rect.w - 8)
            if len(text) < 6:
                return
            img = self.text.get(text, size, colour)
        pos = img.get_rect(center=rect.center).topleft
        bx, by, bw, bh = self.text.bounds(text, size)
        if placer.offer((pos[0] + bx, pos[1] + by, bw, bh)):
            surf.blit(img, pos)

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
                pygame.draw.polygon(surf, colour, [(x - tip * 2 // 3, ky), (x + tip * 2 // 3, ky),
                                                   (x, ky + tip)])
                if one_run and with_labels and band.kernel:
                    kb = band.kernel.box
                    self._label(surf, notes, label, 12, INK, (x - 3, kb[1] + kb[3] + 4), None,
                                x_end)
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
                              (x + 3, gy + r * row_h + (row_h - height) // 2), shade, x_end)
            if box is not None:
                frontier[r] = box[0] + box[2]
                last_text[r] = text

    def _label(self, surf: pygame.Surface, placer: Placer, text: str, size: int, ink: Colour,
               pos: tuple[int, int], plate: Colour | None, right: float) -> Box | None:
        """Draw ``text`` at ``pos`` if it ends before ``right`` and its inked pixels clear
        every label ``placer`` holds; with ``plate``, over a translucent patch of that colour.
        Returns the box it took."""
        img = self.text.get(text, size, ink)
        bx, by, bw, bh = self.text.bounds(text, size)
        box = (pos[0] + bx, pos[1] + by, bw, bh)
        if box[0] + bw > right or not placer.offer(box):
            return None
        if plate is not None:
            surf.blit(self._plate(bw + 2, bh + 2, plate), (box[0] - 1, box[1] - 1))
        surf.blit(img, pos)
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
        that would hit another moves up a row, then is cut, then is left out."""
        bx, by, bw, bh = band.braces
        rows = max(1, bh // BRACE_ROW_H)
        x_min, x_max = vp.x0, vp.x0 + vp.width
        size = 13
        shown = []
        named: set[str] = set()
        for t0, t1, label in ri.braces(vp.t_lo, vp.t_hi):
            x0, x1 = max(vp.x(t0), x_min), min(vp.x(t1), x_max)
            variants: list[str] = []
            if label not in named:  # a label once a frame; its repeats are brackets alone
                short = self.text.fit(label, size, int(max(x1 - x0, MIN_BRACE_TEXT_PX)))
                variants = [label] + ([short] if short != label and len(short) >= 8 else [])
            shown.append((x0, x1, label, variants))
            named.add(label)
        spans = [(x0, x1, [self.text.get(v, size, INK).get_width() for v in variants])
                 for x0, x1, _, variants in shown]
        for (x0, x1, label, variants), (row, variant, lx) in zip(
                shown, place_braces(spans, rows, x_min, x_max), strict=True):
            if row < 0:
                continue
            y = by + bh - (row + 1) * BRACE_ROW_H
            if variant >= 0:
                self.text.blit(surf, variants[variant], (lx, y + 1), size, INK)
            line_y = y + 21
            centre = (x0 + x1) / 2
            colour = theme.COPY if label == COPY_BRACE else INK
            pygame.draw.line(surf, colour, (x0, line_y), (x1, line_y), 2)
            pygame.draw.line(surf, colour, (x0, line_y), (x0, line_y + 5), 2)
            pygame.draw.line(surf, colour, (x1, line_y), (x1, line_y + 5), 2)
            pygame.draw.line(surf, colour, (centre, line_y), (centre, line_y - 3), 2)

    def _counters(self, surf: pygame.Surface, scene: Scene, band: Band) -> None:
        ri = scene.runs[band.number]
        c = ri.counters(scene.player.t)
        cx, cy, cw, ch = band.counters_box
        pairs = [(f"calls {c.syscalls}", f"EWOULDBLOCK {c.ewouldblock}"),
                 (f"signals {c.signals}", f"handled {c.messages_done}/{ri.run.message_count}"),
                 (f"blocked {c.blocked_pct:.0f}%", f"own work {c.work_pct:.0f}%")]
        size = 12 if ch >= 54 else 11
        step = size + 4
        lines = [f"{a} · {b}" for a, b in pairs]
        font = self.text.font(size)
        if ch >= 2 * len(pairs) * step + 4 and any(font.size(ln)[0] > cw for ln in lines):
            lines = [part for pair in pairs for part in pair]  # one figure a line, not cut
        n = max(1, min(len(lines), (ch - 4) // step))
        y = cy + max(2, (ch - n * step) // 2)
        for line in lines[:n]:
            self.text.blit(surf, self.text.fit(line, size, cw), (cx, y), size, INK)
            y += step
