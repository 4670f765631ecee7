# A thread per connection: each blocks in its own recvfrom; none holds up another.
import threading

from demo import process


def serve_one(sock):
    while True:
        data, addr = sock.recvfrom(65536)  #@ recvfrom
        if not data:  # the peer closed: this thread ends
            return
        process(data)  #@ process


def serve(socks):
    threads = [threading.Thread(target=serve_one, args=(s,)) for s in socks]
    for thread in threads:
        thread.start()
    for thread in threads:  # the main thread waits; the CPU runs one thread at a time
        thread.join()
