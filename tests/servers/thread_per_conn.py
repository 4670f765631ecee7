"""The classic threaded server: a blocking accept loop and a thread per connection that
blocks in recv.

    python thread_per_conn.py PORT
"""

import socket
import sys
import threading


def serve(conn: socket.socket) -> None:
    with conn:  #@ close
        while True:
            data = conn.recv(1024)  #@ recvfrom
            if not data:
                return
            conn.send(b"hello")  #@ sendto


listener = socket.socket()  #@ socket
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(sys.argv[1])))  #@ bind
listener.listen()  #@ listen
while True:
    conn, _ = listener.accept()  #@ accept4 accept
    threading.Thread(target=serve, args=(conn,), daemon=True).start()  #@ clone3 clone
