// Umbrella header for the C module. Each header holds one concept.
#ifndef CPLASMA_H
#define CPLASMA_H
#include "plasma_arena.h"
#include "plasma_allocator.h"
#include "plasma_socket.h"
#include "plasma_heap.h"
#include "plasma_xxh64.h"
#include "plasma_file.h"
#include "plasma_service.h"
#include "plasma_populate.h"
#include "plasma_tcp.h"
#endif
