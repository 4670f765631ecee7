# Signal-driven IO: SIGIO says something happened on a socket; the handler still reads it.
import os
import signal
from fcntl import F_SETFL, F_SETOWN, fcntl
from os import O_ASYNC, O_NONBLOCK

from demo import messages, own_work, process


def serve(socks):
    def drain(sock):  # until EWOULDBLOCK, as SIGIO is not queued; at most 16 reads
        for _ in range(16):
            try:
                data = sock.recvfrom(65536)[0]  #@ recvfrom
            except BlockingIOError:  # EWOULDBLOCK: nothing more queued
                return False
            if not data:  # 0 bytes: the client is done (TCP: it closed; UDP: an empty goodbye)
                socks.remove(sock)
                return False
            for message in messages(sock, data):
                process(message)  #@ process
        return True  # 16 reads: more may be queued

    def on_sigio(signum, frame):  #@ handler
        # plain SIGIO names no socket: read them all, and again while one had more
        while any([drain(sock) for sock in list(socks)]):
            pass

    signal.signal(signal.SIGIO, on_sigio)  #@ sigaction
    for sock in socks:
        fcntl(sock, F_SETOWN, os.getpid())  #@ fcntl F_SETOWN
        fcntl(sock, F_SETFL, O_NONBLOCK | O_ASYNC)  #@ fcntl O_ASYNC
    while socks:
        own_work()  #@ work
