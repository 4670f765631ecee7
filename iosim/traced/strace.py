"""strace's output, line by line, into records: a system call (joined from its
``<unfinished ...>`` and ``<... resumed>`` halves), a signal delivered, a task that ended.

The lines are those of ``strace -f -ttt -T -yy -s 0`` (see runner.py): a task id, the wall
clock time (CLOCK_REALTIME, seconds with six decimals) when strace saw the call enter, the call
with its arguments (strings abbreviated to ``""...``; descriptors followed by what they are,
``4<TCP:[127.0.0.1:9090->127.0.0.1:41234]>``), ``=`` its result, and the time spent in it in
``<seconds>``. Only the fields iosim needs are taken apart; the arguments stay text, read by
the few helpers below where a call needs one of them.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import NamedTuple

_HEAD = re.compile(r"(?:(\d+) +)?(\d+)\.(\d+) (.*)")
_CALL = re.compile(r"(\w+)\((.*)")
_RESUMED = re.compile(r"<\.\.\. (\w+) resumed>(.*)")
_VALUE = re.compile(r"(0x[0-9a-fA-F]+|-?\d+|\?)(?:<((?:->|[^<>])*)>)?(.*)")
_ERRNO = re.compile(r" (E[A-Z0-9_]+) \(")
_DURATION = re.compile(r"(.*) <(?:(\d+)\.(\d+)|unavailable)>")
_FD = re.compile(r"(\d+)<((?:->|[^<>])*)>")
_RESTART = re.compile(r"<\.\.\. resuming interrupted (\w+) \.\.\.>")
_INET = re.compile(r"(TCP|UDP)(v6)?:\[(.*)\]")
_PEER4 = re.compile(r'sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)')
_PEER6 = re.compile(r'sin6_port=htons\((\d+)\),.*?inet_pton\(AF_INET6, "([^"]+)"')
_SIGNAL = re.compile(r"--- (SIG\w+)")
_RETURNED = re.compile(r"(.*)\) +=(?: (.*))?")  # strace pads short calls: "fork()      = 7"
_EXIT = re.compile(r"\+\+\+ (?:exited with (\d+)|killed by (SIG\w+))")
_FRAME = re.compile(r" > (.*?)\((?:[^()]*)\) \[0x([0-9a-f]+)\]")  # strace -k: a stack frame
UNFINISHED = " <unfinished ...>"


class Call(NamedTuple):
    """One system call. ``result`` is None where the call did not return a value ("?": it
    was interrupted to be restarted, or the task ended inside it); ``returned`` is False for a
    call still running when tracing ended (its return time is then the end of the trace)."""

    tid: int
    name: str
    enter_ns: int
    return_ns: int
    args: str
    result: int | None
    errno: str
    annotation: str  # what a returned descriptor is (accept, socket): "TCP:[...]"
    details: str  # the text after the value: "(in [4])", "(flags O_RDWR|O_NONBLOCK)"
    returned: bool = True


class Signal(NamedTuple):
    tid: int
    t_ns: int
    name: str


class Exit(NamedTuple):
    """A task (thread or process) ended: ``status`` when it exited, ``signal`` when killed."""

    tid: int
    t_ns: int
    status: int | None
    signal: str


Record = Call | Signal | Exit


def _ns(seconds: str, fraction: str) -> int:
    return int(seconds) * 1_000_000_000 + int(fraction.ljust(9, "0")[:9])


class StraceParser:
    """Turns lines into records. A call that another task's line interrupted arrives in two
    halves; the first is kept (per task) until its resumed half comes."""

    def __init__(self, binary: str | None = None) -> None:
        self.pending: dict[int, tuple[str, int, str]] = {}
        self.restartable: dict[int, str] = {}  # per task: the call the kernel will restart
        self.unreadable = 0  # lines that are not strace's (or are cut short)
        self.binary = binary  # with strace -k: the program's own file, whose frames count
        self.sites: dict[tuple[int, int], int] = {}  # (task, entry) -> address in binary
        self.last: Call | None = None  # the call the next stack frames belong to

    def feed(self, line: str) -> list[Record]:
        """The records one line completes: usually none (half a call) or one; a task's end
        also completes the call it died in."""
        if line.startswith(" > "):
            self._frame(line)
            return []
        self.last = None
        head = _HEAD.fullmatch(line.rstrip("\n"))
        if head is None:
            self.unreadable += 1
            return []
        tid = int(head.group(1) or 0)
        t_ns = _ns(head.group(2), head.group(3))
        body = head.group(4)
        if body.startswith("---"):
            sig = _SIGNAL.match(body)  # not "--- stopped by SIGSTOP ---": a state, not news
            return [Signal(tid, t_ns, sig.group(1))] if sig else []
        if body.startswith("+++"):
            end = _EXIT.match(body)
            if end is None:
                self.unreadable += 1
                return []
            status = end.group(1)
            ended = Exit(tid, t_ns, None if status is None else int(status), end.group(2) or "")
            return [*self._died_in(tid, t_ns), ended]
        resumed = _RESUMED.match(body)
        if resumed:
            started = self.pending.pop(tid, None)
            if started is None:
                self.unreadable += 1
                return []
            name, enter_ns, args = started
            rest = args + resumed.group(2)
        else:
            call = _CALL.match(body)
            if call is None:
                self.unreadable += 1
                return []
            name, enter_ns, rest = call.group(1), t_ns, call.group(2)
        if rest.endswith(UNFINISHED):
            self.pending[tid] = (name, enter_ns, rest[:-len(UNFINISHED)])
            return []
        done = self._finish(tid, name, enter_ns, t_ns, rest)
        self.last = done
        return [done] if done is not None else []

    def _frame(self, line: str) -> None:
        """strace -k prints a completed call's stack under it, innermost frame first: the
        first frame in the program's own file is the line of the program that made it."""
        call = self.last
        if call is None or self.binary is None:
            return
        found = _FRAME.match(line)
        if found and found.group(1) == self.binary:
            self.sites[(call.tid, call.enter_ns)] = int(found.group(2), 16)
            self.last = None

    def _died_in(self, tid: int, t_ns: int) -> list[Call]:
        """The call a task was in when it ended, returning (never) at its end."""
        started = self.pending.pop(tid, None)
        if started is None:
            return []
        name, enter_ns, args = started
        return [Call(tid, name, enter_ns, max(t_ns, enter_ns), args, None, "", "", "",
                     returned=False)]

    def _finish(self, tid: int, name: str, enter_ns: int, t_ns: int, rest: str) -> Call | None:
        returned = _RETURNED.fullmatch(rest)
        if returned is None:
            self.unreadable += 1
            return None
        args, tail = returned.group(1), returned.group(2) or ""
        return_ns = t_ns
        timed = _DURATION.fullmatch(tail)
        if timed:
            tail = timed.group(1)
            if timed.group(2) is not None:
                return_ns = enter_ns + _ns(timed.group(2), timed.group(3))
        value = _VALUE.fullmatch(tail)
        if value is None:
            self.unreadable += 1
            return None
        text, annotation, details = value.groups()
        result = None if text == "?" else int(text, 0)
        errno = _ERRNO.match(details)
        if errno and errno.group(1) == "ERESTART_RESTARTBLOCK":
            self.restartable[tid] = name
        if name == "restart_syscall":
            # the rest of a call a stop signal interrupted: strace names the task's last
            # traced call, which is the one restarted only if it said so
            restarted = _RESTART.search(args)
            if restarted and self.restartable.pop(tid, "") == restarted.group(1):
                name = restarted.group(1)
        if UNFINISHED in args:  # "x(... <unfinished ...>) = ?": the task ends inside the call
            self.pending[tid] = (name, enter_ns, args.replace(UNFINISHED, ""))
            return None
        return Call(tid, name, enter_ns, return_ns, args, result,
                    errno.group(1) if errno else "", annotation or "", details)

    def close(self, end_ns: int) -> list[Call]:
        """The calls still running when tracing ended: they return at ``end_ns``."""
        return [call for tid in list(self.pending) for call in self._died_in(tid, end_ns)]


