#define _GNU_SOURCE
#include "plasma_arena.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 // Linux 5.14; older headers lack it
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB 4U
#endif
#define PLASMA_HUGETLBFS_MAGIC 0x958458f6
#define PLASMA_HUGEPAGE_SIZE (2ULL << 20) // the default MFD_HUGETLB page on x86-64

static int fail(plasma_arena_t *a, const char *step, int err) {
    a->failed_step = step;
    return -err;
}

// A file in `directory`, unlinked at once so nothing is left behind. Returns the fd or -errno.
static int open_unlinked_file(const char *directory, plasma_arena_t *a) {
    size_t len = strlen(directory) + sizeof("/plasma-arena-XXXXXX");
    char *path = malloc(len);
    if (path == NULL) return fail(a, "mkstemp", ENOMEM);
    snprintf(path, len, "%s/plasma-arena-XXXXXX", directory);
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        free(path);
        return fail(a, "mkstemp", err);
    }
    if (unlink(path) != 0) {
        int err = errno;
        close(fd);
        free(path);
        return fail(a, "unlink", err);
    }
    free(path);
    return fd;
}

// One attempt at fd + ftruncate + mmap, with or without hugepages. On failure nothing stays open.
// In a directory, hugepages mean the directory is a hugetlbfs mount (Arrow's `-d /mnt/hugepages -h`).
static int map_backing(uint64_t size, int huge, const char *directory, plasma_arena_t *a, uint64_t *page) {
    int fd;
    if (directory == NULL) {
        fd = memfd_create("plasma-arena", MFD_CLOEXEC | MFD_ALLOW_SEALING | (huge ? MFD_HUGETLB : 0));
        if (fd < 0) return fail(a, "memfd_create", errno);
    } else {
        fd = open_unlinked_file(directory, a);
        if (fd < 0) return fd;
    }
    *page = huge ? PLASMA_HUGEPAGE_SIZE : plasma_page_size();
    if (huge && directory != NULL) {
        struct statfs fs;
        int err = fstatfs(fd, &fs) != 0 ? errno : fs.f_type != PLASMA_HUGETLBFS_MAGIC ? EOPNOTSUPP : 0;
        if (err != 0) {
            close(fd);
            return fail(a, "fstatfs", err);
        }
        *page = (uint64_t)fs.f_bsize;
    }
    if (size > (uint64_t)INT64_MAX - *page) {
        close(fd);
        return fail(a, "ftruncate", EFBIG);
    }
    uint64_t rounded = (size + *page - 1) / *page * *page;
    if (ftruncate(fd, (off_t)rounded) != 0) {
        int err = errno;
        close(fd);
        return fail(a, "ftruncate", err);
    }
    // Clients get this descriptor read-write; a client that shrank the file would make the store's own
    // accesses fault (SIGBUS). Sealing the size makes ftruncate fail for everyone. (A file in a
    // directory can't be sealed: with -d, clients are trusted not to truncate; see docs/SECURITY.md.)
    if (directory == NULL && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        int err = errno;
        close(fd);
        return fail(a, "fcntl(F_ADD_SEALS)", err);
    }
    void *base = mmap(NULL, rounded, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        int err = errno; // ENOMEM here when MFD_HUGETLB has no reserved pages
        close(fd);
        return fail(a, "mmap", err);
    }
    a->fd = fd;
    a->base = base;
    a->size = rounded;
    return 0;
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

// Faults every page in now so the first create doesn't pay ~30x for fresh pages.
static int prefault(plasma_arena_t *a, uint64_t page) {
    uint64_t start = now_ns();
    int rc = 0;
    while (madvise(a->base, a->size, MADV_POPULATE_WRITE) != 0) {
        int err = errno;
        if (err == EINTR) continue;
        a->prefault_errno = err;
        if (err == EINVAL) { // kernel without MADV_POPULATE_WRITE: touch one byte per page
            volatile char *p = a->base;
            for (uint64_t off = 0; off < a->size; off += page) p[off] = 0; // fresh memory is zero
        } else {
            rc = fail(a, "madvise", err); // ENOMEM: a store that promises the size must have it
        }
        break;
    }
    a->prefault_ns = now_ns() - start;
    return rc;
}

int plasma_arena_create(uint64_t size, int flags, const char *directory, plasma_arena_t *out) {
    memset(out, 0, sizeof *out);
    out->fd = -1;
    uint64_t page = 0;
    if (flags & PLASMA_ARENA_HUGEPAGES) {
        int rc = map_backing(size, 1, directory, out, &page);
        if (rc == 0) {
            out->hugepages = 1;
        } else {
            out->hugepage_errno = -rc; // fall back to normal pages; the caller logs why
            out->failed_step = NULL;
        }
    }
    if (!out->hugepages) {
        int rc = map_backing(size, 0, directory, out, &page);
        if (rc != 0) return rc;
    }
    if (flags & PLASMA_ARENA_PREFAULT) {
        int rc = prefault(out, page);
        if (rc != 0) {
            plasma_arena_destroy(out);
            return rc;
        }
    }
    return 0;
}

void plasma_arena_destroy(plasma_arena_t *arena) {
    if (arena->base != NULL) munmap(arena->base, arena->size);
    if (arena->fd >= 0) close(arena->fd);
    arena->base = NULL;
    arena->fd = -1;
}

void *plasma_map_shared(int fd, uint64_t size, int writable, int populate, int *err) {
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    void *p = mmap(NULL, size, prot, MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, 0);
    if (p == MAP_FAILED) {
        *err = errno;
        return NULL;
    }
    return p;
}

int plasma_unmap(void *p, uint64_t size) {
    return munmap(p, size) == 0 ? 0 : -errno;
}

uint64_t plasma_page_size(void) {
    return (uint64_t)sysconf(_SC_PAGESIZE);
}
