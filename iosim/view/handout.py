"""The handout, headless: a page per IO model (A4 portrait) with who blocks in phase 1 and in
phase 2, the system calls of a simulated run, how its cost grows, its pitfalls, and its picture:
the one-run view of that run, whole, as a slide draws it. Text pages are drawn with pygame and
the bundled fonts; the pages go into a PDF."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pygame

from iosim import scenario as scenario_mod
from iosim.files import atomic_open_binary
from iosim.lesson.handout import SHEETS, Sheet, calls_sentence, scenario_of
from iosim.scenario import SIM_MODELS, Scenario
from iosim.timefmt import format_us
from iosim.trace import Run, Trace
from iosim.view import theme
from iosim.view.draw import Renderer
from iosim.view.pdf import PdfWriter
from iosim.view.render import Look, prepare
from iosim.view.slides import image_of
from iosim.view.theme import INK, MUTED, Text

PAGE = (1240, 1754)  # A4 at 150 dots per inch
DPI = 150.0
MARGIN = 80
PICTURE = (PAGE[0] - 2 * MARGIN, (PAGE[0] - 2 * MARGIN) * 9 // 16)  # 1080x607: 1:1 on the page
TITLE_SIZE, HEAD_SIZE, BODY_SIZE, SMALL_SIZE = 40, 22, 23, 17
LABEL_W = 300  # the column of the row names ("Phase 1: wait for data", ...)


def render_handout(out: Path, simulate: Callable[[Scenario], Trace],
                   progress: Callable[[int, int], None] | None = None) -> int:
    """A page per model of the simulator, in the order of SIM_MODELS; returns how many."""
    pages = Pages(simulate)
    with atomic_open_binary(out) as f:
        pdf = PdfWriter(f, "iosim: the UNIX I/O models, a page each", DPI)
        for k, model in enumerate(SIM_MODELS):
            pdf.add(image_of(pages.page(model)))
            if progress:
                progress(k + 1, len(SIM_MODELS))
        pdf.close()
    return len(SIM_MODELS)


class Pages:
    """The handout's pages, each scenario simulated once with every model."""

    def __init__(self, simulate: Callable[[Scenario], Trace]) -> None:
        self.simulate = simulate
        self.traces: dict[str, Trace] = {}
        self.text = Text()
        self.renderer = Renderer()

    def page(self, model: str) -> pygame.Surface:
        name = scenario_of(model)
        if name not in self.traces:
            data = {**scenario_mod.to_dict(scenario_mod.load(name)), "models": list(SIM_MODELS)}
            self.traces[name] = self.simulate(scenario_mod.from_dict(data, name))
        trace = self.traces[name]
        run_k = next(i for i, r in enumerate(trace.runs) if r.model == model)
        return _page(self.text, self.renderer, SHEETS[model], trace, run_k,
                     SIM_MODELS.index(model) + 1, len(SIM_MODELS))


def picture(renderer: Renderer, trace: Trace, run_k: int) -> pygame.Surface:
    """The one-run view of run ``run_k``, whole, everything drawn, as on a slide."""
    scene = prepare([trace], str(run_k + 1), None, None, Look(fit=True, clean=True))
    scene.presentation = True
    surf = pygame.Surface(PICTURE)
    renderer.draw(surf, scene)
    return surf


def _page(text: Text, renderer: Renderer, sheet: Sheet, trace: Trace, run_k: int,
          number: int, total: int) -> pygame.Surface:
    page = pygame.Surface(PAGE)
    page.fill((255, 255, 255))
    width = PAGE[0] - 2 * MARGIN
    room = page.get_rect()
    head = "iosim handout · the UNIX I/O models"
    text.blit(page, head, (MARGIN, 40), SMALL_SIZE, MUTED, room=room)
    text.blit(page, f"{number} / {total}", (PAGE[0] - MARGIN, 40), SMALL_SIZE, MUTED,
              anchor="topright", room=room)
    y = 80
    title = text.first_fitting([sheet.title, sheet.model], TITLE_SIZE, width, True)
    y = text.blit(page, title, (MARGIN, y), TITLE_SIZE, INK, True, room=room).bottom + 4
    y = _paragraph(text, page, f"iosim's model {sheet.model} · {sheet.figure}", MARGIN, y,
                   width, HEAD_SIZE, MUTED) + 20
    shot = picture(renderer, trace, run_k)
    page.blit(shot, (MARGIN, y))
    pygame.draw.rect(page, theme.GRID, (MARGIN, y, *shot.get_size()), 1)
    y += shot.get_height() + 6
    run = trace.runs[run_k]
    caption = f"The {run.model} run of {trace.scenario} ({trace.title}), simulated; the " \
              f"picture is iosim's one-run view at the end of the run."
    y = _paragraph(text, page, caption, MARGIN, y, width, SMALL_SIZE, MUTED) + 24
    rows = [("Phase 1: wait for data", [sheet.phase1]),
            ("Phase 2: copy to user", [sheet.phase2]),
            ("System calls", [calls_sentence(run) + f", in {trace.scenario}.",
                              _timeline(run)]),
            ("How its cost grows", [sheet.cost]),
            ("Pitfalls", [f"• {p}" for p in sheet.pitfalls])]
    for label, paragraphs in rows:
        text.blit(page, label, (MARGIN, y), BODY_SIZE, INK, True,
                  room=(MARGIN, y, LABEL_W - 12, PAGE[1]))
        for paragraph in paragraphs:
            y = _paragraph(text, page, paragraph, MARGIN + LABEL_W, y, width - LABEL_W,
                           BODY_SIZE, INK) + 6
        y += 14
    foot = "Figures from iosim's simulator at its default cost profile (measured on one " \
           "machine): a profile, not a law. iosim render --handout -o handout.pdf"
    _paragraph(text, page, foot, MARGIN, PAGE[1] - 70, width, SMALL_SIZE, MUTED)
    return page


def _timeline(run: Run) -> str:
    """The moments of the first message to be ready, in this run."""
    handled = [m for m in range(run.message_count) if run.m_done[m] == run.m_done[m]]
    if not handled:
        return "No message was handled."
    m = min(handled, key=lambda k: run.m_ready[k])
    return f"The first message to be ready: ready at {format_us(run.m_ready[m])}, copied " \
           f"from {format_us(run.m_copy_start[m])} to {format_us(run.m_copy_end[m])}, " \
           f"handled at {format_us(run.m_done[m])}."


def _paragraph(text: Text, page: pygame.Surface, words: str, x: int, y: int, width: int,
               size: int, colour: theme.Colour) -> int:
    """``words`` wrapped to ``width``; returns the y under the last line."""
    line_h = text.font(size).get_linesize()
    for line in text.wrap(words, size, width):
        text.blit(page, line, (x, y), size, colour, room=page.get_rect())
        y += line_h
    return y
