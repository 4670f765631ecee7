# Non-blocking IO with replies: send copies what fits into the send buffer and returns that
# count, or fails with EWOULDBLOCK when nothing fits; the rest waits in an outbox.
from demo import own_work, process, reply_to


def serve(socks):
    reading, outbox = list(socks), dict.fromkeys(socks, b"")
    for sock in socks:
        sock.setblocking(False)
    while reading or any(outbox.values()):
        progress = False
        for sock in list(reading):
            try:
                data, addr = sock.recvfrom(65536)  #@ recvfrom
            except BlockingIOError:  # EWOULDBLOCK: nothing queued
                continue
            progress = True
            if data:
                process(data)  #@ process
                outbox[sock] += reply_to(data)
            else:  # the peer closed its side: its replies still go
                reading.remove(sock)
        for sock, waiting in outbox.items():
            try:
                outbox[sock] = waiting[sock.send(waiting):] if waiting else b""  #@ send
                progress |= bool(waiting)
            except BlockingIOError:  # EWOULDBLOCK: the send buffer is full
                pass
        if not progress:  # a whole pass got nothing done
            own_work()  #@ work
