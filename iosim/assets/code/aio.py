# Asynchronous IO as POSIX defines it (Stevens, Figure 6.5), as the simulator runs it: the
# kernel waits for the data, copies it, then sends the signal named in aio_read. Python has no
# POSIX aio: aio_read, aio_return and finished stand for aio_read(3), aio_return(3) and
# aio_error(3). On Linux, glibc runs each aio_read as a blocking read in a helper thread.
import signal

from aio_helper import aio_read, aio_return, finished
from demo import messages, own_work, process


def serve(socks):
    def start(sock, buf):  # returns at once; the read completes later
        aio_read(sock, buf, signal.SIGUSR1)  #@ aio_read

    def on_done(signum, frame):  #@ handler
        for sock, buf in finished():  # each finished read: its data is already in buf
            n = aio_return(sock)  #@ aio_return
            if n == 0:  # the client is done: no more reads on this socket
                continue
            for message in messages(sock, buf[:n]):
                process(message)  #@ process
            start(sock, buf)  # the next read on this socket

    signal.signal(signal.SIGUSR1, on_done)
    for sock in socks:
        start(sock, bytearray(65536))
    while True:
        own_work()  #@ work
