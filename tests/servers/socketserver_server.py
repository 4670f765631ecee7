"""A socketserver echo server (the standard library's ThreadingTCPServer): the main thread
waits for connections, a thread per connection reads and answers each read with b"hello".

    python socketserver_server.py PORT
"""

import socketserver
import sys


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while self.request.recv(4096):  #@ recvfrom
            self.request.sendall(b"hello")  #@ sendto


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


with Server(("127.0.0.1", int(sys.argv[1])), Echo) as server:  #@ socket bind listen
    server.serve_forever()  #@ poll accept4 clone3 clone
