// The machine's limits, sampled on request between the benchmark's repetitions (as plasma-bench's
// MachineLimits does: Benchmarks/plasma-bench/MachineLimits.swift), so that every figure has a limit
// measured at the same moment. Reads one request a line on stdin, answers one number a line:
//   copy N       GB/s of memcpy (glibc) of N bytes from a private buffer into populated memfd pages
//                (what one thread's copy in a put reaches at best); median of 3 passes
//   pcopy N T    the same copy on T threads (this one and T-1 kept helpers), cut as swiftplasma's put
//                cuts it (swiftplasma/_copy.py: 4 chunks per thread, none under 1 MiB, nor under 256 MiB
//                from 512 MiB, boundaries on 4 KiB pages of the target, taken in turn); median of 3 passes
//   read N       GB/s of summing every 8 bytes of N populated memfd bytes (what get-large does); median of 3
//   rtt-poll     p50 us of 2,000 32-byte round trips to another process, both sides spinning on a
//                nonblocking socket, yielding the CPU between polls after 20 us (the floor of one request when
//                neither side sleeps)
//   rtt-sleep    the same with both sides blocked in read (each message wakes a sleeping process, as a
//                seal wakes a waiter)
// Built by python/bench/run.sh with the system C compiler.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { ROUND_TRIPS = 2000, MESSAGE = 32, MAX_SIZES = 8 };
#define LARGE_CHUNK ((size_t)256 << 20)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// Populated shared mappings and private sources by size, made once (populating is never timed).
static struct { size_t size; char *target; char *source; } mappings[MAX_SIZES];

static int mapping(size_t size, char **target, char **source) {
    for (int i = 0; i < MAX_SIZES; i++) {
        if (mappings[i].size == size) { *target = mappings[i].target; *source = mappings[i].source; return 0; }
        if (mappings[i].size == 0) {
            int fd = memfd_create("limits", 0);
            if (fd < 0 || ftruncate(fd, (off_t)size) != 0) return -1;
            char *t = mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
            close(fd);
            char *s = malloc(size);
            if (t == MAP_FAILED || s == NULL) return -1;
            memset(s, 3, size);
            memset(t, 1, size);
            mappings[i].size = size; mappings[i].target = t; mappings[i].source = s;
            *target = t; *source = s;
            return 0;
        }
    }
    return -1;
}

// The chunked copy of pcopy: helpers sleep on `wake` between copies and take chunks in turn.
static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake, idle;
    char *target;
    const char *source;
    size_t size, chunks;
    atomic_size_t next;
    int generation, copying, helpers;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER};

static size_t chunk_start(size_t index) {
    if (index == 0) return 0;
    if (index >= pool.chunks) return pool.size;
    uintptr_t address = (uintptr_t)pool.target + pool.size / pool.chunks * index;
    size_t start = (size_t)(((address + 4095) & ~(uintptr_t)4095) - (uintptr_t)pool.target);
    return start < pool.size ? start : pool.size;
}

static void take_chunks(void) {
    for (size_t index; (index = atomic_fetch_add(&pool.next, 1)) < pool.chunks;) {
        size_t start = chunk_start(index), end = chunk_start(index + 1);
        if (end > start) memcpy(pool.target + start, pool.source + start, end - start);
    }
}

static void *helper(void *unused) {
    (void)unused;
    int seen = 0;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (pool.generation == seen) pthread_cond_wait(&pool.wake, &pool.lock);
        seen = pool.generation;
        pool.copying++;
        pthread_mutex_unlock(&pool.lock);
        take_chunks();
        pthread_mutex_lock(&pool.lock);
        if (--pool.copying == 0) pthread_cond_broadcast(&pool.idle);
    }
    return NULL;
}

