// The store's private heap (malloc), as opposed to the shared arena.
#ifndef PLASMA_HEAP_H
#define PLASMA_HEAP_H

// Hands the heap's free memory back to the kernel (glibc's malloc_trim(0)): after a burst, malloc
// keeps what was freed, so a process's RSS would show its high-water mark, not what it holds.
// Returns 1 if memory was released, 0 if not.
int plasma_heap_trim(void);

#endif
