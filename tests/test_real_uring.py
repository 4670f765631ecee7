"""iosim's io_uring binding on real sockets: a recv's bytes land in the buffer given, and
completions beyond the ring's room are not lost."""

from __future__ import annotations

import socket

from iosim.real.uring import Ring


def test_recv_lands_in_the_buffer_and_its_completion_says_how_much() -> None:
    a, b = socket.socketpair()
    ring = Ring(4)
    try:
        buf = bytearray(16)
        ring.prep_recv(b.fileno(), buf, 7)
        ring.submit()
        assert ring.ready() == 0  # nothing sent: the read waits in the kernel
        a.sendall(b"hello")
        ring.submit(wait_for=1)
        assert ring.ready() == 1
        assert ring.pop() == (7, 5)
        assert bytes(buf[:5]) == b"hello"
        assert ring.ready() == 0
    finally:
        ring.close()
        a.close()
        b.close()


def test_completions_past_the_rings_room_are_fetched_not_dropped() -> None:
    ring = Ring(8, completions=8)
    try:
        for batch in range(3):
            for i in range(8):
                ring.prep_nop(batch * 8 + i)
            ring.submit(wait_for=0)
        seen = []
        for _ in range(24):
            if not ring.ready():
                break
            seen.append(ring.pop()[0])
        assert sorted(seen) == list(range(24))
    finally:
        ring.close()


def test_a_failed_request_returns_minus_errno() -> None:
    ring = Ring(2)
    try:
        ring.prep_recv(999_999, bytearray(4), 1)  # no such descriptor
        ring.submit(wait_for=1)
        assert ring.pop() == (1, -9)  # EBADF
    finally:
        ring.close()
