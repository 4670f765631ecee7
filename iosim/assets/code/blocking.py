# Blocking IO: recvfrom sleeps until a datagram arrives, then while it is copied.
from demo import process  # the server's work on one message (work_us)


def serve(socks):  # one connected socket per client
    for sock in socks:
        sock.setblocking(True)
    while socks:
        for sock in list(socks):  # in turn: an idle socket holds up the others
            data, addr = sock.recvfrom(65536)  #@ recvfrom
            if not data:  # 0 bytes: the peer closed
                socks.remove(sock)
            else:
                process(data)  #@ process
