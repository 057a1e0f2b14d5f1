#define _GNU_SOURCE
// O(1) offset allocator: two-level segregated fit over an external node array.
// Read plasma_allocator.h first for the design and the failure cases.
//
// Layout of this file:
//   1. units and bins      - size <-> bin index arithmetic
//   2. node pool           - growable array of nodes plus a stack of unused ones
//   3. bin lists           - doubly linked free lists and their bitmaps
//   4. offset hash         - open-addressing map offset -> node for allocated blocks
//   5. public API          - create, allocate, free, stats
//   6. invariant check
//
// Every size and offset inside this file is in 64-byte units unless a name says "bytes".

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
#define INITIAL_SLOTS 64u                 // hash slots; always a power of two

enum node_state { NODE_UNUSED = 0, NODE_FREE = 1, NODE_ALLOCATED = 2 };

// One block of the arena (or an unused entry of the pool).
typedef struct {
    uint64_t offset;
    uint64_t size;
    uint32_t prev_phys, next_phys; // physical neighbours, NIL at the ends of the arena
    uint32_t prev_free, next_free; // bin list links; next_free also links the unused-node stack
    uint8_t state;
} node_t;

// A hash slot: the offset of an allocated block and its node. Empty when node == NIL.
typedef struct {
    uint64_t offset;
    uint32_t node;
} slot_t;

struct plasma_allocator {
    uint64_t total_units;
    uint64_t free_units;
    uint64_t free_count;
    uint64_t allocated_count;

    node_t *nodes;
    uint32_t node_capacity;
    uint32_t nodes_touched;   // nodes[0, nodes_touched) have been handed out at least once
    uint32_t unused_head;     // stack of released nodes, linked through next_free

    uint64_t fl_bitmap;               // bit f: some bin of first level f is non-empty
    uint16_t sl_bitmap[FL_COUNT];     // bit s of [f]: bin (f, s) is non-empty
    uint32_t bin_head[BIN_COUNT];

    slot_t *slots;
    uint64_t slot_mask;       // capacity - 1
    uint64_t slot_count;      // occupied slots
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
    a->nodes = nodes;
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
    return index;
}

