/* The classic poll server (Stevens, UNP 6.11): a pollfd array, one process; each read is
 * answered with "hello". It quits with "too many clients" when its array is full.
 *     usage: poll_server PORT [MAX_CLIENTS]
 * A marker names the system calls a line makes, for the lit-line tests. */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define OPEN_MAX 256

int main(int argc, char **argv)
{
    int i, maxi, listenfd, connfd, sockfd, nready, on = 1;
    int most = argc > 2 ? atoi(argv[2]) + 1 : OPEN_MAX;
    ssize_t n;
    char buf[4096];
    socklen_t clilen;
    struct pollfd client[OPEN_MAX];
    struct sockaddr_in cliaddr, servaddr;

    listenfd = socket(AF_INET, SOCK_STREAM, 0);  /*@ socket */
    setsockopt(listenfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    memset(&servaddr, 0, sizeof servaddr);
    servaddr.sin_family = AF_INET;
    servaddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    servaddr.sin_port = htons(atoi(argv[1]));
    bind(listenfd, (struct sockaddr *)&servaddr, sizeof servaddr);  /*@ bind */
    listen(listenfd, 1024);  /*@ listen */

    client[0].fd = listenfd;
    client[0].events = POLLRDNORM;
    for (i = 1; i < OPEN_MAX; i++)
        client[i].fd = -1;
    maxi = 0;

    for (;;) {
        nready = poll(client, maxi + 1, -1);  /*@ poll */
        if (client[0].revents & POLLRDNORM) {
            clilen = sizeof cliaddr;
            connfd = accept(listenfd, (struct sockaddr *)&cliaddr, &clilen);  /*@ accept */
            for (i = 1; i < most; i++)
                if (client[i].fd < 0) {
                    client[i].fd = connfd;
                    break;
                }
            if (i == most) {
                fprintf(stderr, "too many clients\n");
                exit(1);
            }
            client[i].events = POLLRDNORM;
            if (i > maxi)
                maxi = i;
            if (--nready <= 0)
                continue;
        }
        for (i = 1; i <= maxi; i++) {
            if ((sockfd = client[i].fd) < 0)
                continue;
            if (client[i].revents & (POLLRDNORM | POLLERR)) {
                if ((n = read(sockfd, buf, sizeof buf)) <= 0) {  /*@ read */
                    close(sockfd);  /*@ close */
                    client[i].fd = -1;
                } else
                    write(sockfd, "hello", 5);  /*@ write */
                if (--nready <= 0)
                    break;
            }
        }
    }
}
