/* A non-blocking polling server (Stevens, UNP 6.2, Figure 6.2): the listening socket and
 * every connection are non-blocking; the process tries accept and each read in turn, and
 * between two passes that found nothing does its own work (a short computation). Each read
 * of data is answered with "hello".    usage: nonblock_server PORT
 * A marker names the system calls a line makes, for the lit-line tests. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXCONN 64

static volatile unsigned long sink;

static void own_work(void)
{
    for (unsigned long i = 0; i < 200000; i++)
        sink += i;
}

int main(int argc, char **argv)
{
    struct sockaddr_in servaddr;
    int conns[MAXCONN], nconn = 0, listenfd, connfd, i, found, on = 1;
    ssize_t n;
    char buf[4096];

    listenfd = socket(AF_INET, SOCK_STREAM, 0);  /*@ socket */
    setsockopt(listenfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    memset(&servaddr, 0, sizeof servaddr);
    servaddr.sin_family = AF_INET;
    servaddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    servaddr.sin_port = htons(atoi(argv[1]));
    bind(listenfd, (struct sockaddr *)&servaddr, sizeof servaddr);  /*@ bind */
    listen(listenfd, 1024);  /*@ listen */
    fcntl(listenfd, F_SETFL, O_NONBLOCK);  /*@ fcntl */

    for (;;) {
        found = 0;
        connfd = accept(listenfd, NULL, NULL);  /*@ accept */
        if (connfd >= 0 && nconn < MAXCONN) {
            fcntl(connfd, F_SETFL, O_NONBLOCK);  /*@ fcntl */
            conns[nconn++] = connfd;
            found = 1;
        }
        for (i = 0; i < nconn; i++) {
            if (conns[i] < 0)
                continue;
            n = read(conns[i], buf, sizeof buf);  /*@ read */
            if (n > 0) {
                write(conns[i], "hello", 5);  /*@ write */
                found = 1;
            } else if (n == 0 || errno != EAGAIN) {
                close(conns[i]);  /*@ close */
                conns[i] = -1;
            }
        }
        if (!found)
            own_work();
    }
}
