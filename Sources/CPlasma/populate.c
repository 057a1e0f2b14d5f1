#define _GNU_SOURCE
#include "plasma_populate.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 // Linux 5.14; older headers lack it
#endif

struct plasma_populator {
    char *base;
    uint64_t size, chunk, page;
    int notify_fd;
    pthread_t thread;
    int joined; // by the owner's thread only
    uint64_t started_ns;
    _Atomic uint64_t done_bytes;
    _Atomic uint64_t finished_ns; // 0 while running
    _Atomic int stop;
    _Atomic int finished;
    _Atomic int err;
};

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

int plasma_populate_range(void *base, uint64_t offset, uint64_t length, uint64_t page) {
    char *start = (char *)base + offset;
    while (madvise(start, length, MADV_POPULATE_WRITE) != 0) {
        if (errno == EINTR) continue;
        if (errno != EINVAL) return -errno;
        // No MADV_POPULATE_WRITE: a write fault per page. Adding 0 atomically writes the value that is
        // there, so a client's concurrent write to the same byte is never lost (a plain store of 0 would).
        for (uint64_t at = 0; at < length; at += page) {
            __atomic_fetch_add((volatile unsigned char *)(start + at), 0, __ATOMIC_RELAXED);
        }
        return 0;
    }
    return 0;
}

static void notify(const plasma_populator_t *p) {
    if (p->notify_fd < 0) return;
    uint64_t one = 1;
    while (write(p->notify_fd, &one, sizeof one) < 0 && errno == EINTR) {}
}

static void *run(void *argument) {
    plasma_populator_t *p = argument;
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10); // Linux: nice is per thread
    uint64_t done = 0;
    while (done < p->size && !atomic_load(&p->stop)) {
        uint64_t step = p->size - done < p->chunk ? p->size - done : p->chunk;
        int rc = plasma_populate_range(p->base, done, step, p->page);
        if (rc != 0) {
            atomic_store(&p->err, -rc);
            break;
        }
        done += step;
        atomic_store(&p->done_bytes, done);
        if (done < p->size) notify(p);
    }
    atomic_store(&p->finished_ns, now_ns());
    atomic_store(&p->finished, 1);
    notify(p); // the last one says it has ended
    return NULL;
}

plasma_populator_t *plasma_populator_start(void *base, uint64_t size, uint64_t chunk, uint64_t page,
                                           int notify_fd, int *err) {
    plasma_populator_t *p = calloc(1, sizeof *p);
    if (p == NULL) {
        *err = ENOMEM;
        return NULL;
    }
    p->base = base;
    p->size = size;
    p->page = page == 0 ? 4096 : page;
    p->chunk = chunk < p->page ? p->page : chunk / p->page * p->page;
    p->notify_fd = notify_fd;
    p->started_ns = now_ns();
    // The thread inherits the creator's signal mask: block everything around pthread_create, so that it
    // never takes a SIGTERM meant for the event loop's signalfd (whose default action would kill us).
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    int rc = pthread_create(&p->thread, NULL, run, p);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (rc != 0) {
        free(p);
        *err = rc;
        return NULL;
    }
    return p;
}

uint64_t plasma_populator_done_bytes(const plasma_populator_t *p) { return atomic_load(&p->done_bytes); }

int plasma_populator_finished(const plasma_populator_t *p) { return atomic_load(&p->finished); }

int plasma_populator_errno(const plasma_populator_t *p) { return atomic_load(&p->err); }

uint64_t plasma_populator_elapsed_ns(const plasma_populator_t *p) {
    uint64_t end = atomic_load(&p->finished_ns);
    return (end != 0 ? end : now_ns()) - p->started_ns;
}

void plasma_populator_stop(plasma_populator_t *p) {
    if (p == NULL || p->joined) return;
    atomic_store(&p->stop, 1);
    pthread_join(p->thread, NULL);
    p->joined = 1;
}

void plasma_populator_free(plasma_populator_t *p) {
    plasma_populator_stop(p);
    free(p);
}
