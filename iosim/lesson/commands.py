"""``iosim lesson``: a lesson's moments in the window, one after the other (PgDn / PgUp), or
listed in the terminal; with no lesson named, the built-in lessons."""

from __future__ import annotations

import argparse
import sys

from iosim.errors import UserError
from iosim.lesson import lesson as lesson_mod
from iosim.lesson.prepare import outline, ready
from iosim.view.commands import scale_option
from iosim.view.scale import parse_scale


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lesson", help="give a lesson: prepared moments of the window, PgDn / PgUp between them",
        description="Open the window on a lesson's first moment (a scenario or trace in a "
                    "prepared view, time and axis) and go between its moments with PgDn and "
                    "PgUp, as a presentation clicker sends them. A moment's question is posed "
                    "on the screen (PgDn or Enter reveals the answer); the teacher's talking "
                    "points show in a thin presenter's line at the bottom (N hides it), and "
                    "--notes also prints them in the terminal as each moment opens. B blanks "
                    "the screen, F5 opens the moment again as prepared; every other key of "
                    "the window works as in 'iosim show'. With no lesson named, lists the "
                    "built-in lessons. Slides of a lesson: iosim render --lesson NAME -o "
                    "slides.pdf. The file format: docs/lessons.md.")
    p.add_argument("lesson", nargs="?", metavar="FILE|NAME",
                   help="a lesson file (TOML) or a built-in lesson's name")
    p.add_argument("--notes", action="store_true",
                   help="print each moment's talking points, question and answer in the "
                        "terminal as it opens")
    p.add_argument("--outline", action="store_true",
                   help="print every moment (what it shows, its talking points, question "
                        "and answer) instead of opening the window")
    p.add_argument("--moment", type=int, default=1, metavar="N",
                   help="open on moment N (default 1)")
    p.add_argument("--size", default="1280x720", metavar="WxH",
                   help="window size (default 1280x720; the window is resizable)")
    scale_option(p, "how big text, rows and panes are drawn, from 0.5 to 4 (default: "
                    "automatic, 1.5 at 1920x1080, and a quarter more while a moment is a "
                    "slide; Ctrl+= / Ctrl+- change it, Ctrl+0 goes back to automatic)")
    p.set_defaults(func=cmd_lesson)


def cmd_lesson(args: argparse.Namespace) -> int:
    if args.lesson is None:
        return _list()
    scale = None if args.scale is None else parse_scale(args.scale)
    from iosim.view.commands import NO_DISPLAY, has_display

    if not args.outline and not has_display():
        print(NO_DISPLAY.split(";")[0] + f"; make the slides instead: iosim render --lesson "
              f"{args.lesson} -o slides.pdf, or list the moments: iosim lesson {args.lesson} "
              "--outline", file=sys.stderr)
        return 2
    lesson = lesson_mod.load(args.lesson)
    if not 1 <= args.moment <= len(lesson.moments):
        raise UserError(f"--moment {args.moment}: {lesson.name} has moments 1 to "
                        f"{len(lesson.moments)}")
    from iosim.view.commands import import_pygame, simulate_scenario

    moments = ready(lesson, simulate_scenario, _progress)
    if args.outline:
        print(f"{lesson.title} ({lesson.name}, {len(moments)} moments)")
        for k, r in enumerate(moments):
            print(outline(r, f"moment {k + 1} of {len(moments)}"))
        return 0
    import_pygame()
    from iosim.view.app import App
    from iosim.view.lesson_mode import LessonMode
    from iosim.view.render import parse_size

    size = parse_size(args.size)
    mode = LessonMode(lesson, moments, _print if args.notes else None)
    scene = mode.scene(args.moment - 1)
    app = App([mode.current.trace], simulator=simulate_scenario, scene=scene,
              scenario=mode.current.scenario, lesson=mode, scale=scale)
    return app.run(size, play=False)


def _list() -> int:
    names = lesson_mod.builtin_names()
    width = max(len(n) for n in names)
    for name in names:
        lesson = lesson_mod.load(name)
        print(f"{name.ljust(width)}  {lesson.title} ({len(lesson.moments)} moments)")
        if lesson.about:
            print(f"{' ' * width}  {lesson.about}")
    print("\niosim lesson NAME opens one; iosim render --lesson NAME -o slides.pdf makes its "
          "slides")
    return 0


def _progress(what: str) -> None:
    if sys.stderr.isatty():
        print(f"{what} ...", file=sys.stderr)


def _print(text: str) -> None:
    print(text, flush=True)
