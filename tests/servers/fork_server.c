/* The classic concurrent server (Stevens, UNP 5.10): a process per client, the parent
 * reaps its children in a SIGCHLD handler; accept is restarted after the signal (SA_RESTART).
 * Each read is answered with "hello".    usage: fork_server PORT
 * A marker names the system calls a line makes, for the lit-line tests. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void sig_chld(int signo)
{
    (void)signo;
    while (waitpid(-1, NULL, WNOHANG) > 0)  /*@ wait4 */
        ;
}

static void str_echo(int sockfd)
{
    char buf[4096];
    ssize_t n;
    while ((n = read(sockfd, buf, sizeof buf)) > 0)  /*@ read */
        write(sockfd, "hello", 5);  /*@ write */
}

int main(int argc, char **argv)
{
    struct sockaddr_in servaddr, cliaddr;
    socklen_t clilen;
    struct sigaction sa;
    int listenfd, connfd, on = 1;

    listenfd = socket(AF_INET, SOCK_STREAM, 0);  /*@ socket */
    setsockopt(listenfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    memset(&servaddr, 0, sizeof servaddr);
    servaddr.sin_family = AF_INET;
    servaddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    servaddr.sin_port = htons(atoi(argv[1]));
    bind(listenfd, (struct sockaddr *)&servaddr, sizeof servaddr);  /*@ bind */
    listen(listenfd, 1024);  /*@ listen */

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sig_chld;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);  /*@ rt_sigaction */

    for (;;) {
        clilen = sizeof cliaddr;
        connfd = accept(listenfd, (struct sockaddr *)&cliaddr, &clilen);  /*@ accept */
        if (connfd < 0)
            continue;
        if (fork() == 0) {  /*@ clone */
            close(listenfd);  /*@ close */
            str_echo(connfd);
            exit(0);
        }
        close(connfd);  /*@ close */
    }
}
