"""The classic non-blocking server: a non-blocking accept loop that polls a list of
connections, catching BlockingIOError, and does a millisecond of its own work between passes.

    python nonblocking_poll.py PORT
"""

import socket
import sys
import time

listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(sys.argv[1])))
listener.listen()
listener.setblocking(False)
clients = []
while True:
    try:
        conn, _ = listener.accept()
        conn.setblocking(False)
        clients.append(conn)
    except BlockingIOError:
        pass
    for conn in list(clients):
        try:
            data = conn.recv(1024)
        except BlockingIOError:
            continue
        if not data:
            clients.remove(conn)
            conn.close()
        else:
            conn.send(b"hello")
    time.sleep(0.001)
