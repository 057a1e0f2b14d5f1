#define _GNU_SOURCE
// O(1) offset allocator: two-level segregated fit over an external node array.
// Read plasma_allocator.h first for the design and the failure cases.
//
// Layout of this file:
//   1. units and bins      - size <-> bin index arithmetic
//   2. node pool           - growable array of nodes plus a stack of unused ones
//   3. bin lists           - doubly linked free lists and their bitmaps
//   4. public API          - create, allocate, free, stats
//   5. invariant check
//
// Every size and offset inside this file is in 64-byte units unless a name says "bytes". Units are
// stored as uint32_t, which is what bounds the arena (PLASMA_ALLOCATOR_MAX_SIZE, < 256 GiB).

#include "plasma_allocator.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#define UNIT_SHIFT 6                      // 64-byte units
// 16 second-level bins per power of two: rounding up wastes less than 1/16 of a request. Measured on
// the churn workload of AllocatorTests (90% fill, 64 B..1 MiB): 8 bins failed ~12% of allocations,
// 16 bins ~8%. The bitmaps stay one word per level either way.
#define SL_BITS 4
#define SL_COUNT (1u << SL_BITS)
#define FL_COUNT 64                       // one bit per first level in a uint64_t bitmap
#define BIN_COUNT (FL_COUNT * SL_COUNT)
#define NO_BIN UINT32_MAX
#define NIL UINT32_MAX                    // "no node"
#define INITIAL_NODES 64u

enum node_state { NODE_UNUSED = 0, NODE_FREE = 1, NODE_ALLOCATED = 2 };

// One block of the arena (or an unused entry of the pool): 24 bytes. Its state sits in the parallel
// `states` array (one byte per node) rather than here, where it would pad the node to 28.
typedef struct {
    uint32_t offset;               // units
    uint32_t size;                 // units
    uint32_t prev_phys, next_phys; // physical neighbours, NIL at the ends of the arena
    uint32_t prev_free, next_free; // bin list links; next_free also links the unused-node stack
} node_t;

_Static_assert(sizeof(node_t) == 24, "a node is six 32-bit fields: its size is per-object memory");
_Static_assert(PLASMA_ALLOCATOR_MAX_SIZE == (uint64_t)UINT32_MAX * PLASMA_ALLOCATOR_ALIGNMENT,
               "the size limit is what 32-bit unit counts can name");

struct plasma_allocator {
    uint64_t total_units;
    // Units [0, populated_units) have their pages faulted in (plasma_allocator_set_populated); while
    // that is less than total_units, allocate() prefers blocks that lie below it.
    uint64_t populated_units;
    uint64_t free_units;
    uint64_t free_count;
    uint64_t allocated_count;

    node_t *nodes;
    uint8_t *states;          // enum node_state of nodes[i]
    uint32_t node_capacity;
    uint32_t nodes_touched;   // nodes[0, nodes_touched) have been handed out at least once
    uint32_t unused_head;     // stack of released nodes, linked through next_free

    uint64_t fl_bitmap;               // bit f: some bin of first level f is non-empty
    uint16_t sl_bitmap[FL_COUNT];     // bit s of [f]: bin (f, s) is non-empty
    uint32_t bin_head[BIN_COUNT];
};

// ---------------------------------------------------------------------------------------------------
// 1. Units and bins
// ---------------------------------------------------------------------------------------------------

static inline unsigned floor_log2(uint64_t x) { return 63u - (unsigned)__builtin_clzll(x); }

// The bin holding free blocks of `units` (> 0): the bin whose range contains it ("round down").
// Below 2^SL_BITS units the bin is the size itself (first level 0). From there on, level
// f = log2 - SL_BITS + 1 covers [2^log2, 2^(log2+1)) in SL_COUNT equal steps; for log2 == SL_BITS the
// step is 1, so bins stay exact up to 2 * SL_COUNT units and the numbering runs on without gaps.
static uint32_t bin_of(uint64_t units) {
    unsigned log2 = floor_log2(units);
    if (log2 < SL_BITS) return (uint32_t)units;
    unsigned shift = log2 - SL_BITS;
    unsigned fl = log2 - SL_BITS + 1;
    unsigned sl = (unsigned)(units >> shift) & (SL_COUNT - 1);
    return fl * SL_COUNT + sl;
}

