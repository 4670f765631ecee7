# poll with replies (backpressure): what does not fit into the send buffer waits in an
# outbox, and the socket is watched for POLLOUT until the slow reader has made room.
import select

from demo import process, reply_to


def serve(socks):
    sock_of = {sock.fileno(): sock for sock in socks}
    reading, outbox = set(sock_of), dict.fromkeys(sock_of, b"")
    poller = select.poll()
    for fd, sock in sock_of.items():
        sock.setblocking(False)  # a send must never sleep in a multiplexed server
        poller.register(fd, select.POLLIN)
    while reading or any(outbox.values()):
        for fd, event in poller.poll():  #@ poll
            sock = sock_of[fd]
            if event & select.POLLIN:
                data, addr = sock.recvfrom(65536)  #@ recvfrom
                if data:
                    process(data)  #@ process
                    outbox[fd] += reply_to(data)
                else:  # the peer closed its side: its replies still go
                    reading.discard(fd)
            if outbox[fd]:  # send copies what fits and says how much
                outbox[fd] = outbox[fd][sock.send(outbox[fd]):]  #@ send
            want = (select.POLLIN if fd in reading else 0) | (select.POLLOUT if outbox[fd] else 0)
            poller.modify(fd, want)  # POLLOUT only while a reply waits
