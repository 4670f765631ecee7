"""Scenarios: what network input reaches the server, when, and which IO models serve it.

A scenario is a TOML file (see DESIGN.md). Loading validates every key, and every error names
the file, the key and, where it can be found, the line, so that a student who mistypes a key
learns where at once.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from iosim.errors import UserError
from iosim.sim.costs import Costs, CostsError, check_table, load_costs

SIM_MODELS = ("blocking", "nonblocking", "select", "poll", "epoll", "sigio", "aio", "threaded")
DEFAULT_MODELS = ("blocking", "nonblocking", "select", "sigio", "aio")
DEFAULT_SCENARIO = "one-datagram"
UDP_MAX_BYTES = 65507


class ScenarioError(UserError):
    """A scenario that cannot be used; str() is the one line shown to the user."""


@dataclass(frozen=True)
class Send:
    at_ms: float
    nbytes: int


@dataclass(frozen=True)
class Process:
    poll_interval_us: float = 1000.0
    work_us: float = 50.0
    buffer_bytes: int = 65536


@dataclass
class Scenario:
    name: str
    title: str
    protocol: str = "udp"
    models: tuple[str, ...] = DEFAULT_MODELS
    idle_connections: int = 0
    costs: Costs = field(default_factory=Costs)
    process: Process = field(default_factory=Process)
    connections: list[list[Send]] = field(default_factory=list)
    path: str = ""

    @property
    def active_connections(self) -> int:
        return len(self.connections)

    @property
    def total_connections(self) -> int:
        return len(self.connections) + self.idle_connections

    @property
    def message_count(self) -> int:
        return sum(len(c) for c in self.connections)


_TOP_KEYS = {"name", "title", "protocol", "models", "idle_connections", "costs", "process",
             "connections"}
_PROCESS_KEYS = {"poll_interval_us", "work_us", "buffer_bytes"}
_EXPLICIT_KEYS = {"sends"}
_GENERATED_KEYS = {"count", "first_ms", "every_ms", "messages", "bytes", "stagger_ms"}


class _Checker:
    """Raises ScenarioError with the file, the key and the line where the key is written."""

    def __init__(self, where: str, text: str) -> None:
        self.where = where
        self.lines = text.splitlines()

    def line_of(self, key: str, occurrence: int = 0) -> int | None:
        leaf = re.escape(key.split(".")[-1].split("[")[0])
        pattern = re.compile(rf"^\s*(\[\[?\s*)?([\w.\"-]*\.)?\"?{leaf}\"?\s*(=|\]|\.)")
        seen = 0
        for number, line in enumerate(self.lines, 1):
            if pattern.match(line):
                if seen == occurrence:
                    return number
                seen += 1
        return None

    def fail(self, key: str, message: str, occurrence: int = 0) -> ScenarioError:
        line = self.line_of(key, occurrence)
        at = f", line {line}" if line else ""
        return ScenarioError(f"{self.where}{at}: {key}: {message}")

    def unknown(self, table: dict[str, Any], known: set[str], prefix: str, occ: int = 0) -> None:
        for key in table:
            if key not in known:
                raise self.fail(f"{prefix}{key}", f"unknown key (expected one of: "
                                f"{', '.join(sorted(known))})", occ)

    def number(self, table: dict[str, Any], key: str, prefix: str, default: float | None,
               integer: bool = False, positive: bool = False, occ: int = 0) -> Any:
        if key not in table:
            if default is None:
                raise self.fail(f"{prefix}{key}", "missing", occ)
            return default
        value = table[key]
        ok = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok):
            kind = "an integer" if integer else "a number"
            raise self.fail(f"{prefix}{key}", f"must be {kind}, not {value!r}", occ)
        if value < 0:
            raise self.fail(f"{prefix}{key}", f"must not be negative ({value})", occ)
        if positive and value == 0:
            raise self.fail(f"{prefix}{key}", "must be greater than 0", occ)
        return value

    def string(self, table: dict[str, Any], key: str, default: str | None) -> str:
        if key not in table:
            if default is None:
                raise self.fail(key, "missing")
            return default
        value = table[key]
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"must be a non-empty string, not {value!r}")
        return value


def builtin_dir() -> Path:
    return Path(str(resources.files("iosim") / "assets" / "scenarios"))


def builtin_names() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.toml"))


def resolve(name_or_path: str) -> Path:
    """A path if it exists, else a built-in scenario's name."""
    path = Path(name_or_path)
    if path.exists() or path.suffix or "/" in name_or_path:
        return path
    builtin = builtin_dir() / f"{name_or_path}.toml"
    if builtin.exists():
        return builtin
    raise ScenarioError(f"{name_or_path}: no such file or built-in scenario "
                        f"(built-in: {', '.join(builtin_names())})")


def load(name_or_path: str) -> Scenario:
    path = resolve(name_or_path)
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{where}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{where}: cannot read ({exc})") from None
    return parse(text, where, path.parent)


def parse(text: str, where: str = "<scenario>", base_dir: Path | None = None) -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{where}: TOML syntax error: {exc}") from None
    check = _Checker(where, text)
    check.unknown(data, _TOP_KEYS, "")

    name = check.string(data, "name", Path(where).stem)
    title = check.string(data, "title", name)
    protocol = check.string(data, "protocol", "udp")
    if protocol not in ("udp", "tcp"):
        raise check.fail("protocol", f"must be 'udp' or 'tcp', not {protocol!r}")
    models = _models(check, data)
    idle = check.number(data, "idle_connections", "", 0, integer=True)
    costs = _costs(check, data.get("costs", {}), base_dir or Path("."))
    process = _process(check, data.get("process", {}))
    connections = _connections(check, data.get("connections", []), protocol, process)
    if not connections:
        raise check.fail("connections", "at least one connection that sends is needed")
    return Scenario(name, title, protocol, models, idle, costs, process, connections, where)


