"""Stopping the child processes iosim starts: asked first, killed if they do not go."""

from __future__ import annotations

import subprocess


def stop(proc: subprocess.Popen, sig: int, timeout_s: float) -> None:
    """Send ``sig`` (the child's way to finish cleanly: SIGTERM for a server that saves what
    it has, SIGINT for perf); SIGKILL if it is still running ``timeout_s`` later."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
