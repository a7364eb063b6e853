/*
 * session.c - open-addressing session table; see session.h.
 * Deletion uses backward shifting, so there are no tombstones and a
 * lookup stops at the first empty slot.
 */
#include "session.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define MASK (SESSION_TABLE_SLOTS - 1u)

_Static_assert((SESSION_TABLE_SLOTS & MASK) == 0, "slots must be a power of two");

static size_t home(const uint8_t id[CDR_SESSION_ID_LEN]) {
  uint32_t h = (uint32_t)id[0] | (uint32_t)id[1] << 8 | (uint32_t)id[2] << 16 | (uint32_t)id[3] << 24;
  return h & MASK;
}

struct session *session_new(void) { return OPENSSL_secure_zalloc(sizeof(struct session)); }

void session_free(struct session *s) {
  if (s == NULL)
    return;
  pthread_mutex_destroy(&s->busy);
  EVP_PKEY_free(s->user_key);
  free(s->user_spki);
  OPENSSL_secure_clear_free(s, sizeof(*s));
}

static size_t find_slot(const struct session_table *t, const uint8_t id[CDR_SESSION_ID_LEN], int *found) {
  size_t i = home(id);
  while (t->slot[i] != NULL) {
    /* Session ids are not secret (they travel in clear), so memcmp is fine. */
    if (memcmp(t->slot[i]->id, id, CDR_SESSION_ID_LEN) == 0) {
      *found = 1;
      return i;
    }
    i = (i + 1) & MASK;
  }
  *found = 0;
  return i;
}

struct session *session_table_find(struct session_table *t, const uint8_t id[CDR_SESSION_ID_LEN]) {
  int found;
  size_t i = find_slot(t, id, &found);
  return found ? t->slot[i] : NULL;
}

static void remove_at(struct session_table *t, size_t i) {
  if (t->slot[i]->refs > 0)
    t->slot[i]->removed = 1; /* its last holder frees it */
  else
    session_free(t->slot[i]);
  t->slot[i] = NULL;
  t->count--;
  /* Backward-shift the run after i so lookups never skip a gap. */
  size_t j = (i + 1) & MASK;
  while (t->slot[j] != NULL) {
    size_t h = home(t->slot[j]->id);
    /* Move slot j to i if its home is not cyclically within (i, j]. */
    if (((j - h) & MASK) >= ((j - i) & MASK)) {
      t->slot[i] = t->slot[j];
      t->slot[j] = NULL;
      i = j;
    }
    j = (j + 1) & MASK;
  }
}

struct session *session_table_get(struct session_table *t, const uint8_t id[CDR_SESSION_ID_LEN]) {
  int found;
  pthread_mutex_lock(&t->lock);
  size_t i = find_slot(t, id, &found);
  struct session *s = found ? t->slot[i] : NULL;
  if (s != NULL)
    s->refs++;
  pthread_mutex_unlock(&t->lock);
  return s;
}

void session_put(struct session_table *t, struct session *s) {
  if (s == NULL)
    return;
  pthread_mutex_lock(&t->lock);
  if (--s->refs == 0 && s->removed)
    session_free(s);
  pthread_mutex_unlock(&t->lock);
}

int session_table_alive(struct session_table *t, const uint8_t id[CDR_SESSION_ID_LEN], int64_t now) {
  int found;
  pthread_mutex_lock(&t->lock);
  size_t i = find_slot(t, id, &found);
  int alive = found && t->slot[i]->expires_at > now;
  pthread_mutex_unlock(&t->lock);
  return alive;
}

unsigned session_table_remove_if(struct session_table *t, int (*pred)(void *ctx, const struct session *s), void *ctx) {
  unsigned n = 0;
  pthread_mutex_lock(&t->lock);
  for (size_t i = 0; i < SESSION_TABLE_SLOTS; i++) {
    if (t->slot[i] != NULL && pred(ctx, t->slot[i])) {
      remove_at(t, i);
      n++;
      i = (size_t)-1; /* removal shifts entries: scan again from the start */
    }
  }
  pthread_mutex_unlock(&t->lock);
  return n;
}

void session_table_remove(struct session_table *t, const uint8_t id[CDR_SESSION_ID_LEN]) {
  int found;
  pthread_mutex_lock(&t->lock);
  size_t i = find_slot(t, id, &found);
  if (found)
    remove_at(t, i);
  pthread_mutex_unlock(&t->lock);
}

