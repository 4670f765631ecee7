/* An epoll server, edge-triggered (Kerrisk, TLPI 63.4.6): every socket non-blocking, and on
 * each notification the socket is read until EAGAIN, since the next one comes only with new
 * data. Each read of data is answered with "hello".    usage: epoll_et_server PORT
 * A marker names the system calls a line makes, for the lit-line tests. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 64

static void set_nonblocking(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);  /*@ fcntl */
}

int main(int argc, char **argv)
{
    struct epoll_event ev, events[MAX_EVENTS];
    struct sockaddr_in servaddr;
    int listenfd, epfd, connfd, fd, n, i, on = 1;
    ssize_t got;
    char buf[4096];

    listenfd = socket(AF_INET, SOCK_STREAM, 0);  /*@ socket */
    setsockopt(listenfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    memset(&servaddr, 0, sizeof servaddr);
    servaddr.sin_family = AF_INET;
    servaddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    servaddr.sin_port = htons(atoi(argv[1]));
    bind(listenfd, (struct sockaddr *)&servaddr, sizeof servaddr);  /*@ bind */
    listen(listenfd, 1024);  /*@ listen */
    set_nonblocking(listenfd);

    epfd = epoll_create1(0);  /*@ epoll_create1 */
    ev.events = EPOLLIN | EPOLLET;
    ev.data.fd = listenfd;
    epoll_ctl(epfd, EPOLL_CTL_ADD, listenfd, &ev);  /*@ epoll_ctl */

    for (;;) {
        n = epoll_wait(epfd, events, MAX_EVENTS, -1);  /*@ epoll_wait */
        for (i = 0; i < n; i++) {
            fd = events[i].data.fd;
            if (fd == listenfd) {
                while ((connfd = accept(listenfd, NULL, NULL)) >= 0) {  /*@ accept */
                    set_nonblocking(connfd);
                    ev.events = EPOLLIN | EPOLLET;
                    ev.data.fd = connfd;
                    epoll_ctl(epfd, EPOLL_CTL_ADD, connfd, &ev);  /*@ epoll_ctl */
                }
                continue;
            }
            for (;;) {
                got = read(fd, buf, sizeof buf);  /*@ read */
                if (got > 0) {
                    write(fd, "hello", 5);  /*@ write */
                    continue;
                }
                if (got < 0 && errno == EAGAIN)
                    break;
                close(fd);  /*@ close */
                break;
            }
        }
    }
}
