"""A costs file, given with ``--costs`` or named by a scenario's ``costs =``, is refused in one
line that names it whatever it holds (wrong types, NaN, huge numbers, binary, a directory,
unknown keys, nesting of any depth), never with a traceback; and a file nested thousands deep,
scenario or costs, is refused within a small memory bound instead of being parsed."""

from __future__ import annotations

import os
import resource
import select
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from iosim import scenario
from iosim.checks import MAX_KEY_PARTS
from iosim.cli import main
from iosim.errors import UserError
from iosim.sim.costs import load_costs

DEEP = 10_000  # tomllib alone takes 1.4 s and 400 MB over a dotted key this deep
BAD = {  # file text: words of the refusal
    "a string": ('syscall_us = "fast"', "cost 'syscall_us' must be a number, not 'fast'"),
    "NaN": ("[costs]\nwakeup_us = nan", "line 2: cost 'wakeup_us' must be a finite number"),
    "infinity": ("signal_us = -inf", "must be a finite number, not -inf"),
    "huge": ("syscall_us = 1e308", "must be at most 3,600,000,000 µs"),
    "huge integer": ("syscall_us = " + "9" * 4000, "not an integer of 13288 bits"),
    "too many digits": ("syscall_us = " + "9" * 5000, "TOML syntax error"),
    "negative": ("epoll_ctl_us = -1", "must not be negative"),
    "zero bandwidth": ("copy_gb_per_s = 0", "must not be below 0.001"),
    "a boolean": ("syscall_us = true", "must be a number, not true"),
    "a date": ("syscall_us = 1979-05-27", "must be a number, not 1979-05-27"),
    "a time": ("syscall_us = 07:32:00", "must be a number, not 07:32:00"),
    "an array": ("syscall_us = [1, 2]", "must be a number, not [1, 2]"),
    "a table": ("[syscall_us]\nx = 1", "must be a number, not a table"),
    "unknown key": ("[costs]\nsyscal_us = 1", "line 2: unknown cost key 'syscal_us'"),
    "unknown nested": ("[costs.more]\nx = 1", "unknown cost key 'more'"),
    "file inside": ('[costs]\nfile = "other.toml"', "unknown cost key 'file'"),
    "costs not a table": ('costs = "other.toml"', "'costs' must be a table"),
    "array of tables": ("[[costs]]\nsyscall_us = 1", "'costs' must be a table"),
    "duplicate key": ("syscall_us = 1\nsyscall_us = 2", "TOML syntax error"),
    "NUL": ("syscall_us = 1\0", "TOML syntax error"),
    "arrays deep": ("x = " + "[" * DEEP + "]" * DEEP, "arrays or tables nested too deeply"),
    "inline tables deep": ("x = " + "{a = " * DEEP + "1" + "}" * DEEP, "nested too deeply"),
    "dotted key deep": ("x" + ".x" * DEEP + " = 1", f"line 1: a key of more than "
                        f"{MAX_KEY_PARTS} dotted parts"),
    "header deep": ("# measured\n[" + "x." * DEEP + "x]", "line 2: a key of more than"),
    "spaced dotted key": ("[costs]\n" + "x . " * 40 + "x = 1", "line 2: a key of more than"),
}


def _costs_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    files = {}
    for case, (text, words) in BAD.items():
        path = tmp_path / f"{case.replace(' ', '-')}.toml"
        path.write_text(text, encoding="utf-8")
        files[case] = (path, words)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(bytes(range(256)))
    files["binary"] = (binary, "not UTF-8 text (byte 128)")
    (tmp_path / "dir.toml").mkdir()
    files["a directory"] = (tmp_path / "dir.toml", "not a regular file")
    files["missing"] = (tmp_path / "none.toml", "no such file")
    big = tmp_path / "big.toml"
    big.write_text("syscall_us = 1\n" + "#" * 70_000)
    files["too big"] = (big, "a costs file is at most 65,536 bytes")
    return files


