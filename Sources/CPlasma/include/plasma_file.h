// File calls Swift's Glibc module doesn't import (renameat2 needs _GNU_SOURCE).
#ifndef PLASMA_FILE_H
#define PLASMA_FILE_H

// Moves `from` to `to`, both relative to the directory `dirfd`, failing with -EEXIST if anything
// (a file, a symlink, ...) is at `to` already: renameat2(RENAME_NOREPLACE). On a filesystem without
// that flag (EINVAL) or a kernel without renameat2 (ENOSYS), linkat + unlinkat give the same
// guarantee. Neither follows a symlink at either name. Returns 0 or -errno.
int plasma_renameat_noreplace(int dirfd, const char *from, const char *to);

#endif
