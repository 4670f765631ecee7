"""Send buffers: what the kernel holds of a server's replies until the client reads them.

A send copies into the buffer while there is room (SO_SNDBUF, server.send_buffer_bytes). As
Linux's TCP does (sk_stream_is_writeable), the socket is writable again, which wakes a blocked
send and makes POLLOUT, EPOLLOUT and SIGIO, once its free space is at least half of what it
holds: once a third of it is free; and only after a send found it full. The client is a slow
reader that takes ``read_bytes`` every ``read_every_ms`` (at those multiples of t = 0); the
buffer stands for everything between the two programs (the server's send buffer and the window
the client's receive buffer still offers). A client that reads at once (read_bytes 0) never
lets the buffer fill.

The fill is no span on the timeline (its kernel lanes show the receive side): each change is
written down, and the run's meta keeps them as ``send_buffer``: per connection, [t_us, bytes
held] from the first send on (a state pane reads the fill at any time from it).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING

import simpy

from iosim.scenario import Client

if TYPE_CHECKING:
    from iosim.sim.kernel import Kernel, Socket


class SendBuffers:
    """The send buffers of a kernel's sockets and the slow client that drains them."""

    def __init__(self, kernel: Kernel, size: int, client: Client) -> None:
        self.kernel = kernel
        self.size = size
        self.read_bytes = client.read_bytes
        self.every_us = client.read_every_ms * 1000.0
        self.fill: dict[int, list[list[float]]] = {}  # conn -> [t_us, bytes held] per change

    def space(self, sock: Socket) -> int:
        return self.size - sock.out

    def writable(self, sock: Socket) -> bool:
        return sock.out * 3 <= self.size * 2

    def put(self, sock: Socket, nbytes: int) -> None:
        """A send copied ``nbytes`` into the buffer."""
        if not self.read_bytes:
            return
        env = self.kernel.env
        sock.out += nbytes
        self._changed(sock)
        if not sock.reading:
            sock.reading = True
            env.process(self._reader(sock))

    def full(self, sock: Socket) -> None:
        """A send found no room (SOCK_NOSPACE): the buffer's draining will say so."""
        sock.nospace = True

    def wait_writable(self, sock: Socket) -> simpy.Event:
        sock.write_waiter = self.kernel.env.event()
        return sock.write_waiter

    def _changed(self, sock: Socket) -> None:
        self.fill.setdefault(sock.conn, []).append([self.kernel.env.now, sock.out])

    def meta(self) -> dict[str, object]:
        """What the run's meta keeps of the send buffers (nothing when none filled)."""
        if not self.fill:
            return {}
        return {"send_buffer": {str(conn): changes for conn, changes in self.fill.items()}}

    def _reader(self, sock: Socket) -> Generator[simpy.Event, None, None]:
        """The client reads at every multiple of read_every_ms until the buffer is empty."""
        env = self.kernel.env
        every = self.every_us
        tick = math.floor(env.now / every + 1e-9) + 1
        while sock.out:
            yield env.timeout(max(0.0, tick * every - env.now))
            tick += 1
            sock.out -= min(self.read_bytes, sock.out)
            self._changed(sock)
            if sock.nospace and self.writable(sock):
                sock.nospace = False
                self._writable_again(sock)
        sock.reading = False

    def _writable_again(self, sock: Socket) -> None:
        kernel = self.kernel
        if sock.write_waiter is not None:
            sock.write_waiter.succeed()
            sock.write_waiter = None
        if kernel.watches:
            kernel.wake_watches(write=sock.conn)
        if sock.async_io:
            kernel.raise_signal(sigio=True, cause="send space")
