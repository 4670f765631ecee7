# IO multiplexing: select sleeps until a socket is readable; recvfrom still copies.
import select

from demo import process


def serve(socks):
    while socks:
        readable, _, _ = select.select(socks, [], [])  #@ select
        for sock in readable:  # select said readable; it read nothing
            data, addr = sock.recvfrom(65536)  #@ recvfrom
            if not data:
                socks.remove(sock)
            else:
                process(data)  #@ process
