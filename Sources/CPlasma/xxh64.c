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

// The tail (fewer than 32 bytes) and the avalanche, shared by the one-shot and the streaming forms.
static uint64_t finish(uint64_t hash, const uint8_t *p, const uint8_t *end) {
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

static inline uint64_t converge(const uint64_t v[4]) {
    uint64_t hash = rotl64(v[0], 1) + rotl64(v[1], 7) + rotl64(v[2], 12) + rotl64(v[3], 18);
    for (int lane = 0; lane < 4; lane++) hash = merge_round(hash, v[lane]);
    return hash;
}

// Consumes whole 32-byte stripes from p; returns where it stopped.
static inline const uint8_t *stripes(uint64_t v[4], const uint8_t *p, const uint8_t *end) {
    uint64_t v1 = v[0], v2 = v[1], v3 = v[2], v4 = v[3];
    while (end - p >= 32) {
        v1 = round64(v1, read64(p));
        v2 = round64(v2, read64(p + 8));
        v3 = round64(v3, read64(p + 16));
        v4 = round64(v4, read64(p + 24));
        p += 32;
    }
    v[0] = v1, v[1] = v2, v[2] = v3, v[3] = v4;
    return p;
}

uint64_t plasma_xxh64(const void *bytes, size_t length, uint64_t seed) {
    const uint8_t *p = bytes;
    const uint8_t *end = p + length;
    uint64_t hash;

    if (length >= 32) {
        uint64_t v[4] = {seed + PRIME64_1 + PRIME64_2, seed + PRIME64_2, seed, seed - PRIME64_1};
        p = stripes(v, p, end);
        hash = converge(v);
    } else {
        hash = seed + PRIME64_5;
    }
    hash += (uint64_t)length;
    return finish(hash, p, end);
}

void plasma_xxh64_reset(plasma_xxh64_state_t *state, uint64_t seed) {
    memset(state, 0, sizeof *state);
    state->seed = seed;
    state->lanes[0] = seed + PRIME64_1 + PRIME64_2;
    state->lanes[1] = seed + PRIME64_2;
    state->lanes[2] = seed;
    state->lanes[3] = seed - PRIME64_1;
}

void plasma_xxh64_update(plasma_xxh64_state_t *state, const void *bytes, size_t length) {
    const uint8_t *p = bytes;
    const uint8_t *end = p + length;
    state->total += length;
    if (state->buffered + length < 32) { // not a whole stripe yet: keep it
        if (length > 0) memcpy(state->buffer + state->buffered, p, length);
        state->buffered += (uint32_t)length;
        return;
    }
    if (state->buffered > 0) { // complete the held stripe first
        size_t take = 32 - state->buffered;
        memcpy(state->buffer + state->buffered, p, take);
        stripes(state->lanes, state->buffer, state->buffer + 32);
        p += take;
        state->buffered = 0;
    }
    p = stripes(state->lanes, p, end);
    if (p < end) {
        memcpy(state->buffer, p, (size_t)(end - p));
        state->buffered = (uint32_t)(end - p);
    }
}

// Whole 32-byte stripes into two hashes at once: each word is read and multiplied by PRIME64_2 once.
static inline const uint8_t *stripes2(uint64_t v[4], uint64_t w[4], const uint8_t *p, const uint8_t *end) {
    uint64_t v1 = v[0], v2 = v[1], v3 = v[2], v4 = v[3];
    uint64_t w1 = w[0], w2 = w[1], w3 = w[2], w4 = w[3];
    while (end - p >= 32) {
        uint64_t i1 = read64(p) * PRIME64_2, i2 = read64(p + 8) * PRIME64_2;
        uint64_t i3 = read64(p + 16) * PRIME64_2, i4 = read64(p + 24) * PRIME64_2;
        v1 = rotl64(v1 + i1, 31) * PRIME64_1;
        w1 = rotl64(w1 + i1, 31) * PRIME64_1;
        v2 = rotl64(v2 + i2, 31) * PRIME64_1;
        w2 = rotl64(w2 + i2, 31) * PRIME64_1;
        v3 = rotl64(v3 + i3, 31) * PRIME64_1;
        w3 = rotl64(w3 + i3, 31) * PRIME64_1;
        v4 = rotl64(v4 + i4, 31) * PRIME64_1;
        w4 = rotl64(w4 + i4, 31) * PRIME64_1;
        p += 32;
    }
    v[0] = v1, v[1] = v2, v[2] = v3, v[3] = v4;
    w[0] = w1, w[1] = w2, w[2] = w3, w[3] = w4;
    return p;
}

void plasma_xxh64_update2(plasma_xxh64_state_t *a, plasma_xxh64_state_t *b, const void *bytes, size_t length) {
    if (a->total != b->total || a->buffered != b->buffered) { // not fed alike: one after the other
        plasma_xxh64_update(a, bytes, length);
        plasma_xxh64_update(b, bytes, length);
        return;
    }
    const uint8_t *p = bytes;
    const uint8_t *end = p + length;
    a->total += length;
    b->total += length;
    if (a->buffered + length < 32) {
        if (length > 0) {
            memcpy(a->buffer + a->buffered, p, length);
            memcpy(b->buffer + b->buffered, p, length);
        }
        a->buffered += (uint32_t)length;
        b->buffered += (uint32_t)length;
        return;
    }
    if (a->buffered > 0) {
        size_t take = 32 - a->buffered;
        memcpy(a->buffer + a->buffered, p, take);
        memcpy(b->buffer + b->buffered, p, take);
        stripes2(a->lanes, b->lanes, a->buffer, a->buffer + 32);
        p += take;
        a->buffered = b->buffered = 0;
    }
    p = stripes2(a->lanes, b->lanes, p, end);
    if (p < end) {
        memcpy(a->buffer, p, (size_t)(end - p));
        memcpy(b->buffer, p, (size_t)(end - p));
        a->buffered = b->buffered = (uint32_t)(end - p);
    }
}

uint64_t plasma_xxh64_digest(const plasma_xxh64_state_t *state) {
    uint64_t hash = state->total >= 32 ? converge(state->lanes) : state->seed + PRIME64_5;
    hash += state->total;
    return finish(hash, state->buffer, state->buffer + state->buffered);
}
