#define _GNU_SOURCE
#include "plasma_tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

// getaddrinfo's EAI_* codes are not errnos: a name that resolves to nothing is EADDRNOTAVAIL.
static int resolve(const char *host, uint16_t port, int passive, struct addrinfo **out) {
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)};
    int status = getaddrinfo(host, service, &hints, out);
    if (status == 0) return 0;
    if (status == EAI_SYSTEM) return -errno;
    return status == EAI_AGAIN ? -EAGAIN : -EADDRNOTAVAIL;
}

int plasma_tcp_listen(const char *host, uint16_t port, int backlog, uint16_t *bound_port) {
    struct addrinfo *list;
    int err = resolve(host, port, 1, &list);
    if (err < 0) return err;
    err = -EADDRNOTAVAIL;
    for (struct addrinfo *a = list; a != NULL; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) { err = -errno; continue; }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (a->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, backlog) == 0) {
            struct sockaddr_storage bound;
            socklen_t length = sizeof bound;
            getsockname(fd, (struct sockaddr *)&bound, &length);
            *bound_port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                            : ((struct sockaddr_in *)&bound)->sin_port);
            freeaddrinfo(list);
            return fd;
        }
        err = -errno;
        close(fd);
    }
    freeaddrinfo(list);
    return err;
}

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

// One address: nonblocking connect, poll until `deadline`, then blocking again. fd or -errno.
static int connect_one(const struct addrinfo *a, int64_t deadline) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) return -errno;
    int err = 0;
    if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
        if (errno != EINPROGRESS) {
            err = -errno;
        } else {
            struct pollfd entry = {.fd = fd, .events = POLLOUT};
            for (;;) {
                int64_t left = deadline - now_ms();
                if (left <= 0) { err = -ETIMEDOUT; break; }
                int ready = poll(&entry, 1, (int)left);
                if (ready < 0 && errno == EINTR) continue;
                if (ready < 0) { err = -errno; break; }
                if (ready == 0) { err = -ETIMEDOUT; break; }
                int soerr = 0;
                socklen_t length = sizeof soerr;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &length);
                err = -soerr;
                break;
            }
        }
    }
    if (err == 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        return fd;
    }
    close(fd);
    return err;
}

int plasma_tcp_connect(const char *host, uint16_t port, int timeout_ms) {
    int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    struct addrinfo *list;
    int err = resolve(host, port, 0, &list);
    if (err < 0) return err;
    err = -EADDRNOTAVAIL;
    for (struct addrinfo *a = list; a != NULL; a = a->ai_next) {
        err = connect_one(a, deadline);
        if (err >= 0 || err == -ETIMEDOUT) break;
    }
    freeaddrinfo(list);
    return err;
}

int plasma_tcp_accept(int sock, char *peer, size_t peer_len) {
    struct sockaddr_storage address;
    socklen_t length = sizeof address;
    int fd = accept4(sock, (struct sockaddr *)&address, &length, SOCK_CLOEXEC);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char text[INET6_ADDRSTRLEN] = "?";
    if (peer_len == 0) return fd;
    if (address.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&address;
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
        snprintf(peer, peer_len, "[%s]:%u", text, (unsigned)ntohs(in6->sin6_port));
    } else if (address.ss_family == AF_INET) {
        struct sockaddr_in *in4 = (struct sockaddr_in *)&address;
        inet_ntop(AF_INET, &in4->sin_addr, text, sizeof text);
        snprintf(peer, peer_len, "%s:%u", text, (unsigned)ntohs(in4->sin_port));
    } else {
        snprintf(peer, peer_len, "?");
    }
    return fd;
}

int plasma_tcp_set_timeouts(int sock, int64_t receive_ms, int64_t send_ms) {
    struct timeval receive = {.tv_sec = receive_ms / 1000, .tv_usec = (receive_ms % 1000) * 1000};
    struct timeval send = {.tv_sec = send_ms / 1000, .tv_usec = (send_ms % 1000) * 1000};
    if (setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &receive, sizeof receive) < 0) return -errno;
    if (setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &send, sizeof send) < 0) return -errno;
    return 0;
}

ssize_t plasma_sendfile(int sock, int fd, uint64_t offset, size_t count) {
    off_t position = (off_t)offset;
    ssize_t n = sendfile(sock, fd, &position, count);
    return n < 0 ? -errno : n;
}
