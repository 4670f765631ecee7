"""The state pane's content: a State (state.py) as blocks of rows, each row a label, boxes
(queued messages, bits, list entries) and words, longest variant first, so the drawing only
measures and places. Sentences are present tense and true of the trace they come from; what a
trace does not record is said once, not guessed (docs/teaching.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from iosim.teach.state import (
    FD_SETSIZE,
    FIRST_FD,
    Aio,
    Doing,
    Multiplexer,
    Phase,
    Request,
    Signals,
    Sock,
    State,
    Take,
    Thread,
    msg_words,
)
from iosim.teach.state_server import Listener
from iosim.timefmt import format_us

MAX_BITS = 40  # select's fd_set drawn bit by bit up to this nfds; beyond, in words
MAX_ENTRIES = 24  # epoll's lists drawn entry by entry up to this many


class Style(StrEnum):
    """What a box stands for (the drawing gives each one colour, the timeline's where it has
    one)."""

    QUEUED = "queued"  # data ready in a receive queue, not copied (the kernel lane's yellow)
    TAKEN = "taken"  # queued, and the next read takes it
    COPYING = "copying"  # being copied to the process (phase 2 blue)
    CLOSE = "close"  # the peer's close, queued behind the data
    SET = "set"  # a bit set, an entry on a list
    CLEAR = "clear"  # a bit clear
    READY = "ready"  # on epoll's ready list (data ready)
    PENDING = "pending"  # a signal pending (the handler's purple)
    BLOCKED = "blocked"  # thread states: the application lane's colours
    CALL = "call"
    RUNNING = "running"
    RUNNABLE = "runnable"
    ENDED = "ended"
    BAD = "bad"  # a datagram with a bad checksum, queued until a read drops it


@dataclass(frozen=True)
class Cell:
    text: str  # inside the box, if it fits ("" none)
    weight: float  # its share of the row's boxes (bytes; 1 for a bit)
    style: Style


@dataclass(frozen=True)
class Row:
    label: str
    cells: tuple[Cell, ...] = ()
    words: tuple[str, ...] = ()  # after the boxes: variants, longest first ("" none)
    mono: bool = False  # code: the lit line's values
    busy: bool = False  # a socket holding data or a close (counted as such when left out)
    gauge: bool = False  # the boxes are parts of one whole (a send buffer), drawn to scale


@dataclass(frozen=True)
class Block:
    title: str
    rows: tuple[Row, ...] = ()
    notes: tuple[tuple[str, ...], ...] = ()  # sentences under the rows, each as variants
    rest: str = ""  # what rows left out are ("sockets"): "+ N more sockets"
    busy: int = 0  # sockets: not in the rows, holding data or a close
    idle: int = 0  # sockets: not in the rows, empty


def tail(block: Block, cut: Sequence[Row]) -> list[str]:
    """The lines that count what the block does not show: its unlisted sockets, and
    ``cut``, the rows left out for room."""
    if block.rest != "sockets":
        return [f"+ {len(cut):,} more {block.rest or 'rows'}"] if cut else []
    busy = block.busy + sum(1 for r in cut if r.busy)
    idle = block.idle + sum(1 for r in cut if not r.busy)
    more = "more " if len(cut) < len(block.rows) else ""
    plus = "+ " if more else ""
    out = []
    if busy:
        out.append(f"{plus}{busy:,} {more}socket{'s hold' if busy != 1 else ' holds'} data")
    if idle:
        out.append(f"{plus}{idle:,} {more}socket{'s' if idle != 1 else ''}, empty")
    return out


def blocks(state: State) -> list[Block]:
    """The pane's blocks, most important first."""
    out = [queues(state)]
    if state.listener is not None:
        out.insert(0, listener(state, state.listener))
    if state.multiplexer is not None:
        out.append(multiplexer(state, state.multiplexer))
    if state.sends:  # a replying server's lesson: its send buffers, and what it watches
        out.insert(0, send_buffers(state))
        out.insert(1, out.pop())
    if state.aio is not None:
        out.append(aio(state, state.aio))
    if state.signals is not None:
        out.append(signals(state, state.signals))
    if state.variables:
        out.append(Block("The lit line's values", tuple(
            Row("", words=tuple(dict.fromkeys(f"{v.name} = {value}" for value in
                                              (v.value, *v.short))), mono=True)
            for v in state.variables), rest="values"))
    out.insert(1 if len(state.threads) > 1 else len(out), threads(state))
    front = [Block("Error", notes=((f"error: {state.error}",),))] if state.error else []
    if state.unknown:
        front.append(Block("What this trace cannot tell", notes=((state.unknown,),)))
    return front + out


