"""The spool: a real server's rows on disk as they come, so that memory stays flat however long
it serves and a crash (even kill -9) loses only the rows not yet written.

A spool file is a header and a list of records, each written whole with one ``write`` to a file
opened for appending, so that a reader finds every record up to the last one written:

- header: ``MAGIC``, the length of a JSON object (model, protocol, t0_ns, keep policy, ...),
  the JSON, its CRC-32;
- record: ``RECORD`` (tag, payload length, CRC-32 of header fields and payload, sequence number
  of the block, the block's first message, its messages and rows, its first and last time,
  then the counters of the whole run so far) and the payload:
  ``ROWS`` a block of rows, zlib-compressed columns (below);
  ``CNTS`` no payload: a block the keep policy left out, counted all the same;
  ``END_`` a JSON object (end_ns, error, ...): the server finished writing.

A block's columns (little-endian): tag (b), lane (b), name (H, an index into the block's own
string table), conn (i), enter (q, ns after the previous row's; the first after the block's
base), duration (q), result (q), arrival stamp (q, ns after enter; ``NO_STAMP`` where none).
Every block is self-contained, so that blocks can be dropped (``keep.py``) or cut off.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from operator import sub
from typing import Any

from iosim.real.record import CALL, ERROR, PROCESS, stamp_ns

MAGIC = b"IOSIMSPL"
VERSION = 1
HEAD = struct.Struct("<8sHI")  # magic, version, length of the JSON that follows
CRC = struct.Struct("<I")
COUNTER_NAMES = ("messages", "calls", "replies_unsent", "dropped_queue_full", "clients")
RECORD = struct.Struct("<4sIIQQIIqq5Q")
ROWS, COUNTS, END = b"ROWS", b"CNTS", b"END_"
NO_STAMP = -(1 << 63)
MAX_HEADER = 1 << 20
MAX_PAYLOAD = 1 << 28
MAX_ROWS = 1 << 22
BLOCK = struct.Struct("<qH")  # base enter time, number of strings
COLUMNS = ("b", "b", "H", "i", "q", "q", "q", "q")
ROW_BYTES = sum(array(t).itemsize for t in COLUMNS)


@dataclass
class Counters:
    """What the whole run did, kept or not: every record carries them as they were then."""

    messages: int = 0
    calls: int = 0
    replies_unsent: int = 0
    dropped_queue_full: int = 0
    clients: int = 0

    def values(self) -> tuple[int, ...]:
        return tuple(getattr(self, name) for name in COUNTER_NAMES)


# -- writing ---------------------------------------------------------------------------------


def _stamp(extra: object, enter: int) -> int:
    """The arrival stamp of a row, as ns after its enter: a recvfrom row holds recvmsg's control
    data while serving (parsed here, off the hot path) or a stamp already parsed (capture)."""
    if not extra:
        return NO_STAMP
    stamp = extra if isinstance(extra, int) else stamp_ns(extra)  # type: ignore[arg-type]
    return stamp - enter if stamp else NO_STAMP


@dataclass
class Block:
    """One encoded block of rows, ready to be written."""

    payload: bytes
    rows: int
    messages: int
    calls: int
    t_first: int
    t_last: int


def encode(rows: Sequence[tuple]) -> Block:
    """Rows (all of eight fields, see record.py) -> a compressed block. Column by column, each
    in one pass of C code where it can be: this runs beside a server that is serving."""
    tag, lane, name, conn, enter, ret, result, extra = zip(*rows, strict=True)
    strings = list(dict.fromkeys(name))
    index = {s: i for i, s in enumerate(strings)}
    base = enter[0]
    stamps = [_stamp(x, e) for x, e in zip(extra, enter, strict=True)]
    text = [s.encode("utf-8", "replace")[:0xFFFF] for s in strings]
    parts = [BLOCK.pack(base, len(strings))]
    for t in text:
        parts.append(struct.pack("<H", len(t)))
        parts.append(t)
    columns = (tag, lane, list(map(index.__getitem__, name)), conn,
               list(map(sub, enter, (base, *enter[:-1]))), list(map(sub, ret, enter)),
               result, stamps)
    for typecode, values in zip(COLUMNS, columns, strict=True):
        parts.append(_little(array(typecode, values)).tobytes())
    return Block(zlib.compress(b"".join(parts), 1), len(rows), tag.count(PROCESS),
                 tag.count(CALL), min(enter), max(ret))


def _little(col: array) -> array:
    """Columns are little-endian on disk, whatever the machine."""
    if col.itemsize > 1 and sys.byteorder != "little":
        col.byteswap()
    return col


def file_header(meta: dict[str, Any]) -> bytes:
    text = json.dumps(meta, separators=(",", ":")).encode()
    return HEAD.pack(MAGIC, VERSION, len(text)) + text + CRC.pack(zlib.crc32(text))


def record(tag: bytes, payload: bytes, seq: int, first_message: int, messages: int, rows: int,
           t_first: int, t_last: int, counters: Counters) -> bytes:
    fields = (tag, len(payload), 0, seq, first_message, messages, rows, t_first, t_last,
              *counters.values())
    crc = zlib.crc32(payload, zlib.crc32(RECORD.pack(*fields)))
    return RECORD.pack(tag, len(payload), crc, *fields[3:]) + payload


# -- reading ---------------------------------------------------------------------------------


class SpoolDamage(Exception):
    """A record that does not read back: the data ends before it."""


@dataclass
class Entry:
    """A record's header, and where its payload lies in the file."""

    tag: bytes
    offset: int
    length: int
    seq: int
    first_message: int
    messages: int
    rows: int
    t_first: int
    t_last: int
    counters: Counters