// Rounds `units` up to the lower bound of a bin. Any block in bin_of(result) is >= units, which is
// what lets allocate() take the first block of the first non-empty bin without looking at it.
static uint64_t round_up_to_bin(uint64_t units) {
    unsigned log2 = floor_log2(units);
    if (log2 < SL_BITS) return units;
    uint64_t step = 1ull << (log2 - SL_BITS);
    return (units + step - 1) & ~(step - 1);
}

// ---------------------------------------------------------------------------------------------------
// 2. Node pool: a growable array; released nodes go on a stack and are reused first.
// ---------------------------------------------------------------------------------------------------

// Makes sure node_take() cannot fail. Growing may move the array, never the indices.
static int node_reserve(plasma_allocator_t *a) {
    if (a->unused_head != NIL || a->nodes_touched < a->node_capacity) return 0;
    if (a->node_capacity == NIL) return -ENOMEM; // index NIL is the sentinel
    uint64_t grown = (uint64_t)a->node_capacity * 2;
    uint32_t capacity = grown > NIL ? NIL : (uint32_t)grown;
    node_t *nodes = realloc(a->nodes, (size_t)capacity * sizeof(node_t));
    if (nodes == NULL) return -ENOMEM;
    a->nodes = nodes; // the old capacity stays valid for both arrays until states has grown too
    uint8_t *states = realloc(a->states, (size_t)capacity);
    if (states == NULL) return -ENOMEM;
    a->states = states;
    a->node_capacity = capacity;
    return 0;
}

static uint32_t node_take(plasma_allocator_t *a) {
    uint32_t index;
    if (a->unused_head != NIL) {
        index = a->unused_head;
        a->unused_head = a->nodes[index].next_free;
    } else {
        index = a->nodes_touched++;
    }
    a->nodes[index] = (node_t){.prev_phys = NIL, .next_phys = NIL, .prev_free = NIL, .next_free = NIL};
    a->states[index] = NODE_UNUSED;
    return index;
}

static void node_release(plasma_allocator_t *a, uint32_t index) {
    a->states[index] = NODE_UNUSED;
    a->nodes[index].next_free = a->unused_head;
    a->unused_head = index;
}

// ---------------------------------------------------------------------------------------------------
// 3. Bin lists: free nodes sit in the list of bin_of(size), pushed at the head. The bitmaps mirror
//    which lists are non-empty so a search is two find-first-set operations.
// ---------------------------------------------------------------------------------------------------

static void bin_insert(plasma_allocator_t *a, uint32_t index) {
    node_t *n = &a->nodes[index];
    uint32_t bin = bin_of(n->size);
    a->states[index] = NODE_FREE;
    n->prev_free = NIL;
    n->next_free = a->bin_head[bin];
    if (n->next_free != NIL) a->nodes[n->next_free].prev_free = index;
    a->bin_head[bin] = index;
    a->sl_bitmap[bin / SL_COUNT] |= (uint16_t)(1u << (bin % SL_COUNT));
    a->fl_bitmap |= 1ull << (bin / SL_COUNT);
    a->free_units += n->size;
    a->free_count++;
}

// The node's size must still be the one it was inserted with (it decides the bin).
static void bin_remove(plasma_allocator_t *a, uint32_t index) {
    node_t *n = &a->nodes[index];
    uint32_t bin = bin_of(n->size);
    if (n->prev_free != NIL) a->nodes[n->prev_free].next_free = n->next_free;
    else a->bin_head[bin] = n->next_free;
    if (n->next_free != NIL) a->nodes[n->next_free].prev_free = n->prev_free;
    if (a->bin_head[bin] == NIL) {
        a->sl_bitmap[bin / SL_COUNT] &= (uint16_t)~(1u << (bin % SL_COUNT));
        if (a->sl_bitmap[bin / SL_COUNT] == 0) a->fl_bitmap &= ~(1ull << (bin / SL_COUNT));
    }
    a->free_units -= n->size;
    a->free_count--;
}

