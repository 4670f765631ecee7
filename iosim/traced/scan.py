"""The first pass over strace's records: which calls matter, which task belongs to which
process and which one is the main, which connection each socket is, and, with the kernel's
records, each socket's kernel address and its own arrivals. The lanes of a run must be known
before anything is recorded (build.py records them in a second pass)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Any

from iosim.trace import Lane
from iosim.traced.kernel import KernelEvents
from iosim.traced.sockets import SocketTable
from iosim.traced.strace import (
    Call,
    Exit,
    Inet,
    Record,
    Signal,
    first_fd,
    inet_socket,
    nth_arg,
    peer_of,
)

READS = frozenset({"read", "readv", "recvfrom", "recvmsg", "recvmmsg"})
SENDS = frozenset({"write", "writev", "sendto", "sendmsg", "sendmmsg"})
DATA = READS | SENDS  # a socket that carried data is a connection
ACCEPTS = frozenset({"accept", "accept4"})
MULTIPLEXERS = {"select": "select", "pselect6": "select", "poll": "poll", "ppoll": "poll",
                "epoll_wait": "epoll_wait", "epoll_pwait": "epoll_wait",
                "epoll_pwait2": "epoll_wait"}
# calls kept only when their first argument is a TCP or UDP socket
ON_SOCKETS = READS | SENDS | ACCEPTS | {"bind", "listen", "connect", "close", "fcntl", "ioctl"}
# the calls that do nothing but wait (for a signal, a time, a child, another thread)
WAITS = frozenset({"rt_sigsuspend", "pause", "nanosleep", "clock_nanosleep", "futex", "wait4",
                   "waitid", "rt_sigtimedwait"})
ALWAYS = frozenset({"epoll_create", "epoll_create1", "epoll_ctl", "io_uring_setup",
                    "io_uring_enter", "clone", "clone3", "fork", "vfork", "rt_sigreturn",
                    *MULTIPLEXERS, *WAITS})
# a task gets a lane of its own when it makes one of these (or a call on a socket)
NETWORKED = frozenset({"io_uring_setup", "io_uring_enter", *MULTIPLEXERS})
SIGIO_NAMES = ("SIGIO", "SIGPOLL")
WOULDBLOCK = ("EAGAIN", "EWOULDBLOCK")
RESTARTS = ("ERESTARTSYS", "ERESTARTNOINTR", "ERESTARTNOHAND", "ERESTART_RESTARTBLOCK")


@dataclass
class Scripted:
    """The scenario a client played: messages numbered as the simulator numbers them."""

    plan: list[list[tuple[int, int]]]
    sent_ns: list[int]
    peers: dict[tuple[str, int], int]  # the client's address of each connection -> its number


@dataclass(slots=True)
class Step:
    """A call iosim keeps, decoded once: its socket, connection and line key. ``restarted``:
    the kernel's restart of an earlier call a signal interrupted (one call, not two);
    ``handler``: made inside a signal handler."""

    call: Call
    fd: int
    annotation: str
    inet: Inet | None
    conn: int
    key: str
    restarted: bool = False
    handler: bool = False


@dataclass(slots=True)
class SocketState:
    sk: int = 0  # the kernel's address of the socket (0: unknown)
    consumed_ns: int = 0  # return of the last read that got data
    last_eagain_ns: int = 0
    next_arrival: int = 0  # index of the first arrival not yet read
    last_arrival_ns: int = 0
    filled: bool = False  # the last read filled its buffer: data may be left over
    opened_ns: int = 0  # when the program's socket() returned it (0: unknown, or accepted)


@dataclass
class Tasks:
    """Threads and processes: which process each task belongs to, and which is the main."""

    tgid: dict[int, int] = field(default_factory=dict)

    def learn(self, call: Call) -> None:
        if call.name in ("clone", "clone3", "fork", "vfork") and call.result and call.result > 0:
            parent = self.tgid.get(call.tid, call.tid)
            self.tgid[call.result] = parent if "CLONE_THREAD" in call.args else call.result

    def process_of(self, tid: int) -> int:
        return self.tgid.get(tid, tid)


def line_key(call: Call) -> str:
    """A call's line key is its name, with the command where one name covers several."""
    if call.name in ("fcntl", "epoll_ctl", "ioctl"):
        return f"{call.name} {nth_arg(call.args, 1)}"
    return call.name


