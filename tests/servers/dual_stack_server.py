"""A select server on an IPv6 socket that also takes IPv4 clients (IPV6_V6ONLY off): its
clients' addresses are IPv4-mapped (::ffff:127.0.0.1) on the server's side.

    python dual_stack_server.py PORT
"""

import select
import socket
import sys

listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
listener.bind(("::", int(sys.argv[1])))
listener.listen()
conns: list[socket.socket] = []
while True:
    readable, _, _ = select.select([listener, *conns], [], [])
    for sock in readable:
        if sock is listener:
            conns.append(listener.accept()[0])
        elif not sock.recv(4096):
            conns.remove(sock)
            sock.close()
