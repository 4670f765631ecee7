"""One real server per IO model, written plainly with the standard library.

Each model makes the same calls as the simulator's program of the same name (sim/models.py), so
that a simulation and a capture of one scenario can be compared call for call. Every call goes
through ``Server.recv`` / ``Server.call`` (process.py), which write one row each.

A server runs in one of two modes:

- capture (``Messages`` with the scenario's sizes): the connections are open before t = 0; the
  run ends with ``AllDone`` once the scenario's last message has been processed;
- serve (``listener`` set): connections come and go; every chunk read is a message and gets
  b'hello' back; the run ends when the process is told to stop (``Stop``).
"""

from __future__ import annotations

import asyncio
import fcntl
import gc
import os
import select
import selectors
import signal
import threading
from collections.abc import Callable
from time import time_ns

from iosim.real.process import AllDone, Conn, RunError, Server
from iosim.real.record import CALL, HANDLER, WOULDBLOCK

FD_SETSIZE = 1024


# -- the models ------------------------------------------------------------------------------


def blocking(s: Server) -> None:
    """recvfrom on each socket in turn, blocking; serving TCP, one client at a time (the
    classic iterative server)."""
    for c in s.conns:
        c.sock.setblocking(True)
    while True:
        if s.listener is not None and not s.open:
            s.accept()
            continue
        if not s.open:
            return
        for c in list(s.open):
            s.read_and_handle(c)


def nonblocking(s: Server) -> None:
    """A pass of recvfrom over every socket; after a pass that found nothing, own work for
    poll_interval_us (a busy loop: the process keeps the CPU, as in Stevens's figure)."""
    for c in s.conns:
        c.sock.setblocking(False)
    if s.listener is not None:
        s.listener.setblocking(False)
    while True:
        found = False
        if s.listener is not None:
            new = s.accept()
            if new is not None:
                new.sock.setblocking(False)
                found = True
        for c in list(s.open):
            if s.read_and_handle(c) != WOULDBLOCK:
                found = True
        if not found:
            if not s.open and s.listener is None:
                return
            s.work(s.poll_ns)


def _watch(s: Server) -> dict[int, Conn | None]:
    """Descriptor -> connection for the multiplexers (None: the listening socket)."""
    watched: dict[int, Conn | None] = {c.fd: c for c in s.open}
    if s.listener is not None:
        watched[s.listener.fileno()] = None
    return watched


def _dispatch(s: Server, ready: list[int], watched: dict[int, Conn | None],
              on_new: Callable[[Conn], None], on_gone: Callable[[Conn], None]) -> None:
    for fd in ready:
        c = watched.get(fd)
        if c is None:
            if fd in watched:
                new = s.accept()
                if new is not None:
                    watched[new.fd] = new
                    on_new(new)
            continue
        if c not in s.open:
            continue
        n = s.recv(c)
        if n == 0 and s.eof_drops(c):
            del watched[fd]
            on_gone(c)
            s.drop(c)
        elif n >= 0:
            s.handle(c, n)


def _nothing(_c: Conn) -> None:
    return None


def select_model(s: Server) -> None:
    """Block in select until a socket is readable, then recvfrom it. Python's select.select
    refuses a descriptor >= FD_SETSIZE (ValueError), as the C call would misbehave: the run
    ends there with an error that says so."""
    watched = _watch(s)
    while watched:
        fds = list(watched)
        enter = time_ns()
        s.waiting = ("select", enter)
        try:
            ready, _, _ = select.select(fds, [], [])
        except ValueError:  # refused before reaching the kernel: no call was made
            s.waiting = ("", 0)
            highest = max(fds)
            raise RunError(f"select: descriptor {highest} >= FD_SETSIZE ({FD_SETSIZE}); "
                           "select cannot watch it (use poll or epoll)") from None
        s.rows.append((CALL, 0, "select", -1, enter, time_ns(), len(ready), 0))
        _dispatch(s, ready, watched, _nothing, _nothing)


def poll_model(s: Server) -> None:
    """Block in poll until a socket is readable, then recvfrom it."""
    watched = _watch(s)
    poller = select.poll()
    for fd in watched:
        poller.register(fd, select.POLLIN)
    while watched:
        enter = time_ns()
        s.waiting = ("poll", enter)
        events = poller.poll()
        s.rows.append((CALL, 0, "poll", -1, enter, time_ns(), len(events), 0))
        _dispatch(s, [fd for fd, _ in events], watched,
                  lambda c: poller.register(c.fd, select.POLLIN),
                  lambda c: poller.unregister(c.fd))


def epoll_model(s: Server) -> None:
    """epoll_create, epoll_ctl per socket, then block in epoll_wait and recvfrom the ready."""
    watched = _watch(s)
    ep = s.call("epoll_create", -1, select.epoll)
    assert isinstance(ep, select.epoll)

    def add(fd: int, conn: int) -> None:
        s.call("epoll_ctl", conn, ep.register, fd, select.EPOLLIN)

    try:
        for fd, c in watched.items():
            add(fd, -1 if c is None else c.conn)
        while watched:
            enter = time_ns()
            s.waiting = ("epoll_wait", enter)
            events = ep.poll()
            s.rows.append((CALL, 0, "epoll_wait", -1, enter, time_ns(), len(events), 0))
            _dispatch(s, [fd for fd, _ in events], watched, lambda c: add(c.fd, c.conn),
                      lambda c: ep.unregister(c.fd))
    finally:
        ep.close()


