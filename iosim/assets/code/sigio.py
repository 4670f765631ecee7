# Signal-driven IO: SIGIO says a socket is readable; the handler still has to read it.
import fcntl
import os
import signal

from demo import own_work, process


def serve(socks):
    def on_sigio(signum, frame):  #@ handler
        for sock in list(socks):  # SIGIO is not queued: read each until EWOULDBLOCK
            try:
                while data := sock.recvfrom(65536)[0]:  #@ recvfrom
                    process(data)  #@ process
                socks.remove(sock)  # 0 bytes: the peer closed
            except BlockingIOError:  # nothing more queued on this socket
                pass

    signal.signal(signal.SIGIO, on_sigio)  #@ sigaction
    for sock in socks:
        fcntl.fcntl(sock, fcntl.F_SETOWN, os.getpid())  #@ fcntl F_SETOWN
        fcntl.fcntl(sock, fcntl.F_SETFL, os.O_NONBLOCK | os.O_ASYNC)  #@ fcntl O_ASYNC
    while socks:
        own_work()  #@ work
