// The service manager's two small protocols, without libsystemd: readiness notification (sd_notify(3):
// one datagram of "KEY=VALUE\n" lines to $NOTIFY_SOCKET) and socket activation (sd_listen_fds(3): the
// listening sockets arrive as descriptors 3, 4, ... with $LISTEN_FDS and $LISTEN_PID set).
// Functions return 0 or -errno; they never print or exit.
#ifndef PLASMA_SERVICE_H
#define PLASMA_SERVICE_H
#include <stddef.h>

/// The first descriptor a socket-activated process receives (SD_LISTEN_FDS_START).
#define PLASMA_LISTEN_FDS_START 3

/// Sends `message` (`length` bytes) as one datagram to `socket_path`: a filesystem path, or an abstract
/// name when it starts with '@'. -EAFNOSUPPORT for any other form (e.g. systemd's "vsock:"),
/// -ENAMETOOLONG when it doesn't fit sockaddr_un.
int plasma_notify(const char *socket_path, const void *message, size_t length);

/// 0 when `fd` is an AF_UNIX SOCK_STREAM socket that listens; -ENOTSOCK, -EAFNOSUPPORT, -EPROTOTYPE
/// or -EINVAL (not listening) otherwise, or the errno of the failing getsockopt.
int plasma_check_unix_listener(int fd);

/// The path a Unix socket is bound to, NUL-terminated in `buffer` ('@' first for an abstract name).
/// -ENOENT when it is unbound, -ENAMETOOLONG when `capacity` is too small.
int plasma_socket_bound_path(int fd, char *buffer, size_t capacity);

#endif
