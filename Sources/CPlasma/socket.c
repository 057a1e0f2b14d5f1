#define _GNU_SOURCE
#include "plasma_socket.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PLASMA_SCM_MAX_FD 253 // the kernel's SCM_MAX_FD: no message carries more

// Room for the most fds one message can carry, aligned for cmsghdr.
typedef union {
    struct cmsghdr header;
    char bytes[CMSG_SPACE(sizeof(int) * PLASMA_SCM_MAX_FD)];
} plasma_control_t;

ssize_t plasma_sendmsg_fd(int sock, const void *buf, size_t len, int fd_to_send) {
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    plasma_control_t control;
    if (fd_to_send >= 0) {
        if (len == 0) return -EINVAL; // a stream socket drops ancillary data without a data byte
        msg.msg_control = control.bytes;
        msg.msg_controllen = CMSG_SPACE(sizeof(int));
        memset(control.bytes, 0, msg.msg_controllen);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &fd_to_send, sizeof(int));
    }
    ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    return n < 0 ? -errno : n;
}

// Walks the SCM_RIGHTS fds in `msg`: keeps the first `max_fds` in fds[], closes the rest.
// Returns how many were kept; *total counts all that arrived.
static int take_fds(struct msghdr *msg, int *fds, int max_fds, int *total) {
    int kept = 0;
    *total = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++, (*total)++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (kept < max_fds) fds[kept++] = fd;
            else close(fd);
        }
    }
    return kept;
}

ssize_t plasma_recvmsg_fds(int sock, void *buf, size_t len, int *fds, int max_fds, int *nfds) {
    *nfds = 0;
    if (max_fds < 0 || max_fds > PLASMA_SCM_MAX_FD) return -EINVAL;
    plasma_control_t control;
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (max_fds > 0) {
        msg.msg_control = control.bytes;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)max_fds);
    }
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) return -errno;
    int total;
    if (msg.msg_flags & MSG_CTRUNC) {
        take_fds(&msg, NULL, 0, &total); // closes all
        return -EMSGSIZE;
    }
    *nfds = take_fds(&msg, fds, max_fds, &total); // CMSG_SPACE padding can fit more than asked for
    return n;
}

int plasma_accept4(int sock, int flags) {
    int fd = accept4(sock, NULL, NULL, flags);
    return fd < 0 ? -errno : fd;
}

int plasma_peer_credentials(int sock, int32_t *pid, uint32_t *uid, uint32_t *gid) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -errno;
    *pid = cred.pid;
    *uid = cred.uid;
    *gid = cred.gid;
    return 0;
}

int plasma_send_fd_arrow(int sock, int fd) {
    char byte = 0;
    ssize_t n = plasma_sendmsg_fd(sock, &byte, 1, fd);
    if (n < 0) return (int)n;
    return n == 1 ? 0 : -EIO;
}

int plasma_recv_fd_arrow(int sock) {
    char byte;
    int fd = -1;
    plasma_control_t control;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.bytes,
        .msg_controllen = CMSG_SPACE(sizeof(int)),
    };
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) return -errno;
    int total;
    int kept = take_fds(&msg, &fd, 1, &total);
    if ((msg.msg_flags & MSG_CTRUNC) || total != 1) {
        if (kept == 1) close(fd);
        if (msg.msg_flags & MSG_CTRUNC) return -EMSGSIZE;
        return n == 0 ? -ECONNRESET : -EBADMSG;
    }
    return fd;
}

const char *plasma_errno_name(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    return strerrorname_np(err);
#else
    (void)err;
    return NULL;
#endif
}
