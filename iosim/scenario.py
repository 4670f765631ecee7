"""Scenarios: what network input reaches the server, when, and which IO models serve it.

A scenario is a TOML file (docs/scenarios.md) or, for the what-if panel, the same structure as
a plain dict. One loader serves every command: it validates every key and every value against
the limits below before anything runs, and every refusal names the file, the key and, where it
is written, the line, so that a student who mistypes a key learns where at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from iosim.checks import HOUR_MS, HOUR_US, TomlLines, load_toml, number_problem, show, text_problem
from iosim.errors import UserError
from iosim.files import file_or_builtin, read_small_text
from iosim.sim.costs import COST_KEYS, Costs, CostsError, check_table, load_costs

SIM_MODELS = ("blocking", "nonblocking", "select", "poll", "epoll", "epoll-et", "sigio", "aio",
              "threaded")
DEFAULT_MODELS = ("blocking", "nonblocking", "select", "sigio", "aio")
DEFAULT_SCENARIO = "one-datagram"

# Limits (docs/scenarios.md): what a simulation can represent and finish in bounded time and
# memory. The simulator's own event limit (iosim/sim/run.py) is set so that the largest
# accepted scenario finishes within it.
UDP_MAX_BYTES = 65507  # the largest UDP datagram over IPv4
MAX_BYTES = 64 * 1024 * 1024  # one TCP send, and the read buffer: what a socket can hold
MAX_TOTAL_BYTES = 1024 * 1024 * 1024  # all sends together: a capture sends them for real
MAX_CONNECTIONS = 100_000  # active and idle together
MAX_MESSAGES = 100_000  # all connections together; also the reads they take (TCP)
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_NAME_CHARS = 100
MAX_TITLE_CHARS = 200
MAX_WORKERS = 64  # threads sharing one listening socket (server.workers)
CHECKSUM_RULES = ("linux", "at-read")  # kernel.udp_checksum

# The models each server variant is modelled with (docs/scenarios.md): a variant is what the
# [server] table asks beyond the classic program (accept: connections come to a listening
# socket; reply: every message is answered), and its program is assets/code/<variant>-<model>.py.
VARIANT_MODELS = {
    "accept": ("blocking", "select", "epoll"),
    "reply": ("blocking", "nonblocking", "poll", "epoll"),
    "accept-reply": ("sigio",),
}


class ScenarioError(UserError):
    """A scenario that cannot be used; str() is the one line shown to the user."""


@dataclass(frozen=True)
class Send:
    at_ms: float
    nbytes: int
    corrupt: bool = False  # a UDP datagram whose checksum is bad: the kernel drops it


@dataclass(frozen=True)
class Process:
    poll_interval_us: float = 1000.0
    work_us: float = 50.0
    buffer_bytes: int = 65536


@dataclass(frozen=True)
class Server:
    """What the server is beyond its IO model: a listening socket that several threads share,
    and replies that fill a send buffer."""

    accept: bool = False  # connections arrive on a listening socket and are accepted
    workers: int = 1  # threads that each wait for connections on it
    epoll_exclusive: bool = False  # the epoll models register the listener with EPOLLEXCLUSIVE
    reuseport: bool = False  # each worker has a listening socket of its own (SO_REUSEPORT)
    reply_bytes: int = 0  # every message processed is answered with this many bytes
    send_buffer_bytes: int = 16384  # SO_SNDBUF: what the kernel holds of the replies

    @property
    def variant(self) -> str:
        """"" (the classic program), "accept", "reply" or "accept-reply"."""
        return "-".join(v for v, on in (("accept", self.accept), ("reply", self.reply_bytes > 0))
                        if on)


@dataclass(frozen=True)
class Client:
    """How the clients read the replies: ``read_bytes`` every ``read_every_ms`` (a slow
    reader), or everything at once (read_bytes 0)."""

    read_bytes: int = 0
    read_every_ms: float = 0.0


@dataclass(frozen=True)
class KernelRules:
    """Choices of the simulated kernel. ``udp_checksum``: "linux" checks a datagram's
    checksum when a read takes it and, on a blocking socket, also when select/poll/epoll
    look at it (Linux's udp_poll); "at-read" only when a read takes it."""

    udp_checksum: str = "linux"


@dataclass(frozen=True)
class Explicit:
    """One ``[[connections]]`` block with its sends listed: ``sends = [[at_ms, bytes], ...]``;
    ``corrupt`` marks sends (by index) as datagrams with a bad checksum; ``connect_ms`` is when
    the client connects (accept mode; default its first send)."""

    sends: tuple[Send, ...]
    connect_ms: float | None = None

    def expand(self) -> list[list[Send]]:
        return [list(self.sends)]

    def connects(self) -> list[float]:
        return [self.sends[0].at_ms if self.connect_ms is None else self.connect_ms]


@dataclass(frozen=True)
class Generated:
    """One ``[[connections]]`` block of ``count`` alike connections: connection *c* sends
    ``messages`` messages of ``nbytes``, ``every_ms`` apart, from ``first_ms + c * stagger_ms``."""

    nbytes: int
    count: int = 1
    first_ms: float = 0.0
    every_ms: float = 0.0
    messages: int = 1
    stagger_ms: float = 0.0

    def expand(self) -> list[list[Send]]:
        return [[Send(self.first_ms + c * self.stagger_ms + k * self.every_ms, self.nbytes)
                 for k in range(self.messages)] for c in range(self.count)]

    def connects(self) -> list[float]:
        return [self.first_ms + c * self.stagger_ms for c in range(self.count)]

    @property
    def last_ms(self) -> float:
        return self.first_ms + (self.count - 1) * self.stagger_ms + \
            (self.messages - 1) * self.every_ms


Block = Explicit | Generated


@dataclass
class Scenario:
    name: str
    title: str
    protocol: str = "udp"
    models: tuple[str, ...] = DEFAULT_MODELS
    idle_connections: int = 0
    costs: Costs = field(default_factory=Costs)
    process: Process = field(default_factory=Process)
    blocks: tuple[Block, ...] = ()  # the [[connections]] blocks as written
    path: str = field(default="", compare=False)
    axis: str = "schematic"  # the time axis the window opens on
    server: Server = field(default_factory=Server)
    client: Client = field(default_factory=Client)
    kernel: KernelRules = field(default_factory=KernelRules)
    connections: list[list[Send]] = field(init=False, compare=False, repr=False)
    connect_ms: list[float] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.connections = [sends for block in self.blocks for sends in block.expand()]
        self.connect_ms = [at for block in self.blocks for at in block.connects()]

    @property
    def active_connections(self) -> int:
        return len(self.connections)

    @property
    def total_connections(self) -> int:
        return len(self.connections) + self.idle_connections

    @property
    def message_count(self) -> int:
        """The messages the server is to handle: every send but a corrupt datagram."""
        return sum(not s.corrupt for c in self.connections for s in c)

    @property
    def send_count(self) -> int:
        return sum(len(c) for c in self.connections)


_TOP_KEYS = {"name", "title", "protocol", "models", "idle_connections", "costs", "process",
             "connections", "axis", "server", "client", "kernel"}
AXES = ("schematic", "scale")  # the window's time axis: a slot per event, or to scale
_PROCESS_KEYS = {"poll_interval_us", "work_us", "buffer_bytes"}
_EXPLICIT_KEYS = {"sends", "corrupt", "connect_ms"}
_SERVER_KEYS = {"accept", "workers", "epoll_exclusive", "reuseport", "reply_bytes",
                "send_buffer_bytes"}
_CLIENT_KEYS = {"read_bytes", "read_every_ms"}
_KERNEL_KEYS = {"udp_checksum"}
_GENERATED_KEYS = {"count", "first_ms", "every_ms", "messages", "bytes", "stagger_ms"}
_HOUR_MS = " ms (one simulated hour)"
_HOUR_US = " µs (one simulated hour)"


class _Checker:
    """Raises ScenarioError with the file, the key and the line where the key is written."""

    def __init__(self, where: str, text: str | None) -> None:
        self.where = where
        self.lines = TomlLines(text)

    def fail(self, key: str, message: str, occurrence: int = 0) -> ScenarioError:
        line = self.lines.line_of(key, occurrence)
        at = f", line {line}" if line else ""
        return ScenarioError(f"{self.where}{at}: {key}: {message}")

    def table(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, not {show(value)}")
        return value

    def unknown(self, table: dict[str, Any], known: set[str], prefix: str, occ: int = 0) -> None:
        for key in table:
            if key not in known:
                raise self.fail(f"{prefix}{key}", f"unknown key (expected one of: "
                                f"{', '.join(sorted(known))})", occ)

    def number(self, table: dict[str, Any], key: str, prefix: str, default: Any,
               occ: int = 0, **limits: Any) -> Any:
        """``table[key]`` checked by ``number_problem(**limits)``; ``default`` when absent
        (None: the key is required)."""
        if key not in table:
            if default is None:
                raise self.fail(f"{prefix}{key}", "missing", occ)
            return default
        value = table[key]
        problem = number_problem(value, **limits)
        if problem:
            raise self.fail(f"{prefix}{key}", problem, occ)
        return value

    def boolean(self, table: dict[str, Any], key: str, prefix: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"{prefix}{key}", f"must be true or false, not {show(value)}")
        return value

    def string(self, table: dict[str, Any], key: str, default: str, max_chars: int) -> str:
        value = table.get(key, default)
        problem = text_problem(value, max_chars)
        if problem:
            raise self.fail(key, problem)
        return value


def builtin_dir() -> Path:
    return Path(str(resources.files("iosim") / "assets" / "scenarios"))


def builtin_names() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.toml"))


def resolve(name_or_path: str) -> Path:
    """A path if it exists, else a built-in scenario's name."""
    found = file_or_builtin(name_or_path, builtin_dir())
    if found is not None:
        return found
    raise ScenarioError(f"{name_or_path}: no such file or built-in scenario "
                        f"(built-in: {', '.join(builtin_names())})")


def load(name_or_path: str) -> Scenario:
    if "\0" in name_or_path:
        raise ScenarioError(f"{name_or_path!r}: not a file name (it holds a NUL character)")
    path = resolve(name_or_path)
    try:
        text = read_small_text(path, MAX_FILE_BYTES, "scenario file")
    except UserError as exc:
        raise ScenarioError(str(exc)) from None
    return parse(text, str(path), path.parent)


def parse(text: str, where: str = "<scenario>", base_dir: Path | None = None) -> Scenario:
    """A scenario from TOML text; ``where`` names it in errors, ``base_dir`` is where a costs
    file named in it is looked for."""
    try:
        data = load_toml(text, where, "a scenario nests at most an array of [at_ms, bytes] "
                         "pairs")
    except UserError as exc:
        raise ScenarioError(str(exc)) from None
    return _build(_Checker(where, text), data, base_dir)


def from_dict(data: dict[str, Any], where: str = "<scenario>",
              base_dir: Path | None = None) -> Scenario:
    """A scenario from a plain dict of the TOML file's structure (as ``to_dict`` gives and the
    what-if panel edits), validated exactly as a file is: ScenarioError names the key."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: a scenario is a table of keys, not {show(data)}")
    return _build(_Checker(where, None), data, base_dir)


def _build(check: _Checker, data: dict[str, Any], base_dir: Path | None) -> Scenario:
    check.unknown(data, _TOP_KEYS, "")
    name = check.string(data, "name", Path(check.where).stem or "scenario", MAX_NAME_CHARS)
    title = check.string(data, "title", name, MAX_TITLE_CHARS)
    protocol = check.string(data, "protocol", "udp", MAX_NAME_CHARS)
    if protocol not in ("udp", "tcp"):
        raise check.fail("protocol", f"must be 'udp' or 'tcp', not {show(protocol)}")
    server = _server(check, check.table(data, "server"), protocol)
    models = _models(check, data, server)
    idle = check.number(data, "idle_connections", "", 0, integer=True, high=MAX_CONNECTIONS)
    costs = _costs(check, data.get("costs", {}), base_dir or Path("."))
    process = _process(check, check.table(data, "process"))
    client = _client(check, check.table(data, "client"), server)
    kernel = _kernel(check, check.table(data, "kernel"))
    blocks = _blocks(check, data.get("connections", []), protocol, idle, process.buffer_bytes,
                     server)
    axis = check.string(data, "axis", "schematic", MAX_NAME_CHARS)
    if axis not in AXES:
        raise check.fail("axis", f"must be 'schematic' or 'scale', not {show(axis)}")
    sc = Scenario(name, title, protocol, models, idle, costs, process, blocks, check.where,
                  axis, server, client, kernel)
    _check_variant(check, sc)
    _check_replies(check, sc)
    if not sc.message_count:
        raise check.fail("connections.corrupt", "every datagram is corrupt: the server would "
                         "have nothing to handle")
    return sc


def variant_models(variant: str) -> tuple[str, ...]:
    """The models a server variant is modelled with (every model for the classic one)."""
    return VARIANT_MODELS.get(variant, SIM_MODELS)


def _check_variant(check: _Checker, sc: Scenario) -> None:
    variant = sc.server.variant
    known = variant_models(variant)
    for model in sc.models:
        if model not in known:
            raise check.fail("models", f"{model} is not modelled with this [server] table "
                             f"({variant}: {', '.join(known)})")
    if sc.server.accept and sc.idle_connections:
        raise check.fail("idle_connections", "connections that never send never connect "
                         "either with server.accept: leave them out")


def _check_replies(check: _Checker, sc: Scenario) -> None:
    """The replies' cost to simulate: each reply is sent in calls of at least a third of the
    send buffer (a blocked writer wakes once a third is free) and taken by the slow reader
    ``read_bytes`` at a time; both counts are bounded as reads are."""
    replies = sc.server.reply_bytes * sc.message_count
    if not replies:
        return
    if replies > MAX_TOTAL_BYTES:
        raise check.fail("server.reply_bytes", f"the replies add up to more than "
                         f"{MAX_TOTAL_BYTES:,} bytes")
    per_call = max(1, sc.server.send_buffer_bytes // 3)
    if replies // per_call > MAX_MESSAGES:
        raise check.fail("server.send_buffer_bytes", f"sending the replies through a "
                         f"{sc.server.send_buffer_bytes:,}-byte buffer takes more than "
                         f"{MAX_MESSAGES:,} calls")
    if sc.client.read_bytes and replies // sc.client.read_bytes > MAX_MESSAGES:
        raise check.fail("client.read_bytes", f"reading the replies {sc.client.read_bytes:,} "
                         f"bytes at a time takes more than {MAX_MESSAGES:,} reads")


def _models(check: _Checker, data: dict[str, Any], server: Server) -> tuple[str, ...]:
    """The models listed; by default the five of Figure 6.6, or with a [server] variant the
    models it is modelled with."""
    models = data.get("models", list(VARIANT_MODELS.get(server.variant, DEFAULT_MODELS)))
    if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
        raise check.fail("models", f"must be a non-empty list of model names, not {show(models)}")
    for model in models:
        if model not in SIM_MODELS:
            raise check.fail("models", f"unknown model {show(model)} "
                             f"(known: {', '.join(SIM_MODELS)})")
    if len(set(models)) != len(models):
        raise check.fail("models", "a model is listed twice")
    return tuple(models)


def _costs(check: _Checker, table: Any, base_dir: Path) -> Costs:
    """``costs = "file"``, or a ``[costs]`` table of overrides, with ``file = "..."`` to start
    from a file: a costs file's own errors name that file, its key and its line."""
    if isinstance(table, str):
        table = {"file": table}
    if not isinstance(table, dict):
        raise check.fail("costs", "must be a table of costs or the path of a costs file")
    table = dict(table)
    costs = Costs()
    if "file" in table:
        file = table.pop("file")
        if not isinstance(file, str) or not file or "\0" in file:
            raise check.fail("costs.file", f"must be the path of a costs file, not {show(file)}")
        costs = load_costs(base_dir / file)
    try:
        check_table(table, "")
    except CostsError as exc:
        message = str(exc).removeprefix(": ")
        raise check.fail(f"costs.{exc.key}" if exc.key else "costs", message) from None
    return costs.with_overrides(table, check.where)


def _process(check: _Checker, table: dict[str, Any]) -> Process:
    check.unknown(table, _PROCESS_KEYS, "process.")
    defaults = Process()
    p = "process."
    return Process(
        poll_interval_us=float(check.number(table, "poll_interval_us", p,
                                            defaults.poll_interval_us, positive=True,
                                            high=HOUR_US, unit=_HOUR_US)),
        work_us=float(check.number(table, "work_us", p, defaults.work_us, high=HOUR_US,
                                   unit=_HOUR_US)),
        buffer_bytes=check.number(table, "buffer_bytes", p, defaults.buffer_bytes,
                                  integer=True, positive=True, high=MAX_BYTES, unit=" bytes"),
    )


def _server(check: _Checker, table: dict[str, Any], protocol: str) -> Server:
    check.unknown(table, _SERVER_KEYS, "server.")
    p = "server."
    d = Server()
    accept = check.boolean(table, "accept", p, d.accept)
    server = Server(
        accept=accept,
        workers=check.number(table, "workers", p, d.workers, integer=True, positive=True,
                             high=MAX_WORKERS),
        epoll_exclusive=check.boolean(table, "epoll_exclusive", p, d.epoll_exclusive),
        reuseport=check.boolean(table, "reuseport", p, d.reuseport),
        reply_bytes=check.number(table, "reply_bytes", p, d.reply_bytes, integer=True,
                                 high=MAX_BYTES, unit=" bytes"),
        send_buffer_bytes=check.number(table, "send_buffer_bytes", p, d.send_buffer_bytes,
                                       integer=True, positive=True, high=MAX_BYTES,
                                       unit=" bytes"),
    )
    if (accept or server.reply_bytes) and protocol != "tcp":
        key = "accept" if accept else "reply_bytes"
        raise check.fail(f"server.{key}", "only a TCP server listens, accepts and has replies "
                         "held in a send buffer (protocol = \"tcp\")")
    for key in ("workers", "epoll_exclusive", "reuseport"):
        if key in table and table[key] != getattr(d, key) and not accept:
            raise check.fail(f"server.{key}", "needs a listening socket: server.accept = true")
    return server


def _client(check: _Checker, table: dict[str, Any], server: Server) -> Client:
    check.unknown(table, _CLIENT_KEYS, "client.")
    p = "client."
    read_bytes = check.number(table, "read_bytes", p, 0, integer=True, high=MAX_BYTES,
                              unit=" bytes")
    every = float(check.number(table, "read_every_ms", p, 0.0, high=HOUR_MS, unit=_HOUR_MS))
    if (read_bytes == 0) != (every == 0.0):
        key = "read_every_ms" if read_bytes else "read_bytes"
        raise check.fail(f"client.{key}", "a slow reader needs both read_bytes and "
                         "read_every_ms above 0")
    if read_bytes and not server.reply_bytes:
        raise check.fail("client.read_bytes", "there are no replies to read: set "
                         "server.reply_bytes")
    return Client(read_bytes, every)


def _kernel(check: _Checker, table: dict[str, Any]) -> KernelRules:
    check.unknown(table, _KERNEL_KEYS, "kernel.")
    rule = check.string(table, "udp_checksum", KernelRules().udp_checksum, MAX_NAME_CHARS)
    if rule not in CHECKSUM_RULES:
        raise check.fail("kernel.udp_checksum", f"must be one of {', '.join(CHECKSUM_RULES)}, "
                         f"not {show(rule)}")
    return KernelRules(rule)


class _Totals:
    """What the blocks add up to, checked block by block before any is expanded: a count of
    10^9 is refused before a list of 10^9 is made. Reads are counted as well as messages: a
    TCP read takes at most ``buffer_bytes``, so an 8 MB send into a 7-byte buffer is a million
    reads, and each read costs the simulator as much as a message."""

    def __init__(self, check: _Checker, idle: int, protocol: str, buffer_bytes: int) -> None:
        self.check = check
        self.per_read = buffer_bytes if protocol == "tcp" else None  # UDP: a datagram a read
        self.connections = idle
        self.messages = 0
        self.reads = 0
        self.bytes = 0

    def reads_of(self, nbytes: int) -> int:
        return 1 if self.per_read is None else -(-nbytes // self.per_read)

    def add(self, key: str, occ: int, connections: int, messages: int, nbytes: int,
            reads: int) -> None:
        self.connections += connections
        self.messages += messages
        self.bytes += nbytes
        self.reads += reads
        if self.connections > MAX_CONNECTIONS:
            raise self.check.fail(key, f"more than {MAX_CONNECTIONS:,} connections in all "
                                  "(idle ones included)", occ)
        if self.messages > MAX_MESSAGES:
            raise self.check.fail(key, f"more than {MAX_MESSAGES:,} messages in all", occ)
        if self.bytes > MAX_TOTAL_BYTES:
            raise self.check.fail(key, f"more than {MAX_TOTAL_BYTES:,} bytes sent in all", occ)
        if self.reads > MAX_MESSAGES:
            raise self.check.fail(key, f"reading the sends {self.per_read:,} bytes at a time "
                                  f"(process.buffer_bytes) takes more than {MAX_MESSAGES:,} "
                                  "reads in all", occ)


def _blocks(check: _Checker, items: Any, protocol: str, idle: int,
            buffer_bytes: int, server: Server) -> tuple[Block, ...]:
    if not isinstance(items, list) or not all(isinstance(t, dict) for t in items):
        raise check.fail("connections", "must be an array of tables [[connections]]")
    limit = UDP_MAX_BYTES if protocol == "udp" else MAX_BYTES
    totals = _Totals(check, idle, protocol, buffer_bytes)
    out: list[Block] = []
    for occ, table in enumerate(items):
        if "sends" in table:
            check.unknown(table, _EXPLICIT_KEYS, "connections.", occ)
            block: Block = _explicit(check, table, occ, limit, protocol, server)
            totals.add("connections.sends", occ, 1, len(block.sends),
                       sum(s.nbytes for s in block.sends),
                       sum(totals.reads_of(s.nbytes) for s in block.sends))
        else:
            check.unknown(table, _GENERATED_KEYS, "connections.", occ)
            block = _generated(check, table, occ, limit)
            sends = block.count * block.messages
            totals.add("connections.count", occ, block.count, sends, sends * block.nbytes,
                       sends * totals.reads_of(block.nbytes))
        out.append(block)
    if not out:
        raise check.fail("connections", "at least one connection that sends is needed")
    return tuple(out)


def _check_bytes(check: _Checker, nbytes: Any, key: str, occ: int, limit: int) -> int:
    problem = number_problem(nbytes, integer=True, positive=True)
    if problem:
        raise check.fail(key, f"bytes {problem}", occ)
    if nbytes > limit:
        what = "a UDP datagram" if limit == UDP_MAX_BYTES else "one send"
        raise check.fail(key, f"{what} holds at most {limit:,} bytes, not {show(nbytes)}", occ)
    return nbytes


def _explicit(check: _Checker, table: dict[str, Any], occ: int, limit: int, protocol: str,
              server: Server) -> Explicit:
    sends = _sends(check, table["sends"], occ, limit)
    bad = _corrupt(check, table, occ, len(sends), protocol)
    connect_ms = None
    if "connect_ms" in table:
        if not server.accept:
            raise check.fail("connections.connect_ms", "a client connects at a time of its "
                             "own only with server.accept = true", occ)
        connect_ms = float(check.number(table, "connect_ms", "connections.", None, occ,
                                        high=HOUR_MS, unit=_HOUR_MS))
        if connect_ms > sends[0].at_ms:
            raise check.fail("connections.connect_ms", f"the client connects at {connect_ms} "
                             f"ms, after its first send ({sends[0].at_ms} ms)", occ)
    return Explicit(tuple(Send(s.at_ms, s.nbytes, k in bad) for k, s in enumerate(sends)),
                    connect_ms)


def _corrupt(check: _Checker, table: dict[str, Any], occ: int, nsends: int,
             protocol: str) -> set[int]:
    """``corrupt = [k, ...]``: the indexes of the sends whose checksum is bad."""
    key = "connections.corrupt"
    if "corrupt" not in table:
        return set()
    if protocol != "udp":
        raise check.fail(key, "only UDP datagrams are dropped for a bad checksum (TCP sends "
                         "the segment again)", occ)
    marks = table["corrupt"]
    if not isinstance(marks, list) or any(number_problem(k, integer=True) for k in marks):
        raise check.fail(key, f"must be a list of send indexes (0 is the first send), not "
                         f"{show(marks)}", occ)
    for k in marks:
        if k >= nsends:
            raise check.fail(key, f"send {k} does not exist (this connection has {nsends} "
                             f"send{'s' if nsends != 1 else ''}, 0 to {nsends - 1})", occ)
    if len(set(marks)) != len(marks):
        raise check.fail(key, "a send is marked twice", occ)
    return set(marks)


def _sends(check: _Checker, sends: Any, occ: int, limit: int) -> list[Send]:
    key = "connections.sends"
    if not isinstance(sends, list) or not sends:
        raise check.fail(key, "must be a non-empty list of [at_ms, bytes] pairs", occ)
    if len(sends) > MAX_MESSAGES:
        raise check.fail(key, f"more than {MAX_MESSAGES:,} messages in all", occ)
    out: list[Send] = []
    for pair in sends:
        if not isinstance(pair, list) or len(pair) != 2:
            raise check.fail(key, f"each send is [at_ms, bytes], not {show(pair)}", occ)
        at_ms, nbytes = pair
        problem = number_problem(at_ms, high=HOUR_MS, unit=_HOUR_MS)
        if problem:
            raise check.fail(key, f"time {problem}", occ)
        if out and at_ms < out[-1].at_ms:
            raise check.fail(key, f"times must be sorted ({at_ms} ms after {out[-1].at_ms} ms)",
                             occ)
        out.append(Send(float(at_ms), _check_bytes(check, nbytes, key, occ, limit)))
    return out


def _generated(check: _Checker, table: dict[str, Any], occ: int, limit: int) -> Generated:
    p = "connections."

    def ms(key: str) -> float:
        return float(check.number(table, key, p, 0.0, occ, high=HOUR_MS, unit=_HOUR_MS))

    count = check.number(table, "count", p, 1, occ, integer=True, positive=True,
                         high=MAX_CONNECTIONS)
    messages = check.number(table, "messages", p, 1, occ, integer=True, positive=True,
                            high=MAX_MESSAGES)
    if "bytes" not in table:
        raise check.fail("connections.bytes", "missing", occ)
    nbytes = _check_bytes(check, table["bytes"], "connections.bytes", occ, limit)
    block = Generated(nbytes, count, ms("first_ms"), ms("every_ms"), messages, ms("stagger_ms"))
    if block.last_ms > HOUR_MS:
        raise check.fail("connections.every_ms", f"the last send would be at "
                         f"{block.last_ms:,.3f} ms, after one simulated hour", occ)
    return block


def to_dict(sc: Scenario) -> dict[str, Any]:
    """The scenario as the TOML file's structure (what ``from_dict`` reads back): the costs
    as the keys that differ from the defaults, so the result stands alone (no costs file)."""
    defaults = Costs()
    costs = {k: getattr(sc.costs, k) for k in COST_KEYS
             if getattr(sc.costs, k) != getattr(defaults, k)}
    data: dict[str, Any] = {
        "name": sc.name, "title": sc.title, "protocol": sc.protocol, "models": list(sc.models),
        "idle_connections": sc.idle_connections,
        "process": {"poll_interval_us": sc.process.poll_interval_us,
                    "work_us": sc.process.work_us, "buffer_bytes": sc.process.buffer_bytes},
        "connections": [_block_dict(b) for b in sc.blocks],
    }
    if costs:
        data["costs"] = costs
    if sc.axis != "schematic":
        data["axis"] = sc.axis
    for table, value in (("server", sc.server), ("client", sc.client), ("kernel", sc.kernel)):
        changed = _changed(value)
        if changed:
            data[table] = changed
    return data


def _changed(value: Server | Client | KernelRules) -> dict[str, Any]:
    """The fields of a table that differ from its defaults (none: the table is left out)."""
    default = type(value)()
    return {f.name: getattr(value, f.name) for f in fields(value)
            if getattr(value, f.name) != getattr(default, f.name)}


def _block_dict(block: Block) -> dict[str, Any]:
    if isinstance(block, Explicit):
        out: dict[str, Any] = {"sends": [[s.at_ms, s.nbytes] for s in block.sends]}
        corrupt = [k for k, s in enumerate(block.sends) if s.corrupt]
        if corrupt:
            out["corrupt"] = corrupt
        if block.connect_ms is not None:
            out["connect_ms"] = block.connect_ms
        return out
    return {"count": block.count, "first_ms": block.first_ms, "every_ms": block.every_ms,
            "stagger_ms": block.stagger_ms, "messages": block.messages, "bytes": block.nbytes}


def _toml_value(value: Any) -> str:
    """A value of a validated scenario as TOML: strings (no control characters: validated)
    are written as JSON writes them, which TOML reads alike; floats by repr, exact."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def dumps(sc: Scenario) -> str:
    """The scenario as TOML text that ``parse`` reads back to an equal Scenario."""
    data = to_dict(sc)
    lines = [f"{key} = {_toml_value(data[key])}" for key in
             ("name", "title", "protocol", "models", "idle_connections", "axis") if key in data]
    for table in ("process", "costs", "server", "client", "kernel"):
        if table in data:
            lines += ["", f"[{table}]"] + [f"{k} = {_toml_value(v)}"
                                          for k, v in data[table].items()]
    for block in data["connections"]:
        lines += ["", "[[connections]]"] + [f"{k} = {_toml_value(v)}" for k, v in block.items()]
    return "\n".join(lines) + "\n"
