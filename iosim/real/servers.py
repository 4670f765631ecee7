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

from iosim.real.process import NOT_WAITING, AllDone, Conn, RunError, Server
from iosim.real.record import CALL, HANDLER, WOULDBLOCK
from iosim.real.stopping import STOP_SIGNALS

FD_SETSIZE = 1024


# -- the models ------------------------------------------------------------------------------

READ_EVENTS = select.POLLIN | select.POLLHUP | select.POLLERR  # epoll's EPOLL* are the same
SETTLE_S = 1.0  # asyncio: how long the tasks have to end once the loop has stopped
MAX_DRAIN = 16  # sigio: reads of one socket per pass, so that one busy client starves no other


def blocking(s: Server) -> None:
    """recvfrom on each socket in turn, blocking; serving TCP, one client at a time (the
    classic iterative server). Its replies block too: a client that never reads stalls it,
    which is the lesson."""
    s.send_flags = 0
    for c in s.conns:
        c.sock.setblocking(True)
    while True:
        if s.gone:
            s.reap()
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
            if not c.half_closed and s.read_and_handle(c) != WOULDBLOCK:
                found = True
        if s.sending:
            before = sum(len(c.outbox) for c in s.sending)
            s.send_all_queued()
            found |= sum(len(c.outbox) for c in s.sending) < before
        if s.gone:
            s.reap()
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
              on_new: Callable[[Conn], None]) -> None:
    """Read every ready connection (accept on the listening socket)."""
    for fd in ready:
        c = watched.get(fd)
        if c is None:
            if fd in watched:
                new = s.accept()
                if new is not None:
                    watched[new.fd] = new
                    on_new(new)
        elif c in s.open:
            s.read_and_handle(c)


def _send_ready(s: Server, writable: list[int], watched: dict[int, Conn | None]) -> None:
    for fd in writable:
        c = watched.get(fd)
        if c is not None and c in s.sending:
            s.send_queued(c)


def _nothing(_c: Conn) -> None:
    return None


def select_model(s: Server) -> None:
    """Block in select until a socket is readable (or, while replies wait, writable), then
    recvfrom it. Python's select.select refuses a descriptor >= FD_SETSIZE (ValueError), as the
    C call would misbehave: the run ends there with an error that says so."""
    watched = _watch(s)

    def forget(c: Conn) -> None:
        watched.pop(c.fd, None)

    while watched:
        fds = list(watched)
        out = [c.fd for c in s.sending] if s.sending else []
        enter = time_ns()
        s.waiting = ("select", enter)
        try:
            ready, writable, _ = select.select(fds, out, [])
        except ValueError:  # refused before reaching the kernel: no call was made
            s.waiting = NOT_WAITING
            highest = max(fds)
            raise RunError(f"select: descriptor {highest} >= FD_SETSIZE ({FD_SETSIZE}); "
                           "select cannot watch it (use poll or epoll)") from None
        s.rows.append((CALL, 0, "select", -1, enter, time_ns(), len(ready) + len(writable),
                       len(writable)))
        s.waiting = NOT_WAITING
        _dispatch(s, ready, watched, _nothing)
        if writable:
            _send_ready(s, writable, watched)
        if s.gone:
            s.reap(forget)


class _Interest:
    """poll's and epoll's registrations: readable always, writable while replies wait."""

    def __init__(self, s: Server, watched: dict[int, Conn | None],
                 added: Callable[[Conn], None], modify: Callable[[int, int], None],
                 unregister: Callable[[int], None]) -> None:
        self.s = s
        self.watched = watched
        self.added = added
        self.modify = modify
        self.unregister = unregister
        self.out: set[Conn] = set()
        self.half_closed: set[Conn] = set()

    def update(self) -> None:
        """Ask for writability on the connections whose replies wait, and only on those;
        stop asking for readability of one whose peer has closed its side (a capture's
        replies still going: its end of file would be reported again and again)."""
        sending = self.s.sending
        for c in sending.keys() - self.out:
            self.modify(c.fd, select.POLLIN | select.POLLOUT)
        for c in self.out - sending.keys():
            if c in self.s.open:
                self.modify(c.fd, select.POLLIN)
        for c in sending.keys() & self.out:
            if c.half_closed and c not in self.half_closed:
                self.modify(c.fd, select.POLLOUT)
                self.half_closed.add(c)
        self.out = set(sending)

    def forget(self, c: Conn) -> None:
        self.out.discard(c)
        self.half_closed.discard(c)
        if self.watched.pop(c.fd, None) is not None:
            self.unregister(c.fd)

    def events(self, events: list[tuple[int, int]]) -> None:
        s, watched = self.s, self.watched
        _dispatch(s, [fd for fd, ev in events if ev & READ_EVENTS], watched, self.added)
        if self.out:
            _send_ready(s, [fd for fd, ev in events if ev & select.POLLOUT], watched)
        if s.gone:
            s.reap(self.forget)
        if self.out or s.sending:
            self.update()