def _refusal(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert (code, out) == (2, ""), err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("iosim: error: ") and len(lines[0]) < 1000
    return lines[0]


def test_a_bad_costs_file_is_one_line_naming_it_by_every_way_in(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for case, (path, words) in _costs_files(tmp_path).items():
        scenario_file = tmp_path / "uses.toml"
        for argv, text in (
                (["sim", "one-datagram", "--costs", str(path)], None),
                (["export", "one-datagram", "--csv", str(tmp_path / "x.csv"), "--costs",
                  str(path)], None),
                (["sim", str(scenario_file)], f'costs = "{path.name}"\n'),
                (["sim", str(scenario_file)], f'[costs]\nfile = "{path.name}"\nwork_us = 1\n')):
            if text is not None:
                scenario_file.write_text(text + "[[connections]]\nsends = [[1.0, 10]]\n")
            line = _refusal(argv, capsys)
            assert f"{path}" in line and words in line, (case, argv, line)
    assert not (tmp_path / "x.csv").exists()


def test_an_empty_costs_file_name_is_refused_and_an_empty_file_is_the_defaults(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "an empty costs file name" in _refusal(["sim", "one-datagram", "--costs", ""],
                                                  capsys)
    (tmp_path / "empty.toml").write_text("\n# nothing measured yet\n")
    assert load_costs(tmp_path / "empty.toml") == scenario.load("one-datagram").costs


def _in_child_under(headroom_mb: int, work: Callable[[], object]) -> str:
    """``work()`` in a forked child whose address space may grow by ``headroom_mb`` at most;
    the one-line refusal it raised. A child still working after a minute is a hang."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            with open("/proc/self/statm") as f:
                now = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            limit = now + headroom_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            try:
                work()
            except UserError as exc:
                os.write(write, str(exc).encode()[:2000])
                status = 0
            except MemoryError:
                status = 3
        finally:
            os._exit(status)
    os.close(write)
    pidfd = os.pidfd_open(pid)
    try:
        finished = select.select([pidfd], [], [], 60.0)[0]
        if not finished:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        message = os.read(read, 4096).decode()
        os.close(read)
    assert finished, "a hang"
    assert os.waitstatus_to_exitcode(status) == 0, \
        {1: "not refused", 3: "out of memory"}.get(os.waitstatus_to_exitcode(status), status)
    return message


@pytest.mark.parametrize("shape", ["dotted key", "table header", "array of tables header"])
def test_a_scenario_nested_thousands_deep_is_refused_within_100_mb(tmp_path: Path,
                                                                   shape: str) -> None:
    """The largest scenario file a key nests in from end to end (tomllib alone would need
    gigabytes for it): refused before it is parsed."""
    depth = scenario.MAX_FILE_BYTES // 2 - 10
    text = {"dotted key": "a" + ".a" * depth + " = 1",
            "table header": "[" + "a." * depth + "a]",
            "array of tables header": "[[" + "a." * depth + "a]]"}[shape]
    path = tmp_path / "deep.toml"
    path.write_text('name = "deep"\n' + text)
    message = _in_child_under(100, lambda: scenario.load(str(path)))
    assert message == (f"{path}, line 2: a key of more than {MAX_KEY_PARTS} dotted parts (a "
                       "scenario nests at most an array of [at_ms, bytes] pairs)")


def test_a_costs_file_nested_deep_is_refused_within_100_mb(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("[costs]\n" + "x = " + "[" * 30_000 + "]" * 30_000)
    assert "nested too deeply" in _in_child_under(100, lambda: load_costs(path))
    path.write_text("[costs." + "x." * 30_000 + "x]")
    assert "dotted parts" in _in_child_under(100, lambda: load_costs(path))


def test_keys_as_deep_as_allowed_are_read() -> None:
    """A key of exactly MAX_KEY_PARTS parts, and strings and floats full of dots, parse."""
    key = ".".join(["k"] * MAX_KEY_PARTS)
    with pytest.raises(scenario.ScenarioError, match="unknown key"):
        scenario.parse(f"{key} = 1\n")
    sc = scenario.parse('title = "1.2.3"\n[[connections]]\nsends = [' +
                        ", ".join(f"[{i}.5, 10]" for i in range(100)) + "]\n")
    assert len(sc.connections[0]) == 100