@dataclass
class Scan:
    """A spool file's header and the index of its records (payloads not read)."""

    meta: dict[str, Any]
    entries: list[Entry] = field(default_factory=list)
    end: dict[str, Any] | None = None
    note: str = ""

    @property
    def counters(self) -> Counters:
        return self.entries[-1].counters if self.entries else Counters()

    @property
    def blocks(self) -> list[Entry]:
        return [e for e in self.entries if e.tag == ROWS]


def is_spool(path: str | os.PathLike[str]) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def scan(path: str | os.PathLike[str]) -> Scan:
    """Read the header and the record headers, checking each record whole (CRC); a record
    that is cut off or damaged ends the data, with a note saying where. A header that does not
    read raises SpoolDamage (the file cannot be used at all)."""
    with open(path, "rb") as f:
        head = f.read(HEAD.size)
        if len(head) < HEAD.size:
            raise SpoolDamage("the file ends inside its header")
        magic, version, length = HEAD.unpack(head)
        if magic != MAGIC:
            raise SpoolDamage("not a spool file")
        if version != VERSION:
            raise SpoolDamage(f"spool version {version}, this iosim reads version {VERSION}")
        if length > MAX_HEADER:
            raise SpoolDamage("damaged header (its length is out of range)")
        text = f.read(length)
        crc = f.read(CRC.size)
        if len(text) < length or len(crc) < CRC.size or CRC.unpack(crc)[0] != zlib.crc32(text):
            raise SpoolDamage("damaged or cut-off header")
        try:
            meta = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise SpoolDamage("damaged header (not JSON)") from None
        if not isinstance(meta, dict):
            raise SpoolDamage("damaged header (not a JSON object)")
        found = Scan(meta)
        offset = HEAD.size + length + CRC.size
        while True:
            raw = f.read(RECORD.size)
            if not raw:
                break
            try:
                entry, payload = _record(f, raw, offset)
            except SpoolDamage as exc:
                found.note = f"{exc} at byte {offset}: the data ends there"
                break
            offset = entry.offset + entry.length
            found.entries.append(entry)
            if entry.tag == END:
                found.end = _end(payload)
                if found.end is None:
                    found.note = f"damaged end record at byte {entry.offset}"
                break
    return found


def _record(f: Any, raw: bytes, offset: int) -> tuple[Entry, bytes]:
    if len(raw) < RECORD.size:
        raise SpoolDamage("a record cut off")
    tag, length, crc, seq, first, messages, rows, t_first, t_last, *counts = RECORD.unpack(raw)
    if tag not in (ROWS, COUNTS, END) or length > MAX_PAYLOAD or rows > MAX_ROWS:
        raise SpoolDamage("a damaged record")
    payload = f.read(length)
    if len(payload) < length:
        raise SpoolDamage("a record cut off")
    fields = (tag, length, 0, seq, first, messages, rows, t_first, t_last, *counts)
    if zlib.crc32(payload, zlib.crc32(RECORD.pack(*fields))) != crc:
        raise SpoolDamage("a damaged record (CRC)")
    entry = Entry(tag, offset + RECORD.size, length, seq, first, messages, rows, t_first, t_last,
                  Counters(*counts))
    return entry, payload if tag == END else b""


def _end(payload: bytes) -> dict[str, Any] | None:
    try:
        end = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(end, dict) or not isinstance(end.get("end_ns"), int):
        return None
    return end


def read_block(f: Any, entry: Entry) -> list[tuple]:
    """The rows of one block, each checked: a string index or a tag out of range, columns of
    the wrong size or data that does not decompress raise SpoolDamage."""
    f.seek(entry.offset)
    try:
        data = zlib.decompress(f.read(entry.length), bufsize=entry.rows * ROW_BYTES + 4096)
    except zlib.error:
        raise SpoolDamage("a block that does not decompress") from None
    n = entry.rows
    if n == 0 or len(data) < BLOCK.size:
        raise SpoolDamage("an empty block")
    base, count = BLOCK.unpack_from(data)
    pos = BLOCK.size
    strings = []
    for _ in range(count):
        if pos + 2 > len(data):
            raise SpoolDamage("a block's strings cut off")
        (size,) = struct.unpack_from("<H", data, pos)
        pos += 2
        try:
            strings.append(data[pos:pos + size].decode("utf-8"))
        except UnicodeDecodeError:
            raise SpoolDamage("a block's strings damaged") from None
        pos += size
    if len(data) - pos != n * ROW_BYTES:
        raise SpoolDamage("a block of the wrong size")
    columns = []
    for typecode in COLUMNS:
        col = array(typecode)
        col.frombytes(data[pos:pos + n * col.itemsize])
        pos += n * col.itemsize
        columns.append(_little(col))
    tag, lane, name, conn, delta, duration, result, stamp = columns
    if max(tag) > ERROR or min(tag) < 0 or max(name) >= len(strings) or min(lane) < 0 \
            or min(conn) < -1:
        raise SpoolDamage("a block with values out of range")
    enter = list(accumulate(delta, initial=base))[1:]
    ret = list(map(sum, zip(enter, duration, strict=True)))
    stamps = [0 if s == NO_STAMP else s + e for s, e in zip(stamp, enter, strict=True)]
    return list(zip(tag, lane, map(strings.__getitem__, name), conn, enter, ret, result, stamps,
                    strict=True))