def _bytes(n: int | None) -> str:
    return "? bytes" if n is None else f"{n:,} byte" + ("" if n == 1 else "s")


def _msgs(state: State, msgs: Sequence[int]) -> str:
    return msg_words(state.udp, msgs)


# -- receive queues ---------------------------------------------------------------------------


def queues(state: State) -> Block:
    rows = [_socket_row(state, s) for s in state.sockets]
    if state.udp:
        kind = ("UDP: each datagram keeps its boundary; one recvfrom takes one datagram.",
                "UDP: one recvfrom takes one datagram.")
    else:
        size = f" (its buffer: {state.buffer:,} bytes)" if state.buffer else ""
        kind = (f"TCP: a byte stream; a read takes what is queued, across message "
                f"boundaries, up to its buffer{size}.",
                "TCP: a byte stream; a read takes what is queued, up to its buffer.")
    notes = [kind]
    if state.listener is not None and not state.sockets and not state.unlisted:
        notes.insert(0, ("No connection accepted yet: a connection's socket is the program's "
                         "only once accept returns it.", "No connection accepted yet."))
    hol = _head_of_line(state)
    if hol:
        notes.append(hol)
    return Block("Receive queues (in the kernel)", tuple(rows), tuple(notes), "sockets",
                 state.unlisted_busy, state.unlisted - state.unlisted_busy)


class KeptRows:
    """Rows kept by what they were made of (a socket, a thread, a read), at most ``most``:
    the index keeps each of those while nothing of it changes, and c10k's frames show the
    same ones again and again (16 sockets, 10,100 threads)."""

    def __init__(self, most: int) -> None:
        self.most = most
        self._rows: dict[int, tuple[object, tuple[object, ...], Row]] = {}  # by id(of)

    def get(self, of: object, given: tuple[object, ...], make: Callable[[], Row]) -> Row:
        """The row of ``of`` and ``given`` (what else it says)."""
        kept = self._rows.get(id(of))
        if kept is not None and kept[0] is of and kept[1] == given:
            return kept[2]
        if len(self._rows) >= self.most:
            self._rows.clear()
        row = make()
        self._rows[id(of)] = (of, given, row)  # ``of`` kept alive: its id stays its own
        return row


SOCKET_ROWS = KeptRows(1024)  # a socket's row holds up to 200 boxes
LIST_ROWS = KeptRows(32768)  # threads and reads: a few words each


def _socket_row(state: State, s: Sock) -> Row:
    given = (state.udp, state.model, state.read_call, state.nonblocking, state.replies)
    return SOCKET_ROWS.get(s, given, lambda: _new_socket_row(state, s))


def _new_socket_row(state: State, s: Sock) -> Row:
    taken = set(s.take.msgs) if s.take is not None else set()
    cells = [Cell("bad", 1, Style.BAD)] if s.bad else []
    for c in s.chunks:
        style = Style.COPYING if c.copying else Style.TAKEN if c.msg in taken else Style.QUEUED
        number = f"≈{c.msg + 1}" if c.estimated else str(c.msg + 1)  # arrival not stamped
        cells.append(Cell(number, c.nbytes or c.total, style))
    if s.closed:
        cells.append(Cell("FIN" if not state.udp else "end", 0, Style.CLOSE))
    return Row(s.name, tuple(cells), _socket_words(state, s),
               busy=bool(s.chunks or s.closed or s.bad))


