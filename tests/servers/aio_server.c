/* An asynchronous server on POSIX aio (glibc): aio_read hands each read to the library and
 * returns at once; the process waits for a finished read in aio_suspend and answers it with
 * "hello". glibc runs each aio_read as a blocking read in a helper thread of the process.
 *     usage: aio_server PORT
 * A marker names the system calls a line makes, for the lit-line tests. */
#include <aio.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXCONN 16

static struct aiocb cbs[MAXCONN];
static char bufs[MAXCONN][4096];

static void start_read(int slot, int fd)
{
    memset(&cbs[slot], 0, sizeof cbs[slot]);
    cbs[slot].aio_fildes = fd;
    cbs[slot].aio_buf = bufs[slot];
    cbs[slot].aio_nbytes = sizeof bufs[slot];
    aio_read(&cbs[slot]);  /*@ clone3 clone futex */
}

int main(int argc, char **argv)
{
    struct sockaddr_in servaddr;
    const struct aiocb *waiting[MAXCONN];
    int listenfd, connfd, i, nconn = 0, on = 1;
    ssize_t n;

    listenfd = socket(AF_INET, SOCK_STREAM, 0);  /*@ socket */
    setsockopt(listenfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    memset(&servaddr, 0, sizeof servaddr);
    servaddr.sin_family = AF_INET;
    servaddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    servaddr.sin_port = htons(atoi(argv[1]));
    bind(listenfd, (struct sockaddr *)&servaddr, sizeof servaddr);  /*@ bind */
    listen(listenfd, 1024);  /*@ listen */

    nconn = argc > 2 ? atoi(argv[2]) : 1;  /* the clients it serves, accepted first */
    for (i = 0; i < nconn && i < MAXCONN; i++) {
        connfd = accept(listenfd, NULL, NULL);  /*@ accept */
        start_read(i, connfd);
    }
    for (;;) {
        for (i = 0; i < nconn; i++)
            waiting[i] = cbs[i].aio_fildes >= 0 ? &cbs[i] : NULL;
        aio_suspend(waiting, nconn, NULL);  /*@ futex */
        for (i = 0; i < nconn; i++) {
            if (cbs[i].aio_fildes < 0 || aio_error(&cbs[i]) == EINPROGRESS)
                continue;
            n = aio_return(&cbs[i]);
            if (n <= 0) {
                close(cbs[i].aio_fildes);  /*@ close */
                cbs[i].aio_fildes = -1;
                continue;
            }
            write(cbs[i].aio_fildes, "hello", 5);  /*@ write */
            start_read(i, cbs[i].aio_fildes);
        }
    }
}
