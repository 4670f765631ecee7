/* A signal-driven UDP server that sleeps in pause() between signals: the SIGIO handler
 * reads every queued datagram until EWOULDBLOCK and answers each with "hello".
 *     usage: sigio_pause PORT
 * A marker names the system calls a line makes, for the lit-line tests. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int sockfd;

static void sig_io(int signo)
{
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    char buf[2048];
    (void)signo;
    while (recvfrom(sockfd, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len) >= 0) {  /*@ recvfrom */
        sendto(sockfd, "hello", 5, 0, (struct sockaddr *)&peer, len);  /*@ sendto */
        len = sizeof peer;
    }
}

int main(int argc, char **argv)
{
    struct sockaddr_in servaddr;
    struct sigaction sa;

    sockfd = socket(AF_INET, SOCK_DGRAM, 0);  /*@ socket */
    memset(&servaddr, 0, sizeof servaddr);
    servaddr.sin_family = AF_INET;
    servaddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    servaddr.sin_port = htons(atoi(argv[1]));
    bind(sockfd, (struct sockaddr *)&servaddr, sizeof servaddr);  /*@ bind */

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sig_io;
    sigaction(SIGIO, &sa, NULL);  /*@ rt_sigaction */
    fcntl(sockfd, F_SETOWN, getpid());  /*@ fcntl */
    fcntl(sockfd, F_SETFL, O_NONBLOCK | O_ASYNC);  /*@ fcntl */
    for (;;)
        pause();  /*@ pause */
}
