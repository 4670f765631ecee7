# A pool of threads, each blocked in accept on one listening socket: accept's wait is
# exclusive, so a connection wakes one of them, which serves it until it closes.
import threading

from demo import process


def worker(listener):
    while True:
        conn, addr = listener.accept()  #@ accept
        while True:
            data, addr = conn.recvfrom(65536)  #@ recvfrom
            if not data:  # 0 bytes: the peer closed
                break
            process(data)  #@ process
        conn.close()


def serve(listener, workers):
    threads = [threading.Thread(target=worker, args=(listener,)) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