def _socket_words(state: State, s: Sock) -> tuple[str, ...]:
    call = state.read_call
    if s.bad:
        return (f"a datagram with a bad checksum, not yet checked: the socket looks readable; "
                f"{s.bad}", "bad checksum, not yet checked", "bad checksum")
    if s.done and state.replies:
        return ("the peer closed its side (a read returned 0); the reply still goes",
                "peer closed; the reply still goes", "peer closed")
    if s.done:
        return ("closed: a read returned 0, the program dropped it", "closed")
    take = s.take
    if take is None and s.dropped is not None:
        return (f"empty again: {call} dropped a datagram with a bad checksum at "
                f"{format_us(s.dropped)}; a blocking {call} sleeps on",
                f"empty: {call} dropped a bad datagram", "empty")
    if take is None:
        if state.model == "aio":
            return ("empty",)
        if state.nonblocking:
            return (f"empty: {call} returns EWOULDBLOCK", "empty")
        return (f"empty: {call} would block", "empty")
    if take.eof:
        what = "the peer's empty goodbye datagram" if state.udp else "the peer's FIN"
        return (f"only {what}: the next {call} returns 0", "next read returns 0")
    return _take_words(state, take, call)


def _take_words(state: State, take: Take, call: str) -> tuple[str, ...]:
    who = "the outstanding aio_read" if call == "aio_read" else f"the next {call}"
    left = "nothing" if take.left_msgs == 0 else (
        f"{take.left_msgs} {'datagram' if state.udp else 'message'}"
        + ("" if take.left_msgs == 1 else "s") if take.left_bytes is None
        else _bytes(take.left_bytes))
    if state.udp and take.truncated:
        return (f"{who} takes the first {_bytes(take.nbytes)} of {_msgs(state, take.msgs)}; "
                f"the other {take.truncated:,} are discarded",
                f"takes {_bytes(take.nbytes)}; {take.truncated:,} discarded")
    what = _msgs(state, take.msgs)
    if take.partial:
        what = f"{what}, the last in part"
    return (f"{who} takes {_bytes(take.nbytes)} ({what}), leaves {left}",
            f"takes {_bytes(take.nbytes)} ({what}), leaves {left}",
            f"takes {_bytes(take.nbytes)}, leaves {left}",
            f"takes {_bytes(take.nbytes)}")


def _head_of_line(state: State) -> tuple[str, ...]:
    """A thread asleep in recvfrom on one socket while others hold data: say where it waits."""
    waiting = [t for t in state.threads if t.doing is Doing.BLOCKED and t.detail == "in recvfrom"]
    if len(state.threads) != 1 or not waiting or state.line != "recvfrom":
        return ()
    on = next((v.value for v in state.variables if v.name == "sock"), "")
    busy = [s.name for s in state.sockets if s.name != on and s.chunks]
    if not on or not busy:
        return ()
    names = ", ".join(busy[:4]) + (" ..." if len(busy) > 4 else "")
    return (f"recvfrom waits on {on} while {names} hold data: head-of-line blocking.",
            f"recvfrom waits on {on}; {names} hold data.")


# -- select, poll, epoll ----------------------------------------------------------------------


def multiplexer(state: State, m: Multiplexer) -> Block:
    if m.family == "select":
        return _select(state, m)
    if m.family == "poll":
        return _poll(state, m)
    return _epoll(state, m)


def _fd(state: State, conn: int) -> str:
    return f"fd {FIRST_FD + conn}" if state.source == "sim" else f"conn {conn}"


def _names(state: State, conns: Sequence[int], limit: int = 6, listener: bool = False) -> str:
    shown = ", ".join(["the listening socket"] * listener + [_fd(state, c) for c in conns[:limit]])
    return shown + (f" and {len(conns) - limit} more" if len(conns) > limit else "")


