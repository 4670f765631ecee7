"""The classic threaded server: a blocking accept loop and a thread per connection that
blocks in recv.

    python thread_per_conn.py PORT
"""

import socket
import sys
import threading


def serve(conn: socket.socket) -> None:
    with conn:
        while True:
            data = conn.recv(1024)
            if not data:
                return
            conn.send(b"hello")


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(sys.argv[1])))
listener.listen()
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
