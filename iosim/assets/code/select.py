# IO multiplexing: select sleeps until a socket is readable; recvfrom still copies.
import select

from demo import messages, process


def serve(socks):
    while socks:  # each call copies the sets in and out and scans every descriptor
        readable, _, _ = select.select(socks, [], [])  #@ select
        for sock in readable:  # select said readable; it read nothing
            data, addr = sock.recvfrom(65536)  #@ recvfrom
            if not data:  # 0 bytes: the client is done (TCP: it closed; UDP: an empty goodbye)
                socks.remove(sock)
            for message in messages(sock, data):  # TCP: one read may hold several
                process(message)  #@ process
