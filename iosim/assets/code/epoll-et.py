# Edge-triggered epoll reports an arrival once. This loop reads once per report, as naive
# code does: what a read leaves stays queued, unreported, until the next arrival.
# The cure: after each report, read until recvfrom raises BlockingIOError (EAGAIN).
import select

from demo import messages, process


def serve(socks):
    by_fd = {sock.fileno(): sock for sock in socks}
    ep = select.epoll()  #@ epoll_create
    for fd, sock in by_fd.items():
        sock.setblocking(False)  # edge-triggered epoll needs non-blocking sockets
        ep.register(fd, select.EPOLLIN | select.EPOLLET)  #@ epoll_ctl
    while by_fd:
        for fd, _event in ep.poll():  #@ epoll_wait
            sock = by_fd[fd]
            try:
                data, addr = sock.recvfrom(65536)  #@ recvfrom
            except BlockingIOError:  # EAGAIN: nothing left to read
                continue
            if not data:  # 0 bytes: the client is done (TCP: it closed; UDP: an empty goodbye)
                ep.unregister(fd)
                del by_fd[fd]
            for message in messages(sock, data):  # TCP: a read may hold part of one, or several
                process(message)  #@ process