// First non-empty bin >= `bin`, or NO_BIN. One ffs within the first level, one across levels.
static uint32_t first_nonempty_bin_from(const plasma_allocator_t *a, uint32_t bin) {
    unsigned fl = bin / SL_COUNT;
    unsigned sl_mask = a->sl_bitmap[fl] & (0xFFFFu << (bin % SL_COUNT)) & 0xFFFFu;
    if (sl_mask != 0) return fl * SL_COUNT + (unsigned)__builtin_ctz(sl_mask);
    uint64_t fl_mask = fl + 1 < FL_COUNT ? a->fl_bitmap & (~0ull << (fl + 1)) : 0;
    if (fl_mask == 0) return NO_BIN;
    fl = (unsigned)__builtin_ctzll(fl_mask);
    return fl * SL_COUNT + (unsigned)__builtin_ctz(a->sl_bitmap[fl]);
}

// Free node that can hold `units`, or NIL. Does not change anything.
static uint32_t find_free_block(const plasma_allocator_t *a, uint64_t units) {
    uint32_t bin = first_nonempty_bin_from(a, bin_of(round_up_to_bin(units)));
    if (bin != NO_BIN) return a->bin_head[bin];
    // Good fit skipped the request's own bin, whose blocks may or may not be big enough. This is the
    // only place that looks at block sizes; it is what makes "allocate the whole empty arena" work.
    uint32_t index = a->bin_head[bin_of(units)];
    for (int seen = 0; index != NIL && seen < PLASMA_ALLOCATOR_FALLBACK_SCAN_LIMIT; seen++) {
        if (a->nodes[index].size >= units) return index;
        index = a->nodes[index].next_free;
    }
    return NIL;
}

// ---------------------------------------------------------------------------------------------------
// 4. Public API
// ---------------------------------------------------------------------------------------------------

plasma_allocator_t *plasma_allocator_create(uint64_t size) {
    if (size > PLASMA_ALLOCATOR_MAX_SIZE) return NULL;
    plasma_allocator_t *a = calloc(1, sizeof(*a));
    if (a == NULL) return NULL;
    a->nodes = malloc(INITIAL_NODES * sizeof(node_t));
    a->states = malloc(INITIAL_NODES);
    if (a->nodes == NULL || a->states == NULL) {
        plasma_allocator_destroy(a);
        return NULL;
    }
    a->node_capacity = INITIAL_NODES;
    a->unused_head = NIL;
    for (uint32_t bin = 0; bin < BIN_COUNT; bin++) a->bin_head[bin] = NIL;

    a->total_units = size >> UNIT_SHIFT;
    a->populated_units = a->total_units; // until told otherwise, nothing to prefer
    if (a->total_units > 0) {
        uint32_t whole = node_take(a); // cannot fail: the array is fresh
        a->nodes[whole].offset = 0;
        a->nodes[whole].size = (uint32_t)a->total_units;
        bin_insert(a, whole);
    }
    return a;
}

void plasma_allocator_destroy(plasma_allocator_t *a) {
    if (a == NULL) return;
    free(a->nodes);
    free(a->states);
    free(a);
}

// Cuts `index` down to `units`; the tail becomes a new free node right after it.
static void split(plasma_allocator_t *a, uint32_t index, uint32_t units) {
    uint32_t tail = node_take(a);
    node_t *n = &a->nodes[index];
    node_t *t = &a->nodes[tail];
    t->offset = n->offset + units;
    t->size = n->size - units;
    t->prev_phys = index;
    t->next_phys = n->next_phys;
    if (n->next_phys != NIL) a->nodes[n->next_phys].prev_phys = tail;
    n->next_phys = tail;
    n->size = units;
    bin_insert(a, tail);
}

