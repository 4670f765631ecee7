/* The classic signal-driven UDP server (Stevens, UNP 25.3): the SIGIO handler reads every
 * queued datagram until EWOULDBLOCK into a queue; the main loop answers them, and waits for
 * the next signal in sigsuspend with SIGIO blocked around its look at the queue.
 *     usage: sigio_server PORT
 * A marker names the system calls a line makes, for the lit-line tests. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define QSIZE 64

static int sockfd;
static struct sockaddr_in peers[QSIZE];
static volatile sig_atomic_t nqueue;

static void sig_io(int signo)
{
    socklen_t len;
    char buf[2048];
    (void)signo;
    for (;;) {
        len = sizeof peers[0];
        if (nqueue >= QSIZE)
            return;
        if (recvfrom(sockfd, buf, sizeof buf, 0, (struct sockaddr *)&peers[nqueue], &len) < 0)  /*@ recvfrom */
            return;
        nqueue++;
    }
}

int main(int argc, char **argv)
{
    struct sockaddr_in servaddr;
    struct sigaction sa;
    sigset_t zeromask, newmask, oldmask;
    int i, on = 1;

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
    ioctl(sockfd, FIOASYNC, &on);  /*@ ioctl */
    ioctl(sockfd, FIONBIO, &on);  /*@ ioctl */

    sigemptyset(&zeromask);
    sigemptyset(&newmask);
    sigaddset(&newmask, SIGIO);
    sigprocmask(SIG_BLOCK, &newmask, &oldmask);
    for (;;) {
        while (nqueue == 0)
            sigsuspend(&zeromask);  /*@ rt_sigsuspend */
        sigprocmask(SIG_SETMASK, &oldmask, NULL);
        for (i = 0; i < nqueue; i++)
            sendto(sockfd, "hello", 5, 0, (struct sockaddr *)&peers[i], sizeof peers[i]);  /*@ sendto */
        sigprocmask(SIG_BLOCK, &newmask, &oldmask);
        nqueue = 0;
    }
}
