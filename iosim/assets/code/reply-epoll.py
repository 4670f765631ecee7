# epoll with replies (backpressure): what does not fit into the send buffer waits in an
# outbox, and epoll_ctl asks for EPOLLOUT until the slow reader has made room.
import select

from demo import process, reply_to


def serve(socks):
    sock_of = {sock.fileno(): sock for sock in socks}
    reading, outbox = set(sock_of), dict.fromkeys(sock_of, b"")
    ep = select.epoll()  #@ epoll_create
    for fd, sock in sock_of.items():
        sock.setblocking(False)  # a send must never sleep in a multiplexed server
        ep.register(fd, select.EPOLLIN)  #@ epoll_ctl
    while reading or any(outbox.values()):
        for fd, event in ep.poll():  #@ epoll_wait
            sock, before = sock_of[fd], (fd in reading, bool(outbox[fd]))
            if event & select.EPOLLIN:
                data, addr = sock.recvfrom(65536)  #@ recvfrom
                if data:
                    process(data)  #@ process
                    outbox[fd] += reply_to(data)
                else:  # the peer closed its side: its replies still go
                    reading.discard(fd)
            if outbox[fd]:  # send copies what fits and says how much
                outbox[fd] = outbox[fd][sock.send(outbox[fd]):]  #@ send
            now = (fd in reading, bool(outbox[fd]))
            if now != before and any(now):  # EPOLLOUT only while a reply waits
                events = select.EPOLLIN * now[0] | select.EPOLLOUT * now[1]
                ep.modify(fd, events)  #@ epoll_ctl EPOLL_CTL_MOD
