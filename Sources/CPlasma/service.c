#define _GNU_SOURCE
#include "plasma_service.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int plasma_notify(const char *socket_path, const void *message, size_t length) {
    size_t name_length = strlen(socket_path);
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    if (name_length < 2 || (socket_path[0] != '/' && socket_path[0] != '@')) return -EAFNOSUPPORT;
    // A path needs its terminating NUL; an abstract name is exactly its bytes, '@' becoming the leading 0.
    if (name_length >= sizeof address.sun_path) return -ENAMETOOLONG;
    memcpy(address.sun_path, socket_path, name_length);
    socklen_t address_length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + name_length);
    if (socket_path[0] == '@') {
        address.sun_path[0] = 0;
    } else {
        address_length += 1;
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    ssize_t sent;
    do {
        sent = sendto(fd, message, length, MSG_NOSIGNAL, (struct sockaddr *)&address, address_length);
    } while (sent < 0 && errno == EINTR);
    int err = sent < 0 ? errno : (size_t)sent != length ? EMSGSIZE : 0;
    close(fd);
    return -err;
}

static int socket_option(int fd, int option, int *value) {
    socklen_t length = sizeof *value;
    return getsockopt(fd, SOL_SOCKET, option, value, &length) == 0 ? 0 : -errno;
}

int plasma_check_unix_listener(int fd) {
    int domain = 0, type = 0, listening = 0;
    int rc = socket_option(fd, SO_DOMAIN, &domain);
    if (rc == 0) rc = socket_option(fd, SO_TYPE, &type);
    if (rc == 0) rc = socket_option(fd, SO_ACCEPTCONN, &listening);
    if (rc != 0) return rc; // ENOTSOCK for a file, EBADF for no descriptor at all
    if (domain != AF_UNIX) return -EAFNOSUPPORT;
    if (type != SOCK_STREAM) return -EPROTOTYPE;
    return listening ? 0 : -EINVAL;
}

int plasma_socket_bound_path(int fd, char *buffer, size_t capacity) {
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    socklen_t length = sizeof address;
    if (getsockname(fd, (struct sockaddr *)&address, &length) != 0) return -errno;
    size_t offset = offsetof(struct sockaddr_un, sun_path);
    if (length <= offset) return -ENOENT; // unbound
    size_t name_length = length - offset;
    const char *name = address.sun_path;
    if (name[0] != 0) {
        name_length = strnlen(name, name_length); // a path carries its NUL in the length, or not
    }
    if (name_length + 1 > capacity) return -ENAMETOOLONG;
    memcpy(buffer, name, name_length);
    if (name[0] == 0) buffer[0] = '@';
    buffer[name_length] = 0;
    return 0;
}
