"""The spool ``iosim serve`` writes while it serves: rows come back exactly, a file cut off or
damaged anywhere reads up to its last whole record (never a traceback), the keep policies keep
what they say and bound the file, and kill -9 loses only what was not yet written."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import time
from pathlib import Path

import pytest
from servehelp import DEADLINE_S, ServeChild, recv_exact

from iosim import cli
from iosim import trace as trace_mod
from iosim.errors import UserError
from iosim.real.keep import parse_keep
from iosim.real.record import CALL, PROCESS, SO_TIMESTAMPNS
from iosim.real.spool import RECORD, encode, read_block, scan
from iosim.real.spooler import SpoolWriter

T0 = 1_700_000_000_000_000_000
HEADER = {"kind": "serve", "model": "select", "protocol": "tcp", "host": "127.0.0.1",
          "port": 9, "t0_ns": T0}


def exchange(k: int, conn: int = 0) -> list[tuple]:
    """The rows of one message of a select server: select, recvfrom (stamped), process."""
    t = T0 + 1_000_000 + k * 50_000
    return [(CALL, 0, "select", -1, t, t + 20_000, 1, 0),
            (CALL, 0, "recvfrom", conn, t + 21_000, t + 23_000, 4, t + 19_000),
            (PROCESS, 0, "process data", conn, t + 23_500, t + 24_000, 0, 0)]


def write_spool(path: Path, keep: str, blocks: int, per_block: int,
                finish: bool = True) -> SpoolWriter:
    writer = SpoolWriter(path, HEADER, parse_keep(keep))
    for b in range(blocks):
        writer.rows([row for k in range(b * per_block, (b + 1) * per_block)
                     for row in exchange(k, conn=k % 3)])
    if finish:
        writer.finish({"end_ns": T0 + 1_000_000 + blocks * per_block * 50_000, "error": None})
    writer.close()
    return writer


def test_rows_come_back_exactly(tmp_path: Path) -> None:
    stamp = struct.pack("qq", T0 // 10**9, T0 % 10**9 + 5)
    rows = [(CALL, 1, "recvfrom", 7, T0 + 10, T0 + 30, 100,
             [(socket.SOL_SOCKET, SO_TIMESTAMPNS, stamp)]),
            (CALL, 0, "recvfrom", 2, T0 + 5, T0 + 6, -1, 0),  # earlier: another thread's row
            (CALL, 0, "épöll_wait", -1, T0 + 40, T0 + 41, -2, []),
            (PROCESS, 1, "process data", 7, T0 + 31, T0 + 35, 0, 0)]
    block = encode(rows)
    path = tmp_path / "s.trace"
    writer = SpoolWriter(path, HEADER, parse_keep("all"))
    writer.rows(rows)
    writer.close()
    found = scan(path)
    assert (block.messages, block.calls) == (1, 3) and found.note == "" and found.end is None
    with open(path, "rb") as f:
        back = read_block(f, found.blocks[0])
    expected = [(*rows[0][:7], T0 + 5), rows[1], (*rows[2][:7], 0), rows[3]]
    assert back == expected


def test_a_cut_or_damaged_file_reads_up_to_its_last_whole_record(tmp_path: Path) -> None:
    path = tmp_path / "s.trace"
    write_spool(path, "all", blocks=4, per_block=25)
    whole = path.read_bytes()
    complete = trace_mod.load(path).runs[0]
    assert complete.message_count == 100 and "note" not in complete.meta
    header_end = len(whole) - sum(e.length + RECORD.size for e in scan(path).entries)
    cut = tmp_path / "cut.trace"
    for n in [*range(0, header_end + 8), *range(header_end + 8, len(whole), 37)]:
        cut.write_bytes(whole[:n])
        try:
            run = trace_mod.load(cut).runs[0]
        except UserError as exc:
            assert n < header_end and "\n" not in str(exc)
            continue
        assert n >= header_end
        assert "did not finish" in run.meta["note"]
        assert run.message_count in (0, 25, 50, 75, 100)
    for n in range(header_end, len(whole), 53):  # one byte flipped anywhere after the header
        damaged = bytearray(whole)
        damaged[n] ^= 0x40
        cut.write_bytes(bytes(damaged))
        run = trace_mod.load(cut).runs[0]
        assert run.message_count <= 100 and "note" in run.meta


def test_a_file_that_is_no_trace_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "x.trace"
    path.write_bytes(b"IOSIMSPL" + os.urandom(200))
    with pytest.raises(UserError) as refused:
        trace_mod.load(path)
    assert "\n" not in str(refused.value) and str(path) in str(refused.value)


@pytest.mark.parametrize(("keep", "messages", "first"), [
    ("all", 200, 0), ("first:30", 40, 0), ("last:30", 40, 160), ("every:2", 100, 0)])
def test_keep_policies_keep_what_they_say(tmp_path: Path, keep: str, messages: int,
                                          first: int) -> None:
    path = tmp_path / "s.trace"
    write_spool(path, keep, blocks=10, per_block=20)
    run = trace_mod.load(path).runs[0]
    assert run.message_count == messages
    kept = run.meta["kept"]
    assert kept["policy"] == keep and kept["first_message"] == first
    assert kept["messages_total"] == 200 and run.meta["calls_total"] == 400


def test_the_summary_says_what_was_kept_in_its_table_and_its_json(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The whole run's counts the table prints under a serve run are in its JSON too."""
    path = tmp_path / "s.trace"
    writer = SpoolWriter(path, HEADER, parse_keep("last:30"))
    writer.counters.clients, writer.counters.replies_unsent = 3, 2
    for k in range(0, 200, 20):  # ten blocks of 20 messages
        writer.rows([row for m in range(k, k + 20) for row in exchange(m, conn=m % 3)])
    writer.finish({"end_ns": T0 + 20_000_000, "error": None})
    writer.close()
    assert cli.main(["summary", str(path)]) == 0
    assert capsys.readouterr().out.endswith(
        "select: served 200 messages; the trace keeps 40 (last:30), from message 161; "
        "2 replies not sent\n")
    assert cli.main(["summary", str(path), "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    assert run["kept"] == {"policy": "last:30", "messages": 40, "first_message": 160,
                           "from_start_us": 9000.0, "messages_total": 200, "calls_total": 400,
                           "clients": 3, "replies_unsent": 2, "dropped_queue_full": 0}
    assert len(run["messages"]) == 40


def test_last_n_bounds_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.trace"
    writer = write_spool(path, "last:50", blocks=40, per_block=10)
    blocks = scan(path).blocks
    assert 5 <= len(blocks) <= 10  # between N and 2N messages on disk
    assert os.path.getsize(path) == writer.size
    run = trace_mod.load(path).runs[0]
    assert run.message_count == 50 and run.meta["kept"]["first_message"] == 350
    assert run.meta["from_start_us"] > 0


def test_kill_9_loses_only_what_was_not_written(tmp_path: Path) -> None:
    server = ServeChild(tmp_path, "epoll")
    try:
        with server.connect() as client:
            assert recv_exact(client, 5) == b"hello"
            rounds = 0
            deadline = time.monotonic() + DEADLINE_S
            while not scan(server.output).blocks and time.monotonic() < deadline:
                client.sendall(b"ping")
                assert recv_exact(client, 5) == b"hello"
                rounds += 1
            written = sum(e.messages for e in scan(server.output).blocks)
            os.kill(server.pid, signal.SIGKILL)
            server.exited(DEADLINE_S)
    finally:
        server.kill()
    run = trace_mod.load(server.output).runs[0]
    assert 0 < written <= run.message_count <= rounds
    assert "did not finish" in run.meta["note"]
