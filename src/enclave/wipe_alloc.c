/*
 * wipe_alloc.c - wipe-on-free allocators for SQLite and jansson.
 *
 * Each block carries a 16-byte header (keeping malloc's alignment) with
 * its usable size, so that free can wipe exactly what was handed out.
 * SQLite's xSize reads the same header.  The cost is one OPENSSL_cleanse
 * per free, which is small next to what SQLite does with the block.
 *
 * Realloc cannot use realloc(3), which may move a block and free the old
 * copy unwiped, so it moves the block itself: allocate, copy, wipe, free.
 * To keep a block that grows by small steps from being copied at every
 * step (quadratic: SQLite's string builder grows by a few bytes at a time
 * once it is past half of SQLITE_LIMIT_LENGTH, so one printf() of a 4 MiB
 * value took seconds of copying), a block that must move gets half as
 * much room again as it had (at most SQ_MAX_SPARE more, which bounds how
 * far one allocation can pass the heap limit, since SQLite checks the
 * limit against the size it asked for), and SQLite, which reads the
 * usable size through xSize, uses that room before it asks again; a
 * block that already has room for the new size stays where it is.
 *
 * Per-query accounting (wipe_alloc_meter_*): SQLite's heap limit is
 * global, so one query could take all of it and make every other
 * query, and every upload, fail.  A thread-local meter, set by the engine
 * around one user statement, counts the SQLite blocks allocated and
 * freed on that thread and refuses the allocation that would pass the
 * query's own limit.
 */
#include "wipe_alloc.h"

#include <jansson.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define HDR 16u

static void *wa_malloc(size_t n) {
  if (n > SIZE_MAX - HDR)
    return NULL;
  unsigned char *p = malloc(n + HDR);
  if (p == NULL)
    return NULL;
  memcpy(p, &n, sizeof(n));
  return p + HDR;
}

static size_t wa_size(void *q) {
  size_t n;
  memcpy(&n, (unsigned char *)q - HDR, sizeof(n));
  return n;
}

static void wa_free(void *q) {
  if (q == NULL)
    return;
  unsigned char *p = (unsigned char *)q - HDR;
  OPENSSL_cleanse(p, wa_size(q) + HDR);
  free(p);
}

static _Thread_local struct wipe_alloc_meter *meter;

void wipe_alloc_meter_begin(struct wipe_alloc_meter *m, uint64_t limit) {
  m->used = 0;
  m->limit = limit > INT64_MAX ? INT64_MAX : (int64_t)limit;
  m->exceeded = 0;
  meter = m;
}

void wipe_alloc_meter_end(void) { meter = NULL; }

/* A block for SQLite of n bytes, if the thread's meter allows it. */
static void *sq_block(size_t n) {
  if (meter != NULL && (int64_t)n > meter->limit - meter->used) {
    meter->exceeded = 1;
    return NULL;
  }
  void *p = wa_malloc(n);
  if (p != NULL && meter != NULL)
    meter->used += (int64_t)n;
  return p;
}

static void sq_free(void *q) {
  /* Blocks from before the query, freed during it, give nothing back
   * beyond zero: the query's count never goes below what it holds. */
  if (q != NULL && meter != NULL && (meter->used -= (int64_t)wa_size(q)) < 0)
    meter->used = 0;
  wa_free(q);
}

/* SQLite's sizes are ints: no block it sees may be larger than this. */
#define SQ_MAX_BLOCK ((size_t)INT_MAX - 7u)
#define SQ_MAX_SPARE ((size_t)16 << 20)

static void *sq_realloc(void *q, int want) {
  if (want <= 0)
    return NULL;
  if (q == NULL)
    return sq_block((size_t)want);
  size_t n = (size_t)want, old = wa_size(q), room = old + (old / 2 < SQ_MAX_SPARE ? old / 2 : SQ_MAX_SPARE);
  if (n <= old)
    return q; /* it fits: xSize keeps saying old, which SQLite may use */
  if (room > SQ_MAX_BLOCK)
    room = SQ_MAX_BLOCK;
  void *d = sq_block(room > n ? room : n);
  if (d == NULL && room > n)
    d = sq_block(n); /* no room to spare: exactly what was asked */
  if (d == NULL)
    return NULL;
  memcpy(d, q, old);
  sq_free(q);
  return d;
}

static void *sq_malloc(int n) { return n <= 0 ? NULL : sq_block((size_t)n); }
static int sq_size(void *q) { return q == NULL ? 0 : (int)wa_size(q); }
static int sq_roundup(int n) { return (n + 7) & ~7; }
static int sq_init(void *unused) { return SQLITE_OK; }
static void sq_shutdown(void *unused) {}

int wipe_alloc_install(uint64_t sql_heap_limit) {
  static const sqlite3_mem_methods methods = {sq_malloc, sq_free, sq_realloc, sq_size, sq_roundup,
                                              sq_init, sq_shutdown, NULL};
  if (sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) != SQLITE_OK ||
      sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 1) != SQLITE_OK || sqlite3_initialize() != SQLITE_OK)
    return CDR_ERR_INTERNAL;
  if (sql_heap_limit > INT64_MAX)
    return CDR_ERR_INTERNAL;
  sqlite3_hard_heap_limit64((sqlite3_int64)sql_heap_limit);
  sqlite3_soft_heap_limit64((sqlite3_int64)(sql_heap_limit / 2));
  json_set_alloc_funcs(wa_malloc, wa_free);
  return 0;
}
