"""A spool (spool.py) read back as a Trace, so that ``iosim summary``, ``show`` and ``export``
read what ``iosim serve`` wrote like any trace (``iosim.trace.load`` hands such files here).

Only what the keep policy kept is built (memory follows the kept messages, not the run's
length); the counters of the whole run go into the run's meta, with which messages were kept.
A file cut off or damaged (a crash, kill -9, a full disk) reads up to its last whole record,
with a note in the meta; a file whose header does not read is refused in one line.
"""

from __future__ import annotations

import os
from typing import Any

from iosim.real.capture import build_run
from iosim.real.keep import Keep, parse_keep
from iosim.real.record import WORK
from iosim.real.servers import REAL_MODELS
from iosim.real.spool import Entry, Scan, SpoolDamage, read_block, scan
from iosim.trace import Trace, TraceError

NOT_FINISHED = ("the server did not finish writing (killed, or the machine stopped): the trace "
                "ends with the last block written")


def _scan(path: str | os.PathLike[str]) -> Scan:
    name = str(path)
    try:
        return scan(path)
    except FileNotFoundError:
        raise TraceError(f"{name}: no such file") from None
    except OSError as exc:
        raise TraceError(f"{name}: cannot read ({exc.strerror})") from None
    except SpoolDamage as exc:
        raise TraceError(f"{name}: cannot read this trace of iosim serve: {exc}") from None


def read_rows(path: str | os.PathLike[str], blocks: list[Entry]) -> tuple[list[tuple], str]:
    """The rows of ``blocks``, in order; a block that does not read ends them, with a note."""
    rows: list[tuple] = []
    with open(path, "rb") as f:
        for entry in blocks:
            try:
                rows.extend(read_block(f, entry))
            except SpoolDamage as exc:
                return rows, f"{exc} at byte {entry.offset}: the data ends there"
    return rows, ""


def read_all(path: str | os.PathLike[str]) -> tuple[list[tuple], dict[str, Any] | None, str]:
    """Every row of a spool, its end record (None: not finished) and a note on damage."""
    found = _scan(path)
    rows, note = read_rows(path, found.blocks)
    return rows, found.end, found.note or note


def _header(meta: dict[str, Any], name: str) -> tuple[str, str, int, Keep]:
    model, protocol, t0_ns = meta.get("model"), meta.get("protocol"), meta.get("t0_ns")
    if meta.get("kind") != "serve":
        raise TraceError(f"{name}: not a trace of iosim serve (a capture's working file?)")
    if model not in REAL_MODELS or protocol not in ("tcp", "udp") or not isinstance(t0_ns, int):
        raise TraceError(f"{name}: damaged header (model, protocol or start time)")
    try:
        keep = parse_keep(str(meta.get("keep")))
    except ValueError as exc:
        raise TraceError(f"{name}: damaged header (keep: {exc})") from None
    return model, protocol, t0_ns, keep


def _chosen(blocks: list[Entry], keep: Keep) -> list[Entry]:
    """last:N: the newest blocks that hold N messages (the file may hold up to 2N)."""
    if keep.how != "last":
        return blocks
    kept, i = 0, len(blocks)
    while i > 0 and kept < keep.n:
        i -= 1
        kept += blocks[i].messages
    return blocks[i:]


def _unknown(chosen: list[Entry], entries: list[Entry], end_ns: int) -> list[tuple[int, int]]:
    """The stretches between kept blocks whose rows were left out (every:K, first:N)."""
    out = []
    for before, after in zip(chosen, chosen[1:], strict=False):
        if after.seq != before.seq + 1 and after.t_first > before.t_last:
            out.append((before.t_last, after.t_first))
    if chosen and entries and entries[-1].seq > chosen[-1].seq and end_ns > chosen[-1].t_last:
        out.append((chosen[-1].t_last, end_ns))
    return out


def _renumbered(rows: list[tuple]) -> tuple[list[tuple], int]:
    """Connections numbered 0, 1, ... in the order they appear in the kept rows: an hour of
    clients would otherwise need a lane for every client that ever came."""
    ids = {-1: -1}
    out = []
    for row in rows:
        conn = row[3]
        new = ids.get(conn)
        if new is None:
            new = ids[conn] = len(ids) - 1
        out.append((*row[:3], new, *row[4:]))
    return out, len(ids) - 1


def load_trace(path: str | os.PathLike[str]) -> Trace:
    name = str(path)
    found = _scan(path)
    model, protocol, t0_ns, keep = _header(found.meta, name)
    chosen = _chosen(found.blocks, keep)
    rows, damage = read_rows(path, chosen)
    note = found.note or damage
    end = found.end or {}
    if found.end is None:
        note = f"{note}; {NOT_FINISHED}" if note else NOT_FINISHED
    last = max((e.t_last for e in found.entries), default=t0_ns)
    end_ns = end.get("end_ns", last) if isinstance(end.get("end_ns"), int) else last
    start_ns = t0_ns
    if chosen and chosen[0].seq > 0:  # the run's first blocks were not kept: start with ours
        start_ns = chosen[0].t_first
        rows = [row for row in rows if row[4] >= start_ns]
        if model in ("sigio", "aio"):  # the handler's time out of it is own work, as before
            rows.append((WORK, 0, "process continues executing", -1, start_ns, start_ns, 0, 0))
    rows, connections = _renumbered(rows)
    counters = found.counters
    first = chosen[0].first_message if chosen else 0
    error = end.get("error") if isinstance(end.get("error"), str) else None
    port = found.meta.get("port")
    meta: dict[str, Any] = {
        "host": str(found.meta.get("host", "")), "port": port if isinstance(port, int) else None,
        "kept": {"policy": str(keep), "first_message": first,
                 "messages_total": counters.messages, "blocks": len(chosen),
                 "blocks_total": sum(1 for e in found.entries if e.tag != b"END_")},
        "calls_total": counters.calls, "clients": counters.clients,
        "replies_unsent": counters.replies_unsent,
        "dropped_queue_full": counters.dropped_queue_full,
        "from_start_us": (start_ns - t0_ns) / 1000.0,
    }
    if note:
        meta["note"] = note
    run = build_run(model, protocol, rows, start_ns, max(end_ns, start_ns), plan=None,
                    sent_ns=None, connections=connections, work_us=0.0, error=error,
                    unknown=_unknown(chosen, found.entries, end_ns), **meta)
    host, port = meta["host"], meta["port"]
    return Trace("serve", f"iosim serve --model {model} ({protocol} {host}:{port})", protocol,
                 [run])
