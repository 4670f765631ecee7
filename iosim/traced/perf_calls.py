"""The perf tracer's events (perf_calls_script.py's lines) turned into the records strace
would have shown: each call joined from its entry and exit tracepoints, its arguments written
as ``strace -yy`` writes the ones iosim reads, a signal delivered, a task that ended.

Tracepoints carry raw values, not what they point to, so what strace reads from the program's
memory is rebuilt from what the kernel says:

- which socket a descriptor is: each task's descriptor table, followed through socket, accept,
  dup and close, shared by threads (CLONE_FILES) and copied by fork;
- a listener's address: the state change to LISTEN its listen() makes; a client socket's
  addresses: the change to SYN_SENT its connect() makes; a UDP socket's bound address: what
  /proc showed while the program ran (``bound``);
- an accepted connection's addresses: the server side of the oldest handshake on the
  listener's port not yet taken (the accept queue is first in, first out);
- whether a signal has a handler: the handler the kernel used when it delivered it.

What stays unknown (the flags of epoll_ctl's event, the value FIONBIO sets, a datagram's
sender) is written ``?``; model.py and the notes say what that leaves unsaid.
"""

from __future__ import annotations

import errno as errno_mod
import signal as signal_mod
from dataclasses import dataclass, field

from iosim.traced.strace import Call, Exit, Record, Signal

Address = tuple[str, int]
CLONE_FILES, CLONE_THREAD = 0x400, 0x10000
CLONE_NAMES = ((0x100, "CLONE_VM"), (0x200, "CLONE_FS"), (CLONE_FILES, "CLONE_FILES"),
               (0x800, "CLONE_SIGHAND"), (CLONE_THREAD, "CLONE_THREAD"))
RESTARTS = {512: "ERESTARTSYS", 513: "ERESTARTNOINTR", 514: "ERESTARTNOHAND",
            516: "ERESTART_RESTARTBLOCK"}
LISTEN_STATE, SYN_SENT = 10, 2
SOCK_NONBLOCK, SOCK_CLOEXEC, O_NONBLOCK, O_ASYNC = 0o4000, 0o2000000, 0o4000, 0o20000
FCNTL = {0: "F_DUPFD", 1: "F_GETFD", 2: "F_SETFD", 3: "F_GETFL", 4: "F_SETFL", 8: "F_SETOWN",
         9: "F_GETOWN", 10: "F_SETSIG", 1030: "F_DUPFD_CLOEXEC"}
IOCTL = {0x5421: "FIONBIO", 0x5452: "FIOASYNC", 0x541B: "FIONREAD"}
EPOLL_EVENTS = ((0x1, "EPOLLIN"), (0x4, "EPOLLOUT"), (0x2000, "EPOLLRDHUP"),
                (1 << 30, "EPOLLONESHOT"), (1 << 31, "EPOLLET"))
EPOLL_OPS = {1: "EPOLL_CTL_ADD", 2: "EPOLL_CTL_DEL", 3: "EPOLL_CTL_MOD"}
FUTEX_OPS = {0: "FUTEX_WAIT", 1: "FUTEX_WAKE", 5: "FUTEX_WAKE_OP", 9: "FUTEX_WAIT_BITSET",
             10: "FUTEX_WAKE_BITSET"}
MSG_FLAGS = ((0x2, "MSG_PEEK"), (0x20, "MSG_TRUNC"), (0x40, "MSG_DONTWAIT"),
             (0x100, "MSG_WAITALL"))
DUPS = frozenset({"dup", "dup2", "dup3"})
# the calls whose first argument is a descriptor (the others start with a number or a pointer)
NO_FD_FIRST = frozenset({"socket", "select", "pselect6", "poll", "ppoll", "epoll_create",
                         "epoll_create1", "io_uring_setup", "rt_sigaction", "rt_sigreturn",
                         "rt_sigsuspend", "pause", "nanosleep", "clock_nanosleep", "futex",
                         "wait4", "waitid", "rt_sigtimedwait", "clone", "clone3", "fork",
                         "vfork", "restart_syscall", "exit_group", "exit"})