def poll_model(s: Server) -> None:
    """Block in poll until a socket is readable, then recvfrom it."""
    watched = _watch(s)
    poller = select.poll()
    for fd in watched:
        poller.register(fd, select.POLLIN)
    interest = _Interest(s, watched, lambda c: poller.register(c.fd, select.POLLIN),
                         poller.modify, poller.unregister)
    while watched:
        enter = time_ns()
        s.waiting = ("poll", enter)
        events = poller.poll()
        s.rows.append((CALL, 0, "poll", -1, enter, time_ns(), len(events), _writable(events)))
        s.waiting = NOT_WAITING
        interest.events(events)


def epoll_model(s: Server) -> None:
    """epoll_create, epoll_ctl per socket, then block in epoll_wait and recvfrom the ready."""
    _epoll(s, edge=False)


def epoll_et_model(s: Server) -> None:
    """Edge-triggered epoll: each connection registered with EPOLLET, read once per report
    (as the simulator's epoll-et: what a read leaves waits, unreported, for the next arrival).
    The listening socket, serving, stays level-triggered: accepting is not the lesson."""
    _epoll(s, edge=True)


def _epoll(s: Server, edge: bool) -> None:
    watched = _watch(s)
    ep = s.call("epoll_create", -1, select.epoll)
    assert isinstance(ep, select.epoll)
    et = select.EPOLLET if edge else 0

    def add(c: Conn | None, fd: int) -> None:
        if c is not None and edge:
            c.sock.setblocking(False)
        flags = select.EPOLLIN if c is None else select.EPOLLIN | et
        s.call("epoll_ctl", -1 if c is None else c.conn, ep.register, fd, flags)

    def modify(fd: int, events: int) -> None:
        ep.modify(fd, events | et)

    try:
        for fd, c in watched.items():
            add(c, fd)
        interest = _Interest(s, watched, lambda c: add(c, c.fd), modify, ep.unregister)
        while watched:
            enter = time_ns()
            s.waiting = ("epoll_wait", enter)
            events = ep.poll()
            s.rows.append((CALL, 0, "epoll_wait", -1, enter, time_ns(), len(events),
                           _writable(events)))
            s.waiting = NOT_WAITING
            interest.events(events)
    finally:
        ep.close()


def _writable(events: list[tuple[int, int]]) -> int:
    """How many of a poll's or epoll's events say writable (the row's last field)."""
    return sum(1 for _, ev in events if ev & select.POLLOUT)


def sigio(s: Server) -> None:
    """Establish a SIGIO handler, set F_SETOWN and O_ASYNC on every socket, and keep working;
    the handler reads each armed socket until EWOULDBLOCK (one SIGIO may stand for many
    arrivals on many sockets, and none is sent for data that came before O_ASYNC).

    Only armed sockets are read: a SIGIO can arrive while the main loop is still arming
    thousands of them, and a socket not yet O_NONBLOCK would block the handler for good."""
    state = {"busy": False, "again": False}
    armed: dict[Conn, None] = {}

    def drain(c: Conn) -> None:
        for _ in range(MAX_DRAIN):
            if c not in s.open or s.read_and_handle(c) in (WOULDBLOCK, 0):
                return
        state["again"] = True  # more to read: come back after the others

    def forget(c: Conn) -> None:
        armed.pop(c, None)

    def handler(_signum: int, _frame: object) -> None:
        if state["busy"]:  # a SIGIO during the handler: run the drain once more afterwards
            state["again"] = True
            return
        enter = time_ns()
        state["busy"] = True
        try:
            while True:
                state["again"] = False
                if s.listener is not None:
                    while (new := s.accept()) is not None:
                        arm(new)
                for c in list(armed):
                    drain(c)
                if s.sending:
                    s.send_all_queued()
                if s.gone:
                    s.reap(forget)
                if not state["again"]:
                    state["busy"] = False
                    if not state["again"]:  # no SIGIO between the test and the reset
                        break
                    state["busy"] = True
        finally:
            state["busy"] = False
            s.rows.append((HANDLER, 0, "signal handler", -1, enter, time_ns(), 0, 0))

    def arm(c: Conn | None) -> None:
        sock = s.listener if c is None else c.sock
        assert sock is not None
        sock.setblocking(False)
        fd, conn = sock.fileno(), (-1 if c is None else c.conn)
        s.call("fcntl F_SETOWN", conn, fcntl.fcntl, fd, fcntl.F_SETOWN, os.getpid())
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        s.call("fcntl O_ASYNC", conn, fcntl.fcntl, fd, fcntl.F_SETFL,
               flags | os.O_ASYNC | os.O_NONBLOCK)
        if c is not None:
            armed[c] = None

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
    main thread waits (serving TCP: it accepts, and starts a thread per client). A reply
    blocks only the thread of its own connection."""
    s.send_flags = 0

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
            s.drop(c)
        finally:
            s.reap()

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

    server: Server

    def select(self, timeout: float | None = None) -> list:  # type: ignore[override]
        s = self.server
        enter = time_ns()
        s.waiting = ("epoll_wait", enter)
        events = super().select(timeout)
        s.rows.append((CALL, 0, "epoll_wait", -1, enter, time_ns(), len(events), 0))
        s.waiting = NOT_WAITING
        return events


def asyncio_model(s: Server) -> None:
    """A task per connection on asyncio's event loop (epoll underneath): each awaits
    readability, then reads with a non-blocking recvfrom; replies that wait are sent when the
    loop finds the socket writable."""
    selector = _RecordingSelector()
    selector.server = s
    loop = asyncio.SelectorEventLoop(selector)
    tasks: dict[Conn, asyncio.Task] = {}

    async def readable(fd: int, c: Conn | None = None) -> None:
        future = loop.create_future()
        loop.add_reader(fd, future.set_result, None)
        try:
            await future
        finally:
            if c is None or c in s.open:  # a dropped one's descriptor may be another's now
                loop.remove_reader(fd)

    def forget(c: Conn) -> None:
        loop.remove_reader(c.fd)
        loop.remove_writer(c.fd)
        task = tasks.pop(c, None)
        if task is not None and task is not asyncio.current_task(loop):
            task.cancel()

    def send_queued(c: Conn) -> None:
        s.send_queued(c)
        if c in s.open and c not in s.sending:
            loop.remove_writer(c.fd)
        if s.gone:
            s.reap(forget)

    async def serve_one(c: Conn) -> None:
        c.sock.setblocking(False)
        while c in s.open:
            await readable(c.fd, c)
            s.read_and_handle(c)
            if c in s.sending:
                loop.add_writer(c.fd, send_queued, c)
            if s.gone:
                s.reap(forget)

    def start(c: Conn) -> None:
        tasks[c] = loop.create_task(serve_one(c))

    async def main() -> None:
        for c in s.conns:
            start(c)
        if s.listener is not None and s.protocol == "tcp":
            s.listener.setblocking(False)
            while True:
                await readable(s.listener.fileno())
                new = s.accept()
                if new is not None:
                    start(new)
        done, _ = await asyncio.wait(list(tasks.values()),
                                     return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()

    swapped = _signals_through(loop)
    try:
        loop.run_until_complete(main())
    finally:
        _settle(loop)
        _signals_back(loop, swapped)
        loop.close()


def _signals_through(loop: asyncio.AbstractEventLoop) -> dict[int, tuple[object, object]]:
    """The stop signals' handlers run as callbacks of the loop: raised from anywhere else (in
    a task, in the middle of the loop's own bookkeeping) a stop would leave a task with an
    exception nobody retrieves, or the loop unable to let its tasks end. Returns, per signal,
    its handler from before and the loop's own."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    swapped = {}
    for sig in STOP_SIGNALS:
        handler = signal.getsignal(sig)
        if callable(handler):
            loop.add_signal_handler(sig, handler, sig, None)
            swapped[sig] = (handler, signal.getsignal(sig))
    return swapped


