// The floor for `compare.py echo`: what an echo server costs when it does nothing but
// the syscalls. One thread, edge-triggered epoll, one recv and one send per message (a
// read that fills the buffer is followed by another until EAGAIN, as edge triggering
// requires), no runtime. gmp's CPU per round trip is measured against this one's.
//
// A benchmark tool, not a server: a send the socket cannot take whole is not retried
// (echo-load's 64-byte messages never fill it).
// Build: cc -O2 -o echo-floor echo-floor.c. Run: echo-floor 127.0.0.1:PORT.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[16384];

int main(int argc, char **argv) {
    const char *a = argc > 1 ? argv[1] : "127.0.0.1:8080";
    char host[64];
    const char *colon = strrchr(a, ':');
    if (!colon || colon - a >= (long)sizeof host) { fprintf(stderr, "usage: echo-floor HOST:PORT\n"); return 2; }
    memcpy(host, a, colon - a); host[colon - a] = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) { fprintf(stderr, "echo-floor: bad address %s\n", a); return 2; }
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l, (void *)&sa, sizeof sa) || listen(l, 4096)) { perror("echo-floor: bind"); return 1; }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = l};
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    struct epoll_event evs[1024];
    for (;;) {
        int n = epoll_wait(ep, evs, 1024, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == l) {
                int s;
                while ((s = accept4(l, 0, 0, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = s};
                    epoll_ctl(ep, EPOLL_CTL_ADD, s, &e);
                }
                continue;
            }
            for (;;) {
                ssize_t r = recv(fd, buf, sizeof buf, 0);
                if (r <= 0) {
                    if (r == 0 || errno != EAGAIN) close(fd);
                    break;
                }
                send(fd, buf, r, MSG_NOSIGNAL);
                if (r < (ssize_t)sizeof buf) break;
            }
        }
    }
}
