"""The scenario loader: every value outside what a simulation can represent and finish is
refused in one line naming the file, the key and the line; a scenario is also read from a
plain dict (the what-if panel) and written back as TOML that reads back equal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from iosim import scenario
from iosim.cli import main
from iosim.scenario import ScenarioError
from iosim.sim import run as sim_run
from iosim.sim.costs import CostsError, load_costs

GOOD = """name = "good"
protocol = "tcp"
models = ["select"]

[process]
work_us = 10

[[connections]]
sends = [[1.0, 100]]

[[connections]]
count = 2
every_ms = 1.0
messages = 3
bytes = 200
"""


@pytest.mark.parametrize("name", scenario.builtin_names())
def test_every_builtin_round_trips_through_toml_and_dict(name: str) -> None:
    sc = scenario.load(name)
    assert scenario.parse(scenario.dumps(sc), "<dumped>") == sc
    assert scenario.from_dict(scenario.to_dict(sc), "<dict>") == sc
    assert scenario.parse(scenario.dumps(sc)).connections == sc.connections


def test_round_trip_keeps_costs_and_generated_blocks(tmp_path: Path) -> None:
    """A costs file and overrides are written out as the values they give, so the dumped
    scenario stands alone; a generated block stays one block (the panel edits its count)."""
    (tmp_path / "c.toml").write_text("[costs]\nsyscall_us = 3.5\n")
    text = GOOD.replace("[process]", '[costs]\nfile = "c.toml"\nwakeup_us = 7\n\n[process]')
    sc = scenario.parse(text, str(tmp_path / "s.toml"), tmp_path)
    assert (sc.costs.syscall_us, sc.costs.wakeup_us) == (3.5, 7.0)
    data = scenario.to_dict(sc)
    assert data["costs"] == {"syscall_us": 3.5, "wakeup_us": 7.0}
    assert data["connections"][1] == {"count": 2, "first_ms": 0.0, "every_ms": 1.0,
                                      "stagger_ms": 0.0, "messages": 3, "bytes": 200}
    assert scenario.parse(scenario.dumps(sc)) == sc


def test_the_panel_edits_a_dict_and_gets_one_line_with_the_key() -> None:
    data = scenario.to_dict(scenario.load("c10k"))
    data["connections"][0]["count"] = 200
    data["process"]["poll_interval_us"] = 250.0
    edited = scenario.from_dict(data, "<what-if>")
    assert edited.active_connections == 200 and edited.process.poll_interval_us == 250.0
    data["process"]["work_us"] = float("nan")
    with pytest.raises(ScenarioError) as exc:
        scenario.from_dict(data, "<what-if>")
    assert str(exc.value) == "<what-if>: process.work_us: must be a finite number, not nan"
    with pytest.raises(ScenarioError, match="a scenario is a table"):
        scenario.from_dict([1, 2], "<what-if>")  # type: ignore[arg-type]


HOUR = "one simulated hour"
REFUSED = {  # case: (replace this in GOOD, by this, words of the one line, line number)
    "NaN time": ("[1.0, 100]", "[nan, 100]", "time must be a finite number", 9),
    "inf work": ("work_us = 10", "work_us = inf", "process.work_us: must be a finite", 6),
    "work over an hour": ("work_us = 10", "work_us = 3600000001", HOUR, 6),
    "huge work": ("work_us = 10", "work_us = " + "9" * 400, "integer of 1329 bits", 6),
    "4400 digits": ("work_us = 10", "work_us = 1" + "0" * 4400, "TOML syntax error", None),
    "send after an hour": ("[1.0, 100]", "[3600000.5, 100]", HOUR, 9),
    "generated after an hour": ("every_ms = 1.0", "every_ms = 2000000.0", "after one", 13),
    "poll interval zero": ("work_us = 10", "poll_interval_us = 0", "greater than 0", 6),
    "negative idle": ('models = ["select"]', 'models = ["select"]\nidle_connections = -1',
                      "idle_connections: must not be negative", 4),
    "bytes 2**63": ("bytes = 200", f"bytes = {2**63}", "one send holds at most 67,108,864", 15),
    "bytes float": ("bytes = 200", "bytes = 1e10", "must be an integer", 15),
    "buffer too big": ("work_us = 10", "buffer_bytes = 134217728", "at most 67,108,864", 6),
    "buffer 1e10": ("work_us = 10", "buffer_bytes = 1e10", "must be an integer", 6),
    "count 10**9": ("count = 2", "count = 1000000000", "at most 100,000", 12),
    "messages 10**9": ("messages = 3", "messages = 1000000000", "at most 100,000", 14),
    "messages in all": ("count = 2", "count = 40000", "more than 100,000 messages", 12),
    "connections in all": ('models = ["select"]', 'models = ["select"]\n'
                           'idle_connections = 99999', "more than 100,000 connections", 13),
    "bytes in all": ("messages = 3\nbytes = 200", "messages = 9\nbytes = 67108864",
                     "more than 1,073,741,824 bytes", 12),
    "UDP datagram": ("bytes = 200", "bytes = 65508", "a UDP datagram holds at most 65,507",
                     15),
    "nested 600 deep": ("[1.0, 100]", "[" * 600 + "]" * 600, "nested too deeply", None),
    "inline tables 600 deep": ("[1.0, 100]", "{a = " * 600 + "1" + "}" * 600,
                               "nested too deeply", None),
    "dotted key 40 deep": ("[process]", "a" + ".a" * 40 + " = 1\n[process]",
                           "a key of more than 32 dotted parts", 5),
    "table 40 deep": ("[process]", "[process" + ".a" * 40 + "]\n[process]",
                      "a key of more than 32 dotted parts", 5),
    "deep but parsed": ("[1.0, 100]", "[" * 50 + "1" + "]" * 50, "each send is [at_ms, bytes]",
                        9),
    "control character": ('"good"', '"a\\u0000b"', "name: must not contain control", 1),
    "title too long": ('name = "good"', 'name = "good"\ntitle = "' + "t" * 201 + '"',
                       "at most 200 characters", 2),
    "cost NaN": ("[process]", "[costs]\nwakeup_us = nan\n\n[process]", "costs.wakeup_us", 6),
    "cost over an hour": ("[process]", "[costs]\nsignal_us = 1e10\n\n[process]", HOUR, 6),
    "copy bandwidth 0": ("[process]", "[costs]\ncopy_gb_per_s = 0\n\n[process]",
                         "must not be below 0.001", 6),
    "idle time over a minute": ("[process]", "[costs]\nidle_tau_ms = 1e9\n\n[process]",
                                "at most 60,000 ms", 6),
    "costs file is a device": ("[process]", 'costs = "/dev/zero"\n[process]',
                               "/dev/zero: not a regular file", None),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_in_one_line_with_file_key_and_line(
        case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new, words, line = REFUSED[case]
    assert old in GOOD
    path = tmp_path / "bad.toml"
    text = GOOD.replace(old, new, 1)
    path.write_text(text.replace('"tcp"', '"udp"') if case == "UDP datagram" else text)
    code = main(["sim", str(path)])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    lines = err.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) < 400, err
    assert words in lines[0]
    assert str(path) in lines[0] or "/dev/zero" in lines[0]
    if line is not None:
        assert f"{path}, line {line}:" in lines[0]


def test_the_line_is_that_of_the_block_at_fault(tmp_path: Path) -> None:
    text = GOOD + "\n[[connections]]\ncount = 2\nmessages = 1\n\n[[connections]]\nbytes = -5\n"
    with pytest.raises(ScenarioError) as exc:
        scenario.parse(text, "x.toml")
    assert str(exc.value) == "x.toml, line 17: connections.bytes: missing"  # the block's
    with pytest.raises(ScenarioError) as exc:
        scenario.parse(text.replace("messages = 1\n", "messages = 1\nbytes = 1\n"), "x.toml")
    assert str(exc.value).startswith("x.toml, line 23: connections.bytes: bytes must not be")


def test_a_costs_file_names_its_own_file_key_and_line(tmp_path: Path) -> None:
    costs = tmp_path / "costs.toml"
    costs.write_text("# measured\n[costs]\nsyscall_us = 1.0\nwakeup_us = inf\n")
    with pytest.raises(CostsError) as exc:
        load_costs(costs)
    assert str(exc.value) == f"{costs}, line 4: cost 'wakeup_us' must be a finite number, " \
                             "not inf"
    costs.write_text("syscall_us = 1.0\n" + "# padding\n" * 7000)
    with pytest.raises(CostsError, match="at most 65,536 bytes"):
        load_costs(costs)


def test_files_that_are_not_small_regular_files(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)  # opening it for reading must not wait for a writer
    with pytest.raises(ScenarioError, match="not a regular file"):
        scenario.load(str(fifo))
    big = tmp_path / "big.toml"
    big.write_text(GOOD + "#" * scenario.MAX_FILE_BYTES)
    with pytest.raises(ScenarioError, match="at most 4,194,304 bytes"):
        scenario.load(str(big))
    with pytest.raises(ScenarioError, match="not UTF-8"):
        (tmp_path / "latin.toml").write_bytes(b'name = "caf\xe9"\n')
        scenario.load(str(tmp_path / "latin.toml"))
    with pytest.raises(ScenarioError, match="NUL"):
        scenario.load("a\0b")
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(ScenarioError, match="dir.toml: not a regular file"):
        scenario.load(str(tmp_path / "dir.toml"))


def _events_per_read(model: str, nbytes: int, buffer_bytes: int) -> tuple[float, float]:
    """(SimPy events, trace events) per read of a scenario shaped like the largest accepted
    one (many connections, many messages each), scaled down; a message of ``nbytes`` takes
    ceil(nbytes / buffer_bytes) reads."""
    text = f"""name = "scaled"
