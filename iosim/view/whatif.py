"""What if? The scenario's main knobs, changed in the window, as pure logic (no pygame): each
change makes a new scenario dict that the scenario loader validates exactly as it validates a
file; a value it refuses is refused here with its one-line reason, and nothing else changes.

The connection knobs act on every ``[[connections]]`` block alike: more connections copy the
last one, "first send" moves every send, "every" re-spaces a connection's sends, "messages"
lengthens or shortens each connection's list, "bytes" sets every send's size.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iosim import scenario as scenario_mod
from iosim.files import atomic_open, check_writable, safe_name
from iosim.scenario import MAX_TITLE_CHARS, SIM_MODELS, Scenario, ScenarioError
from iosim.sim.costs import Costs

Data = dict[str, Any]


@dataclass(frozen=True)
class Knob:
    """One row of the panel: how to read its value from the scenario dict and how to make
    the dict with the value one step up or down (``big``: a bigger step)."""

    key: str
    label: str
    unit: str
    read: Callable[[Data], Any]
    step: Callable[[Data, int, bool], Data]

    def text(self, data: Data) -> str:
        value = self.read(data)
        if isinstance(value, float):
            value = f"{value:g}" if math.isfinite(value) else str(value)
        return f"{value} {self.unit}".strip()


def _times(value: float, direction: int, big: bool, floor: float) -> float:
    """x2 / ÷2 (x10 / ÷10 with ``big``); from 0 up goes to ``floor``, below it to 0."""
    factor = 10.0 if big else 2.0
    if direction > 0:
        return floor if value <= 0 else value * factor
    smaller = value / factor
    return 0.0 if smaller < floor else smaller


def _plus(value: int, direction: int, big: bool, low: int) -> int:
    return max(low, value + direction * (10 if big else 1))


def _sends(block: Data) -> list[list[float]]:
    return block["sends"]


def _explicit(data: Data) -> list[Data]:
    return [b for b in data["connections"] if "sends" in b]


def _generated(data: Data) -> list[Data]:
    return [b for b in data["connections"] if "sends" not in b]


def _first_ms(data: Data) -> float:
    firsts = [b["first_ms"] for b in _generated(data)] + [_sends(b)[0][0] for b in _explicit(data)]
    return min(firsts)


def _move_first(data: Data, direction: int, big: bool) -> Data:
    out = copy.deepcopy(data)
    new = _times(_first_ms(data), direction, big, 1.0)
    shift = new - _first_ms(data)
    for block in _generated(out):
        block["first_ms"] = max(0.0, block["first_ms"] + shift)
    for block in _explicit(out):
        block["sends"] = [[max(0.0, at + shift), nbytes] for at, nbytes in _sends(block)]
    return out


def _every_ms(data: Data) -> float:
    gaps = [b["every_ms"] for b in _generated(data) if b["messages"] > 1]
    for block in _explicit(data):
        sends = _sends(block)
        gaps += [b[0] - a[0] for a, b in zip(sends, sends[1:], strict=False)]
    return min(gaps) if gaps else 0.0


def _respace(data: Data, direction: int, big: bool) -> Data:
    out = copy.deepcopy(data)
    every = _times(_every_ms(data), direction, big, 0.01)
    for block in _generated(out):
        block["every_ms"] = every
    for block in _explicit(out):
        sends = _sends(block)
        block["sends"] = [[sends[0][0] + k * every, nbytes] for k, (_, nbytes) in
                          enumerate(sends)]
    return out


def _messages(data: Data) -> int:
    return max([b["messages"] for b in _generated(data)] +
               [len(_sends(b)) for b in _explicit(data)])


def _more_messages(data: Data, direction: int, big: bool) -> Data:
    out = copy.deepcopy(data)
    count = _plus(_messages(data), direction, big, 1)
    every = _every_ms(data) or 1.0
    for block in _generated(out):
        block["messages"] = count
    for block in _explicit(out):
        sends = _sends(block)[:count]
        while len(sends) < count:
            sends.append([sends[-1][0] + every, sends[-1][1]])
        block["sends"] = sends
    return out


def _bytes(data: Data) -> int:
    return max([b["bytes"] for b in _generated(data)] +
               [s[1] for b in _explicit(data) for s in _sends(b)])


def _resize(data: Data, direction: int, big: bool) -> Data:
    out = copy.deepcopy(data)
    size = max(1, int(_times(float(_bytes(data)), direction, big, 1.0)))
    for block in _generated(out):
        block["bytes"] = size
    for block in _explicit(out):
        block["sends"] = [[at, size] for at, _ in _sends(block)]
    return out


def _active(data: Data) -> int:
    return sum(b.get("count", 1) for b in data["connections"])


def _more_active(data: Data, direction: int, big: bool) -> Data:
    out = copy.deepcopy(data)
    for _ in range(10 if big else 1):
        last = out["connections"][-1]
        if direction > 0:
            if "sends" in last:
                out["connections"].append(copy.deepcopy(last))
            else:
                last["count"] += 1
        elif _active(out) > 1:
            if "sends" in last or last["count"] == 1:
                out["connections"].pop()
            else:
                last["count"] -= 1
    return out


def _idle() -> Knob:
    """Idle connections: one at a time, or up the ladder 0, 1, 10, ... (C10K) with ``big``."""
    key, low = "idle_connections", 0
    ladder = [0, 1, 10, 100, 1000, 10_000, 100_000]

    def step(data: Data, direction: int, big: bool) -> Data:
        out = copy.deepcopy(data)
        value = data[key]
        if big:
            bigger = [v for v in ladder if v > value]
            smaller = [v for v in ladder if v < value]
            out[key] = (bigger[0] if bigger else value * 10) if direction > 0 else \
                (smaller[-1] if smaller else low)
        else:
            out[key] = _plus(value, direction, False, low)
        return out
    return Knob(key, "idle connections", "", lambda d: d[key], step)


def _process(key: str, label: str, unit: str, floor: float, integer: bool = False) -> Knob:
    def step(data: Data, direction: int, big: bool) -> Data:
        out = copy.deepcopy(data)
        value = _times(float(data["process"][key]), direction, big, floor)
        out["process"][key] = int(value) if integer else value
        return out
    return Knob(f"process.{key}", label, unit, lambda d: d["process"][key], step)


def _cost(key: str, label: str, unit: str, floor: float) -> Knob:
    default = getattr(Costs(), key)

    def read(data: Data) -> float:
        return float(data.get("costs", {}).get(key, default))

    def step(data: Data, direction: int, big: bool) -> Data:
        out = copy.deepcopy(data)
        out.setdefault("costs", {})[key] = _times(read(data), direction, big, floor)
        return out
    return Knob(f"costs.{key}", label, unit, read, step)


def _protocol(data: Data, _direction: int, _big: bool) -> Data:
    out = copy.deepcopy(data)
    out["protocol"] = "tcp" if data["protocol"] == "udp" else "udp"
    return out


KNOBS: list[Knob] = [
    Knob("models", "models", "", lambda d: ", ".join(d["models"]), lambda d, _s, _b: d),
    Knob("protocol", "protocol", "", lambda d: d["protocol"], _protocol),
    Knob("active", "active connections", "", _active, _more_active),
    _idle(),
    Knob("first", "first send at", "ms", _first_ms, _move_first),
    Knob("every", "then every", "ms", _every_ms, _respace),
    Knob("messages", "messages each", "", _messages, _more_messages),
    Knob("bytes", "bytes each", "B", _bytes, _resize),
    _process("poll_interval_us", "poll interval", "µs", 1.0),
    _process("work_us", "work per message", "µs", 1.0),
    _cost("syscall_us", "system call", "µs", 0.1),
    _cost("wakeup_us", "wake-up", "µs", 1.0),
    _cost("copy_gb_per_s", "copy rate", "GB/s", 0.01),
    _cost("signal_us", "signal", "µs", 1.0),
    _cost("network_us", "network", "µs", 1.0),
]
MODELS_ROW = 0


class WhatIf:
    """The panel's state: the scenario being edited, the selected knob, the last refusal."""

    def __init__(self, sc: Scenario) -> None:
        self.original = sc
        self.data = scenario_mod.to_dict(sc)
        self.scenario = sc
        self.selected = 0
        self.error = ""
        self.model_cursor = 0

    @property
    def knobs(self) -> list[Knob]:
        return KNOBS

    def select(self, delta: int) -> None:
        """↑ / ↓: the previous or next row, the models one by one (a list: every model is
        reached by ↓ alone)."""
        last_model = len(SIM_MODELS) - 1
        if self.selected == MODELS_ROW and 0 <= self.model_cursor + delta <= last_model:
            self.model_cursor += delta
            return
        self.selected = (self.selected + delta) % len(KNOBS)
        if self.selected == MODELS_ROW:
            self.model_cursor = 0 if delta > 0 else last_model

    def change(self, direction: int, big: bool = False) -> Scenario | None:
        """One step of the selected knob (on the models row: move among the models); the new
        scenario, or None when nothing changed (then ``error`` says why, if refused)."""
        if self.selected == MODELS_ROW:
            self.model_cursor = (self.model_cursor + direction) % len(SIM_MODELS)
            return None
        return self._apply(KNOBS[self.selected].step(self.data, direction, big))

    def toggle_model(self, model: str | None = None) -> Scenario | None:
        """Show or leave out a model (the one under the cursor by default)."""
        model = model or SIM_MODELS[self.model_cursor]
        models = list(self.data["models"])
        if model in models:
            models.remove(model)
        else:
            models = [m for m in SIM_MODELS if m in models or m == model]
        data = copy.deepcopy(self.data)
        data["models"] = models
        return self._apply(data)

    def changes(self, data: Data | None = None) -> list[str]:
        """What differs from the scenario the panel opened on, in words ("work per message
        100 µs (was 50 µs)", "+ poll")."""
        data = self.data if data is None else data
        before = scenario_mod.to_dict(self.original)
        out = [f"+ {m}" for m in data["models"] if m not in before["models"]]
        out += [f"− {m}" for m in before["models"] if m not in data["models"]]
        for knob in KNOBS[1:]:
            was, now = knob.text(before), knob.text(data)
            if was != now:
                out.append(f"{knob.label} {now} (was {was})")
        return out

    def title(self, data: Data) -> str:
        """The scenario's title, followed by what was changed: as many changes as the title's
        limit allows, and how many more."""
        base = self.original.title
        parts = self.changes(data)
        for n in range(len(parts), 0, -1):
            more = f" (+{len(parts) - n} more)" if n < len(parts) else ""
            title = f"{base} · what if: {'; '.join(parts[:n])}{more}"
            if len(title) <= MAX_TITLE_CHARS:
                return title
            short = f"what if: {'; '.join(parts[:n])}{more}"
            if len(short) <= MAX_TITLE_CHARS:
                return short
        return base if not parts else f"what if: {len(parts)} changes"

    def _apply(self, data: Data) -> Scenario | None:
        if data == self.data:
            return None
        data = {**data, "title": self.title(data)}
        try:
            sc = scenario_mod.from_dict(data, f"what-if {self.original.name}")
        except ScenarioError as exc:
            self.error = str(exc).removeprefix(f"what-if {self.original.name}: ")
            return None
        self.error = ""
        self.data, self.scenario = data, sc
        return sc

    def save(self, folder: Path | None = None) -> Path:
        """The edited scenario as TOML in ``folder`` (the current directory), named after
        it; ``iosim sim`` of that file gives what the window shows."""
        name = safe_name(self.scenario.name, "scenario")
        folder = folder or Path.cwd()
        path = folder / f"{name}-whatif.toml"
        n = 2
        while path.exists() and n < 1000:
            path = folder / f"{name}-whatif-{n}.toml"
            n += 1
        check_writable(path)
        with atomic_open(path) as f:
            f.write(scenario_mod.dumps(self.scenario))
        return path


