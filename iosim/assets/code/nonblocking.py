# Non-blocking IO: recvfrom never sleeps; with nothing queued it fails with EWOULDBLOCK.
from demo import messages, own_work, process  # own_work: poll_interval_us of own work


def serve(socks):
    for sock in socks:
        sock.setblocking(False)  # every connected socket, not only the listener
    while socks:
        found = False
        for sock in list(socks):
            try:
                data, addr = sock.recvfrom(65536)  #@ recvfrom
            except BlockingIOError:  # EWOULDBLOCK: nothing queued
                continue
            found = True
            if not data:  # 0 bytes: the client is done (TCP: it closed; UDP: an empty goodbye)
                socks.remove(sock)
            for message in messages(sock, data):  # TCP: one read may hold several
                process(message)  #@ process
        if not found:  # a whole pass found nothing
            own_work()  #@ work