protocol = "tcp"
models = ["{model}"]
[process]
work_us = 5
poll_interval_us = 100
buffer_bytes = {buffer_bytes}
[[connections]]
count = 20
stagger_ms = 0.013
every_ms = 0.7
messages = 50
bytes = {nbytes}
"""
    sc = scenario.parse(text)
    run = sim_run.simulate_run(sc, model, sc.costs)
    # epoll-et reads once per arrival: with reads smaller than a message it stalls, by design
    # (the edge-triggered scenario), and makes fewer reads than the others
    assert run.error is None or (model == "epoll-et" and "blocked forever" in run.error)
    reads = sc.message_count * -(-nbytes // buffer_bytes)
    return run.sim_events / reads, len(run) / reads


@pytest.mark.parametrize(("nbytes", "buffer_bytes"), [(700, 65536), (7000, 700)])
def test_the_event_limit_lets_the_largest_accepted_scenario_finish(nbytes: int,
                                                                   buffer_bytes: int) -> None:
    """MAX_MESSAGES messages (or reads) need fewer events than MAX_EVENTS in every model, with
    a margin for the connections' own calls: the simulator's limit stops only runs that
    cannot end."""
    for model in scenario.SIM_MODELS:
        steps, rows = _events_per_read(model, nbytes, buffer_bytes)
        assert max(steps, rows) * scenario.MAX_MESSAGES < 0.9 * sim_run.MAX_EVENTS, model


def test_a_run_that_cannot_end_stops_at_the_event_limit(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    """A poll interval of a femtosecond against a send an hour away: nonblocking polls until
    the limit, then says so (the real limit takes seconds; the test lowers it)."""
    monkeypatch.setattr(sim_run, "MAX_EVENTS", 20_000)
    sc = scenario.parse('models = ["nonblocking"]\n[process]\npoll_interval_us = 1e-9\n'
                        '[[connections]]\nsends = [[3600000, 10]]\n')
    run = sim_run.simulate_run(sc, "nonblocking", sc.costs)
    assert run.error is not None and run.error.startswith("did not finish within")
    assert len(run) < 2 * 20_000 + 10


def test_reads_are_counted_like_messages() -> None:
    """A TCP read takes at most buffer_bytes: an 8 MB send read 7 bytes at a time is 1.2
    million reads, each as costly as a message, and a run could never finish them."""
    text = ('protocol = "tcp"\n[process]\nbuffer_bytes = {}\n'
            '[[connections]]\nsends = [[1.0, 8388608]]\n')
    with pytest.raises(ScenarioError) as exc:
        scenario.parse(text.format(7), "tiny.toml")
    assert str(exc.value) == ("tiny.toml, line 5: connections.sends: reading the sends 7 bytes "
                              "at a time (process.buffer_bytes) takes more than 100,000 reads "
                              "in all")
    assert scenario.parse(text.format(84)).message_count == 1  # 99,865 reads
    udp = 'protocol = "udp"\n[process]\nbuffer_bytes = 1\n[[connections]]\nsends = [[1.0, 900]]'
    assert scenario.parse(udp).message_count == 1  # a datagram is one read, whatever its size