def _ready_names(state: State, m: Multiplexer, limit: int = 6) -> str:
    return _names(state, m.returned, limit, m.listener_ready)


def _owned(m: Multiplexer, title: str) -> str:
    """A pool's thread names its own set or epoll instance."""
    return f"{m.owner}: {title}" if m.owner else title


def _listener_row(m: Multiplexer, event: str) -> list[Row]:
    if not m.listening:
        return []
    return [Row("listener", words=(f"the listening socket, {event}", event))]


def _select(state: State, m: Multiplexer) -> Block:
    if m.watched is None:
        return Block("select", notes=((_returned_words(state, m),),))
    nfds = FIRST_FD + m.watched.highest() + 1
    watched = set(m.watched.head(MAX_BITS)) if nfds <= MAX_BITS else set()
    rows = _listener_row(m, "returned readable" if m.listener_ready else "its bit set")
    if m.listening and not watched:
        rows.append(Row("in", words=("no connection of its own yet",)))
    elif nfds <= MAX_BITS:
        rows.append(Row("in", tuple(Cell(str(fd), 1, Style.SET if fd - FIRST_FD in watched
                                         else Style.CLEAR) for fd in range(nfds))))
        if m.phase is Phase.RETURNED:
            back = set(m.returned)
            rows.append(Row("out", tuple(Cell(str(fd), 1, Style.SET if fd - FIRST_FD in back
                                              else Style.CLEAR) for fd in range(nfds))))
    elif nfds <= FD_SETSIZE:
        rows.append(Row("in", words=(f"{len(m.watched):,} bits set, fd {FIRST_FD} to "
                                     f"fd {nfds - 1}",)))
    else:
        rows.append(Row("in", words=(f"{len(m.watched):,} sockets, fd {FIRST_FD} to "
                                     f"fd {nfds - 1}: more than the set's {FD_SETSIZE:,} bits",
                                     f"{len(m.watched):,} sockets: too many bits")))
    notes = [_select_phase(state, m, nfds)]
    if nfds > FD_SETSIZE:
        notes.insert(0, (f"fd {nfds - 1} >= FD_SETSIZE ({FD_SETSIZE}): an fd_set has no bit "
                         "for it, so select cannot watch it.",
                         f"fd {nfds - 1} >= FD_SETSIZE: select cannot watch it."))
    title = f"select: the fd_set (nfds = {nfds:,})" if not m.listening else \
        "select: the listening socket and its own connections"
    return Block(_owned(m, title), tuple(rows), tuple(notes))


def _select_phase(state: State, m: Multiplexer, nfds: int) -> tuple[str, ...]:
    n = len(m.watched) if m.watched is not None else 0
    if m.error:
        return ("The run stopped before its first select.",)
    return {
        Phase.BEFORE: ("No select call yet.",),
        Phase.SCANNING: (f"select copies the set into the kernel and checks fds 0 to "
                         f"{nfds - 1} one by one: its cost grows with nfds.",
                         "select copies the set in and checks each fd."),
        Phase.ASLEEP: (f"Asleep on the wait queue of each of the {n:,} watched sockets; "
                       "an arrival on any of them wakes it.",
                       "Asleep on every watched socket's wait queue."),
        Phase.WAKING: ("Woken by an arrival; not running yet.",),
        Phase.RESCANNING: ("Checks every descriptor again and leaves a bit set for each "
                           "readable one.", "Checks every descriptor again."),
        Phase.RETURNED: (_returned_words(state, m),
                         f"Returned: {_ready_names(state, m, 3)} readable."),
    }[m.phase]


