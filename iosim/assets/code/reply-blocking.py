# Blocking IO with replies: sendall sleeps while the send buffer is full, until the slow
# reader has freed a third of it; meanwhile every other client waits too.
from demo import process, reply_to


def serve(socks):
    while socks:
        for sock in list(socks):  # in turn, as the blocking server reads
            data, addr = sock.recvfrom(65536)  #@ recvfrom
            if not data:
                socks.remove(sock)
                continue
            process(data)  #@ process
            sock.sendall(reply_to(data))  #@ send
