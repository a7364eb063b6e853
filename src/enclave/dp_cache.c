/*
 * dp_cache.c - the answers of dp queries already given (dp.h): a small
 * table of (key, document) with a use counter for least-recently-used
 * eviction, behind one mutex that dp_run holds from look-up to store.
 *
 * Invariants: at most DP_CACHE_MAX_ENTRIES entries, their documents at
 * most DP_CACHE_MAX_BYTES in all; keys distinct; a dropped document is
 * wiped (cdr_buf_free).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dp_int.h"

struct dp_cache_entry {
  uint8_t key[32];
  uint64_t used, rows;
  struct cdr_buf doc;
};

struct dp_cache {
  pthread_mutex_t mu;
  size_t n;
  size_t bytes;
  uint64_t clock;
  struct dp_cache_entry e[DP_CACHE_MAX_ENTRIES];
};

int dp_cache_new(struct dp_cache **out) {
  struct dp_cache *c = calloc(1, sizeof(*c));
  *out = NULL;
  if (c == NULL)
    return CDR_ERR_NOMEM;
  if (pthread_mutex_init(&c->mu, NULL) != 0) {
    free(c);
    return CDR_ERR_NOMEM;
  }
  *out = c;
  return 0;
}

void dp_cache_free(struct dp_cache *c) {
  if (c == NULL)
    return;
  for (size_t i = 0; i < c->n; i++)
    cdr_buf_free(&c->e[i].doc);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

void dp_cache_lock(struct dp_cache *c) { pthread_mutex_lock(&c->mu); }
void dp_cache_unlock(struct dp_cache *c) { pthread_mutex_unlock(&c->mu); }

const struct cdr_buf *dp_cache_get(struct dp_cache *c, const uint8_t key[32], uint64_t *rows) {
  for (size_t i = 0; i < c->n; i++)
    if (memcmp(c->e[i].key, key, 32) == 0) {
      c->e[i].used = ++c->clock;
      if (rows != NULL)
        *rows = c->e[i].rows;
      return &c->e[i].doc;
    }
  return NULL;
}

static void drop_oldest(struct dp_cache *c) {
  size_t old = 0;
  for (size_t i = 1; i < c->n; i++)
    if (c->e[i].used < c->e[old].used)
      old = i;
  c->bytes -= c->e[old].doc.len;
  cdr_buf_free(&c->e[old].doc);
  c->e[old] = c->e[--c->n];
}

int dp_cache_put(struct dp_cache *c, const uint8_t key[32], const struct cdr_buf *doc, uint64_t rows) {
  size_t n = doc->len;
  if (n > DP_CACHE_MAX_BYTES || dp_cache_get(c, key, NULL) != NULL)
    return 0;
  while (c->n > 0 && (c->n == DP_CACHE_MAX_ENTRIES || c->bytes + n > DP_CACHE_MAX_BYTES))
    drop_oldest(c);
  struct dp_cache_entry *e = &c->e[c->n];
  cdr_buf_init(&e->doc, n > 0 ? n : 1, 0);
  if (n > 0 && cdr_buf_put(&e->doc, doc->d, n) != 0) {
    cdr_buf_free(&e->doc);
    return CDR_ERR_NOMEM;
  }
  memcpy(e->key, key, 32);
  e->used = ++c->clock;
  e->rows = rows;
  c->bytes += n;
  c->n++;
  return 0;
}
