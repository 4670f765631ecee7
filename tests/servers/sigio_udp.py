"""The classic signal-driven server (Stevens' dg_echo with SIGIO): a UDP socket set to
O_ASYNC and owned by the process; the SIGIO handler reads every datagram queued until
EWOULDBLOCK while the main program goes on with its own work.

    python sigio_udp.py PORT
"""

import fcntl
import os
import signal
import socket
import sys
import time

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", int(sys.argv[1])))


def on_sigio(_signum, _frame):
    while True:
        try:
            data, peer = sock.recvfrom(2048)
        except BlockingIOError:
            return
        if data:
            sock.sendto(b"hello", peer)


signal.signal(signal.SIGIO, on_sigio)
fcntl.fcntl(sock, fcntl.F_SETOWN, os.getpid())
fcntl.fcntl(sock, fcntl.F_SETFL, fcntl.fcntl(sock, fcntl.F_GETFL) | os.O_NONBLOCK | os.O_ASYNC)
while True:
    time.sleep(0.05)  # the process continues executing
