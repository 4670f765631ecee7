# IO multiplexing with poll: no FD_SETSIZE limit, but each call scans every descriptor.
import select

from demo import messages, process


def serve(socks):
    by_fd = {sock.fileno(): sock for sock in socks}
    poller = select.poll()
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    while by_fd:
        for fd, _event in poller.poll():  #@ poll
            sock = by_fd[fd]
            data, addr = sock.recvfrom(65536)  #@ recvfrom
            if not data:  # 0 bytes: the client is done (TCP: it closed; UDP: an empty goodbye)
                poller.unregister(fd)
                del by_fd[fd]
            for message in messages(sock, data):  # TCP: one read may hold several
                process(message)  #@ process
