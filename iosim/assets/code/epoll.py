# IO multiplexing with epoll: register each socket once, then wait for the ready ones.
import select

from demo import messages, process


def serve(socks):
    by_fd = {sock.fileno(): sock for sock in socks}
    ep = select.epoll()  #@ epoll_create
    for fd in by_fd:  # from now on, data arriving puts the socket on the ready list
        ep.register(fd, select.EPOLLIN)  #@ epoll_ctl
    while by_fd:
        for fd, _event in ep.poll():  #@ epoll_wait
            sock = by_fd[fd]
            data, addr = sock.recvfrom(65536)  #@ recvfrom
            if not data:  # 0 bytes: the client is done (TCP: it closed; UDP: an empty goodbye)
                ep.unregister(fd)
                del by_fd[fd]
            for message in messages(sock, data):  # TCP: one read may hold several
                process(message)  #@ process
