"""The kernel's side on its own: perf records a real receive in this process and the arrival of
its data, on strace's clock; where perf cannot record, the reason comes back and nothing is left
running."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from tracehelp import descendants

from iosim.traced import kernel

needs_perf = pytest.mark.skipif(shutil.which("perf") is None, reason=kernel.PERF_HINT)


def test_the_clock_offset_is_realtime_less_monotonic() -> None:
    before = time.clock_gettime_ns(time.CLOCK_REALTIME) - time.clock_gettime_ns(
        time.CLOCK_MONOTONIC)
    assert abs(kernel.clock_offset_ns() - before) < 1_000_000


@needs_perf
def test_perf_records_a_receive_and_the_arrival_of_its_data(tmp_path: Path) -> None:
    recorder = kernel.start(tmp_path)
    if isinstance(recorder, str):
        pytest.skip(f"perf may not record here: {recorder}")
    try:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            with socket.create_connection(listener.getsockname()) as client, \
                    listener.accept()[0] as server:
                sent = time.time_ns()
                client.sendall(b"12345")
                assert server.recv(16) == b"12345"
                received = time.time_ns()
    finally:
        events = recorder.stop({threading.get_native_id()})
    assert descendants() == []
    (when, sk, ret), *_ = [r for r in events.receives[threading.get_native_id()] if r[2] == 5]
    assert sent <= when <= received
    arrivals = [t for t in events.arrivals[sk] if sent <= t <= when]
    assert len(arrivals) == 1
    assert events.born[sk] and events.born[sk][-1] <= sent  # the connection, established
    assert abs(events.drift_ns) < 1_000_000


@needs_perf
def test_a_tracepoint_perf_cannot_record_comes_back_as_a_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernel, "TRACEPOINTS", ("sock:no_such_tracepoint",))
    reason = kernel.start(tmp_path)
    assert isinstance(reason, str) and reason.startswith("perf could not record")
    assert descendants() == []


def test_no_perf_is_a_reason_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernel.shutil, "which", lambda name: None)
    assert kernel.start(tmp_path) == kernel.PERF_HINT
