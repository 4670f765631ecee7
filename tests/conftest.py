"""Shared test set-up: pygame never opens a real window or sound device; the window's tests
share a display surface and the default scenario's runs; what a test run makes once for all
its pytest-xdist workers lies in one folder."""

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame  # noqa: E402
import pytest  # noqa: E402

WINDOW_SIZE = (1280, 720)
SERVERS = Path(__file__).parent / "servers"


@pytest.fixture(scope="module")
def one_datagram():
    """The default scenario simulated, once per test module."""
    from iosim import scenario
    from iosim.sim.run import simulate

    return simulate(scenario.load("one-datagram"))


@pytest.fixture
def display():
    """The window's surface at its default size, under SDL's dummy driver."""
    pygame.display.init()
    surface = pygame.display.set_mode(WINDOW_SIZE)
    yield surface
    pygame.display.quit()


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """A folder of this test run that every pytest-xdist worker shares (each worker's own
    temporary folder lies in it), for what the run makes once: built programs, traces."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if hasattr(request.config, "workerinput") else base


@pytest.fixture(scope="session", autouse=True)
def shared_bytecode(run_dir: Path) -> Iterator[None]:
    """Where PYTHONDONTWRITEBYTECODE is set, every ``python -m iosim`` a test starts (about a
    hundred a run) compiles iosim again, some 0.4 s of CPU each: they share compiled files
    in the run's folder instead (PYTHONPYCACHEPREFIX; the source tree stays as it was)."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE"):
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("PYTHONDONTWRITEBYTECODE")
        patch.setenv("PYTHONPYCACHEPREFIX", str(run_dir / "pycache"))
        yield


@pytest.fixture(scope="session")
def built(run_dir: Path) -> Callable[[str], Path]:
    """A C server of tests/servers, built with -g (debug information: its lines) when a test
    first needs it, once a test run: a worker that finds it built uses it (two workers that
    build it at once each rename a whole file into place)."""
    if shutil.which("cc") is None:
        pytest.skip("no C compiler (cc)")
    folder = run_dir / "servers"
    folder.mkdir(exist_ok=True)

    def build(name: str) -> Path:
        binary = folder / name
        if binary.exists():
            return binary
        libs = ["-luring"] if name == "uring_server" else []
        if libs and not Path("/usr/include/liburing.h").exists():
            pytest.skip(f"{name} needs liburing-dev")
        partial = folder / f"{name}.{os.getpid()}"
        subprocess.run(["cc", "-g", "-O0", "-o", str(partial), str(SERVERS / f"{name}.c"),
                        "-lpthread", *libs], check=True, timeout=120)
        partial.replace(binary)
        return binary

    return build
