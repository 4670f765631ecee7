"""Option values are checked before anything is bound, simulated or drawn; binding beyond
loopback is said in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from iosim.cli import main
from iosim.errors import UserError
from iosim.real.commands import beyond_loopback_warning

BAD_OPTIONS = {
    "duration inf": ["serve", "-m", "blocking", "--duration", "inf"],
    "duration nan": ["serve", "-m", "blocking", "--duration", "nan"],
    "duration negative": ["serve", "-m", "blocking", "--duration", "-1"],
    "duration zero": ["serve", "-m", "blocking", "--duration", "0"],
    "duration a year": ["serve", "-m", "blocking", "--duration", "31536000"],
    "host empty": ["serve", "-m", "blocking", "--host", ""],
    "host a name": ["serve", "-m", "blocking", "--host", "example.com"],
    "host malformed": ["serve", "-m", "blocking", "--host", "1.2.3.4.5"],
    "port too big": ["serve", "-m", "blocking", "--port", "65536"],
    "port negative": ["serve", "-m", "blocking", "--port", "-1"],
    "at nan": ["render", "one-datagram", "-o", "{tmp}/f.png", "--at", "nan"],
    "at inf": ["render", "one-datagram", "-o", "{tmp}/f.png", "--at", "inf"],
    "at negative": ["render", "one-datagram", "-o", "{tmp}/f.png", "--at", "-3"],
    "fps nan": ["render", "one-datagram", "-o", "{tmp}/f.gif", "--fps", "nan"],
    "fps 1000": ["render", "one-datagram", "-o", "{tmp}/f.gif", "--fps", "1000"],
    "seconds inf": ["render", "one-datagram", "-o", "{tmp}/f.gif", "--seconds", "inf"],
    "seconds zero": ["render", "one-datagram", "-o", "{tmp}/f.gif", "--seconds", "0"],
    "size zero": ["render", "one-datagram", "-o", "{tmp}/f.png", "--size", "0x0"],
    "size huge": ["render", "one-datagram", "-o", "{tmp}/f.png", "--size", "99999x99999"],
    "view": ["render", "one-datagram", "-o", "{tmp}/f.png", "--view", "everything"],
    "suffix": ["render", "one-datagram", "-o", "{tmp}/f.jpg"],
    "show size": ["show", "one-datagram", "--size", "axb"],
}


@pytest.mark.parametrize("case", sorted(BAD_OPTIONS))
def test_bad_option_values_are_one_line_and_exit_2(
        case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing is started: serve would bind port 9090, render would simulate and draw."""
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    started: list[str] = []
    monkeypatch.setattr("iosim.real.serve.serve", lambda *a, **k: started.append("serve"))
    monkeypatch.setattr("iosim.view.commands.load_inputs", lambda *a: started.append("load"))
    argv = [a.replace("{tmp}", str(tmp_path)) for a in BAD_OPTIONS[case]]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and started == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("host", "warned"), [("127.0.0.1", False), ("127.0.0.2", False),
                                              ("::1", False), ("0.0.0.0", True), ("::", True),
                                              ("192.168.1.5", True), ("fe80::1", True)])
def test_binding_beyond_loopback_is_said_in_one_line(host: str, warned: bool) -> None:
    warning = beyond_loopback_warning(host)
    assert (warning is not None) == warned
    if warning:
        assert "\n" not in warning and "reachable from other machines" in warning


def test_serve_warns_before_it_binds(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The warning is on stderr by the time serve is called (here replaced: no port is
    bound beyond loopback in a test); localhost means 127.0.0.1 and no warning."""
    calls: list[tuple[str, str]] = []

    def fake_serve(model: str, proto: str, host: str, *rest: object, **kw: object) -> object:
        calls.append((host, capsys.readouterr().err))
        raise UserError("stopped here")

    monkeypatch.setattr("iosim.real.serve.serve", fake_serve)
    monkeypatch.setattr("iosim.real.session.check_model", lambda model: None)
    out = str(tmp_path / "t.json")
    for host in ("0.0.0.0", "localhost"):
        assert main(["serve", "-m", "blocking", "--host", host, "--port", "0", "-o", out]) == 2
        assert capsys.readouterr().err == "iosim: error: stopped here\n"
    (bound, warned), (local, quiet) = calls
    assert bound == "0.0.0.0" and warned.count("\n") == 1
    assert "warning: listening on every interface" in warned
    assert local == "127.0.0.1" and quiet == ""
