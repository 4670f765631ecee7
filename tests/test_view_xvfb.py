"""The real window under a real X server (Xvfb), driven with xdotool: a prepared state opens
exactly as ``iosim render`` draws it, and the mouse moves the playhead and zooms."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image, ImageChops

TOOLS = ("Xvfb", "xdotool", "import")
pytestmark = pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                                reason="needs Xvfb, xdotool and ImageMagick's import")
SIZE = (1280, 720)
WAIT_S = 20.0


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def xserver():
    """An Xvfb on a display number it chooses itself (-displayfd), stopped by its pid."""
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0",
                             f"{SIZE[0]}x{SIZE[1]}x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()  # Xvfb writes it once it accepts clients
        if not number:
            pytest.fail("Xvfb did not start")
        env = {k: v for k, v in os.environ.items() if k != "SDL_VIDEODRIVER"}
        env["DISPLAY"] = f":{number}"
        yield env
    finally:
        _stop(proc)


def xdo(env, *args: str) -> str:
    return subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True,
                          timeout=WAIT_S, check=True).stdout.strip()


@pytest.fixture
def window(xserver, tmp_path):
    """``iosim show`` of a prepared state; yields (env, window id, pid)."""
    def start(*args: str):
        proc = subprocess.Popen([sys.executable, "-m", "iosim", "show", *args],
                                env=xserver, cwd=tmp_path, stderr=subprocess.PIPE)
        started.append(proc)
        wid = xdo(xserver, "search", "--sync", "--onlyvisible", "--pid", str(proc.pid))
        return wid.splitlines()[0]

    started: list[subprocess.Popen] = []
    yield start
    for proc in started:
        _stop(proc)


def shot(env, wid: str, path: Path, previous: Image.Image | None = None) -> Image.Image:
    """A screenshot of the window; with ``previous``, taken once the window shows something
    else (a frame after the event), bounded by WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while True:
        subprocess.run(["import", "-window", wid, str(path)], env=env, check=True,
                       timeout=WAIT_S, capture_output=True)
        image = Image.open(path).convert("RGB")
        if previous is None or ImageChops.difference(image, previous).getbbox() or \
                time.monotonic() > deadline:
            return image


def stable_shot(env, wid: str, path: Path) -> Image.Image:
    """A screenshot once the window shows a frame and two shots in a row agree."""
    deadline = time.monotonic() + WAIT_S
    last = shot(env, wid, path)
    while time.monotonic() < deadline:
        now = shot(env, wid, path)
        drawn = now.getextrema() != ((0, 0), (0, 0), (0, 0))  # not the black of no frame
        if drawn and not ImageChops.difference(now, last).getbbox():
            return now
        last = now
    return last


def test_show_opens_the_prepared_state_render_draws(window, xserver, tmp_path):
    state = ["one-datagram", "--view", "3", "--axis", "scale", "--at", "20"]
    rendered = tmp_path / "render.png"
    subprocess.run([sys.executable, "-m", "iosim", "render", *state, "-o", str(rendered),
                    "--size", f"{SIZE[0]}x{SIZE[1]}"], check=True, capture_output=True,
                   timeout=60)
    expected = Image.open(rendered).convert("RGB")
    wid = window(*state, "--paused")
    xdo(xserver, "mousemove", "--window", wid, "5", "5")  # on the header: no details box
    deadline = time.monotonic() + WAIT_S
    seen = shot(xserver, wid, tmp_path / "window.png")
    while ImageChops.difference(seen, expected).getbbox() and time.monotonic() < deadline:
        seen = shot(xserver, wid, tmp_path / "window.png")  # the first frames, the pointer
    assert seen.size == expected.size
    assert ImageChops.difference(seen, expected).getbbox() is None


def test_a_click_moves_the_playhead_and_the_wheel_zooms(window, xserver, tmp_path):
    wid = window("one-datagram", "--axis", "scale", "--at", "0", "--paused")
    before = stable_shot(xserver, wid, tmp_path / "a.png")
    xdo(xserver, "mousemove", "--window", wid, "700", "56", "click", "1")  # on the ruler
    clicked = shot(xserver, wid, tmp_path / "b.png", before)
    changed = ImageChops.difference(clicked, before).getbbox()
    assert changed is not None
    header = clicked.crop((0, 0, SIZE[0], 30))
    assert ImageChops.difference(header, before.crop((0, 0, SIZE[0], 30))).getbbox()
    column = [clicked.getpixel((700, y)) for y in range(70, 600)]
    assert sum(1 for p in column if max(p) < 60) > 300  # the playhead's dark line at x = 700
    xdo(xserver, "click", "4")  # the wheel, up: zoom in around the pointer
    zoomed = shot(xserver, wid, tmp_path / "c.png", clicked)
    ruler = (0, 42, SIZE[0], 62)
    assert ImageChops.difference(zoomed.crop(ruler), clicked.crop(ruler)).getbbox()
