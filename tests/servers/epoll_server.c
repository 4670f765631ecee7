/* An epoll server, level-triggered (Kerrisk, TLPI 63.4): one process, epoll_wait over the
 * listening socket and every connection; each read is answered with "hello".
 *     usage: epoll_server PORT
 * A marker names the system calls a line makes, for the lit-line tests. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 64

int main(int argc, char **argv)
{
    struct epoll_event ev, events[MAX_EVENTS];
    struct sockaddr_in servaddr;
    int listenfd, epfd, connfd, n, i, on = 1;
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

    epfd = epoll_create1(0);  /*@ epoll_create1 */
    ev.events = EPOLLIN;
    ev.data.fd = listenfd;
    epoll_ctl(epfd, EPOLL_CTL_ADD, listenfd, &ev);  /*@ epoll_ctl */

    for (;;) {
        n = epoll_wait(epfd, events, MAX_EVENTS, -1);  /*@ epoll_wait */
        for (i = 0; i < n; i++) {
            if (events[i].data.fd == listenfd) {
                connfd = accept(listenfd, NULL, NULL);  /*@ accept */
                ev.events = EPOLLIN;
                ev.data.fd = connfd;
                epoll_ctl(epfd, EPOLL_CTL_ADD, connfd, &ev);  /*@ epoll_ctl */
                continue;
            }
            got = read(events[i].data.fd, buf, sizeof buf);  /*@ read */
            if (got <= 0) {
                epoll_ctl(epfd, EPOLL_CTL_DEL, events[i].data.fd, NULL);  /*@ epoll_ctl */
                close(events[i].data.fd);  /*@ close */
            } else
                write(events[i].data.fd, "hello", 5);  /*@ write */
        }
    }
}
