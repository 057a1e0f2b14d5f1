// What Glibc's Swift module can't give: SCM_RIGHTS fd passing (the CMSG_* macros), accept4, SO_PEERCRED,
// errno names, and the epoll / eventfd / signalfd declarations, which SwiftGlibc.h leaves out
// (including them here makes them visible to Swift through CPlasma, as CNIOLinux does).
// Functions return bytes or 0 on success, -errno on failure; they never print or exit.
#ifndef PLASMA_SOCKET_H
#define PLASMA_SOCKET_H
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/types.h>

/// sendmsg(MSG_NOSIGNAL) of `len` bytes; when fd_to_send >= 0 it rides as SCM_RIGHTS on the first byte.
ssize_t plasma_sendmsg_fd(int sock, const void *buf, size_t len, int fd_to_send);

/// recvmsg(MSG_CMSG_CLOEXEC) with room for max_fds descriptors, stored in fds[0..<*nfds]. Extra fds that
/// fit the control buffer's padding are closed. If the kernel truncated the control data (MSG_CTRUNC),
/// every received fd is closed and -EMSGSIZE returned. Returns bytes (0 = EOF) or -errno.
ssize_t plasma_recvmsg_fds(int sock, void *buf, size_t len, int *fds, int max_fds, int *nfds);

/// accept4(flags) without the peer address (accept4 is GNU-only, hidden from Swift's Glibc). fd or -errno.
int plasma_accept4(int sock, int flags);

/// SO_PEERCRED of a connected AF_UNIX socket. 0 or -errno.
int plasma_peer_credentials(int sock, int32_t *pid, uint32_t *uid, uint32_t *gid);

/// Arrow's send_fd: one sendmsg of exactly 1 data byte and one SCM_RIGHTS cmsg of 1 int. 0 or -errno.
int plasma_send_fd_arrow(int sock, int fd);

/// Arrow's recv_fd: recvmsg of 1 byte; returns the fd, or -errno: -ECONNRESET on EOF, -EBADMSG when no fd
/// or more than one arrived (all closed), -EMSGSIZE on truncated control data (all closed).
int plasma_recv_fd_arrow(int sock);

/// The errno's symbolic name ("EPIPE"), or NULL when unknown.
const char *plasma_errno_name(int err);

#endif