def _returned_words(state: State, m: Multiplexer) -> str:
    if m.phase is not Phase.RETURNED:
        return f"{m.call} has not returned."
    if m.family == "select":
        return (f"Returned: bits left set for {_ready_names(state, m)}, the rest cleared; "
                "the set is copied out, so the next call must fill it again.")
    if m.family == "poll":
        event = "POLLOUT" if m.only_writable else "POLLIN" if not m.writable else \
            "POLLIN or POLLOUT"
        space = ": a third of the send buffer is free again" if m.only_writable else ""
        return (f"Returned: revents {event} on {_ready_names(state, m)}{space}; the array is "
                "copied out, events kept for the next call.")
    what = "writable" if m.only_writable else "ready"
    return f"Returned {len(m.returned) + m.listener_ready} {what}: {_ready_names(state, m)}."


def _poll(state: State, m: Multiplexer) -> Block:
    rows = []
    n = 0
    if m.watched is not None:
        n = len(m.watched)
        back = set(m.returned)
        shown = m.watched.head(4)
        for conn in shown:
            events = m.events.get(conn, "POLLIN")
            revents = "0" if conn not in back else "POLLOUT" if m.only_writable else \
                events if m.writable else "POLLIN"
            words = f"events {events}, revents {revents}" if m.phase is Phase.RETURNED \
                else f"events {events}"
            rows.append(Row(_fd(state, conn), words=(words,)))
        if n > len(shown):
            rows.append(Row("", words=(f"+ {n - len(shown):,} more entries",)))
    phase = {
        Phase.BEFORE: ("No poll call yet.",),
        Phase.SCANNING: (f"poll copies the {n:,} entries into the kernel and checks each: "
                         "its cost grows with the number watched.",
                         "poll copies the array in and checks each entry."),
        Phase.ASLEEP: (f"Asleep on the wait queue of each of the {n:,} sockets.",),
        Phase.WAKING: ("Woken by an arrival; not running yet.",),
        Phase.RESCANNING: ("Checks every entry again to fill in revents.",),
        Phase.RETURNED: (_returned_words(state, m),
                         f"Returned: {_ready_names(state, m, 3)} "
                         f"{'writable' if m.only_writable else 'ready'}."),
    }[m.phase]
    notes = [phase]
    if any("POLLOUT" in e for e in m.events.values()):
        notes.append(("POLLOUT is asked for only while a reply waits for room in the send "
                      "buffer; asked for always, poll would return at once, forever.",
                      "POLLOUT only while a reply waits."))
    return Block(_owned(m, f"poll: the pollfd array ({n:,} entries)"), tuple(rows),
                 tuple(notes))


def _epoll(state: State, m: Multiplexer) -> Block:
    rows = _listener_row(m, "returned ready" if m.listener_ready else "registered")
    if m.watched is not None and m.listening and not len(m.watched):
        rows.append(Row("interest", words=("no connection of its own yet",)))
    elif m.watched is not None:
        n = len(m.watched)
        if n <= MAX_ENTRIES:
            rows.append(Row("interest", tuple(Cell(_fd(state, c).split()[-1], 1, Style.SET)
                                              for c in m.watched.head(n))))
        else:
            rows.append(Row("interest", words=(f"{n:,} sockets, each added once with "
                                               "epoll_ctl", f"{n:,} sockets")))
    if m.ready is None:
        rows.append(Row("ready", words=("not recorded",)))
    elif not m.ready:
        rows.append(Row("ready", words=("empty",)))
    elif len(m.ready) <= MAX_ENTRIES:
        rows.append(Row("ready", tuple(Cell(_fd(state, c).split()[-1], 1, Style.READY)
                                       for c in m.ready)))
    else:
        rows.append(Row("ready", words=(f"{len(m.ready):,} sockets",)))
    if m.events:
        asked = [f"{_fd(state, c)}: {e}" for c, e in list(m.events.items())[:4]]
        rows.append(Row("events", words=(", ".join(asked), asked[0])))
    notes = [_epoll_phase(state, m)]
    if any("EPOLLOUT" in e for e in m.events.values()):
        notes.append(("EPOLLOUT is asked for only while a reply waits for room in the send "
                      "buffer, or epoll_wait would report the socket writable forever.",
                      "EPOLLOUT only while a reply waits."))
    if m.callback is not None and m.ready and not m.only_writable:
        conn, t = m.callback
        notes.append((f"At {format_us(t)} data reached {_fd(state, conn)}: its callback put "
                      "it on the ready list.",
                      f"{_fd(state, conn)}'s callback put it on the ready list."))
    stalled = _stalled(state, m)
    if stalled:  # the lesson of edge-triggered epoll comes first
        notes.insert(0, stalled)
    notes.append(("Edge-triggered: only a new arrival puts a socket back; read until EAGAIN.",
                  "Edge-triggered: read until EAGAIN.") if m.edge else
                 ("Level-triggered: a reported socket goes back on the list while data "
                  "remains.", "Level-triggered."))
    trigger = "edge-triggered" if m.edge else "level-triggered"
    title = f"epoll ({trigger}): interest and ready lists"
    return Block(_owned(m, title if not m.owner else f"its own epoll ({trigger})"),
                 tuple(rows), tuple(notes))


