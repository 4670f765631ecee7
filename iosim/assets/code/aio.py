# Asynchronous IO: the kernel waits for the data and copies it; a signal says it is done.
# Python has no POSIX aio: aio_read, aio_return and finished stand for aio_read(3),
# aio_return(3) and aio_error(3). iosim's real aio server does the same with io_uring.
import signal

from aio_helper import aio_read, aio_return, finished
from demo import own_work, process


def serve(socks):
    def start(sock, buf):  # returns at once: the kernel does both phases
        aio_read(sock, buf, signal.SIGUSR1)  #@ aio_read

    def on_done(signum, frame):  #@ handler
        for sock, buf in finished():  # the data is already in buf
            n = aio_return(sock)  #@ aio_return
            process(buf[:n])  #@ process
            start(sock, buf)  # the next read on this socket

    signal.signal(signal.SIGUSR1, on_done)
    for sock in socks:
        start(sock, bytearray(65536))
    while True:
        own_work()  #@ work