// While the arena is being populated: a free block that holds `units` entirely below the populated
// boundary, or NIL. Looks at the request's own bin and the non-empty bins above it, at most
// PLASMA_ALLOCATOR_POPULATED_SCAN_LIMIT blocks in all, so the cost stays bounded; and only when the
// good-fit choice would write into pages not yet populated.
static uint32_t find_populated_block(const plasma_allocator_t *a, uint64_t units) {
    int seen = 0;
    for (uint32_t bin = first_nonempty_bin_from(a, bin_of(units)); bin != NO_BIN;
         bin = bin + 1 < BIN_COUNT ? first_nonempty_bin_from(a, bin + 1) : NO_BIN) {
        for (uint32_t i = a->bin_head[bin]; i != NIL; i = a->nodes[i].next_free) {
            if (++seen > PLASMA_ALLOCATOR_POPULATED_SCAN_LIMIT) return NIL;
            const node_t *n = &a->nodes[i];
            if (n->size >= units && n->offset + units <= a->populated_units) return i;
        }
    }
    return NIL;
}

void plasma_allocator_set_populated(plasma_allocator_t *a, uint64_t bytes) {
    uint64_t units = bytes >> UNIT_SHIFT;
    a->populated_units = units < a->total_units ? units : a->total_units;
}

int plasma_allocator_allocate(plasma_allocator_t *a, uint64_t size, plasma_allocator_block_t *block) {
    if (size > UINT64_MAX - (PLASMA_ALLOCATOR_ALIGNMENT - 1)) return -ENOMEM;
    uint64_t units = (size + PLASMA_ALLOCATOR_ALIGNMENT - 1) >> UNIT_SHIFT;
    if (units == 0) units = 1;
    if (units > a->free_units) return -ENOMEM; // also keeps units within uint32_t

    uint32_t index = find_free_block(a, units);
    if (index == NIL) return -ENOMEM;
    if (a->populated_units < a->total_units && a->nodes[index].offset + units > a->populated_units) {
        uint32_t populated = find_populated_block(a, units);
        if (populated != NIL) index = populated;
    }
    // Reserve before changing anything, so a failed malloc leaves no trace.
    if (node_reserve(a) != 0) return -ENOMEM;

    bin_remove(a, index);
    if (a->nodes[index].size > units) split(a, index, (uint32_t)units);
    a->states[index] = NODE_ALLOCATED;
    a->allocated_count++;
    block->offset = (uint64_t)a->nodes[index].offset << UNIT_SHIFT;
    block->handle = index;
    return 0;
}

// Absorbs free node `right` into its left physical neighbour `left`; `right` returns to the pool.
static void merge_into_left(plasma_allocator_t *a, uint32_t left, uint32_t right) {
    node_t *l = &a->nodes[left];
    node_t *r = &a->nodes[right];
    l->size += r->size;
    l->next_phys = r->next_phys;
    if (r->next_phys != NIL) a->nodes[r->next_phys].prev_phys = left;
    node_release(a, right);
}

// The node of `block` if it names an allocated block (its handle and offset agree), else NIL.
// This is what stands between a wrong handle and corrupted metadata: a stale handle (its node freed,
// merged or reused for another block) or a garbage one fails here and nothing changes.
static uint32_t allocated_node(const plasma_allocator_t *a, plasma_allocator_block_t block) {
    uint32_t index = block.handle;
    if (index >= a->nodes_touched || a->states[index] != NODE_ALLOCATED) return NIL;
    if (block.offset % PLASMA_ALLOCATOR_ALIGNMENT != 0) return NIL;
    if (block.offset >> UNIT_SHIFT != a->nodes[index].offset) return NIL;
    return index;
}

