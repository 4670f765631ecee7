"""The classic select server: one select over the listening socket and every connection;
it prints a long line for every message it reads (10 KB: a chatty server must not block
or slow down under iosim, whose own output may be a pipe).

    python select_loop.py PORT
"""

import select
import socket
import sys

listener = socket.socket()  #@ socket
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(sys.argv[1])))  #@ bind
listener.listen()  #@ listen
sockets = [listener]
while True:
    readable, _, _ = select.select(sockets, [], [])  #@ select pselect6
    for sock in readable:
        if sock is listener:
            conn, _ = listener.accept()  #@ accept4 accept
            sockets.append(conn)
            continue
        try:
            data = sock.recv(1024)  #@ recvfrom
        except ConnectionResetError:  # our reply reached a client already gone: RST
            data = b""
        if not data:
            sockets.remove(sock)
            sock.close()  #@ close
            continue
        print(f"got {len(data)} bytes: " + "." * 10_000, flush=True)
        sock.send(b"hello")  #@ sendto
