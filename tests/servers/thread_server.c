/* The classic thread-per-client server (Stevens, UNP 26.4): the main thread accepts, a
 * detached thread per connection reads and answers each read with "hello".
 *     usage: thread_server PORT
 * A marker names the system calls a line makes, for the lit-line tests. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void *doit(void *arg)
{
    int connfd = (int)(intptr_t)arg;
    char buf[4096];
    pthread_detach(pthread_self());
    while (read(connfd, buf, sizeof buf) > 0)  /*@ read */
        write(connfd, "hello", 5);  /*@ write */
    close(connfd);  /*@ close */
    return NULL;
}

int main(int argc, char **argv)
{
    struct sockaddr_in servaddr, cliaddr;
    socklen_t clilen;
    pthread_t tid;
    int listenfd, connfd, on = 1;

    listenfd = socket(AF_INET, SOCK_STREAM, 0);  /*@ socket */
    setsockopt(listenfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    memset(&servaddr, 0, sizeof servaddr);
    servaddr.sin_family = AF_INET;
    servaddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    servaddr.sin_port = htons(atoi(argv[1]));
    bind(listenfd, (struct sockaddr *)&servaddr, sizeof servaddr);  /*@ bind */
    listen(listenfd, 1024);  /*@ listen */

    for (;;) {
        clilen = sizeof cliaddr;
        connfd = accept(listenfd, (struct sockaddr *)&cliaddr, &clilen);  /*@ accept */
        pthread_create(&tid, NULL, doit, (void *)(intptr_t)connfd);  /*@ clone3 clone */
    }
}
