"""Lesson files: an ordered list of moments, each a prepared state of the window (a scenario
or a saved trace, a view, a time or an event, the axis) with, optionally, a question to pose
with its answer and the teacher's talking points (docs/lessons.md).

Read like scenarios: every key and value is checked before anything is simulated, and every
refusal is one line naming the file, the key and the line. A moment's scenario is loaded (and
so checked) with the lesson; its view and its message numbers are checked against it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from iosim import scenario as scenario_mod
from iosim.checks import HOUR_MS, TomlLines, number_problem, show, text_problem
from iosim.errors import UserError
from iosim.files import file_or_builtin, read_small_text
from iosim.lesson.events import WORDS, Event, parse_event
from iosim.scenario import Scenario

# Limits (docs/lessons.md): what fits a slide and a lecture.
MAX_FILE_BYTES = 1024 * 1024
MAX_MOMENTS = 100
MAX_NAME_CHARS = 100
MAX_TITLE_CHARS = 120  # one line at the top of a slide
MAX_ABOUT_CHARS = 300
MAX_QUESTION_CHARS = 300  # the question box holds three lines
MAX_ANSWER_CHARS = 600  # and four for the answer
MAX_NOTES = 12
MAX_NOTE_CHARS = 400
VIEWS = ("all", "compare")
AXES = ("schematic", "scale")

_TOP_KEYS = {"name", "title", "about", "moments"}
_MOMENT_KEYS = {"title", "scenario", "trace", "view", "at_ms", "event", "axis", "fit",
                "question", "answer", "notes"}


class LessonError(UserError):
    """A lesson that cannot be used; str() is the one line shown to the user."""


@dataclass(frozen=True)
class Moment:
    """One prepared state: ``source`` is a built-in scenario's name or a file (``trace``
    says which kind of file); ``view`` is all, compare, a run number or a model's name;
    ``at_ms`` or ``event`` the playhead (neither: the end)."""

    number: int  # from 1
    source: str
    trace: bool
    view: str
    at_ms: float | None
    event: Event | None
    axis: str | None
    fit: bool
    title: str
    question: str
    answer: str
    notes: tuple[str, ...]
    scenario: Scenario | None  # the scenario, loaded with the lesson (None for a trace)


@dataclass(frozen=True)
class Lesson:
    name: str
    title: str
    about: str
    moments: tuple[Moment, ...]
    where: str  # the file, as errors name it
    lines: TomlLines

    def fail(self, moment: Moment, key: str, message: str) -> LessonError:
        """A refusal of ``key`` of ``moment`` found after loading (its trace, its event in
        the runs), naming the line as the loader does."""
        return _fail(self.where, self.lines, f"moments.{key}", message, moment.number - 1)


def _fail(where: str, lines: TomlLines, key: str, message: str, occ: int = 0) -> LessonError:
    line = lines.line_of(key, occ)
    at = f", line {line}" if line else ""
    return LessonError(f"{where}{at}: {key}: {message}")


def builtin_dir() -> Path:
    return Path(str(resources.files("iosim") / "assets" / "lessons"))


def builtin_names() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.toml"))


def resolve(name_or_path: str) -> Path:
    """A file if it exists (or looks like one), else a built-in lesson's name."""
    if "\0" in name_or_path:
        raise LessonError(f"{name_or_path!r}: not a file name (it holds a NUL character)")
    found = file_or_builtin(name_or_path, builtin_dir())
    if found is not None:
        return found
    raise LessonError(f"{name_or_path}: no such file or built-in lesson "
                      f"(built-in: {', '.join(builtin_names())})")


def load(name_or_path: str) -> Lesson:
    path = resolve(name_or_path)
    try:
        text = read_small_text(path, MAX_FILE_BYTES, "lesson file")
    except UserError as exc:
        raise LessonError(str(exc)) from None
    return parse(text, str(path), path.parent)


def parse(text: str, where: str = "<lesson>", base_dir: Path | None = None) -> Lesson:
    """A lesson from TOML text; ``where`` names it in errors, ``base_dir`` is where the files
    its moments name are looked for."""
    try:
        data = tomllib.loads(text)
    except ValueError as exc:
        raise LessonError(f"{where}: TOML syntax error: {exc}") from None
    except RecursionError:
        raise LessonError(f"{where}: arrays or tables nested too deeply") from None
    return _Reader(where, TomlLines(text), base_dir or Path(".")).lesson(data)