def _signals_back(loop: asyncio.AbstractEventLoop,
                  swapped: dict[int, tuple[object, object]]) -> None:
    """Give the signals back their handlers: the ones set since the loop's (a stop's
    "finishing" ones), else the ones from before. Blocked meanwhile: the loop's removal sets
    the default action for a moment, and a signal then would end the process."""
    signal.pthread_sigmask(signal.SIG_BLOCK, swapped)
    try:
        for sig, (before, the_loops) in swapped.items():
            now = signal.getsignal(sig)
            loop.remove_signal_handler(sig)
            signal.signal(sig, before if now is the_loops else now)  # type: ignore[arg-type]
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, swapped)


def _settle(loop: asyncio.AbstractEventLoop) -> None:
    """However the loop was left, let every task end (cancelled, within a bound), so that none
    is destroyed pending and no exception goes unretrieved."""
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.wait(tasks, timeout=SETTLE_S))
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()


MODELS: dict[str, Callable[[Server], None]] = {
    "blocking": blocking,
    "nonblocking": nonblocking,
    "select": select_model,
    "poll": poll_model,
    "epoll": epoll_model,
    "epoll-et": epoll_et_model,
    "sigio": sigio,
    "threaded": threaded,
    "asyncio": asyncio_model,
}
REAL_MODELS = (*MODELS, "aio")
# The server variants (scenario.Server.variant) real mode has, and their models: SIGIO on TCP
# (accept-reply) is the simulator's alone.
REAL_VARIANTS = {"": REAL_MODELS, "accept": ("blocking", "select", "epoll"),
                 "reply": ("blocking", "nonblocking", "poll", "epoll"), "accept-reply": ()}


def program_of(model: str, variant: str = "") -> Callable[[Server], None]:
    """The model's program; aio's imports io_uring's binding, so ask for it before t = 0.
    With server.accept, the workers' program (herd.py); replies are every model's own."""
    if variant.startswith("accept"):
        from iosim.real.herd import herd
        return herd(model)
    if model == "aio":
        from iosim.real.aio import aio_model
        return aio_model
    return MODELS[model]


def run(model: str, s: Server, variant: str = "") -> None:
    """Run a model until its last message (capture) or until told to stop (serve); the
    outcome is in ``s.rows`` and ``s.error``. The cyclic collector waits until the end: it
    would walk the growing list of rows again and again (nothing in it is garbage), which
    costs a loopback round trip about 5%."""
    program = program_of(model, variant)
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