# -- what the arguments say ---------------------------------------------------------------------


def first_fd(args: str) -> tuple[int, str]:
    """The first argument as (descriptor, what it is): ``4<TCP:[...]>`` -> (4, "TCP:[...]");
    (-1, "") when the call does not start with a descriptor."""
    found = _FD.match(args)
    if found is None:
        return -1, ""
    return int(found.group(1)), found.group(2)


@dataclass(frozen=True)
class Inet:
    """A TCP or UDP socket as strace -yy shows it: its local address and, when connected,
    its peer's; (host, port) pairs, IPv6 hosts without brackets."""

    proto: str  # "tcp" or "udp"
    local: tuple[str, int] | None
    peer: tuple[str, int] | None


def unmapped(host: str) -> str:
    """An IPv4 client of a dual-stack (IPv6) socket as the client knows itself:
    ``::ffff:127.0.0.1`` -> ``127.0.0.1``."""
    if not host.lower().startswith("::ffff:"):
        return host
    try:
        mapped = ipaddress.IPv6Address(host).ipv4_mapped
    except ValueError:
        return host
    return str(mapped) if mapped else host


def _address(text: str) -> tuple[str, int] | None:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None  # "[68842]": an inode, the socket is not bound yet
    return unmapped(host.strip("[]")), int(port)


def inet_socket(annotation: str) -> Inet | None:
    """``TCP:[127.0.0.1:9090->127.0.0.1:41234]`` -> Inet; None for anything that is not a TCP
    or UDP socket (a file, a pipe, a UNIX socket, an epoll instance)."""
    found = _INET.fullmatch(annotation)
    if found is None:
        return None
    local, _, peer = found.group(3).partition("->")
    return Inet(found.group(1).lower(), _address(local), _address(peer) if peer else None)


def sockaddr(args: str) -> tuple[str, int] | None:
    """The first socket address written out in the arguments (recvfrom's or recvmsg's sender,
    accept's peer, bind's address) as (host, port), or None."""
    found = _PEER4.search(args) or _PEER6.search(args)
    return (unmapped(found.group(2)), int(found.group(1))) if found else None


def nth_arg(args: str, n: int) -> str:
    """The n-th top-level argument (from 0), split on commas outside brackets and quotes."""
    depth, start, index, quoted = 0, 0, 0, False
    for i, ch in enumerate(args):
        if ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            if index == n:
                return args[start:i].strip()
            index, start = index + 1, i + 1
    return args[start:].strip() if index == n else ""


UDP_ADDRESSED = ("recvfrom", "recvmsg", "sendto", "sendmsg")


def peer_of(call: Call, inet: Inet) -> tuple[str, int] | None:
    """The other end of a call on a socket: a TCP socket's peer, a UDP datagram's sender (or
    addressee) where the call names one; None for a listener or an unconnected socket."""
    if inet.proto == "udp" and call.name in UDP_ADDRESSED:
        return sockaddr(call.args) or inet.peer
    return inet.peer
