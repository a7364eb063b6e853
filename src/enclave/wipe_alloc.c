/*
 * wipe_alloc.c - wipe-on-free allocators for SQLite and jansson.
 *
 * Each block carries a 16-byte header (keeping malloc's alignment) with
 * its usable size, so that free can wipe exactly what was handed out.
 * SQLite's xSize reads the same header.  The cost is one OPENSSL_cleanse
 * per free, which is small next to what SQLite does with the block.
 */
#include "wipe_alloc.h"

#include <jansson.h>
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

static void *wa_realloc(void *q, size_t n) {
  if (q == NULL)
    return wa_malloc(n);
  void *d = wa_malloc(n);
  if (d == NULL)
    return NULL;
  size_t old = wa_size(q);
  memcpy(d, q, old < n ? old : n);
  wa_free(q);
  return d;
}

static void *sq_malloc(int n) { return n <= 0 ? NULL : wa_malloc((size_t)n); }
static void sq_free(void *q) { wa_free(q); }
static void *sq_realloc(void *q, int n) { return n <= 0 ? NULL : wa_realloc(q, (size_t)n); }
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