ROW_H = 21
TITLE_H = 68  # the title, its line, and the models' heading
CELL_H = 21
MIN_CELL_W = 96  # "nonblocking" beside its switch


@dataclass(frozen=True)
class PanelLayout:
    """Where the panel's parts are (pure, for drawing and for the mouse): a cell per model,
    a row per other knob with its − and + buttons."""

    box: tuple[int, int, int, int]
    cells: list[tuple[int, int, int, int]]  # one per model of SIM_MODELS
    rows: list[tuple[int, int, int, int]]  # one per knob after the models row
    minus: list[tuple[int, int, int, int]]
    plus: list[tuple[int, int, int, int]]
    footer: tuple[int, int, int, int]


def panel_layout(box: tuple[int, int, int, int]) -> PanelLayout:
    x, y, w, h = box
    pad = 12
    cols = 4 if (w - 2 * pad) // 4 >= MIN_CELL_W else 3
    cell_w = (w - 2 * pad) // cols
    cells = [(x + pad + (k % cols) * cell_w, y + TITLE_H + (k // cols) * CELL_H, cell_w - 4,
              CELL_H - 2) for k in range(len(SIM_MODELS))]
    top = y + TITLE_H + -(-len(SIM_MODELS) // cols) * CELL_H + 8
    rows, minus, plus = [], [], []
    for k in range(len(KNOBS) - 1):
        ry = top + k * ROW_H
        rows.append((x + pad, ry, w - 2 * pad, ROW_H - 2))
        plus.append((x + w - pad - 22, ry + 1, 20, ROW_H - 4))
        minus.append((x + w - pad - 46, ry + 1, 20, ROW_H - 4))
    footer_y = top + (len(KNOBS) - 1) * ROW_H + 6
    return PanelLayout(box, cells, rows, minus, plus, (x + pad, footer_y, w - 2 * pad,
                                                       max(0, y + h - footer_y - 4)))


def panel_hit(layout: PanelLayout, x: float, y: float) -> tuple[str, int]:
    """What a click on the panel means: ("model", k), ("minus", knob), ("plus", knob),
    ("row", knob) or ("none", -1)."""
    def inside(b: tuple[int, int, int, int]) -> bool:
        return b[0] <= x < b[0] + b[2] and b[1] <= y < b[1] + b[3]

    for k, cell in enumerate(layout.cells):
        if inside(cell):
            return "model", k
    for k, (row, minus, plus) in enumerate(zip(layout.rows, layout.minus, layout.plus,
                                               strict=True)):
        if inside(minus):
            return "minus", k + 1
        if inside(plus):
            return "plus", k + 1
        if inside(row):
            return "row", k + 1
    return "none", -1