DEFAULT_KILLS = frozenset({"SIGCHLD", "SIGCONT", "SIGURG", "SIGWINCH", "SIGSTOP", "SIGTSTP",
                           "SIGTTIN", "SIGTTOU"})  # a default action that does not end a task


@dataclass
class Sock:
    """A TCP or UDP socket, shared by the descriptors that name it."""

    proto: str
    v6: bool
    serial: int
    local: Address | None = None
    peer: Address | None = None

    def annotation(self) -> str:
        kind = self.proto.upper() + ("v6" if self.v6 else "")
        if self.local is None:
            return f"{kind}:[{self.serial}]"
        text = _addr(self.local)
        return f"{kind}:[{text}->{_addr(self.peer)}]" if self.peer else f"{kind}:[{text}]"


EPOLL = "anon_inode:[eventpoll]"
Table = dict[int, "Sock | str"]  # descriptor -> its socket, or EPOLL


def _addr(address: Address) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def sockaddr_text(address: Address) -> str:
    host, port = address
    if ":" in host:
        return (f'{{sa_family=AF_INET6, sin6_port=htons({port}), sin6_flowinfo=htonl(0), '
                f'inet_pton(AF_INET6, "{host}", &sin6_addr), sin6_scope_id=0}}')
    return f'{{sa_family=AF_INET, sin_port=htons({port}), sin_addr=inet_addr("{host}")}}'


def signal_name(number: int) -> str:
    try:
        return signal_mod.Signals(number).name
    except ValueError:
        return f"SIG{number}"


def _flags(value: int, names: tuple[tuple[int, str], ...], none: str = "0") -> str:
    return "|".join(name for bit, name in names if value & bit) or none


@dataclass
class Pending:
    name: str
    enter_ns: int
    args: list[int]
    states: list[tuple[int, int, int, str, str]] = field(default_factory=list)
    child_flags: int = 0


