/* The classic select server (Stevens, UNP 6.8): one process, a client[] array, select over
 * the listening socket and every connection; each read is answered with "hello".
 *     usage: select_server PORT
 * A marker names the system calls a line makes, for the lit-line tests. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int i, maxi, maxfd, listenfd, connfd, sockfd, nready, client[FD_SETSIZE], on = 1;
    ssize_t n;
    fd_set rset, allset;
    char buf[4096];
    socklen_t clilen;
    struct sockaddr_in cliaddr, servaddr;

    listenfd = socket(AF_INET, SOCK_STREAM, 0);  /*@ socket */
    setsockopt(listenfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    memset(&servaddr, 0, sizeof servaddr);
    servaddr.sin_family = AF_INET;
    servaddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    servaddr.sin_port = htons(atoi(argv[1]));
    bind(listenfd, (struct sockaddr *)&servaddr, sizeof servaddr);  /*@ bind */
    listen(listenfd, 1024);  /*@ listen */

    maxfd = listenfd;
    maxi = -1;
    for (i = 0; i < FD_SETSIZE; i++)
        client[i] = -1;
    FD_ZERO(&allset);
    FD_SET(listenfd, &allset);

    for (;;) {
        rset = allset;
        nready = select(maxfd + 1, &rset, NULL, NULL, NULL);  /*@ select pselect6 */
        if (FD_ISSET(listenfd, &rset)) {
            clilen = sizeof cliaddr;
            connfd = accept(listenfd, (struct sockaddr *)&cliaddr, &clilen);  /*@ accept */
            for (i = 0; i < FD_SETSIZE; i++)
                if (client[i] < 0) {
                    client[i] = connfd;
                    break;
                }
            FD_SET(connfd, &allset);
            if (connfd > maxfd)
                maxfd = connfd;
            if (i > maxi)
                maxi = i;
            if (--nready <= 0)
                continue;
        }
        for (i = 0; i <= maxi; i++) {
            if ((sockfd = client[i]) < 0)
                continue;
            if (FD_ISSET(sockfd, &rset)) {
                if ((n = read(sockfd, buf, sizeof buf)) == 0) {  /*@ read */
                    close(sockfd);  /*@ close */
                    FD_CLR(sockfd, &allset);
                    client[i] = -1;
                } else
                    write(sockfd, "hello", 5);  /*@ write */
                if (--nready <= 0)
                    break;
            }
        }
    }
}
