// TCP for the transfer plane between stores (Sources/PlasmaTransfer): listening on and connecting to a
// `host` (an IPv4 or IPv6 literal, or a name) and numeric port, socket timeouts, sendfile, and the
// text of an address. Functions return a descriptor, bytes or 0 on success, -errno on failure
// (-EADDRNOTAVAIL when a name resolves to nothing usable); they never print or exit.
#ifndef PLASMA_TCP_H
#define PLASMA_TCP_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// A blocking, close-on-exec socket listening on exactly `host`:`port` (port 0: the kernel picks one),
/// SO_REUSEADDR (a restarted store binds again at once despite TIME_WAIT), IPV6_V6ONLY for an IPv6
/// address (binding `::` does not take IPv4 too). The first address `host` resolves to that binds wins.
/// fd or -errno; *bound_port gets the port bound.
int plasma_tcp_listen(const char *host, uint16_t port, int backlog, uint16_t *bound_port);

/// A blocking, close-on-exec socket connected to `host`:`port` with TCP_NODELAY, each address the name
/// resolves to tried in turn within `timeout_ms` in all (a nonblocking connect and poll). fd or -errno
/// (-ETIMEDOUT when the time ran out).
int plasma_tcp_connect(const char *host, uint16_t port, int timeout_ms);

/// accept4(SOCK_CLOEXEC), blocking, with TCP_NODELAY on the new socket; the peer's address as text
/// ("10.0.0.1:7420", "[::1]:7420") in `peer` (at most `peer_len` bytes with the NUL). fd or -errno.
int plasma_tcp_accept(int sock, char *peer, size_t peer_len);

/// SO_RCVTIMEO and SO_SNDTIMEO in milliseconds (0: block without limit): a blocking call that waits
/// longer fails with -EAGAIN. 0 or -errno.
int plasma_tcp_set_timeouts(int sock, int64_t receive_ms, int64_t send_ms);

/// sendfile(2) of up to `count` bytes of `fd` from `offset` to `sock`: bytes sent or -errno.
ssize_t plasma_sendfile(int sock, int fd, uint64_t offset, size_t count);

#endif
