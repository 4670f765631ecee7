"""A client for the demo servers: N request/reply round trips on one connection, then it
closes. Each request waits for the server's b"hello", so it never outruns the server.

    python ping_client.py PORT [N]
"""

import socket
import sys

port = int(sys.argv[1])
count = int(sys.argv[2]) if len(sys.argv) > 2 else 5
with socket.create_connection(("127.0.0.1", port)) as conn:
    for _ in range(count):
        conn.sendall(b"ping")
        if conn.recv(16) != b"hello":
            sys.exit("no reply")