static void parallel_copy(char *target, const char *source, size_t size, int threads) {
    size_t unit = size >= (size_t)2 * LARGE_CHUNK ? LARGE_CHUNK : (size_t)1 << 20;  // as _copy.chunks_for
    size_t chunks = size / unit < (size_t)threads * 4 ? size / unit : (size_t)threads * 4;
    pthread_mutex_lock(&pool.lock);
    while (pool.helpers < threads - 1) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, helper, NULL) != 0) break;
        pool.helpers++;
    }
    pool.target = target; pool.source = source; pool.size = size; pool.chunks = chunks ? chunks : 1;
    atomic_store(&pool.next, 0);
    pool.generation++;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    take_chunks();
    pthread_mutex_lock(&pool.lock);
    while (pool.copying > 0) pthread_cond_wait(&pool.idle, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
}

static volatile uint64_t sink;

// copy: 0 read, 1 memcpy, T > 1 the chunked copy on T threads.
static double bandwidth(size_t size, int copy) {
    char *target, *source;
    if (mapping(size, &target, &source) != 0) return -1;
    double rates[3];
    for (int i = 0; i < 3; i++) {
        double start = now();
        if (copy > 1) {
            parallel_copy(target, source, size, copy);
        } else if (copy) {
            memcpy(target, source, size);
        } else {
            const uint64_t *words = (const uint64_t *)target;
            uint64_t sum = 0;
            for (size_t w = 0; w < size / 8; w++) sum += words[w];
            sink = sum;
        }
        rates[i] = size / (now() - start) / 1e9;
    }
    qsort(rates, 3, sizeof(double), compare);
    return rates[1];
}

// Fills the message; spins (after a millisecond of nothing, sleeps in poll) when polling. 0 at EOF.
static int receive(int fd, char *message, int polling) {
    size_t filled = 0;
    double spinning_since = now();
    while (filled < MESSAGE) {
        ssize_t count = recv(fd, message + filled, MESSAGE - filled, polling ? MSG_DONTWAIT : 0);
        if (count < 0 && (errno == EAGAIN || errno == EINTR)) {
            // After 20 us of spinning, yield between polls: on a loaded 2-core machine two spinners
            // otherwise wait out each other's time slices (a p50 of milliseconds).
            if (polling && now() - spinning_since > 20e-6) sched_yield();
            if (polling && now() - spinning_since > 1e-3) {
                struct pollfd p = {fd, POLLIN, 0};
                poll(&p, 1, -1);
                spinning_since = now();
            }
            continue;
        }
        if (count <= 0) return 0;
        filled += (size_t)count;
    }
    return 1;
}

static int peers[2] = {-1, -1};  // [polling, sleeping]: our end of a socketpair to an echoing child

static double round_trip(int polling) {
    int *peer = &peers[polling ? 0 : 1];
    char message[MESSAGE] = {0};
    if (*peer < 0) {
        int pair[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) return -1;
        pid_t child = fork();
        if (child < 0) return -1;
        if (child == 0) {
            close(pair[0]);
            while (receive(pair[1], message, polling)) {
                if (send(pair[1], message, MESSAGE, 0) != MESSAGE) break;
            }
            _exit(0);
        }
        close(pair[1]);
        *peer = pair[0];
    }
    static double samples[ROUND_TRIPS];
    for (int i = 0; i < ROUND_TRIPS; i++) {
        double start = now();
        if (send(*peer, message, MESSAGE, 0) != MESSAGE || !receive(*peer, message, polling)) return -1;
        samples[i] = (now() - start) * 1e6;
    }
    qsort(samples, ROUND_TRIPS, sizeof(double), compare);
    return samples[ROUND_TRIPS / 2];
}

int main(void) {
    char line[128];
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof line, stdin)) {
        unsigned long long size = 0;
        int threads = 0;
        double value;
        if (sscanf(line, "pcopy %llu %d", &size, &threads) == 2 && threads > 1) value = bandwidth(size, threads);
        else if (sscanf(line, "copy %llu", &size) == 1) value = bandwidth(size, 1);
        else if (sscanf(line, "read %llu", &size) == 1) value = bandwidth(size, 0);
        else if (strncmp(line, "rtt-poll", 8) == 0) value = round_trip(1);
        else if (strncmp(line, "rtt-sleep", 9) == 0) value = round_trip(0);
        else value = -1;
        printf("%.6f\n", value);
    }
    return 0;  // the echoing children see EOF and exit
}