static void node_release(plasma_allocator_t *a, uint32_t index) {
    a->nodes[index].state = NODE_UNUSED;
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
    n->state = NODE_FREE;
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
// 4. Offset hash: allocated offset -> node, open addressing with linear probing. Deletion shifts
//    later entries back (no tombstones), so lookups never slow down with churn.
// ---------------------------------------------------------------------------------------------------

static inline uint64_t slot_home(uint64_t offset, uint64_t mask) {
    // Offsets are often regular (multiples of some size); mix all bits before masking (murmur3 fmix64).
    uint64_t x = offset;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x & mask;
}

static slot_t *slots_new(uint64_t capacity) {
    slot_t *slots = malloc((size_t)capacity * sizeof(slot_t));
    if (slots == NULL) return NULL;
    for (uint64_t i = 0; i < capacity; i++) slots[i].node = NIL;
    return slots;
}

static void slot_put(slot_t *slots, uint64_t mask, uint64_t offset, uint32_t node) {
    uint64_t i = slot_home(offset, mask);
    while (slots[i].node != NIL) i = (i + 1) & mask;
    slots[i] = (slot_t){.offset = offset, .node = node};
}

// Keeps the load factor <= 1/2 after one more insert, so hash_insert() cannot fail.
static int hash_reserve(plasma_allocator_t *a) {
    uint64_t capacity = a->slot_mask + 1;
    if ((a->slot_count + 1) * 2 <= capacity) return 0;
    uint64_t grown = capacity * 2;
    if (grown > SIZE_MAX / sizeof(slot_t)) return -ENOMEM;
    slot_t *slots = slots_new(grown);
    if (slots == NULL) return -ENOMEM;
    for (uint64_t i = 0; i < capacity; i++) {
        if (a->slots[i].node != NIL) slot_put(slots, grown - 1, a->slots[i].offset, a->slots[i].node);
    }
    free(a->slots);
    a->slots = slots;
    a->slot_mask = grown - 1;
    return 0;
}

static void hash_insert(plasma_allocator_t *a, uint64_t offset, uint32_t node) {
    slot_put(a->slots, a->slot_mask, offset, node);
    a->slot_count++;
}

// Slot index holding `offset`, or -1.
static int64_t hash_find(const plasma_allocator_t *a, uint64_t offset) {
    uint64_t i = slot_home(offset, a->slot_mask);
    while (a->slots[i].node != NIL) {
        if (a->slots[i].offset == offset) return (int64_t)i;
        i = (i + 1) & a->slot_mask;
    }
    return -1;
}

// Backward-shift deletion: walk the cluster after the hole and move back every entry whose home
// is not between the hole and its current position (cyclically), so every probe chain stays intact.
static void hash_remove(plasma_allocator_t *a, uint64_t hole) {
    uint64_t mask = a->slot_mask;
    uint64_t i = (hole + 1) & mask;
    while (a->slots[i].node != NIL) {
        uint64_t home = slot_home(a->slots[i].offset, mask);
        bool home_after_hole = ((i - home) & mask) < ((i - hole) & mask);
        if (!home_after_hole) {
            a->slots[hole] = a->slots[i];
            hole = i;
        }
        i = (i + 1) & mask;
    }
    a->slots[hole].node = NIL;
    a->slot_count--;
}

// Node of the allocated block at `offset_bytes`, or NIL (also for unaligned offsets).
static uint32_t allocated_node_at(const plasma_allocator_t *a, uint64_t offset_bytes, int64_t *slot) {
    if (offset_bytes % PLASMA_ALLOCATOR_ALIGNMENT != 0) return NIL;
    int64_t found = hash_find(a, offset_bytes >> UNIT_SHIFT);
    if (slot != NULL) *slot = found;
    return found < 0 ? NIL : a->slots[found].node;
}

// ---------------------------------------------------------------------------------------------------
// 5. Public API
// ---------------------------------------------------------------------------------------------------

plasma_allocator_t *plasma_allocator_create(uint64_t size) {
    plasma_allocator_t *a = calloc(1, sizeof(*a));
    if (a == NULL) return NULL;
    a->nodes = malloc(INITIAL_NODES * sizeof(node_t));
    a->slots = slots_new(INITIAL_SLOTS);
    if (a->nodes == NULL || a->slots == NULL) {
        plasma_allocator_destroy(a);
        return NULL;
    }
    a->node_capacity = INITIAL_NODES;
    a->unused_head = NIL;
    a->slot_mask = INITIAL_SLOTS - 1;
    for (uint32_t bin = 0; bin < BIN_COUNT; bin++) a->bin_head[bin] = NIL;

    a->total_units = size >> UNIT_SHIFT;
    if (a->total_units > 0) {
        uint32_t whole = node_take(a); // cannot fail: the array is fresh
        a->nodes[whole].offset = 0;
        a->nodes[whole].size = a->total_units;
        bin_insert(a, whole);
    }
    return a;
}

void plasma_allocator_destroy(plasma_allocator_t *a) {
    if (a == NULL) return;
    free(a->nodes);
    free(a->slots);
    free(a);
}

// Cuts `index` down to `units`; the tail becomes a new free node right after it.
static void split(plasma_allocator_t *a, uint32_t index, uint64_t units) {
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

int plasma_allocator_allocate(plasma_allocator_t *a, uint64_t size, uint64_t *offset) {
    if (size > UINT64_MAX - (PLASMA_ALLOCATOR_ALIGNMENT - 1)) return -ENOMEM;
    uint64_t units = (size + PLASMA_ALLOCATOR_ALIGNMENT - 1) >> UNIT_SHIFT;
    if (units == 0) units = 1;
    if (units > a->free_units) return -ENOMEM;

    uint32_t index = find_free_block(a, units);
    if (index == NIL) return -ENOMEM;
    // Reserve before changing anything, so a failed malloc leaves no trace.
    if (node_reserve(a) != 0 || hash_reserve(a) != 0) return -ENOMEM;

    bin_remove(a, index);
    if (a->nodes[index].size > units) split(a, index, units);
    a->nodes[index].state = NODE_ALLOCATED;
    hash_insert(a, a->nodes[index].offset, index);
    a->allocated_count++;
    *offset = a->nodes[index].offset << UNIT_SHIFT;
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

int plasma_allocator_free(plasma_allocator_t *a, uint64_t offset) {
    int64_t slot;
    uint32_t index = allocated_node_at(a, offset, &slot);
    if (index == NIL) return -EINVAL;
    hash_remove(a, (uint64_t)slot);
    a->allocated_count--;

    // Merge with free neighbours now, so free blocks are always maximal. Keeping the left node of
    // each pair means the node at offset 0 never changes.
    uint32_t prev = a->nodes[index].prev_phys;
    if (prev != NIL && a->nodes[prev].state == NODE_FREE) {
        bin_remove(a, prev);
        merge_into_left(a, prev, index);
        index = prev;
    }
    uint32_t next = a->nodes[index].next_phys;
    if (next != NIL && a->nodes[next].state == NODE_FREE) {
        bin_remove(a, next);
        merge_into_left(a, index, next);
    }
    bin_insert(a, index);
    return 0;
}

uint64_t plasma_allocator_block_size(const plasma_allocator_t *a, uint64_t offset) {
    uint32_t index = allocated_node_at(a, offset, NULL);
    return index == NIL ? 0 : a->nodes[index].size << UNIT_SHIFT;
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
    out->metadata_bytes = sizeof(*a) + (uint64_t)a->node_capacity * sizeof(node_t)
        + (a->slot_mask + 1) * sizeof(slot_t);
}

// ---------------------------------------------------------------------------------------------------
// 6. Invariant check (tests only). Each code names the first invariant found broken.
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
    PLASMA_CHECK_HASH = -9,             // hash and allocated nodes are not a bijection
    PLASMA_CHECK_POOL = -10,            // unused-node stack is inconsistent
};

// Walks the physical chain from offset 0; counts what it finds.
static int check_chain(const plasma_allocator_t *a, uint64_t live, uint64_t *free_units,
                       uint64_t *free_count, uint64_t *allocated_count) {
    uint32_t first = NIL;
    for (uint32_t i = 0; i < a->nodes_touched; i++) {
        if (a->nodes[i].state != NODE_UNUSED && a->nodes[i].prev_phys == NIL) {
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
        if (n->state == NODE_UNUSED || n->prev_phys != prev || n->offset != end || n->size == 0)
            return PLASMA_CHECK_GAP;
        if (n->size > a->total_units - end) return PLASMA_CHECK_END;
        end += n->size;
        if (n->state == NODE_FREE) {
            if (prev != NIL && a->nodes[prev].state == NODE_FREE) return PLASMA_CHECK_ADJACENT_FREE;
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
            if (n->state != NODE_FREE || n->prev_free != prev || bin_of(n->size) != bin)
                return PLASMA_CHECK_BIN;
        }
    }
    for (unsigned fl = 0; fl < FL_COUNT; fl++) {
        if (((a->fl_bitmap >> fl) & 1u) != (a->sl_bitmap[fl] != 0)) return PLASMA_CHECK_BITMAP;
    }
    return listed == free_count ? 0 : PLASMA_CHECK_BIN;
}

// Every occupied slot names a distinct allocated node with its offset, reachable by lookup.
// With slot_count == allocated nodes that makes the hash a bijection onto the allocated nodes.
static int check_hash(const plasma_allocator_t *a, uint64_t allocated_count) {
    uint64_t occupied = 0;
    for (uint64_t s = 0; s <= a->slot_mask; s++) {
        uint32_t i = a->slots[s].node;
        if (i == NIL) continue;
        occupied++;
        if (i >= a->nodes_touched || a->nodes[i].state != NODE_ALLOCATED
            || a->nodes[i].offset != a->slots[s].offset || hash_find(a, a->slots[s].offset) != (int64_t)s)
            return PLASMA_CHECK_HASH;
    }
    return occupied == a->slot_count && occupied == allocated_count ? 0 : PLASMA_CHECK_HASH;
}

static int check_pool(const plasma_allocator_t *a, uint64_t live) {
    uint64_t unused = 0;
    for (uint32_t i = a->unused_head; i != NIL; i = a->nodes[i].next_free) {
        if (i >= a->nodes_touched || ++unused > a->nodes_touched || a->nodes[i].state != NODE_UNUSED)
            return PLASMA_CHECK_POOL;
    }
    return live + unused == a->nodes_touched ? 0 : PLASMA_CHECK_POOL;
}

int plasma_allocator_check(const plasma_allocator_t *a) {
    if (a->nodes_touched > a->node_capacity) return PLASMA_CHECK_BAD_NODE;
    uint64_t live = 0;
    for (uint32_t i = 0; i < a->nodes_touched; i++) {
        uint8_t state = a->nodes[i].state;
        if (state > NODE_ALLOCATED) return PLASMA_CHECK_BAD_NODE;
        if (state != NODE_UNUSED) live++;
    }
    uint64_t free_units = 0, free_count = 0, allocated_count = 0;
    int rc = check_chain(a, live, &free_units, &free_count, &allocated_count);
    if (rc == 0) rc = check_bins(a, free_count);
    if (rc == 0 && (free_units != a->free_units || free_count != a->free_count
                    || allocated_count != a->allocated_count))
        rc = PLASMA_CHECK_COUNTS;
    if (rc == 0) rc = check_hash(a, allocated_count);
    if (rc == 0) rc = check_pool(a, live);
    return rc;
}