class _Reader:
    def __init__(self, where: str, lines: TomlLines, base_dir: Path) -> None:
        self.where = where
        self.lines = lines
        self.base_dir = base_dir
        self.scenarios: dict[str, Scenario] = {}

    def fail(self, key: str, message: str, occ: int = 0) -> LessonError:
        return _fail(self.where, self.lines, key, message, occ)

    def text(self, table: dict[str, Any], key: str, max_chars: int, prefix: str = "",
             occ: int = 0, default: str | None = None) -> str:
        """A one-line text; prose (a title, a question, a talking point) may be written over
        several lines of the file: its line breaks are spaces."""
        if key not in table:
            if default is None:
                raise self.fail(f"{prefix}{key}", "missing", occ)
            return default
        value = _one_line(table[key])
        problem = text_problem(value, max_chars)
        if problem:
            raise self.fail(f"{prefix}{key}", problem, occ)
        return value

    def lesson(self, data: dict[str, Any]) -> Lesson:
        for key in data:
            if key not in _TOP_KEYS:
                raise self.fail(key, "unknown key (expected one of: "
                                f"{', '.join(sorted(_TOP_KEYS))})")
        name = self.text(data, "name", MAX_NAME_CHARS, default=Path(self.where).stem or "lesson")
        title = self.text(data, "title", MAX_TITLE_CHARS, default=name)
        about = self.text(data, "about", MAX_ABOUT_CHARS, default="")
        items = data.get("moments")
        if items is None:
            raise self.fail("moments", "missing: a lesson is a list of [[moments]]")
        if not isinstance(items, list) or not all(isinstance(m, dict) for m in items):
            raise self.fail("moments", "must be an array of tables [[moments]]")
        if not items:
            raise self.fail("moments", "a lesson needs at least one moment")
        if len(items) > MAX_MOMENTS:
            raise self.fail("moments", f"at most {MAX_MOMENTS} moments, not {len(items)}")
        moments = tuple(self.moment(table, k) for k, table in enumerate(items))
        return Lesson(name, title, about, moments, self.where, self.lines)

    def moment(self, table: dict[str, Any], occ: int) -> Moment:
        p = "moments."
        for key in table:
            if key not in _MOMENT_KEYS:
                raise self.fail(f"{p}{key}", "unknown key (expected one of: "
                                f"{', '.join(sorted(_MOMENT_KEYS))})", occ)
        if ("scenario" in table) == ("trace" in table):
            raise self.fail(f"{p}scenario", "a moment shows one scenario or one trace: give "
                            "scenario = NAME|FILE or trace = FILE", occ)
        trace = "trace" in table
        key = "trace" if trace else "scenario"
        source = table[key]
        problem = text_problem(source, 4096)
        if problem:
            raise self.fail(f"{p}{key}", problem, occ)
        sc = None
        if trace:
            source = str(self.base_dir / source)
        else:
            source, sc = self.scenario(source, occ)
        view = self.view(table, sc, occ)
        if "at_ms" in table and "event" in table:
            raise self.fail(f"{p}event", "give at_ms or event, not both", occ)
        at_ms = None
        if "at_ms" in table:
            problem = number_problem(table["at_ms"], high=HOUR_MS, unit=" ms (one hour)")
            if problem:
                raise self.fail(f"{p}at_ms", problem, occ)
            at_ms = float(table["at_ms"])
        event = self.event(table, sc, occ)
        axis = None
        if "axis" in table:
            axis = self.text(table, "axis", 20, p, occ)
            if axis not in AXES:
                raise self.fail(f"{p}axis", f"must be 'schematic' or 'scale', not {show(axis)}",
                                occ)
        fit = table.get("fit", True)
        if not isinstance(fit, bool):
            raise self.fail(f"{p}fit", f"must be true or false, not {show(fit)}", occ)
        question = self.text(table, "question", MAX_QUESTION_CHARS, p, occ, "")
        answer = self.text(table, "answer", MAX_ANSWER_CHARS, p, occ, "")
        if question and not answer:
            raise self.fail(f"{p}question", "a question needs its answer (answer = ...)", occ)
        if answer and not question:
            raise self.fail(f"{p}answer", "an answer needs its question (question = ...)", occ)
        return Moment(occ + 1, source, trace, view, at_ms, event, axis, fit,
                      self.text(table, "title", MAX_TITLE_CHARS, p, occ, ""), question, answer,
                      self.notes(table, occ), sc)

    def scenario(self, source: str, occ: int) -> tuple[str, Scenario]:
        """A built-in scenario's name, or a file beside the lesson; loaded (and so checked)
        once however many moments show it."""
        if "\0" not in source and (Path(source).suffix or "/" in source):
            source = str(self.base_dir / source)
        if source not in self.scenarios:
            try:
                self.scenarios[source] = scenario_mod.load(source)
            except UserError as exc:
                raise self.fail("moments.scenario", str(exc), occ) from None
        return source, self.scenarios[source]

    def view(self, table: dict[str, Any], sc: Scenario | None, occ: int) -> str:
        value = table.get("view", "all")
        key = "moments.view"
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"must be all, compare, a run number or a model's name, not "
                            f"{show(value)}", occ)
        if value in VIEWS or sc is None:
            return value
        if value.isdigit():
            if not 1 <= int(value) <= len(sc.models):
                raise self.fail(key, f"run {value}: {sc.name} has {len(sc.models)} runs "
                                f"({', '.join(sc.models)})", occ)
            return value
        if value not in sc.models:
            raise self.fail(key, f"{show(value)} is not a run of {sc.name} (its runs: "
                            f"{', '.join(sc.models)}; or all, compare, a run number)", occ)
        return value

    def event(self, table: dict[str, Any], sc: Scenario | None, occ: int) -> Event | None:
        if "event" not in table:
            return None
        text = self.text(table, "event", 100, "moments.", occ)
        event = parse_event(text)
        if event is None:
            raise self.fail("moments.event", f"{show(text)}: expected {WORDS}", occ)
        if sc is not None and event.message > sc.message_count:
            raise self.fail("moments.event", f"{event}: {sc.name} has {sc.message_count} "
                            f"message{'s' if sc.message_count != 1 else ''}", occ)
        return event

    def notes(self, table: dict[str, Any], occ: int) -> tuple[str, ...]:
        value = table.get("notes", [])
        key = "moments.notes"
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list of talking points, not {show(value)}", occ)
        if len(value) > MAX_NOTES:
            raise self.fail(key, f"at most {MAX_NOTES} talking points, not {len(value)}", occ)
        points = [_one_line(point) for point in value]
        for point in points:
            problem = text_problem(point, MAX_NOTE_CHARS)
            if problem:
                raise self.fail(key, f"a talking point {problem}", occ)
        return tuple(points)


def _one_line(value: Any) -> Any:
    """Text with its line breaks and runs of spaces made single spaces (anything else as
    it is, for the check to refuse)."""
    return " ".join(value.split()) if isinstance(value, str) else value
