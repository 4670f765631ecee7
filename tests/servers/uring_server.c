/* An asynchronous server on io_uring (liburing): the process hands each read to the kernel
 * (an SQE), which waits for the data and copies it; the process learns of the finished read
 * from the completion ring (a CQE) and answers "hello".    usage: uring_server PORT
 * A marker names the system calls a line makes, for the lit-line tests. */
#include <arpa/inet.h>
#include <liburing.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXCONN 64
#define ACCEPT_TAG (1ull << 40)

static char bufs[MAXCONN][4096];

static void submit_read(struct io_uring *ring, int fd)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    io_uring_prep_recv(sqe, fd, bufs[fd % MAXCONN], sizeof bufs[0], 0);
    io_uring_sqe_set_data64(sqe, (uint64_t)fd);
}

static void submit_accept(struct io_uring *ring, int listenfd)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    io_uring_prep_accept(sqe, listenfd, NULL, NULL, 0);
    io_uring_sqe_set_data64(sqe, ACCEPT_TAG);
}

int main(int argc, char **argv)
{
    struct sockaddr_in servaddr;
    struct io_uring ring;
    struct io_uring_cqe *cqe;
    int listenfd, fd, res, on = 1;
    uint64_t tag;

    listenfd = socket(AF_INET, SOCK_STREAM, 0);  /*@ socket */
    setsockopt(listenfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    memset(&servaddr, 0, sizeof servaddr);
    servaddr.sin_family = AF_INET;
    servaddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    servaddr.sin_port = htons(atoi(argv[1]));
    bind(listenfd, (struct sockaddr *)&servaddr, sizeof servaddr);  /*@ bind */
    listen(listenfd, 1024);  /*@ listen */

    io_uring_queue_init(64, &ring, 0);  /*@ io_uring_setup */
    submit_accept(&ring, listenfd);
    for (;;) {
        io_uring_submit_and_wait(&ring, 1);  /*@ io_uring_enter */
        while (io_uring_peek_cqe(&ring, &cqe) == 0) {
            tag = io_uring_cqe_get_data64(cqe);
            res = cqe->res;
            io_uring_cqe_seen(&ring, cqe);
            if (tag == ACCEPT_TAG) {
                if (res >= 0)
                    submit_read(&ring, res);
                submit_accept(&ring, listenfd);
                continue;
            }
            fd = (int)tag;
            if (res <= 0) {
                close(fd);  /*@ close */
                continue;
            }
            write(fd, "hello", 5);  /*@ write */
            submit_read(&ring, fd);
        }
    }
}
