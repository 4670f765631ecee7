/* The classic blocking UDP server (Stevens, UNP 8.3, dg_echo): recvfrom blocks until a
 * datagram arrives; each is answered with "hello".    usage: udp_server PORT
 * A marker names the system calls a line makes, for the lit-line tests. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
    struct sockaddr_in servaddr, cliaddr;
    socklen_t len;
    char mesg[2048];
    int sockfd;

    sockfd = socket(AF_INET, SOCK_DGRAM, 0);  /*@ socket */
    memset(&servaddr, 0, sizeof servaddr);
    servaddr.sin_family = AF_INET;
    servaddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    servaddr.sin_port = htons(atoi(argv[1]));
    bind(sockfd, (struct sockaddr *)&servaddr, sizeof servaddr);  /*@ bind */

    for (;;) {
        len = sizeof cliaddr;
        recvfrom(sockfd, mesg, sizeof mesg, 0, (struct sockaddr *)&cliaddr, &len);  /*@ recvfrom */
        sendto(sockfd, "hello", 5, 0, (struct sockaddr *)&cliaddr, len);  /*@ sendto */
    }
}
