"""What strace has shown so far, read as it is written: the records themselves and what the
session waits for (a listening port, every byte of a client read, its connection ended)."""

from __future__ import annotations

from dataclasses import dataclass, field

from iosim.traced.scan import READS
from iosim.traced.sockets import SocketTable
from iosim.traced.strace import (
    Call,
    Record,
    StraceParser,
    first_fd,
    peer_of,
    sockaddr,
)

MAX_RECORDS = 500_000  # about 230 MB of calls in memory; tracing stops there


@dataclass
class Watch:
    """What strace has shown so far, read as it is written: listening ports, bytes read and
    connections finished per peer."""

    parser: StraceParser = field(default_factory=StraceParser)
    table: SocketTable = field(default_factory=SocketTable)
    records: list[Record] = field(default_factory=list)
    listening: dict[int, set[str]] = field(default_factory=dict)  # port -> protocols
    accepted: set[tuple[str, int]] = field(default_factory=set)
    read_bytes: dict[tuple[str, int], int] = field(default_factory=dict)
    ended: set[tuple[str, int]] = field(default_factory=set)
    sockets: int = 0
    calls: int = 0  # calls on TCP and UDP sockets
    kernel_reads: bool = False  # io_uring: the kernel reads, strace sees no read

    @property
    def full(self) -> bool:
        return len(self.records) >= MAX_RECORDS

    def feed(self, lines: list[str]) -> None:
        """Parse a batch of lines, learn what their calls say about the sockets (looking up,
        once for the batch, the peers no call gave), then what the session waits for."""
        self.add([record for line in lines for record in self.parser.feed(line)])

    def add(self, records: list[Record]) -> None:
        """Take records however they were made (strace's lines, or the perf tracer's)."""
        first = len(self.records)
        for record in records:
            self.records.append(record)
            if isinstance(record, Call):
                self.table.learn(record)
        self.table.resolve()
        for record in self.records[first:]:
            if isinstance(record, Call):
                self._call(record)

    def _call(self, call: Call) -> None:
        if call.name.startswith("io_uring"):
            self.kernel_reads = True
        inet = self.table.inet(call.annotation if call.name in ("socket", "accept", "accept4")
                               else first_fd(call.args)[1])
        if inet is None or call.result is None or call.result < 0:
            return
        self.calls += 1
        if call.name == "socket":
            self.sockets += 1
        if call.name == "listen" and inet.local:
            self.listening.setdefault(inet.local[1], set()).add(inet.proto)
        elif call.name == "bind" and inet.proto == "udp":
            bound = sockaddr(call.args)
            if bound:
                self.listening.setdefault(bound[1], set()).add("udp")
        elif call.name in ("accept", "accept4") and inet.peer:
            self.accepted.add(inet.peer)
        elif call.name in READS and call.name != "recvmmsg" or call.name == "close":
            peer = peer_of(call, inet)
            if peer is None:
                return
            if call.result > 0 and call.name != "close":
                self.read_bytes[peer] = self.read_bytes.get(peer, 0) + call.result
            else:
                self.ended.add(peer)

    def drained(self, expected: dict[tuple[str, int], int]) -> bool:
        """Every peer's bytes read and its end seen (end of file, goodbye datagram, close)."""
        return all(self.read_bytes.get(peer, 0) >= n and peer in self.ended
                   for peer, n in expected.items())