class Scan:
    """What the records say before anything is drawn: ``steps`` (the calls kept, with the
    SIGIOs and the ends of tasks), the main process, the lanes, each socket's state."""

    def __init__(self, records: list[Record], scripted: Scripted | None,
                 kernel: KernelEvents | None, sockets: SocketTable | None = None) -> None:
        self.scripted = scripted
        self.kernel = kernel
        self.table = sockets
        self.records = sorted(records, key=_start_ns)
        self.next_enter = _next_enter(self.records)
        self.tasks = Tasks()
        self.conn_ids: dict[tuple[str, Any, Any], int] = {}
        self.next_conn = max(len(scripted.plan), len(scripted.peers)) if scripted else 0
        self.sockets: dict[str, SocketState] = {}
        self.handled: set[str] = set()  # signals the program catches (a handler of its own)
        self.steps = self._scan()
        self.main = self._main_process()
        self.lanes, self.kernel_lanes, self.task_lanes = self._lanes()
        self.process_arrivals = self._process_arrivals()

    def _learn_handler(self, call: Call) -> None:
        action = nth_arg(call.args, 1)
        if action.startswith("{sa_handler=") and not action.startswith(
                ("{sa_handler=SIG_DFL", "{sa_handler=SIG_IGN")):
            self.handled.add(nth_arg(call.args, 0))

    def inet(self, annotation: str) -> Inet | None:
        return self.table.inet(annotation) if self.table is not None else inet_socket(annotation)

    def _scan(self) -> list[Step | Signal | Exit]:
        """The calls, signals and ends that matter, of the processes that use the network
        (a launcher's helper processes, a shell's subshells, are left out), each restarted
        call marked as the continuation of the one a signal interrupted."""
        steps: list[Step | Signal | Exit] = []
        for record in self.records:
            if isinstance(record, Call):
                self.tasks.learn(record)
                if record.name == "rt_sigaction" and record.result == 0:
                    self._learn_handler(record)
                step = self._step(record)
                if step is not None:
                    steps.append(step)
            else:
                steps.append(record)
        networked = {self.tasks.process_of(s.call.tid) for s in steps
                     if isinstance(s, Step) and s.inet is not None}
        steps = [s for s in steps
                 if self.tasks.process_of(_tid(s)) in networked or not networked]
        mark_restarts(steps, self.handled)
        if self.kernel is not None:
            self._find_kernel_sockets(steps)
        return steps

    def _step(self, call: Call) -> Step | None:
        fd, annotation = first_fd(call.args)
        inet = self.inet(annotation)
        if call.name == "socket":
            inet = self.inet(call.annotation)
            if inet is None:
                return None
            fd, annotation = call.result or -1, call.annotation
        elif call.name == "rt_sigaction":
            if nth_arg(call.args, 0) not in SIGIO_NAMES:
                return None
        elif call.name in ON_SOCKETS or call.name == "pread64":
            if inet is None:
                return None
        elif call.name not in ALWAYS:
            return None
        conn = -1
        if call.name in ACCEPTS:
            accepted = self.inet(call.annotation)
            conn = self._conn(call, accepted, True) if accepted else -1
        elif inet is not None:
            conn = self._conn(call, inet, (call.result or 0) > 0 and call.name in DATA)
        return Step(call, fd, annotation, inet, conn, line_key(call))

    def _conn(self, call: Call, inet: Inet, numbered: bool) -> int:
        """A connection's number: the scenario's for the client's sockets, else the next free
        one in the order connections were accepted or first carried data; -1 for a socket
        that is not (yet) a connection: a listener, or a socket nothing was read from or
        written to, as the probe socket glibc's address look-up connects and closes."""
        peer = peer_of(call, inet)
        if peer is None and not (call.name in READS and (call.result or 0) > 0):
            return -1  # a listener, an unconnected socket (a read of data is a connection)
        ident = (inet.proto, inet.local, peer)
        conn = self.conn_ids.get(ident)
        if conn is None:
            if not numbered:
                return -1
            conn = self.scripted.peers.get(peer, -1) if self.scripted else -1
            if conn < 0:
                conn, self.next_conn = self.next_conn, self.next_conn + 1
            self.conn_ids[ident] = conn
        return conn

    def _find_kernel_sockets(self, steps: list[Step | Signal | Exit]) -> None:
        """Each socket's kernel address, from the kernel's record of a receive on it, and
        the first of its arrivals that are its own: a kernel address is reused once a socket
        is freed, so arrivals before this socket was born belonged to another. A TCP socket is
        born when its connection is established (data may arrive before accept() returns it),
        a UDP socket when socket() returns it."""
        assert self.kernel is not None
        opened: dict[tuple[int, int], int] = {}
        for step in steps:
            if not isinstance(step, Step):
                continue
            c = step.call
            tgid = self.tasks.process_of(c.tid)
            if c.name == "socket" and c.result is not None and c.result >= 0:
                opened[(tgid, c.result)] = c.return_ns
            elif c.name in ACCEPTS and c.result is not None:
                opened.pop((tgid, c.result), None)
            if c.name not in READS or step.inet is None:
                continue
            state = self.sockets.get(step.annotation)
            if state is None:
                state = self.sockets[step.annotation] = SocketState(
                    opened_ns=opened.get((tgid, step.fd), 0))
            if state.sk:
                continue
            got = self.kernel_receive(c)
            if got is None:
                continue
            state.sk = got[1]
            born = self.kernel.born.get(state.sk, [])
            i = bisect_right(born, got[0])
            floor = born[i - 1] if step.inet.proto == "tcp" and i else state.opened_ns
            state.next_arrival = bisect_left(self.kernel.arrivals.get(state.sk, []), floor)

    def _main_process(self) -> int:
        """The process that does the network IO: the first to make a call on a socket."""
        for step in self.steps:
            if isinstance(step, Step) and step.inet is not None:
                return self.tasks.process_of(step.call.tid)
        return self.tasks.process_of(_tid(self.steps[0])) if self.steps else 0

    def _lanes(self) -> tuple[list[Lane], dict[int, int], dict[int, int]]:
        lanes = [Lane("application", "app")]
        with_data: set[int] = set()
        if self.scripted is not None:
            with_data.update(conn for conn, sends in enumerate(self.scripted.plan) if sends)
        first_conn: dict[int, int] = {}
        tids: list[int] = []
        for step in self.steps:
            if not isinstance(step, Step) or step.inet is None and \
                    step.call.name not in NETWORKED:
                continue  # a thread that only waits (a runtime's worker) gets no lane
            tid = _tid(step)
            if tid != self.main and tid not in tids:
                tids.append(tid)
            if isinstance(step, Step) and step.call.name in READS and step.conn >= 0 \
                    and (step.call.result or 0) > 0:
                with_data.add(step.conn)
                first_conn.setdefault(tid, step.conn)
        kernel_lanes: dict[int, int] = {}
        for conn in sorted(with_data):
            kernel_lanes[conn] = len(lanes)
            lanes.append(Lane(f"kernel conn {conn}", "kernel", conn))
        task_lanes = {self.main: 0}
        for tid in tids:
            task_lanes[tid] = len(lanes)
            kind = "thread" if self.tasks.process_of(tid) == self.main else "process"
            lanes.append(Lane(f"{kind} {tid}", "thread", first_conn.get(tid, -1)))
        return lanes, kernel_lanes, task_lanes

    def kernel_receive(self, c: Call) -> tuple[int, int] | None:
        assert self.kernel is not None
        result = -11 if c.errno in WOULDBLOCK else (c.result if c.result is not None else 0)
        return self.kernel.receive(c.tid, c.enter_ns, self.next_enter[c], result)

    def kernel_copy(self, c: Call, done_ns: int) -> int | None:
        assert self.kernel is not None
        return self.kernel.copy_start(c.tid, c.enter_ns, done_ns)

    def _process_arrivals(self) -> dict[int, list[int]]:
        """Per process, the arrival times on all its sockets: what may wake its select."""
        if self.kernel is None:
            return {}
        own: dict[int, dict[int, int]] = {}  # process -> socket address -> first own arrival
        for step in self.steps:
            if isinstance(step, Step) and step.inet is not None:
                state = self.sockets.get(step.annotation)
                if state is not None and state.sk:
                    own.setdefault(self.tasks.process_of(step.call.tid), {}).setdefault(
                        state.sk, state.next_arrival)
        return {tgid: sorted(t for sk, first in found.items()
                             for t in self.kernel.arrivals.get(sk, [])[first:])
                for tgid, found in own.items()}