int plasma_allocator_free(plasma_allocator_t *a, plasma_allocator_block_t block) {
    uint32_t index = allocated_node(a, block);
    if (index == NIL) return -EINVAL;
    a->allocated_count--;

    // Merge with free neighbours now, so free blocks are always maximal. Keeping the left node of
    // each pair means the node at offset 0 never changes.
    uint32_t prev = a->nodes[index].prev_phys;
    if (prev != NIL && a->states[prev] == NODE_FREE) {
        bin_remove(a, prev);
        merge_into_left(a, prev, index);
        index = prev;
    }
    uint32_t next = a->nodes[index].next_phys;
    if (next != NIL && a->states[next] == NODE_FREE) {
        bin_remove(a, next);
        merge_into_left(a, index, next);
    }
    bin_insert(a, index);
    return 0;
}

uint64_t plasma_allocator_block_size(const plasma_allocator_t *a, plasma_allocator_block_t block) {
    uint32_t index = allocated_node(a, block);
    return index == NIL ? 0 : (uint64_t)a->nodes[index].size << UNIT_SHIFT;
}

// The largest free block is in the highest non-empty bin; within that bin sizes differ, so scan it.
static uint64_t largest_free_units(const plasma_allocator_t *a) {
    if (a->fl_bitmap == 0) return 0;
    unsigned fl = floor_log2(a->fl_bitmap);
    uint32_t bin = fl * SL_COUNT + floor_log2(a->sl_bitmap[fl]);
    uint64_t largest = 0;
    for (uint32_t i = a->bin_head[bin]; i != NIL; i = a->nodes[i].next_free) {
        if (a->nodes[i].size > largest) largest = a->nodes[i].size;
    }
    return largest;
}

void plasma_allocator_stats(const plasma_allocator_t *a, plasma_allocator_stats_t *out) {
    out->size = a->total_units << UNIT_SHIFT;
    out->free_bytes = a->free_units << UNIT_SHIFT;
    out->largest_free_block = largest_free_units(a) << UNIT_SHIFT;
    out->allocated_blocks = a->allocated_count;
    out->free_blocks = a->free_count;
    out->metadata_bytes = sizeof(*a) + (uint64_t)a->node_capacity * (sizeof(node_t) + sizeof(uint8_t));
}

// ---------------------------------------------------------------------------------------------------
// 5. Invariant check (tests only). Each code names the first invariant found broken.
// ---------------------------------------------------------------------------------------------------

enum {
    PLASMA_CHECK_OK = 0,
    PLASMA_CHECK_BAD_NODE = -1,         // a node index or state out of range
    PLASMA_CHECK_NO_FIRST = -2,         // not exactly one live node without a left neighbour at 0
    PLASMA_CHECK_GAP = -3,              // physical chain has a gap, overlap, empty block or bad link
    PLASMA_CHECK_END = -4,              // physical chain does not end at size or misses live nodes
    PLASMA_CHECK_ADJACENT_FREE = -5,    // two free blocks are neighbours (a merge was missed)
    PLASMA_CHECK_BIN = -6,              // a bin list holds a wrong node, or has a bad back link
    PLASMA_CHECK_BITMAP = -7,           // bitmaps disagree with the bin lists
    PLASMA_CHECK_COUNTS = -8,           // free/allocated counters disagree with the nodes
    PLASMA_CHECK_TOO_LARGE = -9,        // the managed size exceeds what 32-bit units can name
    PLASMA_CHECK_POOL = -10,            // unused-node stack is inconsistent
};