def sigio(s: Server) -> None:
    """Establish a SIGIO handler, set F_SETOWN and O_ASYNC on every socket, and keep working;
    the handler reads each socket until EWOULDBLOCK (one SIGIO may stand for many arrivals)."""
    state = {"busy": False, "again": False}

    def drain(c: Conn) -> None:
        while c in s.open:
            if s.read_and_handle(c) in (WOULDBLOCK, 0):
                return

    def handler(_signum: int, _frame: object) -> None:
        if state["busy"]:  # a SIGIO during the handler: run the drain once more afterwards
            state["again"] = True
            return
        enter = time_ns()
        state["busy"] = True
        try:
            again = True
            while again:
                state["again"] = False
                if s.listener is not None:
                    while (new := s.accept()) is not None:
                        arm(new)
                for c in list(s.open):
                    drain(c)
                again = state["again"]
        finally:
            state["busy"] = False
            s.rows.append((HANDLER, 0, "signal handler", -1, enter, time_ns()))

    def arm(c: Conn | None) -> None:
        sock = s.listener if c is None else c.sock
        assert sock is not None
        fd, conn = sock.fileno(), (-1 if c is None else c.conn)
        s.call("fcntl F_SETOWN", conn, fcntl.fcntl, fd, fcntl.F_SETOWN, os.getpid())
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        s.call("fcntl O_ASYNC", conn, fcntl.fcntl, fd, fcntl.F_SETFL,
               flags | os.O_ASYNC | os.O_NONBLOCK)

    s.call("sigaction", -1, signal.signal, signal.SIGIO, handler)
    try:
        if s.listener is not None:
            arm(None)
        for c in s.conns:
            arm(c)
        if _any_readable(s):  # data or a client that came before O_ASYNC raised no signal
            signal.raise_signal(signal.SIGIO)
        s.own_work_begins()
        while s.open or s.listener is not None:
            pass  # the process continues executing; SIGIO interrupts it
    finally:
        signal.signal(signal.SIGIO, signal.SIG_IGN)


def _any_readable(s: Server) -> bool:
    """Data queued on a socket, or a connection waiting on the listening socket."""
    poller = select.poll()
    for c in s.open:
        poller.register(c.fd, select.POLLIN)
    if s.listener is not None:
        poller.register(s.listener.fileno(), select.POLLIN)
    return bool(poller.poll(0))


def threaded(s: Server) -> None:
    """A thread per connection, each blocking in recvfrom: no socket holds up another. The
    main thread waits (serving TCP: it accepts, and starts a thread per client)."""
    def serve_one(c: Conn) -> None:
        try:
            while c in s.open:
                s.read_and_handle(c, c.lane)
        except AllDone:
            s.finished.set()
        except OSError as exc:
            if not s.serving:
                s.fail(f"thread of connection {c.conn}: {exc}")
                s.finished.set()

    def start(c: Conn) -> None:
        c.sock.setblocking(True)
        c.lane = 1  # its rows belong on the lane of its thread
        threading.Thread(target=serve_one, args=(c,), daemon=True,
                         name=f"conn {c.conn}").start()

    for c in s.conns:
        start(c)
    if s.listener is not None and s.protocol == "tcp":
        while True:
            new = s.accept()
            if new is not None:
                start(new)
    while not s.finished.wait(0.05):
        pass


class _RecordingSelector(selectors.EpollSelector):
    """asyncio's event loop waits in epoll_wait: record each of those calls."""

    rows: list[tuple]

    def select(self, timeout: float | None = None) -> list:  # type: ignore[override]
        enter = time_ns()
        events = super().select(timeout)
        self.rows.append((CALL, 0, "epoll_wait", -1, enter, time_ns(), len(events), 0))
        return events


def asyncio_model(s: Server) -> None:
    """A task per connection on asyncio's event loop (epoll underneath): each awaits
    readability, then reads with a non-blocking recvfrom."""
    selector = _RecordingSelector()
    selector.rows = s.rows
    loop = asyncio.SelectorEventLoop(selector)

    async def readable(fd: int) -> None:
        future = loop.create_future()
        loop.add_reader(fd, future.set_result, None)
        try:
            await future
        finally:
            loop.remove_reader(fd)

    async def serve_one(c: Conn) -> None:
        c.sock.setblocking(False)
        while c in s.open:
            await readable(c.fd)
            s.read_and_handle(c)

    async def main() -> None:
        tasks = {asyncio.ensure_future(serve_one(c)) for c in s.conns}
        if s.listener is not None and s.protocol == "tcp":
            s.listener.setblocking(False)
            while True:
                await readable(s.listener.fileno())
                new = s.accept()
                if new is not None:
                    tasks.add(asyncio.ensure_future(serve_one(new)))
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()


MODELS: dict[str, Callable[[Server], None]] = {
    "blocking": blocking,
    "nonblocking": nonblocking,
    "select": select_model,
    "poll": poll_model,
    "epoll": epoll_model,
    "sigio": sigio,
    "threaded": threaded,
    "asyncio": asyncio_model,
}
REAL_MODELS = (*MODELS, "aio")


def program_of(model: str) -> Callable[[Server], None]:
    """The model's program; aio's imports io_uring's binding, so ask for it before t = 0."""
    if model == "aio":
        from iosim.real.aio import aio_model
        return aio_model
    return MODELS[model]


def run(model: str, s: Server) -> None:
    """Run a model until its last message (capture) or until told to stop (serve); the
    outcome is in ``s.rows`` and ``s.error``. The cyclic collector waits until the end: it
    would walk the growing list of rows again and again (nothing in it is garbage), which
    costs a loopback round trip about 5%."""
    program = program_of(model)
    collecting = gc.isenabled()
    gc.disable()
    try:
        program(s)
    except AllDone:
        pass
    except RunError as exc:
        s.fail(str(exc))
    finally:
        if collecting:
            gc.enable()
        s.finished.set()
