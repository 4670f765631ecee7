"""What each socket is, learned from the calls themselves, for runs of many sockets: there
strace runs with ``-y``, which names a socket by its inode (``4<socket:[284060]>``) at the cost
of one readlink, where ``-yy`` looks its addresses up over netlink for every descriptor it
prints (2-3 ms a socket once ten thousand are open: a c10k scenario would take minutes). The
addresses are in the calls:
``socket`` gives the protocol, ``bind`` the local address, ``connect`` the peer, ``accept`` the
client (where the program asks for it); a peer no call gave (``accept(fd, NULL, NULL)``, as
libuv calls it) is looked up in /proc/net once per batch of lines (a socket closed before
its line was read is not found there: its peer stays unknown, which is why -yy stays the
default for runs of a few sockets).

Each socket is then an ``Inet`` as strace's ``-yy`` would have written it, so everything after
the parser reads both forms (the recorded fixtures use ``-yy``).
"""

from __future__ import annotations

import re
import socket as socket_mod
import struct
from pathlib import Path

from iosim.traced.strace import Call, Inet, inet_socket, nth_arg, sockaddr

INODE = re.compile(r"socket:\[(\d+)\]")
_FAMILIES = {"AF_INET", "AF_INET6"}
PROC_TABLES = (("tcp", "/proc/net/tcp"), ("tcp", "/proc/net/tcp6"), ("udp", "/proc/net/udp"),
               ("udp", "/proc/net/udp6"))
MAX_LOOKUPS = 64  # /proc reads per run at most: a peer still unknown then stays unknown


class SocketTable:
    """inode -> Inet for the sockets of the traced program, learned call by call."""

    def __init__(self) -> None:
        self.known: dict[int, Inet] = {}
        self.unresolved: set[int] = set()
        self.lookups = 0

    def inet(self, annotation: str) -> Inet | None:
        """The socket an annotation names (``socket:[N]`` or strace's ``-yy`` form)."""
        found = INODE.fullmatch(annotation)
        if found is None:
            return inet_socket(annotation)
        return self.known.get(int(found.group(1)))

    def learn(self, call: Call) -> None:
        """What a completed call tells about its socket (or the one it returned)."""
        if call.result is None or call.result < 0 and call.errno != "EINPROGRESS":
            return
        name = call.name
        if name == "socket":
            made = INODE.fullmatch(call.annotation)
            if made and nth_arg(call.args, 0) in _FAMILIES:
                kind = nth_arg(call.args, 1)
                proto = "tcp" if "SOCK_STREAM" in kind else "udp" if "SOCK_DGRAM" in kind \
                    else ""
                if proto:
                    self.known[int(made.group(1))] = Inet(proto, None, None)
            return
        first = _inode(call.args)
        if first is None or first not in self.known:
            return
        inet = self.known[first]
        if name == "bind":
            self.known[first] = Inet(inet.proto, sockaddr(call.args) or inet.local, inet.peer)
        elif name == "connect":
            self.known[first] = Inet(inet.proto, inet.local, sockaddr(call.args) or inet.peer)
        elif name in ("accept", "accept4"):
            made = INODE.fullmatch(call.annotation)
            if made is None:
                return
            inode = int(made.group(1))
            peer = sockaddr(call.args)
            self.known[inode] = Inet(inet.proto, inet.local, peer)
            if peer is None:
                self.unresolved.add(inode)
        elif name == "listen" and (inet.local is None or inet.local[1] == 0):
            self.unresolved.add(first)

    def resolve(self) -> None:
        """Look the unresolved sockets up in /proc/net (the kernel's own tables); those not
        found yet (a table read while it changes may skip a row) are looked for again with
        the next batch, MAX_LOOKUPS reads at most."""
        if not self.unresolved or self.lookups >= MAX_LOOKUPS:
            return
        self.lookups += 1
        for proto, path in PROC_TABLES:
            for inode, local, peer, _ in proc_sockets(path):
                if inode in self.unresolved and (peer is not None or local[1] if local else 0):
                    self.known[inode] = Inet(proto, local, peer)
                    self.unresolved.discard(inode)


def _inode(args: str) -> int | None:
    """The inode of the socket the call's first argument names."""
    head = args.split(",", 1)[0]
    found = INODE.search(head)
    return int(found.group(1)) if found else None


def proc_sockets(path: str) -> list[tuple[int, tuple[str, int] | None, tuple[str, int] | None,
                                     str]]:
    """(inode, local, peer, state) of every socket of a /proc/net table; the peer None when
    unset; the state as /proc writes it (0A: TCP listen; 07: UDP, TCP closed)."""
    try:
        text = Path(path).read_text()
    except OSError:
        return []
    rows = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        local, remote = _hex_address(fields[1]), _hex_address(fields[2])
        peer = remote if remote and remote[1] else None
        rows.append((int(fields[9]), local, peer, fields[3]))
    return rows


def _hex_address(text: str) -> tuple[str, int] | None:
    """``0100007F:2382`` -> ("127.0.0.1", 9090); IPv6 in the kernel's word order."""
    host, _, port = text.partition(":")
    try:
        raw = bytes.fromhex(host)
        number = int(port, 16)
    except ValueError:
        return None
    if len(raw) == 4:
        return socket_mod.inet_ntop(socket_mod.AF_INET, raw[::-1]), number
    if len(raw) == 16:
        words = struct.unpack("<4I", raw)
        return socket_mod.inet_ntop(socket_mod.AF_INET6, struct.pack(">4I", *words)), number
    return None


def port_states(port: int, with_peer: bool = False
                ) -> list[tuple[str, str, int, int, tuple[str, int] | None]]:
    """(protocol, state, receive queue, inode, peer) of every socket bound to ``port`` in
    this machine's network namespace (TCP states as /proc names them: 0A listen, 06
    TIME_WAIT); the peer only ``with_peer`` (None otherwise, or unconnected)."""
    found = []
    for proto, path in PROC_TABLES:
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10:
                continue
            local = _hex_address(fields[1])
            if local is None or local[1] != port:
                continue
            rx = int(fields[4].partition(":")[2] or "0", 16)
            peer = _hex_address(fields[2]) if with_peer else None
            found.append((proto, fields[3], rx, int(fields[9]),
                          peer if peer and peer[1] else None))
    return found
