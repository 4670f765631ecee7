"""Shared test set-up: pygame never opens a real window or sound device; the window's tests
share a display surface and the default scenario's runs."""

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame  # noqa: E402
import pytest  # noqa: E402

WINDOW_SIZE = (1280, 720)


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
