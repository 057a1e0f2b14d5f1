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

#endif
