// Populating the arena in the background: a thread faults its pages in (MADV_POPULATE_WRITE) from low
// to high addresses, chunk by chunk, while the store already serves. Population never changes a byte:
// a page a client has written meanwhile is left as it is. Functions return 0 or -errno; never print.
#ifndef PLASMA_POPULATE_H
#define PLASMA_POPULATE_H
#include <stdint.h>

typedef struct plasma_populator plasma_populator_t;

/// Populates [base + offset, base + offset + length) (page-aligned) without changing its contents:
/// MADV_POPULATE_WRITE, or on kernels without it (EINVAL) an atomic add of 0 to one byte per page, which
/// faults the page in for writing but can't undo a concurrent write. 0 or -errno (-ENOMEM: no memory).
int plasma_populate_range(void *base, uint64_t offset, uint64_t length, uint64_t page);

/// Starts the thread on [base, base + size) in steps of `chunk` bytes (a multiple of `page`). After each
/// step it adds 1 to the eventfd `notify_fd` (when >= 0), so an event loop learns of progress and of the
/// end. It runs at nice +10, so that serving clients comes first, with every signal blocked, so that
/// signals meant for the process reach its other threads. NULL and *err on failure.
plasma_populator_t *plasma_populator_start(void *base, uint64_t size, uint64_t chunk, uint64_t page,
                                           int notify_fd, int *err);
/// Bytes populated so far (from the start of the range up).
uint64_t plasma_populator_done_bytes(const plasma_populator_t *p);
/// 1 once the thread has ended: all populated, stopped, or failed (see plasma_populator_errno).
int plasma_populator_finished(const plasma_populator_t *p);
/// The errno that ended population early (ENOMEM), 0 otherwise.
int plasma_populator_errno(const plasma_populator_t *p);
/// CLOCK_MONOTONIC nanoseconds from start to end (or to now while running).
uint64_t plasma_populator_elapsed_ns(const plasma_populator_t *p);
/// Stops the thread after its current step and waits for it; the figures above are final afterwards.
/// Safe to call twice.
void plasma_populator_stop(plasma_populator_t *p);
/// Stops the thread (if still running) and frees `p`.
void plasma_populator_free(plasma_populator_t *p);

#endif
