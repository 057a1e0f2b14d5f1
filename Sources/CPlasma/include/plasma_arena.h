// The store's shared-memory arena: one memfd (or unlinked file), sized at start, optionally prefaulted.
// Functions return 0 or -errno; they never print or exit.
#ifndef PLASMA_ARENA_H
#define PLASMA_ARENA_H
#include <stdint.h>

#define PLASMA_ARENA_HUGEPAGES 1
#define PLASMA_ARENA_PREFAULT 2

typedef struct {
    int fd;
    void *base;
    uint64_t size;           // bytes mapped: the requested size rounded up to the page in use
    int hugepages;           // 1 when the arena is backed by hugepages
    int hugepage_errno;      // errno that forced the fallback to normal pages, 0 if none
    uint64_t prefault_ns;    // CLOCK_MONOTONIC time spent prefaulting, 0 if not asked
    int prefault_errno;      // errno from MADV_POPULATE_WRITE (EINVAL: pages touched instead; ENOMEM: failed)
    const char *failed_step; // syscall that failed ("memfd_create", "ftruncate", ...), NULL on success
} plasma_arena_t;

/// Creates the arena. `directory` NULL: a memfd; otherwise an unlinked file created in that directory.
int plasma_arena_create(uint64_t size, int flags, const char *directory, plasma_arena_t *out);
/// Unmaps and closes the arena; safe on a zeroed or already destroyed arena.
void plasma_arena_destroy(plasma_arena_t *arena);

/// Maps `fd` MAP_SHARED (read-only or read-write, optionally MAP_POPULATE). NULL and *err on failure.
void *plasma_map_shared(int fd, uint64_t size, int writable, int populate, int *err);
/// munmap; 0 or -errno.
int plasma_unmap(void *p, uint64_t size);
/// The normal page size (sysconf(_SC_PAGESIZE)).
uint64_t plasma_page_size(void);

#endif
