"""Safe output: every command that writes checks, before any work, that it can create its file;
a write that fails midway keeps the older file, leaves nothing behind and says so in one line;
temporary files are unique and never followed through a link; default names stay here."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from iosim import files
from iosim import trace as trace_mod
from iosim.cli import main
from iosim.errors import UserError
from iosim.files import atomic_open, check_writable, safe_name

BAD_SCENARIO = "no-such-scenario-anywhere"  # the output must be refused before it is looked at

WRITERS = {
    "sim -o": ["sim", BAD_SCENARIO, "-o", "{out}"],
    "export --chrome": ["export", BAD_SCENARIO, "--chrome", "{out}"],
    "export --csv": ["export", BAD_SCENARIO, "--csv", "{out}"],
    "render png": ["render", BAD_SCENARIO, "-o", "{out}.png"],
    "render gif": ["render", BAD_SCENARIO, "-o", "{out}.gif"],
    "capture -o": ["capture", BAD_SCENARIO, "-m", "select", "-o", "{out}"],
    "serve -o": ["serve", "-m", "blocking", "--port", "0", "-o", "{out}"],
    "calibrate -o": ["calibrate", "--quick", "-o", "{out}"],
}


def _out_cases(tmp_path: Path) -> dict[str, tuple[str, str]]:
    (tmp_path / "dir.json").mkdir()
    (tmp_path / "dir.json.png").mkdir()
    (tmp_path / "dir.json.gif").mkdir()
    os.mkfifo(tmp_path / "fifo")
    return {"missing directory": (str(tmp_path / "nowhere" / "x.json"), "no such directory"),
            "a directory": (str(tmp_path / "dir.json"), "is a directory"),
            "a pipe": (str(tmp_path / "fifo"), "not a regular file")}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_every_writer_checks_its_output_before_any_work(
        writer: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The scenario named does not exist, the server would bind, calibrate would measure for
    5 s: the output's error comes first, so none of it happened."""
    for case, (out, words) in _out_cases(tmp_path).items():
        if case == "a pipe" and writer.startswith("render"):
            continue  # the suffix is added to the pipe's name: a missing file, which is fine
        argv = [a.replace("{out}", out) for a in WRITERS[writer]]
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2, (case, err)
        assert words in err and len(err.strip().splitlines()) == 1, (case, err)
        assert BAD_SCENARIO not in err
    assert not any(p.name.endswith(".tmp") for p in tmp_path.rglob("*"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in a read-only directory")
def test_a_read_only_directory_is_found_before_any_work(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert main(["sim", BAD_SCENARIO, "-o", str(locked / "x.json")]) == 2
        assert "cannot write in" in capsys.readouterr().err
    finally:
        locked.chmod(0o755)


def _limit_file_size(size: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


@pytest.mark.parametrize("argv", [["sim", "burst", "-o", "out.json"],
                                  ["export", "burst", "--chrome", "out.json"]])
def test_a_write_that_fails_midway_keeps_the_older_file(argv: list[str], tmp_path: Path
                                                        ) -> None:
    """A full disk, made here by a file size limit (the write fails with EFBIG as it would
    with ENOSPC): exit 2, one line that says the older file is kept, the older file intact,
    no temporary file left."""
    old = tmp_path / "out.json"
    old.write_text("the older file")
    proc = subprocess.run([sys.executable, "-m", "iosim", *argv], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: _limit_file_size(64 * 1024))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert "out.json: cannot write (File too large); nothing was written (the older file is " \
           "kept)" in proc.stderr
    assert old.read_text() == "the older file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_two_writers_of_one_output_both_finish_with_a_whole_file(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "iosim", "sim", "burst", "-o", "same.json"]
    procs = [subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    try:
        errors = [p.communicate(timeout=120)[1] for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    assert len(trace_mod.load(tmp_path / "same.json").runs) == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.json"]


def test_a_link_planted_at_the_temporary_name_is_never_followed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even at a name guessed right (the random part fixed here), the temporary file is
    created exclusively, without following links: the write is refused, the target of the
    link untouched."""
    monkeypatch.setattr(files.secrets, "token_hex", lambda _n: "guessed")
    victim = tmp_path / "victim"
    victim.write_text("precious")
    out = tmp_path / "out.json"
    (tmp_path / f".out.json.{os.getpid()}.guessed.tmp").symlink_to(victim)
    with pytest.raises(UserError, match="cannot write"), atomic_open(out) as f:
        f.write("x")
    assert victim.read_text() == "precious" and not out.exists()


def test_an_error_while_writing_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    with pytest.raises(KeyboardInterrupt), atomic_open(out) as f:
        f.write("half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("name", "stem"), [("../x", "x"), ("/etc/passwd", "etc-passwd"),
                                            ("..", "iosim"), ("a b/c\\d", "a-b-c-d"),
                                            (".hidden", "hidden"), ("é" * 300, "iosim"),
                                            ("many-clients", "many-clients")])
def test_names_become_file_names_in_this_directory(name: str, stem: str) -> None:
    assert safe_name(name) == stem
    assert Path(safe_name(name)).parent == Path(".")


def test_capture_default_output_stays_in_the_current_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scenario named "../../escape" is captured to ./escape-select.trace.json (the capture
    itself replaced by a simulation: the name is what is tested)."""
    from iosim.real import session
    from iosim.sim.run import simulate

    (tmp_path / "s.toml").write_text('name = "../../escape"\n[[connections]]\n'
                                     'sends = [[1.0, 10]]\n')
    monkeypatch.setattr(session, "capture", lambda sc, models, progress: simulate(sc, models))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["capture", "../s.toml", "-m", "select"]) == 0
    assert [p.name for p in work.iterdir()] == ["escape-select.trace.json"]


def test_export_refuses_one_file_for_both_formats(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "x")
    assert main(["export", "one-datagram", "--chrome", out, "--csv", out]) == 2
    assert "the same file" in capsys.readouterr().err


def test_check_writable_leaves_nothing_and_accepts_an_existing_file(tmp_path: Path) -> None:
    (tmp_path / "old.json").write_text("x")
    assert check_writable(tmp_path / "old.json") == tmp_path / "old.json"
    assert check_writable(tmp_path / ("n" * 250)) == tmp_path / ("n" * 250)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.json"]
    with pytest.raises(UserError, match="not a file name"):
        check_writable("a\0b")
