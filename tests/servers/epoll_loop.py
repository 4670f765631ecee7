"""The classic epoll server: the listening socket and every connection registered with one
epoll instance, one epoll_wait per pass.

    python epoll_loop.py PORT
"""

import select
import socket
import sys

listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(sys.argv[1])))
listener.listen()
epoll = select.epoll()
epoll.register(listener.fileno(), select.EPOLLIN)
conns = {}
while True:
    for fd, _ in epoll.poll():
        if fd == listener.fileno():
            conn, _ = listener.accept()
            conns[conn.fileno()] = conn
            epoll.register(conn.fileno(), select.EPOLLIN)
            continue
        conn = conns[fd]
        data = conn.recv(1024)
        if not data:
            epoll.unregister(fd)
            del conns[fd]
            conn.close()
        else:
            conn.send(b"hello")
