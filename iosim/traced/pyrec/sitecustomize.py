"""iosim's recorder inside a traced Python program (put on its PYTHONPATH by ``iosim trace``).

For every call of the socket, select, selectors, signal, time.sleep, fcntl and os IO functions
it writes one fixed-size record into a memory-mapped file: the thread, the wall-clock times
(CLOCK_REALTIME, strace's clock) before and after the call, and the line of the traced script
that made it (the first frame in the script's file). No system call is made to record (the
file is mapped), so strace sees nothing of it and nothing is lost if the program is killed.
A forked child writes a file of its own. Standalone: the traced interpreter may not have iosim.
"""

import os


def _start(prefix, main):
    import fcntl
    import mmap
    import select
    import signal
    import socket
    import struct
    import sys
    import threading
    import time

    record = struct.Struct("<qqqi4x")  # task, entry ns, return ns (running: the most), line
    header = struct.Struct("<q")
    running = 2**63 - 1
    most = 1 << 20  # records a process writes at most (32 MB of file, filled as used)
    state = {"buf": None, "n": 0}

    def open_file():
        path = f"{prefix}.{os.getpid()}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, header.size + most * record.size)
            state["buf"] = mmap.mmap(fd, header.size + most * record.size)
        finally:
            os.close(fd)
        state["n"] = 0

    open_file()
    os.register_at_fork(after_in_child=open_file)
    pack, count, size, base = record.pack_into, header.pack_into, record.size, header.size
    now, task, frame = time.time_ns, threading.get_native_id, sys._getframe
    mains = {}  # file name -> whether it is the traced script
    local = threading.local()  # the thread's id, asked once (get_native_id is a system call)

    def wrap(call):
        def recorded(*args, **kwargs):
            n = state["n"]
            if n >= most:
                return call(*args, **kwargs)
            try:
                tid = local.tid
            except AttributeError:
                tid = local.tid = task()
            line, f = 0, frame(1)
            while f is not None:  # the innermost frame in the script: the line that called
                name = f.f_code.co_filename
                ours = mains.get(name)
                if ours is None:
                    ours = mains[name] = os.path.realpath(name) == main
                if ours:
                    line = f.f_lineno
                    break
                f = f.f_back
            buf = state["buf"]  # written before the call (its return time open), so that a
            at = base + n * size  # call still running when the program is stopped is known
            pack(buf, at, tid, now(), running, line)
            state["n"] = n + 1
            count(buf, 0, n + 1)
            try:
                return call(*args, **kwargs)
            finally:
                count(buf, at + 16, now())
        recorded.__wrapped__ = call
        return recorded

    for name in ("__init__", "_accept", "recv", "recv_into", "recvfrom", "recvfrom_into",
                 "recvmsg", "send", "sendall", "sendto", "sendmsg", "connect", "connect_ex",
                 "bind", "listen", "setblocking", "settimeout", "shutdown", "close"):
        setattr(socket.socket, name, wrap(getattr(socket.socket, name)))
    for module, names in ((select, ("select",)), (time, ("sleep",)),
                          (signal, ("signal", "pause", "sigtimedwait", "sigwait",
                                    "sigwaitinfo")),
                          (fcntl, ("fcntl", "ioctl")),
                          (os, ("read", "write", "waitpid", "wait"))):
        for name in names:
            if hasattr(module, name):
                setattr(module, name, wrap(getattr(module, name)))

    if hasattr(select, "poll"):
        make_poll = select.poll

        class Poll:
            """select.poll's object with its poll() recorded (the type is not subclassable)."""

            def __init__(self):
                self._poll = make_poll()
                self.register = self._poll.register
                self.modify = self._poll.modify
                self.unregister = self._poll.unregister
                self.poll = wrap(self._poll.poll)

        select.poll = Poll
    if hasattr(select, "epoll"):
        make_epoll = select.epoll

        class Epoll:
            """select.epoll's object with its poll() recorded (the type is not
            subclassable); selectors and asyncio use it through these methods."""

            def __init__(self, *args, **kwargs):
                self._epoll = make_epoll(*args, **kwargs)
                for name in ("poll", "register", "modify", "unregister", "close"):
                    setattr(self, name, wrap(getattr(self._epoll, name)))

            def __getattr__(self, name):
                return getattr(self._epoll, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self._epoll.close()

        select.epoll = Epoll
    import selectors  # socket imported it already: its classes hold the originals
    for name, cls in (("PollSelector", getattr(select, "poll", None)),
                      ("EpollSelector", getattr(select, "epoll", None))):
        if cls is not None and hasattr(selectors, name):
            getattr(selectors, name)._selector_cls = cls


def _chain():
    """Run the sitecustomize this one hides, if the program's environment has one."""
    import importlib
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    ours = sys.modules.pop(__name__, None)
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    try:
        importlib.import_module("sitecustomize")
    except ImportError:
        sys.modules[__name__] = ours
    finally:
        sys.path[:] = saved


if os.environ.get("IOSIM_PYREC") and os.environ.get("IOSIM_PYREC_MAIN"):
    try:
        _start(os.environ["IOSIM_PYREC"], os.environ["IOSIM_PYREC_MAIN"])
    except Exception as exc:  # the program runs on, unrecorded
        import sys
        print(f"iosim: the Python recorder did not start: {exc}", file=sys.stderr)
    for _name in ("IOSIM_PYREC", "IOSIM_PYREC_MAIN"):
        os.environ.pop(_name, None)  # not inherited by the programs it runs
_chain()