static void expire_locked(struct session_table *t, int64_t now) {
  /* Removal can shift an unvisited entry into an already visited slot;
   * repeat until a full pass removes nothing. */
  int removed;
  do {
    removed = 0;
    for (size_t i = 0; i < SESSION_TABLE_SLOTS; i++) {
      if (t->slot[i] != NULL && t->slot[i]->expires_at <= now) {
        remove_at(t, i);
        removed = 1;
      }
    }
  } while (removed);
}

void session_table_expire(struct session_table *t, int64_t now) {
  pthread_mutex_lock(&t->lock);
  expire_locked(t, now);
  pthread_mutex_unlock(&t->lock);
}

/* Remove the oldest session of this certificate if it is at its cap. */
static void enforce_per_cert_cap(struct session_table *t, const uint8_t cert_fp[32]) {
  size_t count = 0, oldest = 0;
  for (size_t i = 0; i < SESSION_TABLE_SLOTS; i++) {
    const struct session *x = t->slot[i];
    if (x == NULL || memcmp(x->cert_fp, cert_fp, 32) != 0)
      continue;
    if (count == 0 || x->expires_at < t->slot[oldest]->expires_at)
      oldest = i;
    count++;
  }
  if (count >= CDR_MAX_SESSIONS_PER_CERT)
    remove_at(t, oldest);
}

/* A live session, for the fair-share scan. */
struct held {
  const uint8_t *cert_fp;
  int64_t expires_at;
  size_t slot;
};

static int by_cert_then_age(const void *a, const void *b) {
  const struct held *x = a, *y = b;
  int c = memcmp(x->cert_fp, y->cert_fp, 32);
  if (c != 0)
    return c;
  return x->expires_at < y->expires_at ? -1 : x->expires_at > y->expires_at;
}

/* The table is full of live sessions: make room for a session of
 * cert_fp by removing the oldest session of the certificate that holds
 * the most, if it holds more than cert_fp would with the new one.  So
 * a few certificates (colluding users, each at its cap) cannot keep
 * everyone else out, while a table full of distinct users stays full.
 * O(n log n), only when the table is full.  1 if a session was removed. */
static int evict_fair_share(struct session_table *t, const uint8_t cert_fp[32]) {
  struct held *h = malloc(t->count * sizeof(*h));
  size_t n = 0, best = 0, best_count = 0, own = 0;
  int removed = 0;
  if (h == NULL)
    return 0;
  for (size_t i = 0; i < SESSION_TABLE_SLOTS && n < t->count; i++)
    if (t->slot[i] != NULL)
      h[n++] = (struct held){t->slot[i]->cert_fp, t->slot[i]->expires_at, i};
  qsort(h, n, sizeof(*h), by_cert_then_age);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && memcmp(h[j].cert_fp, h[i].cert_fp, 32) == 0)
      j++;
    if (memcmp(h[i].cert_fp, cert_fp, 32) == 0)
      own = j - i;
    if (j - i > best_count) {
      best_count = j - i;
      best = i; /* the run's first: its oldest */
    }
    i = j;
  }
  if (n > 0 && best_count > own + 1) {
    remove_at(t, h[best].slot);
    removed = 1;
  }
  free(h);
  return removed;
}

int session_table_insert(struct session_table *t, struct session *s, int64_t now) {
  int found, r = 0;
  pthread_mutex_lock(&t->lock);
  enforce_per_cert_cap(t, s->cert_fp);
  if (t->count >= CDR_MAX_SESSIONS)
    expire_locked(t, now);
  if (t->count >= CDR_MAX_SESSIONS && !evict_fair_share(t, s->cert_fp)) {
    r = CDR_ERR_SESSION_LIMIT;
    goto out;
  }
  size_t i = find_slot(t, s->id, &found);
  if (found) {
    r = CDR_ERR_INTERNAL; /* a 128-bit random id collided: refuse */
    goto out;
  }
  t->slot[i] = s;
  t->count++;
out:
  pthread_mutex_unlock(&t->lock);
  return r;
}

/* At exit, once no lane runs: every record goes. */
void session_table_clear(struct session_table *t) {
  pthread_mutex_lock(&t->lock);
  for (size_t i = 0; i < SESSION_TABLE_SLOTS; i++) {
    session_free(t->slot[i]);
    t->slot[i] = NULL;
  }
  t->count = 0;
  pthread_mutex_unlock(&t->lock);
}