class PerfCalls:
    """Lines in, records out. ``handshakes``: per port, the server sides' established
    connections (kernel.py); ``handlers``: per (process, signal), the handler the kernel
    delivered it to; ``bound``: per (process, descriptor), a bound address /proc showed;
    ``epoll_flags``: per (process, epoll descriptor, watched descriptor), the event flags
    /proc showed."""

    def __init__(self, offset_ns: int,
                 handshakes: dict[int, list[tuple[int, Address, Address]]] | None = None,
                 handlers: dict[tuple[int, int], int] | None = None,
                 bound: dict[tuple[int, int], Address] | None = None,
                 epoll_flags: dict[tuple[int, int, int], int] | None = None) -> None:
        self.offset_ns = offset_ns
        self.handshakes = handshakes or {}
        self.taken: dict[int, int] = {}  # port -> handshakes accepted so far
        self.handlers = handlers or {}
        self.bound = bound or {}
        self.epoll_flags = epoll_flags or {}
        self.pending: dict[int, Pending] = {}
        self.tables: dict[int, Table] = {}
        self.tgid: dict[int, int] = {}
        self.clone_flags: dict[int, int] = {}  # child task -> the flags it was made with
        self.restartable: dict[int, str] = {}
        self.exit_codes: dict[int, int] = {}  # process -> exit_group's code
        self.fatal: dict[int, str] = {}  # process -> a signal that ends it by default
        self.serials = 0
        self.unreadable = 0

    def table(self, tid: int) -> Table:
        return self.tables.setdefault(tid, {})

    def process(self, tid: int) -> int:
        return self.tgid.get(tid, tid)

    def feed(self, line: str) -> list[Record]:
        parts = line.split()
        try:
            kind, t_ns, tid = parts[0], int(parts[1]) + self.offset_ns, int(parts[2])
            if kind == "E":
                return self._enter(tid, t_ns, parts[3], [int(x) for x in parts[4:]])
            elif kind == "X":
                return self._exit(tid, t_ns, parts[3], int(parts[4]))
            elif kind == "S":
                return self._signal(tid, t_ns, int(parts[3]), int(parts[4]))
            elif kind == "N":
                self._newtask(tid, int(parts[3]), int(parts[4]))
            elif kind == "Q":
                return self._task_exit(tid, t_ns)
            elif kind == "T" and tid in self.pending:
                self.pending[tid].states.append(
                    (int(parts[3]), int(parts[4]), int(parts[5]), parts[6], parts[7]))
            else:
                self.unreadable += kind != "T"
        except (IndexError, ValueError):
            self.unreadable += 1
        return []

    def close(self, end_ns: int) -> list[Record]:
        """The calls still running when tracing ended: they return (never) at ``end_ns``."""
        return [self._died_in(tid, end_ns) for tid in list(self.pending)]

    # -- tasks ------------------------------------------------------------------------------

    def _newtask(self, parent: int, child: int, flags: int) -> None:
        self.clone_flags[child] = flags
        self.tgid[child] = self.process(parent) if flags & CLONE_THREAD else child
        table = self.table(parent)
        self.tables[child] = table if flags & CLONE_FILES else dict(table)
        if parent in self.pending:
            self.pending[parent].child_flags = flags

    def _signal(self, tid: int, t_ns: int, sig: int, handler: int) -> list[Record]:
        name = signal_name(sig)
        if handler == 0 and name not in DEFAULT_KILLS:
            self.fatal[self.process(tid)] = name
        return [Signal(tid, t_ns, name)]

    def _task_exit(self, tid: int, t_ns: int) -> list[Record]:
        died = [self._died_in(tid, t_ns)] if tid in self.pending else []
        process = self.process(tid)
        code = self.exit_codes.get(process)
        killed = self.fatal.get(process, "") if code is None else ""
        status = None if killed else (code if code is not None else 0)
        return [*died, Exit(tid, t_ns, status, killed)]

    def _died_in(self, tid: int, t_ns: int) -> Call:
        p = self.pending.pop(tid)
        return Call(tid, p.name, p.enter_ns, max(t_ns, p.enter_ns), self._args(tid, p, None),
                    None, "", "", "", returned=False)

    # -- calls ------------------------------------------------------------------------------

    def _enter(self, tid: int, t_ns: int, name: str, args: list[int]) -> list[Record]:
        """A call begins; rt_sigreturn never returns (its exit tracepoint does not fire: the
        task goes back to where the signal found it), so it is a call of no length."""
        if name == "restart_syscall" and tid in self.restartable:
            name = self.restartable.pop(tid)
        if name == "exit_group":  # the status of the Exit to come; not a call strace shows
            self.exit_codes[self.process(tid)] = args[0] & 0xFF if args else 0
            return []
        # a call whose exit perf lost (its buffer full) ends, unreturned, where the next begins
        lost = [self._died_in(tid, t_ns)] if tid in self.pending else []
        if name == "rt_sigreturn":
            return [*lost, Call(tid, name, t_ns, t_ns, "", 0, "", "", "")]
        self.pending[tid] = Pending(name, t_ns, args)
        return lost

    def _exit(self, tid: int, t_ns: int, name: str, ret: int) -> list[Record]:
        p = self.pending.pop(tid, None)
        if p is None or p.name != name and name != "restart_syscall":
            self.unreadable += p is None
            return []
        annotation = self._returned(tid, p, ret)
        args = self._args(tid, p, ret)
        if p.name == "close" and ret == 0 and p.args:
            self.table(tid).pop(p.args[0], None)
        restart = RESTARTS.get(-ret, "")
        if restart == "ERESTART_RESTARTBLOCK":
            self.restartable[tid] = p.name
        if restart:
            result, errno = None, restart
        elif -4096 < ret < 0:
            result, errno = -1, errno_mod.errorcode.get(-ret, f"E{-ret}")
        else:
            result, errno = ret, ""
        return [Call(tid, p.name, p.enter_ns, max(t_ns, p.enter_ns), args, result, errno,
                     annotation, "")]

    def _returned(self, tid: int, p: Pending, ret: int) -> str:
        """What the call did to the descriptor table; the annotation of a descriptor it
        returned (strace -yy's ``= 4<TCP:[...]>``)."""
        table, a = self.table(tid), p.args
        if ret < 0:
            return ""
        made: Sock | str | None = None
        if p.name == "socket" and len(a) >= 2 and a[0] in (2, 10) and a[1] & 0xF in (1, 2):
            self.serials += 1
            made = Sock("tcp" if a[1] & 0xF == 1 else "udp", a[0] == 10, self.serials)
        elif p.name in ("epoll_create", "epoll_create1"):
            made = EPOLL
        elif p.name in ("accept", "accept4") and a:
            made = self._accepted(table.get(a[0]), p.enter_ns)
        elif p.name in DUPS or p.name == "fcntl" and len(a) > 1 and a[1] in (0, 1030):
            made = table.get(a[0]) if a else None
        else:
            self._learn(tid, p)
            return ""
        if made is None:
            table.pop(ret, None)
            return ""
        table[ret] = made
        return made.annotation() if isinstance(made, Sock) else made

    def _accepted(self, listener: Sock | str | None, enter_ns: int) -> Sock | None:
        if not isinstance(listener, Sock):
            return None
        self.serials += 1
        sock = Sock(listener.proto, listener.v6, self.serials, listener.local)
        port = listener.local[1] if listener.local else -1
        queue = self.handshakes.get(port, [])
        taken = self.taken.get(port, 0)
        if taken < len(queue):
            self.taken[port] = taken + 1
            _, sock.local, sock.peer = queue[taken]
        return sock

    def _learn(self, tid: int, p: Pending) -> None:
        """The addresses a listen, connect or bind gave its socket."""
        sock = self.table(tid).get(p.args[0]) if p.args and p.name not in NO_FD_FIRST else None
        if not isinstance(sock, Sock):
            return
        for new, sport, dport, saddr, daddr in p.states:
            if p.name == "listen" and new == LISTEN_STATE and saddr != "-":
                sock.local = (saddr, sport)
            elif p.name == "connect" and new == SYN_SENT and "-" not in (saddr, daddr):
                sock.local, sock.peer = (saddr, sport), (daddr, dport)
        if p.name == "bind" and sock.local is None:
            sock.local = self.bound.get((self.process(tid), p.args[0]))

    # -- arguments as strace writes them -----------------------------------------------------

    def _fd(self, tid: int, fd: int) -> str:
        what = self.table(tid).get(fd)
        if what is None:
            return str(fd)
        return f"{fd}<{what.annotation() if isinstance(what, Sock) else what}>"

    def _args(self, tid: int, p: Pending, ret: int | None) -> str:
        name, a = p.name, p.args + [0] * 6
        fd = "" if name in NO_FD_FIRST else self._fd(tid, a[0])
        if name == "socket":
            family = {2: "AF_INET", 10: "AF_INET6"}.get(a[0], str(a[0]))
            kind = {1: "SOCK_STREAM", 2: "SOCK_DGRAM"}.get(a[1] & 0xF, str(a[1] & 0xF))
            kind += "|SOCK_NONBLOCK" * bool(a[1] & SOCK_NONBLOCK)
            return f"{family}, {kind}, {a[2]}"
        if name in ("read", "recvfrom", "write", "sendto", "readv", "writev", "pread64"):
            flags = f", {_flags(a[3], MSG_FLAGS)}" if name in ("recvfrom", "sendto") else ""
            return f'{fd}, "", {a[2]}{flags}'
        if name in ("accept", "accept4"):
            sock = self.table(tid).get(ret) if ret is not None and ret >= 0 else None
            peer = sock.peer if isinstance(sock, Sock) else None
            where = sockaddr_text(peer) if a[1] and peer else "NULL" if not a[1] else "0x?"
            flags = _flags(a[3], ((SOCK_NONBLOCK, "SOCK_NONBLOCK"), (SOCK_CLOEXEC,
                                                                      "SOCK_CLOEXEC")))
            return f"{fd}, {where}, [16]" + (f", {flags}" if name == "accept4" else "")
        if name in ("bind", "connect"):
            sock = self.table(tid).get(a[0])
            address = None if not isinstance(sock, Sock) else \
                sock.local if name == "bind" else sock.peer
            return f"{fd}, {sockaddr_text(address) if address else '0x?'}, {a[2]}"
        if name == "fcntl":
            cmd = FCNTL.get(a[1], str(a[1]))
            if cmd == "F_SETFL":
                names = ((O_NONBLOCK, "O_NONBLOCK"), (O_ASYNC, "O_ASYNC"))
                return f"{fd}, F_SETFL, O_RDWR" + "".join(f"|{n}" for b, n in names if a[2] & b)
            return f"{fd}, {cmd}, {a[2]}" if cmd != "F_GETFL" else f"{fd}, F_GETFL"
        if name == "ioctl":
            return f"{fd}, {IOCTL.get(a[1], hex(a[1]))}, [?]"
        if name == "epoll_ctl":
            op = EPOLL_OPS.get(a[1], str(a[1]))
            flags = self.epoll_flags.get((self.process(tid), a[0], a[2]))
            events = "?" if flags is None else _flags(flags, EPOLL_EVENTS)
            return f"{fd}, {op}, {self._fd(tid, a[2])}, {{events={events}}}"
        if name in ("epoll_wait", "epoll_pwait", "epoll_pwait2"):
            return f"{fd}, 0x?, {a[2]}, {a[3]}"
        if name == "rt_sigaction":
            if not a[1]:
                return f"{signal_name(a[0])}, NULL"
            handler = self.handlers.get((self.process(tid), a[0]), 2)
            action = {0: "SIG_DFL", 1: "SIG_IGN"}.get(handler, hex(handler))
            return f"{signal_name(a[0])}, {{sa_handler={action}}}"
        if name == "futex":
            op = FUTEX_OPS.get(a[1] & 0x7F, f"FUTEX_{a[1] & 0x7F}")
            return f"0x{a[0]:x}, {op}{'_PRIVATE' * bool(a[1] & 0x80)}, {a[2]}"
        if name in ("wait4", "waitid"):
            options = a[2] if name == "wait4" else a[3]
            return f"{a[0]}, 0x?, {'WNOHANG' if options & 1 else '0'}"
        if name in ("clone", "clone3", "fork", "vfork"):
            flags = p.child_flags or (a[0] if name == "clone" else 0)
            return "flags=" + _flags(flags, CLONE_NAMES)
        if name in ("select", "pselect6"):
            return f"{a[0]}, 0x?, 0x?, 0x?, {'NULL' if not a[4] else '0x?'}"
        if name in ("poll", "ppoll"):
            return f"0x?, {a[1]}, {a[2]}"
        if fd:
            rest = ", ".join(str(x) for x in p.args[1:])
            return f"{fd}, {rest}" if rest else fd
        return ", ".join(str(x) for x in p.args)