def _stalled(state: State, m: Multiplexer) -> tuple[str, ...]:
    """Edge-triggered, asleep while a registered socket still holds data: it is not told."""
    if not m.edge or m.phase not in (Phase.ASLEEP, Phase.SCANNING) or m.watched is None:
        return ()
    watched = set(m.watched.head(MAX_ENTRIES))
    for s in state.sockets:
        left = sum(c.nbytes or 0 for c in s.chunks)
        if s.conn in watched and left and s.conn not in (m.ready or ()):
            return (f"{_bytes(left)} wait on {s.name}, but edge-triggered epoll reported it "
                    "once and will not again until new data arrives; reading until EAGAIN "
                    "would have taken them.", f"{_bytes(left)} wait on {s.name}, unreported.")
    return ()


def _epoll_phase(state: State, m: Multiplexer) -> tuple[str, ...]:
    n = len(m.watched) if m.watched is not None else 0
    if m.phase is Phase.BEFORE:
        return (f"Registering: epoll_ctl adds each socket once ({n:,} so far).",
                "Registering with epoll_ctl.")
    if m.phase is Phase.RETURNED and m.only_writable:
        return (f"epoll_wait returned {_ready_names(state, m)} writable: a third of the send "
                "buffer is free again; send copies what fits.",
                f"epoll_wait returned {_ready_names(state, m, 3)} writable.")
    if m.phase is Phase.RETURNED:
        k = len(m.returned)
        registered = f"the {n:,} registered" if n > k else "how many are registered"
        k += m.listener_ready
        return (f"epoll_wait returned {k} socket{'s' if k != 1 else ''} off the ready list, "
                f"without a scan: its cost follows the ready ones, not {registered}.",
                f"epoll_wait returned {_ready_names(state, m, 3)}.")
    if m.phase is Phase.WAKING:
        return ("Woken by a callback; not running yet.",)
    return ("epoll_wait sleeps until a callback puts a socket on the ready list; it scans "
            "nothing.", "Asleep until a callback fills the ready list.")


# -- the listening socket and the send buffers ----------------------------------------------


