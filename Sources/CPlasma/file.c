#define _GNU_SOURCE
#include "plasma_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int plasma_renameat_noreplace(int dirfd, const char *from, const char *to) {
    if (renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS) return -errno;
    // linkat without AT_SYMLINK_FOLLOW links `from` itself, and fails with EEXIST on any entry at `to`.
    if (linkat(dirfd, from, dirfd, to, 0) != 0) return -errno;
    unlinkat(dirfd, from, 0);
    return 0;
}
