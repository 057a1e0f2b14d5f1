// O(1) offset allocator for the shared arena.
//
// The allocator hands out offsets into a range [0, size); it never reads or writes the memory those
// offsets point into. All of its metadata (nodes, node states, bin lists, bitmaps) lives
// in ordinary malloc'd memory of the store process, so a client scribbling over the shared arena
// cannot corrupt it (dlmalloc's in-band headers made exactly that crash Arrow's store).
//
// Blocks are named by a handle (the index of their node) together with their offset: the store keeps
// both in its object record, so free() finds the node directly, with no offset -> node map. free()
// checks that the handle names an allocated node at that offset, so a wrong handle changes nothing.
//
// Design: two-level segregated fit (TLSF / Sebastian Aaltonen's OffsetAllocator).
//   - Everything is counted in 64-byte units: every offset and every block size is a multiple of 64.
//   - Free blocks sit in bins. First level = floor(log2(units)); second level = 16 linear subdivisions
//     of that power-of-two range. Bins below 32 units (2 KiB) are exact (one size per bin).
//     One bitmap bit per non-empty bin, one bitmap bit per first level with a non-empty bin.
//   - allocate() rounds the request up to the next bin boundary ("good fit"), so the first block of
//     the first non-empty bin at or above it always fits: one ffs on each bitmap level, O(1).
//     It splits the block and returns the tail to its bin.
//   - free() merges with free physical neighbours immediately, so no two free blocks are ever adjacent.
//   - Nodes (24 bytes: offset, size and four links, all 32-bit) live in a growable array with a
//     stack of unused nodes, and their states in a parallel byte array; both grow by doubling,
//     O(1) amortised. Offsets and sizes are 32-bit counts of 64-byte units, which is what limits
//     the managed size to PLASMA_ALLOCATOR_MAX_SIZE (just under 256 GiB).
//   - Not thread-safe: one owner (the store's event-loop thread).
//
// When can allocate() fail although free_bytes >= size? (size rounded up to 64 first, 0 counts as 64)
//   1. External fragmentation: no single free block is >= size (free space is split into
//      non-adjacent pieces; merging only joins physical neighbours).
//   2. Good-fit rounding: every free block >= size lies in size's own bin (so it is less than 1/16
//      larger than size; all higher bins are empty), AND none of them is among the first
//      PLASMA_ALLOCATOR_FALLBACK_SCAN_LIMIT blocks of that bin's list (which mixes blocks just below
//      and just above size). allocate() scans size's own bin only when the O(1) rounded-up search
//      found nothing, and only that far, to keep the worst case bounded. This cannot happen when size
//      is below 2 KiB or on a bin boundary (then every block of its bin fits), nor when the bin holds
//      at most PLASMA_ALLOCATOR_FALLBACK_SCAN_LIMIT blocks. In particular an empty allocator always
//      satisfies a request for its whole size: its single free block is alone in its bin.
//   3. The metadata arrays could not grow (malloc failure); also reported as -ENOMEM.
// In every failing case allocate() has no side effects.

#ifndef PLASMA_ALLOCATOR_H
#define PLASMA_ALLOCATOR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Granularity of offsets and block sizes, in bytes.
#define PLASMA_ALLOCATOR_ALIGNMENT 64
/// How many blocks of the request's own bin allocate() examines when the O(1) search found nothing.
#define PLASMA_ALLOCATOR_FALLBACK_SCAN_LIMIT 64
/// How many free blocks allocate() examines for one below the populated boundary (see
/// plasma_allocator_set_populated) when its good-fit choice lies above it.
#define PLASMA_ALLOCATOR_POPULATED_SCAN_LIMIT 64
/// The largest size plasma_allocator_create() accepts: (2^32 - 1) units of 64 bytes, 256 GiB - 64.
#define PLASMA_ALLOCATOR_MAX_SIZE 274877906880ULL  // (2^32 - 1) * PLASMA_ALLOCATOR_ALIGNMENT

typedef struct plasma_allocator plasma_allocator_t;

/// An allocated block: its offset in bytes and the handle free() and block_size() need with it.
typedef struct {
    uint64_t offset;
    uint32_t handle;
} plasma_allocator_block_t;

typedef struct {
    uint64_t size;               // bytes managed (the created size rounded down to 64)
    uint64_t free_bytes;         // sum of all free blocks
    uint64_t largest_free_block; // exact, in bytes; 0 when nothing is free
    uint64_t allocated_blocks;
    uint64_t free_blocks;
    uint64_t metadata_bytes;     // malloc'd bytes the allocator holds (all outside the arena)
} plasma_allocator_stats_t;

/// Manages [0, size) in 64-byte units (size rounded down to 64; 0 is allowed and allocates nothing).
/// Returns NULL when size > PLASMA_ALLOCATOR_MAX_SIZE or memory for the metadata could not be
/// allocated.
plasma_allocator_t *plasma_allocator_create(uint64_t size);
void plasma_allocator_destroy(plasma_allocator_t *allocator);

/// Allocates a block of at least `size` bytes (rounded up to 64; 0 allocates 64).
/// Returns 0 and sets *block (its offset is a multiple of 64), or -ENOMEM with no side effects.
int plasma_allocator_allocate(plasma_allocator_t *allocator, uint64_t size, plasma_allocator_block_t *block);

/// Tells the allocator that the arena's pages below `bytes` are populated (faulted in) and those above
/// not yet: while the store populates the arena in the background, allocate() prefers a block lying
/// wholly below that boundary when its good-fit choice would reach above it, so that early objects are
/// written into memory that costs no page faults. Once `bytes` reaches the size (the default), allocate()
/// behaves exactly as without it. Which block is chosen never decides whether allocation succeeds.
void plasma_allocator_set_populated(plasma_allocator_t *allocator, uint64_t bytes);

/// Frees `block`. Returns 0, or -EINVAL (state untouched) when its handle does not name an allocated
/// block starting at its offset: double free, a free block, a garbage handle or offset. (As with an
/// offset alone, a stale block whose node and offset were both reused by a later allocation frees
/// that allocation: the caller must free each block once.)
int plasma_allocator_free(plasma_allocator_t *allocator, plasma_allocator_block_t block);

/// Size in bytes of `block`, 0 if it is not an allocated block (checked as free() checks it).
uint64_t plasma_allocator_block_size(const plasma_allocator_t *allocator, plasma_allocator_block_t block);

/// O(number of bins + blocks in the largest non-empty bin), for statistics rather than hot paths.
void plasma_allocator_stats(const plasma_allocator_t *allocator, plasma_allocator_stats_t *out);

/// Walks all metadata and verifies every invariant. O(nodes + bins); for tests.
/// Returns 0, or a negative code naming the first broken invariant (see PLASMA_CHECK_* in allocator.c).
int plasma_allocator_check(const plasma_allocator_t *allocator);

#ifdef __cplusplus
}
#endif

#endif
