# Asynchronous IO with io_uring, Linux's own completion model (iosim's real aio server): a
# read is queued in a submission ring and returns at once; the kernel waits for the data and
# copies it into the buffer; a completion appears in a second ring, with no signal.
from demo import messages, own_work, process
from uring import Ring  # iosim/real/uring.py: io_uring_setup, mmap, io_uring_enter


def serve(socks):
    ring = Ring()
    bufs = {sock.fileno(): bytearray(65536) for sock in socks}

    def start(fd):  # a recv in the submission ring; returns at once
        ring.recv(fd, bufs[fd])  #@ aio_read

    for fd in bufs:
        start(fd)
    while bufs:
        while not ring.ready():  # a look at the completion ring: memory, not a call
            own_work()  #@ work
        while ring.ready():  #@ handler
            fd, n = ring.pop()  # the trace calls it aio_return  #@ aio_return
            if n == 0:  # the client is done: no more reads on this socket
                del bufs[fd]
                continue
            for message in messages(fd, bufs[fd][:n]):
                process(message)  #@ process
            start(fd)
