/* Lock-step TCP line clients for scripts/bench (issue 17): the cheapest load generator this machine has.

   usage: linebench PORT CLIENTS SECONDS [REQUEST]

   CLIENTS connections to 127.0.0.1:PORT; each reads the server's welcome line, then sends REQUEST
   (default "randomNumber") plus a newline and sends the next one only when the reply's line is in,
   until SECONDS are up. Prints one JSON line, the shape of the bench's node client:
   {"replies": N, "errors": N, "seconds": S, "p50": ms, "p99": ms}; a reply containing "error" counts
   as an error too.

   Why C: on a 2-core machine the generator shares the cores with the servers it loads, so its CPU per
   request caps what two workers can show over one. node's client costs ~3x this one per reply. It is
   one epoll loop, one send and (usually) one recv per reply, and a latency histogram in microseconds.
   The bench compiles it with `cc -O2` into a temporary folder; without a C compiler it uses node. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define HISTOGRAM_US 1000000 /* one bucket per microsecond up to a second; slower replies share the last */

typedef struct {
    int fd;
    int welcomed;
    int open;
    size_t used, size;
    char *buffer;
    double sent_at;
} client_t;

static unsigned int *histogram;
static long long replies, errors;

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double percentile_ms(double share) {
    long long wanted = (long long)((double)replies * share), seen = 0;
    if (replies == 0) return -1.0;
    for (int us = 0; us < HISTOGRAM_US; us++) {
        seen += histogram[us];
        if (seen > wanted) return us / 1000.0;
    }
    return HISTOGRAM_US / 1000.0;
}

static void report(int seconds) {
    printf("{\"replies\": %lld, \"errors\": %lld, \"seconds\": %d, \"p50\": %.3f, \"p99\": %.3f}\n",
           replies, errors, seconds, percentile_ms(0.5), percentile_ms(0.99));
    fflush(stdout);
}

static int seconds_arg;

static void overdue(int signal_number) {
    (void)signal_number;
    report(seconds_arg); /* NOTE: a server that stopped answering: report what came, then leave */
    _exit(0);
}

static int send_all(int fd, const char *data, size_t length) {
    while (length > 0) {
        ssize_t sent = send(fd, data, length, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) { usleep(50); continue; } /* a request is tiny: the buffer frees at once */
            return -1;
        }
        data += sent;
        length -= (size_t)sent;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s PORT CLIENTS SECONDS [REQUEST]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]), count = atoi(argv[2]);
    seconds_arg = atoi(argv[3]);
    const char *word = argc > 4 ? argv[4] : "randomNumber";
    size_t request_length = strlen(word) + 1;
    char *request = malloc(request_length + 1);
    snprintf(request, request_length + 1, "%s\n", word);
    histogram = calloc(HISTOGRAM_US + 1, sizeof *histogram);
    client_t *clients = calloc((size_t)count, sizeof *clients);
    if (!request || !histogram || !clients || count <= 0) return 2;

    signal(SIGALRM, overdue);
    alarm((unsigned)seconds_arg + 15);
    int poller = epoll_create1(0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    int open_count = 0;
    for (int i = 0; i < count; i++) {
        client_t *c = &clients[i];
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(c->fd, (struct sockaddr *)&address, sizeof address) < 0 && errno != EINPROGRESS) {
            errors++;
            close(c->fd);
            continue;
        }
        c->size = 4096;
        c->buffer = malloc(c->size);
        c->open = 1;
        open_count++;
        struct epoll_event event = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        epoll_ctl(poller, EPOLL_CTL_ADD, c->fd, &event);
    }
    double deadline = now_seconds() + seconds_arg;
    struct epoll_event ready[64];
    while (open_count > 0) {
        int n = epoll_wait(poller, ready, 64, 1000);
        if (n < 0 && errno == EINTR) continue;
        for (int k = 0; k < n; k++) {
            client_t *c = ready[k].data.ptr;
            if (!c->open) continue;
            if (c->used == c->size) {
                c->size *= 2;
                c->buffer = realloc(c->buffer, c->size);
            }
            ssize_t got = recv(c->fd, c->buffer + c->used, c->size - c->used, 0);
            if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            int finished = got <= 0;
            if (got > 0) {
                c->used += (size_t)got;
                char *start = c->buffer, *end;
                while (!finished && (end = memchr(start, '\n', c->used - (size_t)(start - c->buffer)))) {
                    double at = now_seconds();
                    if (c->welcomed) {
                        replies++;
                        long us = (long)((at - c->sent_at) * 1e6);
                        histogram[us < 0 ? 0 : (us > HISTOGRAM_US ? HISTOGRAM_US : us)]++;
                        if (memmem(start, (size_t)(end - start), "\"error\"", 7)) errors++;
                    }
                    c->welcomed = 1;
                    start = end + 1;
                    if (at < deadline) {
                        c->sent_at = at;
                        if (send_all(c->fd, request, request_length) < 0) { errors++; finished = 1; }
                    } else {
                        finished = 1;
                    }
                }
                c->used -= (size_t)(start - c->buffer);
                memmove(c->buffer, start, c->used);
            } else if (now_seconds() < deadline) {
                errors++; /* the server closed a connection before the run was over */
            }
            if (finished) {
                epoll_ctl(poller, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->open = 0;
                open_count--;
            }
        }
    }
    report(seconds_arg);
    return 0;
}
