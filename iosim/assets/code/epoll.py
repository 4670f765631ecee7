# IO multiplexing with epoll: register each socket once, then wait for the ready ones.
import select

from demo import process


def serve(socks):
    by_fd = {sock.fileno(): sock for sock in socks}
    ep = select.epoll()  #@ epoll_create
    for fd in by_fd:
        ep.register(fd, select.EPOLLIN)  #@ epoll_ctl
    while by_fd:
        for fd, _event in ep.poll():  #@ epoll_wait
            data, addr = by_fd[fd].recvfrom(65536)  #@ recvfrom
            if not data:
                ep.unregister(fd)
                del by_fd[fd]
            else:
                process(data)  #@ process