// Walks the physical chain from offset 0; counts what it finds.
static int check_chain(const plasma_allocator_t *a, uint64_t live, uint64_t *free_units,
                       uint64_t *free_count, uint64_t *allocated_count) {
    uint32_t first = NIL;
    for (uint32_t i = 0; i < a->nodes_touched; i++) {
        if (a->states[i] != NODE_UNUSED && a->nodes[i].prev_phys == NIL) {
            if (first != NIL) return PLASMA_CHECK_NO_FIRST;
            first = i;
        }
    }
    if (live == 0) return first == NIL && a->total_units == 0 ? 0 : PLASMA_CHECK_NO_FIRST;
    if (first == NIL || a->nodes[first].offset != 0) return PLASMA_CHECK_NO_FIRST;

    uint64_t end = 0, steps = 0;
    uint32_t prev = NIL;
    for (uint32_t i = first; i != NIL; prev = i, i = a->nodes[i].next_phys) {
        if (i >= a->nodes_touched || ++steps > live) return PLASMA_CHECK_GAP;
        const node_t *n = &a->nodes[i];
        if (a->states[i] == NODE_UNUSED || n->prev_phys != prev || n->offset != end || n->size == 0)
            return PLASMA_CHECK_GAP;
        if (n->size > a->total_units - end) return PLASMA_CHECK_END;
        end += n->size;
        if (a->states[i] == NODE_FREE) {
            if (prev != NIL && a->states[prev] == NODE_FREE) return PLASMA_CHECK_ADJACENT_FREE;
            *free_units += n->size;
            ++*free_count;
        } else {
            ++*allocated_count;
        }
    }
    return end == a->total_units && steps == live ? 0 : PLASMA_CHECK_END;
}

static int check_bins(const plasma_allocator_t *a, uint64_t free_count) {
    uint64_t listed = 0;
    for (uint32_t bin = 0; bin < BIN_COUNT; bin++) {
        bool bit = ((unsigned)a->sl_bitmap[bin / SL_COUNT] >> (bin % SL_COUNT)) & 1u;
        if (bit != (a->bin_head[bin] != NIL)) return PLASMA_CHECK_BITMAP;
        uint32_t prev = NIL;
        for (uint32_t i = a->bin_head[bin]; i != NIL; prev = i, i = a->nodes[i].next_free) {
            if (i >= a->nodes_touched || ++listed > free_count) return PLASMA_CHECK_BIN;
            const node_t *n = &a->nodes[i];
            if (a->states[i] != NODE_FREE || n->prev_free != prev || bin_of(n->size) != bin)
                return PLASMA_CHECK_BIN;
        }
    }
    for (unsigned fl = 0; fl < FL_COUNT; fl++) {
        if (((a->fl_bitmap >> fl) & 1u) != (a->sl_bitmap[fl] != 0)) return PLASMA_CHECK_BITMAP;
    }
    return listed == free_count ? 0 : PLASMA_CHECK_BIN;
}

static int check_pool(const plasma_allocator_t *a, uint64_t live) {
    uint64_t unused = 0;
    for (uint32_t i = a->unused_head; i != NIL; i = a->nodes[i].next_free) {
        if (i >= a->nodes_touched || ++unused > a->nodes_touched || a->states[i] != NODE_UNUSED)
            return PLASMA_CHECK_POOL;
    }
    return live + unused == a->nodes_touched ? 0 : PLASMA_CHECK_POOL;
}

int plasma_allocator_check(const plasma_allocator_t *a) {
    if (a->total_units > UINT32_MAX) return PLASMA_CHECK_TOO_LARGE;
    if (a->nodes_touched > a->node_capacity) return PLASMA_CHECK_BAD_NODE;
    uint64_t live = 0;
    for (uint32_t i = 0; i < a->nodes_touched; i++) {
        uint8_t state = a->states[i];
        if (state > NODE_ALLOCATED) return PLASMA_CHECK_BAD_NODE;
        if (state != NODE_UNUSED) live++;
    }
    uint64_t free_units = 0, free_count = 0, allocated_count = 0;
    int rc = check_chain(a, live, &free_units, &free_count, &allocated_count);
    if (rc == 0) rc = check_bins(a, free_count);
    if (rc == 0 && (free_units != a->free_units || free_count != a->free_count
                    || allocated_count != a->allocated_count))
        rc = PLASMA_CHECK_COUNTS;
    if (rc == 0) rc = check_pool(a, live);
    return rc;
}