def handlers_of(lines: list[str], tgid_of: dict[int, int]) -> dict[tuple[int, int], int]:
    """(process, signal) -> the handler each signal was delivered to, from the S lines."""
    found: dict[tuple[int, int], int] = {}
    for line in lines:
        if line.startswith("S "):
            parts = line.split()
            if len(parts) == 5 and all(p.isdigit() for p in parts[1:]):
                tid = int(parts[2])
                found.setdefault((tgid_of.get(tid, tid), int(parts[3])), int(parts[4]))
    return found


def tasks_of(lines: list[str]) -> dict[int, int]:
    """task -> its process, from the N lines (a first pass, for handlers_of)."""
    tgid: dict[int, int] = {}
    for line in lines:
        if line.startswith("N "):
            parts = line.split()
            if len(parts) == 5 and all(p.isdigit() for p in parts[1:]):
                parent, child = int(parts[2]), int(parts[3])
                tgid[child] = tgid.get(parent, parent) if int(parts[4]) & CLONE_THREAD \
                    else child
    return tgid


def records_of(lines: list[str], offset_ns: int, end_ns: int, max_records: int,
               handshakes: dict[int, list[tuple[int, Address, Address]]] | None = None,
               bound: dict[tuple[int, int], Address] | None = None,
               epoll_flags: dict[tuple[int, int, int], int] | None = None
               ) -> tuple[list[Record], PerfCalls]:
    """Every record of a perf tracer run (at most ``max_records``), in the order of the
    lines (perf script sorts them by time)."""
    parser = PerfCalls(offset_ns, handshakes, handlers_of(lines, tasks_of(lines)), bound,
                       epoll_flags)
    records: list[Record] = []
    for line in lines:
        records += parser.feed(line)
        if len(records) >= max_records:
            return records[:max_records], parser
    return records + parser.close(end_ns), parser

