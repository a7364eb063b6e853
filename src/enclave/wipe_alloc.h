/*
 * wipe_alloc.h - allocators for the libraries that hold plaintext inside
 * the enclave (SQLite, jansson): every block is wiped when it is freed or
 * moved, and SQLite's heap is capped so that no query can exhaust the
 * machine and take every loaded table down with the process.
 */
#ifndef CDR_WIPE_ALLOC_H
#define CDR_WIPE_ALLOC_H

#include <stdint.h>

#include "common/err.h"

/* Install the allocators and cap SQLite's heap at sql_heap_limit bytes
 * (hard limit; the soft limit is half of it, so SQLite frees caches
 * first).  Must run before any other SQLite or jansson call in the
 * process.  0 or CDR_ERR_INTERNAL. */
int wipe_alloc_install(uint64_t sql_heap_limit) CDR_WUR;

/* Memory one query may take from SQLite's heap.  Between begin and end,
 * the calling thread's SQLite allocations count against m (frees give
 * back, never below zero; net bytes, the blocks' usable sizes), and an allocation that
 * would take m->used past m->limit fails (SQLite sees out-of-memory and
 * fails the statement) and sets m->exceeded.  The heap's global limit
 * still holds for everyone.  Per thread, so that queries on several
 * threads each have their own; m must stay valid until end. */
struct wipe_alloc_meter {
  int64_t used;
  int64_t limit;
  int exceeded;
};
void wipe_alloc_meter_begin(struct wipe_alloc_meter *m, uint64_t limit);
void wipe_alloc_meter_end(void);

#endif