def listener(state: State, ln: Listener) -> Block:
    """The accept queue, who sleeps on it, and who took each connection."""
    empty = "empty: accept returns EWOULDBLOCK" if ln.nonblocking else "empty: accept blocks"
    if ln.queue:
        names = ", ".join(f"connection {c}" for c in ln.queue)
        queue = Row("queue", tuple(Cell(str(c), 1, Style.QUEUED) for c in ln.queue),
                    (f"{names}: established, waiting for accept", "waiting for accept"))
    else:
        queue = Row("queue", words=(empty, "empty"))
    took = [f"connection {c} by {who}" for c, who in ln.accepted]
    rows = [queue, Row("accepted", words=(", ".join(took) or "none yet",
                                          f"{len(took)} connection{'s' if len(took) != 1 else ''}"
                                          if took else "none yet"))]
    if ln.asleep:
        rows.append(Row("in accept", words=(f"{', '.join(ln.asleep)} asleep on it",
                                            f"{len(ln.asleep)} asleep")))
    notes = []
    if ln.latest is not None:
        who, conn = ln.latest
        pool = len(state.threads) > 1
        notes.append((f"{who}'s accept returned EWOULDBLOCK: another thread took the "
                      "connection; its wake-up was for nothing.",
                      f"{who}'s accept: EWOULDBLOCK.") if conn < 0 and pool else
                     ("accept returned EWOULDBLOCK: no connection waits.",) if conn < 0 else
                     (f"{who}'s accept returned connection {conn}: only now does the "
                      "program have its socket.", f"{who}'s accept: connection {conn}."))
    if ln.in_accept and len(ln.asleep) > 1:
        notes.append(("accept's wait is exclusive: a connection wakes one sleeping thread, "
                      "not all.", "accept wakes one thread."))
    elif state.multiplexer is not None and state.multiplexer.listening \
            and len(state.threads) > 1:
        call = state.multiplexer.call
        notes.append((f"A connection wakes every thread whose {call} watches the listening "
                      "socket; one accept gets it.", "A connection wakes every watcher."))
    return Block("Listening socket: the accept queue", tuple(rows), tuple(notes))


def send_buffers(state: State) -> Block:
    rows = []
    for b in state.sends:
        free = b.size - b.used
        words = f"{_bytes(b.used)} of {b.size:,}, not yet read by the client"
        short = f"{b.used:,} of {b.size:,} bytes"
        if b.used >= b.size:
            words, short = f"full: {words}", f"full: {short}"
        more = []
        if b.waiting:
            more.append(f"{b.waiting:,} more wait in the outbox")
        if b.blocked:
            more.append("send sleeps until a third is free")
        cells = tuple(c for c in (Cell("", b.used, Style.QUEUED), Cell("", free, Style.CLEAR))
                      if c.weight > 0)
        rows.append(Row(b.name, cells, tuple(dict.fromkeys(
            ("; ".join([words, *more]), "; ".join([short, *more]), short))), gauge=True))
    return Block("Send buffers (in the kernel)", tuple(rows), ((
        "send copies the reply into the send buffer; the client's reads make room. Full, a "
        "blocking send sleeps and a non-blocking one returns EWOULDBLOCK, until a third is "
        "free: then the socket is writable (POLLOUT, EPOLLOUT).",
        "Full: send sleeps or returns EWOULDBLOCK until a third is free."),), "sockets")


# -- signals, aio, threads --------------------------------------------------------------------


def signals(state: State, s: Signals) -> Block:
    rows = []
    if s.pending is None:
        rows.append(Row("pending", words=("not recorded",)))
    else:
        bit = Cell("1" if s.pending else "0", 1, Style.PENDING if s.pending else Style.CLEAR)
        raises = "completions" if state.model == "aio" else "arrivals"
        if s.pending and s.merged > 1:
            words = (f"set; it stands for {s.merged} {raises}: standard signals are not queued",
                     f"set, for {s.merged} {raises}", "set")
        elif s.pending and state.model == "aio":
            words = ("set: delivered again when the handler returns", "set")
        elif s.pending and state.listener is not None:
            words = ("set: the handler will try everything once more", "set")
        elif s.pending:
            words = ("set: the handler will read every socket once more", "set")
        else:
            words = ("clear",)
        rows.append(Row("pending", (bit,), words))
    reads = "collects finished reads with aio_return" if state.model == "aio" else \
        "tries accept, every read and every send" if state.listener is not None else \
        "reads every socket until EWOULDBLOCK"
    rows.append(Row("handler", words=(f"running: it {reads}", "running") if s.handler
                    else ("not running",)))
    rows.append(Row("delivered", words=(f"{s.delivered:,} so far",)))
    if s.cause is not None:
        rows.append(Row("raised by", words=(f"{s.cause} (the latest)", s.cause)))
    if s.setsig:
        rows.append(Row("queued", tuple(Cell(_fd(state, c).split()[-1], 1, Style.PENDING)
                                        for c in s.queued[:MAX_ENTRIES]),
                        () if s.queued else ("none",)))
    if state.model == "aio":
        title = f"Completion signal ({s.code_name} in the code)"
        notes = ((f"{s.code_name} is a standard signal: not queued, one delivery may stand "
                  "for several completions.", "Standard signal: not queued."),)
    elif state.listener is not None or state.sends:
        title = "SIGIO"
        notes = (("On TCP, SIGIO is raised by a connection, data, the peer's close and room to "
                  "send alike: the handler cannot tell which, so it tries everything (Stevens: "
                  "next to useless with TCP).", "On TCP, SIGIO does not say why."),)
    else:
        title = "SIGIO"
        notes = (("F_SETSIG would queue a real-time signal per event, carrying its descriptor."
                  if s.setsig else
                  "Plain SIGIO names no descriptor: the handler reads every socket. F_SETSIG "
                  "would queue a real-time signal per event, carrying the descriptor (si_fd).",
                  "Plain SIGIO names no descriptor."),)
    return Block(title, tuple(rows), notes)


