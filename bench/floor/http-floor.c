// The floor for `compare.py http` and `http16`: what a server costs when it does nothing
// but the syscalls. One thread, edge-triggered epoll, no runtime, no parsing beyond
// counting "\r\n\r\n" (a per-connection matcher, so a head split across reads counts
// once), the same 128-byte response gmp's hello sends (with a fixed Date), and the
// answers to one read in one send. If this server gets no more requests per second out
// of wrk than gmp does, the benchmark measures wrk, not the server.
//
// A benchmark tool, not a server: requests with bodies are not supported, and a send the
// socket cannot take whole is not retried (wrk's small requests never fill it).
// Build: cc -O2 -o http-floor http-floor.c. Run: http-floor 127.0.0.1:PORT.
//
// SIGUSR1 makes it print "accepted N" on stdout: the connections accepted so far, for
// scripts/client-compare.sh to tell a client that keeps its connections alive from one
// that redials. The signal is blocked except inside epoll_pwait, so it can only arrive
// there (which then fails with EINTR and the loop prints): never between the check of
// the flag and the wait, where it would go unseen until the next connection event.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char RESP[] = "HTTP/1.1 200 OK\r\nServer: gmp\r\nDate: Fri, 27 Nov 2026 09:41:20 GMT\r\n"
                           "content-type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
enum { MAXFD = 1 << 16 };
static unsigned char matched[MAXFD]; // bytes of "\r\n\r\n" matched so far, per fd
static char in[16384], out[64 * 1024];
static unsigned long accepted;
static volatile sig_atomic_t report;

static void on_usr1(int sig) { (void)sig; report = 1; }

int main(int argc, char **argv) {
    const char *a = argc > 1 ? argv[1] : "127.0.0.1:8080";
    char host[64];
    const char *colon = strrchr(a, ':');
    if (!colon || colon - a >= (long)sizeof host) { fprintf(stderr, "usage: http-floor HOST:PORT\n"); return 2; }
    memcpy(host, a, colon - a); host[colon - a] = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) { fprintf(stderr, "http-floor: bad address %s\n", a); return 2; }
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l, (void *)&sa, sizeof sa) || listen(l, 4096)) { perror("http-floor: bind"); return 1; }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = l};
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    struct epoll_event evs[1024];
    const size_t rl = sizeof RESP - 1;
    struct sigaction act = {.sa_handler = on_usr1};
    sigaction(SIGUSR1, &act, 0);
    sigset_t usr1, open_in_wait;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, &open_in_wait);
    sigdelset(&open_in_wait, SIGUSR1);
    for (;;) {
        int n = epoll_pwait(ep, evs, 1024, -1, &open_in_wait);
        if (report) {
            report = 0;
            printf("accepted %lu\n", accepted);
            fflush(stdout);
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == l) {
                int s;
                while ((s = accept4(l, 0, 0, SOCK_NONBLOCK)) >= 0) {
                    accepted++;
                    if (s >= MAXFD) { close(s); continue; }
                    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    matched[s] = 0;
                    struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = s};
                    epoll_ctl(ep, EPOLL_CTL_ADD, s, &e);
                }
                continue;
            }
            for (;;) {
                ssize_t r = recv(fd, in, sizeof in, 0);
                if (r <= 0) {
                    if (r == 0 || errno != EAGAIN) close(fd);
                    break;
                }
                int k = matched[fd];
                size_t o = 0;
                for (ssize_t j = 0; j < r; j++) {
                    char ch = in[j];
                    if (ch == (k & 1 ? '\n' : '\r')) {
                        if (++k == 4) {
                            k = 0;
                            if (o + rl > sizeof out) { send(fd, out, o, MSG_NOSIGNAL); o = 0; }
                            memcpy(out + o, RESP, rl);
                            o += rl;
                        }
                    } else {
                        k = ch == '\r';
                    }
                }
                matched[fd] = k;
                if (o) send(fd, out, o, MSG_NOSIGNAL);
                if (r < (ssize_t)sizeof in) break;
            }
        }
    }
}
