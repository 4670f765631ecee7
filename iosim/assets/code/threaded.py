# A thread per connection: each blocks in its own recvfrom; none holds up another.
import threading

from demo import messages, process


def serve_one(sock):
    while True:
        data, addr = sock.recvfrom(65536)  #@ recvfrom
        if not data:  # 0 bytes: the client is done (closed, or an empty goodbye): the thread ends
            return  #@ return
        for message in messages(sock, data):  # TCP: one read may hold several
            process(message)  #@ process


def serve(socks):
    threads = [threading.Thread(target=serve_one, args=(s,)) for s in socks]
    for thread in threads:
        thread.start()
    for thread in threads:  # CPython: one thread runs Python at a time; C: in parallel
        thread.join()
