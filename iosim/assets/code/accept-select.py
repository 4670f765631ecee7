# A pool of threads, each in select on one listening socket and on its own connections.
# A connection wakes every thread whose select watches the listener (the thundering herd):
# one accept gets it, the others fail with EWOULDBLOCK (the listener is non-blocking).
import select
import threading

from demo import process


def worker(listener):
    mine = []
    while True:
        readable, _, _ = select.select([listener, *mine], [], [])  #@ select
        for sock in readable:
            if sock is listener:
                try:
                    conn, addr = listener.accept()  #@ accept
                except BlockingIOError:  # another thread took it first
                    continue
                mine.append(conn)  # accepted sockets are blocking again
            elif data := sock.recvfrom(65536)[0]:  #@ recvfrom
                process(data)  #@ process
            else:
                mine.remove(sock)


def serve(listener, workers):
    listener.setblocking(False)
    for _ in range(workers):
        threading.Thread(target=worker, args=(listener,)).start()