def _models(check: _Checker, data: dict[str, Any]) -> tuple[str, ...]:
    models = data.get("models", list(DEFAULT_MODELS))
    if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
        raise check.fail("models", "must be a non-empty list of model names")
    for model in models:
        if model not in SIM_MODELS:
            raise check.fail("models", f"unknown model {model!r} (known: {', '.join(SIM_MODELS)})")
    if len(set(models)) != len(models):
        raise check.fail("models", "a model is listed twice")
    return tuple(models)


def _costs(check: _Checker, table: Any, base_dir: Path) -> Costs:
    if isinstance(table, str):
        table = {"file": table}
    if not isinstance(table, dict):
        raise check.fail("costs", "must be a table of costs or the path of a costs file")
    table = dict(table)
    costs = Costs()
    try:
        if "file" in table:
            file = table.pop("file")
            if not isinstance(file, str):
                raise check.fail("costs.file", "must be a path")
            costs = load_costs(base_dir / file)
        check_table(table, "")
    except CostsError as exc:
        message = str(exc).removeprefix(": ")
        key = re.search(r"'(\w+)'", message)
        raise check.fail(f"costs.{key.group(1)}" if key else "costs", message) from None
    return costs.with_overrides(table, check.where)


def _process(check: _Checker, table: Any) -> Process:
    if not isinstance(table, dict):
        raise check.fail("process", "must be a table")
    check.unknown(table, _PROCESS_KEYS, "process.")
    defaults = Process()
    return Process(
        poll_interval_us=float(check.number(table, "poll_interval_us", "process.",
                                            defaults.poll_interval_us, positive=True)),
        work_us=float(check.number(table, "work_us", "process.", defaults.work_us)),
        buffer_bytes=check.number(table, "buffer_bytes", "process.", defaults.buffer_bytes,
                                  integer=True, positive=True),
    )


def _connections(check: _Checker, items: Any, protocol: str,
                 process: Process) -> list[list[Send]]:
    if not isinstance(items, list) or not all(isinstance(t, dict) for t in items):
        raise check.fail("connections", "must be an array of tables [[connections]]")
    limit = UDP_MAX_BYTES if protocol == "udp" else None
    out: list[list[Send]] = []
    for occ, table in enumerate(items):
        prefix = "connections."
        if "sends" in table:
            check.unknown(table, _EXPLICIT_KEYS, prefix, occ)
            out.append(_explicit_sends(check, table["sends"], occ, limit))
        else:
            check.unknown(table, _GENERATED_KEYS, prefix, occ)
            out.extend(_generated_sends(check, table, occ, limit))
    return out


def _check_bytes(check: _Checker, nbytes: Any, key: str, occ: int, limit: int | None) -> int:
    if isinstance(nbytes, bool) or not isinstance(nbytes, int):
        raise check.fail(key, f"bytes must be an integer, not {nbytes!r}", occ)
    if nbytes <= 0:
        raise check.fail(key, f"bytes must be at least 1, not {nbytes}", occ)
    if limit is not None and nbytes > limit:
        raise check.fail(key, f"a UDP datagram holds at most {limit} bytes, not {nbytes}", occ)
    return nbytes


def _explicit_sends(check: _Checker, sends: Any, occ: int, limit: int | None) -> list[Send]:
    key = "connections.sends"
    if not isinstance(sends, list) or not sends:
        raise check.fail(key, "must be a non-empty list of [at_ms, bytes] pairs", occ)
    out: list[Send] = []
    for pair in sends:
        if not isinstance(pair, list) or len(pair) != 2:
            raise check.fail(key, f"each send is [at_ms, bytes], not {pair!r}", occ)
        at_ms, nbytes = pair
        if isinstance(at_ms, bool) or not isinstance(at_ms, int | float):
            raise check.fail(key, f"time must be a number of ms, not {at_ms!r}", occ)
        if at_ms < 0:
            raise check.fail(key, f"time must not be negative ({at_ms} ms)", occ)
        if out and at_ms < out[-1].at_ms:
            raise check.fail(key, f"times must be sorted ({at_ms} ms after {out[-1].at_ms} ms)",
                             occ)
        out.append(Send(float(at_ms), _check_bytes(check, nbytes, key, occ, limit)))
    return out


def _generated_sends(check: _Checker, table: dict[str, Any], occ: int,
                     limit: int | None) -> list[list[Send]]:
    p = "connections."
    count = check.number(table, "count", p, 1, integer=True, positive=True, occ=occ)
    first = float(check.number(table, "first_ms", p, 0.0, occ=occ))
    every = float(check.number(table, "every_ms", p, 0.0, occ=occ))
    stagger = float(check.number(table, "stagger_ms", p, 0.0, occ=occ))
    messages = check.number(table, "messages", p, 1, integer=True, positive=True, occ=occ)
    nbytes = _check_bytes(check, table.get("bytes"), "connections.bytes", occ, limit) \
        if "bytes" in table else check.number(table, "bytes", p, None, occ=occ)
    return [[Send(first + c * stagger + k * every, nbytes) for k in range(messages)]
            for c in range(count)]
