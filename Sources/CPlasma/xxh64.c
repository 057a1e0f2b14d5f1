// XXH64, after the reference specification (xxhash.h, BSD-2-Clause; doc/xxhash_spec.md): four
// 64-bit lanes over 32-byte stripes, then the tail in 8-, 4- and 1-byte steps, then an avalanche.
// Inputs are read little-endian (memcpy keeps unaligned reads defined); Linux targets are little-endian.
#include "plasma_xxh64.h"

#include <string.h>

#define PRIME64_1 0x9E3779B185EBCA87ULL
#define PRIME64_2 0xC2B2AE3D27D4EB4FULL
#define PRIME64_3 0x165667B19E3779F9ULL
#define PRIME64_4 0x85EBCA77C2B2AE63ULL
#define PRIME64_5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl64(uint64_t value, int bits) { return (value << bits) | (value >> (64 - bits)); }

static inline uint64_t read64(const uint8_t *p) {
    uint64_t value;
    memcpy(&value, p, sizeof value);
    return value;
}

static inline uint32_t read32(const uint8_t *p) {
    uint32_t value;
    memcpy(&value, p, sizeof value);
    return value;
}

static inline uint64_t round64(uint64_t accumulator, uint64_t input) {
    accumulator += input * PRIME64_2;
    accumulator = rotl64(accumulator, 31);
    return accumulator * PRIME64_1;
}

static inline uint64_t merge_round(uint64_t accumulator, uint64_t lane) {
    accumulator ^= round64(0, lane);
    return accumulator * PRIME64_1 + PRIME64_4;
}

uint64_t plasma_xxh64(const void *bytes, size_t length, uint64_t seed) {
    const uint8_t *p = bytes;
    const uint8_t *end = p + length;
    uint64_t hash;

    if (length >= 32) {
        uint64_t v1 = seed + PRIME64_1 + PRIME64_2;
        uint64_t v2 = seed + PRIME64_2;
        uint64_t v3 = seed;
        uint64_t v4 = seed - PRIME64_1;
        const uint8_t *limit = end - 32;
        do {
            v1 = round64(v1, read64(p));
            v2 = round64(v2, read64(p + 8));
            v3 = round64(v3, read64(p + 16));
            v4 = round64(v4, read64(p + 24));
            p += 32;
        } while (p <= limit);
        hash = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
        hash = merge_round(hash, v1);
        hash = merge_round(hash, v2);
        hash = merge_round(hash, v3);
        hash = merge_round(hash, v4);
    } else {
        hash = seed + PRIME64_5;
    }
    hash += (uint64_t)length;

    while (end - p >= 8) {
        hash ^= round64(0, read64(p));
        hash = rotl64(hash, 27) * PRIME64_1 + PRIME64_4;
        p += 8;
    }
    if (end - p >= 4) {
        hash ^= (uint64_t)read32(p) * PRIME64_1;
        hash = rotl64(hash, 23) * PRIME64_2 + PRIME64_3;
        p += 4;
    }
    while (p < end) {
        hash ^= (uint64_t)(*p) * PRIME64_5;
        hash = rotl64(hash, 11) * PRIME64_1;
        p++;
    }

    hash ^= hash >> 33;
    hash *= PRIME64_2;
    hash ^= hash >> 29;
    hash *= PRIME64_3;
    hash ^= hash >> 32;
    return hash;
}
