// XXH64 (Yann Collet's xxHash, 64-bit variant): the checksum of spill files (SpillFile.swift).
//
// Chosen because it is fast (several GB/s per core, in portable C without SIMD), well known, and
// has published test vectors (XXH64("", 0) = 0xEF46DB3751D8E999). It detects accidental damage
// (truncation, bit rot, a file from another object); it is not a MAC, and needs not be: only the
// store's own uid can write its spill directory.
#ifndef PLASMA_XXH64_H
#define PLASMA_XXH64_H

#include <stddef.h>
#include <stdint.h>

/// The XXH64 hash of `length` bytes at `bytes` (which may be NULL when `length` is 0).
uint64_t plasma_xxh64(const void *bytes, size_t length, uint64_t seed);

/// A hash computed piece by piece (a pulled object hashed as its chunks arrive): the same value as
/// plasma_xxh64 over the concatenation of every update, whatever the pieces' sizes.
typedef struct {
    uint64_t lanes[4];
    uint64_t total;       // bytes hashed so far
    uint64_t seed;
    uint8_t buffer[32];   // the start of a stripe not yet complete
    uint32_t buffered;
} plasma_xxh64_state_t;

/// Starts a new hash with `seed`.
void plasma_xxh64_reset(plasma_xxh64_state_t *state, uint64_t seed);
/// Adds `length` bytes (`bytes` may be NULL when `length` is 0).
void plasma_xxh64_update(plasma_xxh64_state_t *state, const void *bytes, size_t length);
/// Adds `length` bytes to two hashes (other seeds) in one pass; the same as plasma_xxh64_update on each.
void plasma_xxh64_update2(plasma_xxh64_state_t *a, plasma_xxh64_state_t *b, const void *bytes, size_t length);
/// The hash of everything added so far; the state may go on being updated.
uint64_t plasma_xxh64_digest(const plasma_xxh64_state_t *state);

#endif