AIO_WORDS = {
    "none": ("no read outstanding",),
    "waiting": ("outstanding: glibc's helper thread is blocked in read() on it (phase 1)",
                "helper thread blocked in read()", "waiting"),
    "copying": ("the helper thread's read() copies into buf (phase 2, its CPU time)",
                "copying into buf", "copying"),
    "in flight": ("in flight: submitted, its completion not yet reaped", "in flight"),
    "reaped": ("reaped from the completion ring", "reaped"),
}


def aio(state: State, a: Aio) -> Block:
    rows = [LIST_ROWS.get(r, (), lambda r=r: _request_row(r)) for r in a.requests]
    if a.ring:
        return Block("io_uring: submission and completion rings", tuple(rows), (
            (f"{a.submitted:,} reads submitted, {a.collected:,} completions reaped.",),
            ("Reads go on the submission ring; the kernel posts each completion on the "
             "completion ring (no signal by default). When it posted one is not recorded, "
             "only when the server reaped it.", "When the kernel posted each completion is "
             "not recorded."),
        ), "reads")
    return Block("aio: each socket's outstanding read", tuple(rows), (
        ("Simulated POSIX aio (Figure 6.5): the kernel waits and copies, then signals. On "
         "Linux, glibc runs it as a blocking read() in a helper thread of the process; "
         "io_uring is the kernel's own completion model (a ring, no signal by default).",
         "On Linux, glibc's aio_read runs a blocking read() in a helper thread."),
    ), "reads")


def _request_row(r: Request) -> Row:
    words = AIO_WORDS.get(r.phase)
    if words is None:
        n = _bytes(r.nbytes)
        words = (f"complete: {n} in buf; aio_return collects them", f"complete: {n}",
                 "complete") if r.phase == "done" else (f"collected by aio_return ({n})",
                                                        "collected")
    return Row(r.name, words=words)


DOING_STYLES = {Doing.RUNNING: Style.RUNNING, Doing.IN_CALL: Style.CALL,
                Doing.IN_KERNEL: Style.CALL,
                Doing.BLOCKED: Style.BLOCKED, Doing.RUNNABLE: Style.RUNNABLE,
                Doing.ENDED: Style.ENDED, Doing.NOT_STARTED: Style.ENDED}


def threads(state: State) -> Block:
    rows = tuple(LIST_ROWS.get(t, (), lambda t=t: _thread_row(t)) for t in state.threads)
    title = "Threads" if len(rows) > 1 else "The process (one thread)"
    return Block(title, rows, rest="threads")


def _thread_row(t: Thread) -> Row:
    return Row(t.name, (Cell("", 1, DOING_STYLES[t.doing]),),
               (f"{t.doing.value}: {t.detail}" if t.detail else t.doing.value, t.doing.value))
