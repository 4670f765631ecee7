"""The view's commands: ``show`` (the animation; also what plain ``iosim`` runs) and
``render`` (one frame as PNG, or the animation as GIF, without a window).

The view modules (and pygame) are imported only when one of these commands runs, so the other
commands start fast and print no pygame banner.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from iosim import scenario
from iosim import trace as trace_mod
from iosim.errors import UserError
from iosim.files import check_writable
from iosim.trace import Trace
from iosim.view.scale import parse_scale

NO_DISPLAY = ("iosim: no display (DISPLAY, WAYLAND_DISPLAY and SDL_VIDEODRIVER are unset), so "
              "there is no window to animate in; draw frames headless instead: "
              "iosim render SCENARIO -o frame.png (or -o animation.gif)")
AXES = ("schematic", "scale")
MAX_AT_MS = 1e15  # --at: beyond any trace (trace times are within 10^18 µs)
MAX_GIF_SECONDS = 3600.0  # --seconds: the frames are capped (render.MAX_GIF_FRAMES) anyway


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "show", help="animate scenarios or traces in a window (the default command)",
        description="Open a window that plays the runs of a scenario (simulated now) or of "
                    "saved traces, all on one time axis, and step through them with the "
                    "keyboard and the mouse: 1-9 show one run beside its server's code, K "
                    "asks you to predict what happens next, ] follows one message through "
                    "every run, I shows the kernel's state at the playhead (queues, sets, "
                    "signals, threads), E changes the scenario and simulates it again. "
                    "Several arguments are shown side by side. Press H in the window for every "
                    "key; --view, --axis, --at, --state and --paused open a prepared state.")
    p.add_argument("inputs", nargs="*", metavar="SCENARIO|TRACE",
                   help=f"a built-in scenario, a scenario file or a trace file "
                        f"(default: {scenario.DEFAULT_SCENARIO})")
    p.add_argument("--size", default="1280x720", metavar="WxH",
                   help="window size (default 1280x720; the window is resizable)")
    scale_option(p, "how big text, rows and panes are drawn, from 0.5 to 4 (default: "
                    "automatic, 1.5 at 1920x1080; Ctrl+= / Ctrl+- change it, Ctrl+0 goes "
                    "back to automatic)")
    _state_options(p, at_help="the playhead time in ms to open at (default: the start)")
    p.add_argument("--paused", action="store_true",
                   help="open paused (default: playing from the start)")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "render", help="draw a frame (PNG), the animation (GIF), a lesson's slides or the "
                       "handout without a window",
        description="Draw what 'iosim show' shows, headless: -o OUT.png draws one frame at "
                    "--at MS (default: the end, everything drawn); -o OUT.gif records the "
                    "animation from the start, with progress on stderr. --lesson NAME -o "
                    "slides.pdf draws a lesson's moments as slides (one page each; -o DIR: one "
                    "PNG each); --handout -o handout.pdf a page per IO model.")
    p.add_argument("inputs", nargs="*", metavar="SCENARIO|TRACE",
                   help="built-in scenario, scenario file or trace file (several: side by side)")
    p.add_argument("-o", "--output", metavar="OUT.png|OUT.gif|OUT.pdf|DIR",
                   help="what to write: its suffix chooses PNG or GIF (a lesson: PDF, or a "
                        "folder of PNGs; the handout: PDF)")
    _state_options(p, at_help="PNG: the playhead time in ms (default: the end)")
    p.set_defaults(view=None)  # render tells a --view given from none (--lesson sets its own)
    p.add_argument("--fit", action="store_true",
                   help="the whole run in view, the playhead at --at (else the window "
                        "follows the playhead, as in 'iosim show')")
    p.add_argument("--clean", action="store_true",
                   help="leave out the key hints under the legend")
    p.add_argument("--lesson", metavar="FILE|NAME",
                   help="a lesson's moments as slides (iosim lesson lists the built-in ones): "
                        "-o slides.pdf, one page each, or -o DIR, one PNG each")
    p.add_argument("--answers", action="store_true",
                   help="with --lesson: after each moment that poses a question, a page with "
                        "its answer revealed")
    p.add_argument("--handout", action="store_true",
                   help="-o handout.pdf: a page per IO model (who blocks in each phase, calls "
                        "per message, how its cost grows, its pitfalls, its picture)")
    p.add_argument("--size", default=None, metavar="WxH",
                   help="image size (default 1280x720 for PNG, 960x540 for GIF)")
    scale_option(p, "how big text, rows and panes are drawn, from 0.5 to 4 (default: "
                    "automatic for the size: 1 up to 1600x900, 1.5 at 1920x1080, 3 at "
                    "3840x2160)")
    p.add_argument("--steps", metavar="DIR",
                   help="instead of one frame, one PNG per event of the shown runs (or per "
                        "message with --per message), numbered, into DIR (for slides)")
    p.add_argument("--per", choices=("event", "message"), default="event",
                   help="with --steps: a picture per event (default) or per message")
    p.add_argument("--fps", type=float, default=10.0, help="GIF: frames per second (default 10)")
    p.add_argument("--seconds", type=float, metavar="S",
                   help="GIF: length (default: the whole playback at speed x1)")
    p.set_defaults(func=cmd_render)


def scale_option(p: argparse.ArgumentParser, text: str) -> None:
    p.add_argument("--scale", default=None, metavar="F", help=text)


def _state_options(p: argparse.ArgumentParser, at_help: str) -> None:
    """The options that name a prepared state: the same for show and render."""
    p.add_argument("--view", default="all", metavar="all|compare|N",
                   help="all runs (default), the comparison of Figure 6.6, or run number N")
    p.add_argument("--axis", choices=AXES, default=None,
                   help="time axis: schematic (each event its own slot) or scale (to scale); "
                        "default: the scenario's, else schematic")
    p.add_argument("--at", type=float, metavar="MS", help=at_help)
    p.add_argument("--state", action="store_true",
                   help="with --view N: the state pane under the timeline (the I key): each "
                        "socket's receive queue, the multiplexer's sets, the pending signal, "
                        "the threads and the lit line's values at the playhead")


def has_display(env: Mapping[str, str] | None = None) -> bool:
    """False only where a window surely cannot appear: X11/Wayland systems with neither set."""
    env = os.environ if env is None else env
    if sys.platform in ("darwin", "win32"):
        return True
    return any(env.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"))


def simulate_scenario(sc: scenario.Scenario) -> Trace:
    """The simulator, imported only when a scenario is to be simulated."""
    from iosim.sim.run import simulate

    return simulate(sc)


def load_inputs(inputs: Sequence[str]) -> tuple[list[Trace], scenario.Scenario | None]:
    """A trace file is read as it is; anything else is a scenario, simulated now. Also the
    scenario, when the inputs are one scenario (what the what-if panel edits)."""
    traces = []
    scenarios = []
    for item in inputs or [scenario.DEFAULT_SCENARIO]:
        if trace_mod.looks_like_trace(item):
            traces.append(trace_mod.load(item))
        else:
            sc = scenario.load(item)
            scenarios.append(sc)
            traces.append(simulate_scenario(sc))
    return traces, scenarios[0] if len(scenarios) == len(traces) == 1 else None


def import_pygame() -> None:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame  # noqa: F401


def cmd_show(args: argparse.Namespace) -> int:
    scale = None if args.scale is None else parse_scale(args.scale)
    if not has_display():
        print(NO_DISPLAY, file=sys.stderr)
        return 2
    import_pygame()
    from iosim.view.app import App
    from iosim.view.render import Look, check_state, parse_size, parse_view, prepare

    size = parse_size(args.size)
    parse_view(args.view)
    check_state(args.state, args.view)
    traces, sc = load_inputs(args.inputs)
    scene = prepare(traces, args.view, args.axis, 0.0 if args.at is None else args.at,
                    Look(state=args.state))
    app = App(traces, simulator=simulate_scenario, scenarios=scenario.builtin_names(), scene=scene,
              scenario=sc, scale=scale)
    return app.run(size, play=not args.paused)


def cmd_render(args: argparse.Namespace) -> int:
    """Every option and the output are checked before anything is simulated or drawn."""
    if args.lesson is not None or args.handout:
        return _render_pages(args)
    if args.answers:
        raise UserError("render: --answers goes with --lesson")
    if not args.inputs:
        raise UserError("render: name a scenario or trace to draw (or --lesson NAME, or "
                        "--handout)")
    view = args.view or "all"
    if not args.output and not args.steps:
        raise UserError("render: say where to draw: -o OUT.png|OUT.gif, or --steps DIR")
    out = Path(args.output or "step.png")
    suffix = out.suffix.lower()
    if suffix not in (".png", ".gif"):
        raise UserError(f"{out}: the output must end in .png or .gif")
    if args.steps:
        _check_steps_folder(Path(args.steps))
    else:
        check_writable(out)
    scale = None if args.scale is None else parse_scale(args.scale)
    _check_number("--at", args.at, low=0.0, high=MAX_AT_MS)
    _check_number("--fps", args.fps, low=0.0, high=60.0, positive=True)
    _check_number("--seconds", args.seconds, low=0.0, high=MAX_GIF_SECONDS, positive=True)
    import_pygame()
    from iosim.view import render

    render.parse_view(view)
    render.check_state(args.state, view)
    size = render.parse_size(args.size or ("960x540" if suffix == ".gif" else "1280x720"))
    traces, _ = load_inputs(args.inputs)
    look = render.Look(fit=args.fit, clean=args.clean, scale=scale, state=args.state)
    if args.steps:
        count = render.render_steps(traces, Path(args.steps), size, view, args.axis,
                                    args.per, render.stderr_progress("picture"), look)
        print(f"wrote {count} picture{'s' if count != 1 else ''} to {args.steps}")
        return 0
    if suffix == ".png":
        render.render_png(traces, out, size, view, args.axis, args.at, look)
        print(f"wrote {out}")
        return 0
    count = render.render_gif(traces, out, size, view, args.axis, args.fps, args.seconds,
                              render.stderr_progress("frame"), look)
    print(f"wrote {out} ({count} frames at {args.fps:g} fps)")
    return 0


def _render_pages(args: argparse.Namespace) -> int:
    """--lesson (slides) and --handout: pages whose states the lesson, or the handout,
    sets; the options that set a state are refused rather than ignored."""
    which = "--lesson" if args.lesson is not None else "--handout"
    if args.lesson is not None and args.handout:
        raise UserError("render: --lesson or --handout, not both")
    if args.inputs:
        raise UserError(f"render {which}: takes no SCENARIO|TRACE ({' '.join(args.inputs)}): "
                        "the pages say what they show")
    given = [name for name, value in (("--view", args.view), ("--axis", args.axis),
                                      ("--at", args.at), ("--steps", args.steps),
                                      ("--seconds", args.seconds)) if value is not None]
    given += [name for name, on in (("--fit", args.fit), ("--clean", args.clean),
                                    ("--state", args.state)) if on]
    if args.handout:
        given += [name for name, on in (("--answers", args.answers),
                                        ("--size", args.size is not None),
                                        ("--scale", args.scale is not None)) if on]
    if given:
        raise UserError(f"render {which}: {', '.join(given)} cannot be used with it: each "
                        "page's state is its own")
    if not args.output:
        raise UserError(f"render {which}: say where to write: -o "
                        f"{'slides.pdf (or -o DIR)' if args.lesson else 'handout.pdf'}")
    out = Path(args.output)
    pdf = out.suffix.lower() == ".pdf"
    if args.handout and not pdf:
        raise UserError(f"{out}: the handout is a PDF: -o handout.pdf")
    if not pdf and out.suffix and not out.is_dir():
        raise UserError(f"{out}: slides go into a PDF (-o slides.pdf) or a folder of PNGs "
                        "(-o DIR)")
    if pdf:
        check_writable(out)
    else:
        _check_steps_folder(out)
    if args.handout:
        return _render_handout(out)
    from iosim.lesson import lesson as lesson_mod
    from iosim.lesson.prepare import ready

    scale = None if args.scale is None else parse_scale(args.scale)
    lesson = lesson_mod.load(args.lesson)
    import_pygame()
    from iosim.view import render, slides

    size = render.parse_size(args.size or "1280x720")
    moments = ready(lesson, simulate_scenario)
    count = slides.render_lesson(moments, out, size, lesson.title, args.answers,
                                 render.stderr_progress("slide"), scale)
    where = out if pdf else f"{out}/"
    print(f"wrote {where} ({count} slide{'s' if count != 1 else ''})")
    return 0


def _render_handout(out: Path) -> int:
    import_pygame()
    from iosim.view import handout, render

    count = handout.render_handout(out, simulate_scenario, render.stderr_progress("page"))
    print(f"wrote {out} ({count} pages, one per IO model)")
    return 0


def _check_steps_folder(folder: Path) -> None:
    """--steps DIR: an existing directory where files can be made, or a new one that can be
    made (render_steps makes it)."""
    if folder.is_dir():
        check_writable(folder / "step-1.png")
    elif folder.exists():
        raise UserError(f"{folder}: not a directory")
    else:
        check_writable(folder)


def _check_number(option: str, value: float | None, low: float, high: float,
                  positive: bool = False) -> None:
    """An option's number: finite (``float`` reads "nan" and "inf" too) and within range."""
    if value is None:
        return
    if not math.isfinite(value) or value < low or value > high or (positive and value == 0):
        above = "above" if positive else "from"
        raise UserError(f"{option} {value:g}: a number {above} {low:g} up to {high:g}")
