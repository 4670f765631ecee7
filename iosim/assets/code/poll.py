# IO multiplexing with poll: no FD_SETSIZE limit, but each call scans every descriptor.
import select

from demo import process


def serve(socks):
    by_fd = {sock.fileno(): sock for sock in socks}
    poller = select.poll()
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    while by_fd:
        for fd, _event in poller.poll():  #@ poll
            data, addr = by_fd[fd].recvfrom(65536)  #@ recvfrom
            if not data:
                poller.unregister(fd)
                del by_fd[fd]
            else:
                process(data)  #@ process
