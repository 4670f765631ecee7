# Blocking IO: recvfrom sleeps until data arrives, then while it is copied.
from demo import messages, process  # messages: the whole ones a read completed (TCP framing)


def serve(socks):  # one connected socket per client
    for sock in socks:
        sock.setblocking(True)
    while socks:
        for sock in list(socks):  # in turn: an idle socket holds up the others
            data, addr = sock.recvfrom(65536)  #@ recvfrom
            if not data:  # 0 bytes: the client is done (TCP: it closed; UDP: an empty goodbye)
                socks.remove(sock)
            for message in messages(sock, data):  # TCP: one read may hold several
                process(message)  #@ process
