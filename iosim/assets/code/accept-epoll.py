# A pool of threads, each with its own epoll instance watching one listening socket. Without
# EPOLLEXCLUSIVE a connection wakes every thread (the thundering herd); one accept gets it,
# the others fail with EWOULDBLOCK. EPOLLEXCLUSIVE wakes one (server.epoll_exclusive).
import select
import threading

from demo import process


def worker(listener, flags):
    ep = select.epoll()  #@ epoll_create
    ep.register(listener.fileno(), flags)  #@ epoll_ctl
    mine = {}
    while True:
        for fd, _event in ep.poll():  #@ epoll_wait
            if fd == listener.fileno():
                try:
                    conn, addr = listener.accept()  #@ accept
                except BlockingIOError:  # another thread took it first
                    continue
                mine[conn.fileno()] = conn
                ep.register(conn.fileno(), select.EPOLLIN)  #@ epoll_ctl EPOLL_CTL_ADD
            elif data := mine[fd].recvfrom(65536)[0]:  #@ recvfrom
                process(data)  #@ process
            else:
                ep.unregister(fd)
                del mine[fd]


def serve(listener, workers, flags=select.EPOLLIN):  # | select.EPOLLEXCLUSIVE
    listener.setblocking(False)
    for _ in range(workers):
        threading.Thread(target=worker, args=(listener, flags)).start()