def mark_restarts(steps: list[Step | Signal | Exit], handled: set[str]) -> None:
    """Mark each call the kernel restarted after a signal, and the calls a signal handler
    made. A call a signal interrupts returns ``?`` with ERESTART...; the handler (if any) runs
    and ends in rt_sigreturn; the kernel then restarts the call (SA_RESTART, or no handler
    ran), which strace shows as a new call of the same name on the same descriptor. A
    program's own retry after EINTR (CPython's, PEP 475) is the same one call to its reader.
    ERESTARTNOHAND (sigsuspend, pause) is never restarted once a handler ran. ``handled``:
    the signals that have a handler (others run none: no rt_sigreturn comes)."""
    interrupted: dict[int, tuple[Step, bool]] = {}  # task -> (its interrupted call, handled)
    in_handler: dict[int, int] = {}  # task -> handlers running
    for step in steps:
        if isinstance(step, Signal):
            if step.name in handled:
                in_handler[step.tid] = in_handler.get(step.tid, 0) + 1
            continue
        if isinstance(step, Exit):
            interrupted.pop(step.tid, None)
            continue
        c = step.call
        if c.name == "rt_sigreturn":
            depth = in_handler.get(c.tid, 0)
            if depth:
                in_handler[c.tid] = depth - 1
                if c.tid in interrupted:
                    interrupted[c.tid] = (interrupted[c.tid][0], True)
            continue
        if in_handler.get(c.tid):
            step.handler = True
            continue
        before = interrupted.pop(c.tid, None)
        if before is not None:
            first, ran = before
            step.restarted = (c.name == first.call.name and step.fd == first.fd
                              and not (ran and first.call.errno == "ERESTARTNOHAND"))
        if c.result is None and c.errno in RESTARTS:
            interrupted[c.tid] = (step, False)


def _tid(step: Step | Signal | Exit) -> int:
    return step.call.tid if isinstance(step, Step) else step.tid


def _next_enter(records: list[Record]) -> dict[Call, int]:
    """For each call, when its task entered its next traced call (or ended): the kernel's
    record of the call lies before that, however late strace's own times are."""
    following: dict[Call, int] = {}
    last: dict[int, Call] = {}
    for record in records:
        if isinstance(record, Call | Exit):
            before = last.pop(record.tid, None)
            if before is not None:
                following[before] = _start_ns(record)
            if isinstance(record, Call):
                last[record.tid] = record
    for call in last.values():
        following[call] = max(call.return_ns, call.enter_ns) + 10**12  # nothing after it
    return following


def _start_ns(record: Record) -> int:
    return record.enter_ns if isinstance(record, Call) else record.t_ns
