# Edge-triggered epoll reports an arrival once. This loop reads once per report, as naive
# code does: what a read leaves stays queued, unreported, until the next arrival.
# The cure: after each report, read until recvfrom raises BlockingIOError (EAGAIN).
import select

from demo import process


def serve(socks, bufsize):
    by_fd = {sock.fileno(): sock for sock in socks}
    ep = select.epoll()  #@ epoll_create
    for fd, sock in by_fd.items():
        sock.setblocking(False)  # edge-triggered epoll needs non-blocking sockets
        ep.register(fd, select.EPOLLIN | select.EPOLLET)  #@ epoll_ctl
    while by_fd:
        for fd, _event in ep.poll():  #@ epoll_wait
            try:
                data, addr = by_fd[fd].recvfrom(bufsize)  #@ recvfrom
            except BlockingIOError:  # EAGAIN: nothing left (or a datagram dropped)
                continue
            if not data:
                ep.unregister(fd)
                del by_fd[fd]
            else:
                process(data)  #@ process
