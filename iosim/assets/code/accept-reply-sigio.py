# SIGIO on a TCP server: the kernel raises it for a new connection, data, the peer's
# half-close and send space alike. The handler cannot tell which, so it tries everything,
# each until EWOULDBLOCK: accept, recvfrom on every connection, send what waits.
import fcntl
import os
import signal
from contextlib import suppress

from demo import own_work, process, reply_to


def serve(listener):
    conns, outbox = [], {}

    def own(sock):  # its SIGIO to this process; non-blocking
        fcntl.fcntl(sock, fcntl.F_SETOWN, os.getpid())  #@ fcntl F_SETOWN
        fcntl.fcntl(sock, fcntl.F_SETFL, os.O_NONBLOCK | os.O_ASYNC)  #@ fcntl O_ASYNC

    def on_sigio(signum, frame):  #@ handler
        with suppress(BlockingIOError):  # EWOULDBLOCK ends each loop
            while conn := listener.accept()[0]:  #@ accept
                own(conn)
                conns.append(conn)
        for conn in conns:
            with suppress(BlockingIOError):
                while data := conn.recvfrom(65536)[0]:  #@ recvfrom
                    process(data)  #@ process
                    outbox[conn] = outbox.get(conn, b"") + reply_to(data)
            with suppress(BlockingIOError, KeyError):
                outbox[conn] = outbox[conn][conn.send(outbox[conn]):]  #@ send

    signal.signal(signal.SIGIO, on_sigio)  #@ sigaction
    own(listener)
    while True:
        own_work()  #@ work
