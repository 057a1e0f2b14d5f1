#include "plasma_heap.h"

#include <malloc.h>

int plasma_heap_trim(void) {
    return malloc_trim(0);
}
