/*
 * cursor.c - the table of open cursors (cursor.h has the contract).
 * A fixed array: CDR_CURSOR_MAX slots, a linear search per call, which
 * is nothing next to the page read each call serves.
 */
#include "cursor.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "crypto/crypto.h"

static void view_of(const struct cursor *c, int slot, struct cursor_view *v) {
  v->slot = slot;
  memcpy(v->id, c->id, sizeof(v->id));
  memcpy(v->key, c->key, sizeof(v->key));
  v->pages = c->pages;
}

/* Empty slot i into *gone (may be NULL); the lock is held. */
static void take_locked(struct cursor_table *t, int i, struct cursor_gone *gone) {
  struct cursor *c = &t->v[i];
  if (gone != NULL) {
    memcpy(gone->id, c->id, sizeof(gone->id));
    snprintf(gone->member, sizeof(gone->member), "%s", c->member);
    gone->pages = c->pages;
  }
  OPENSSL_cleanse(c, sizeof(*c));
}

int cursor_table_open(struct cursor_table *t, const uint8_t sid[CDR_SESSION_ID_LEN], const char *member,
                      struct cursor_view *v) {
  int r = CDR_ERR_BUSY;
  if (strlen(member) > CDR_MAX_NAME_LEN)
    return CDR_ERR_ARG;
  pthread_mutex_lock(&t->lock);
  for (int i = 0; i < (int)CDR_CURSOR_MAX; i++) {
    struct cursor *c = &t->v[i];
    if (c->used)
      continue;
    if ((r = cdr_random(c->id, sizeof(c->id))) != 0 || (r = cdr_random(c->key, sizeof(c->key))) != 0) {
      OPENSSL_cleanse(c, sizeof(*c));
      break;
    }
    c->used = c->busy = 1;
    c->published = 0;
    c->pages = 0;
    memcpy(c->sid, sid, sizeof(c->sid));
    snprintf(c->member, sizeof(c->member), "%s", member);
    view_of(c, i, v);
    r = 0;
    break;
  }
  pthread_mutex_unlock(&t->lock);
  return r;
}

void cursor_table_publish(struct cursor_table *t, int slot, uint64_t pages, uint64_t now_ns) {
  pthread_mutex_lock(&t->lock);
  t->v[slot].pages = pages;
  t->v[slot].published = 1;
  t->v[slot].busy = 0;
  t->v[slot].idle_until_ns = now_ns + (uint64_t)t->idle_s * 1000000000u;
  pthread_mutex_unlock(&t->lock);
}

int cursor_table_acquire(struct cursor_table *t, const uint8_t id[CURSOR_ID_LEN], const uint8_t sid[CDR_SESSION_ID_LEN],
                         uint64_t now_ns, struct cursor_view *v, struct cursor_gone *gone, int *expired) {
  int r = CDR_ERR_CURSOR_EXPIRED;
  *expired = 0;
  pthread_mutex_lock(&t->lock);
  for (int i = 0; i < (int)CDR_CURSOR_MAX; i++) {
    struct cursor *c = &t->v[i];
    if (!c->used || !c->published || CRYPTO_memcmp(c->id, id, sizeof(c->id)) != 0 ||
        CRYPTO_memcmp(c->sid, sid, sizeof(c->sid)) != 0)
      continue;
    if (c->busy) { /* the same session reads one page at a time */
      r = CDR_ERR_BUSY;
    } else if (now_ns >= c->idle_until_ns) {
      take_locked(t, i, gone);
      *expired = 1;
    } else {
      c->busy = 1;
      view_of(c, i, v);
      r = 0;
    }
    break;
  }
  pthread_mutex_unlock(&t->lock);
  return r;
}

void cursor_table_release(struct cursor_table *t, int slot, uint64_t now_ns) {
  pthread_mutex_lock(&t->lock);
  t->v[slot].busy = 0;
  t->v[slot].idle_until_ns = now_ns + (uint64_t)t->idle_s * 1000000000u;
  pthread_mutex_unlock(&t->lock);
}

void cursor_table_take(struct cursor_table *t, int slot, struct cursor_gone *gone) {
  pthread_mutex_lock(&t->lock);
  take_locked(t, slot, gone);
  pthread_mutex_unlock(&t->lock);
}

size_t cursor_table_take_expired(struct cursor_table *t, uint64_t now_ns, struct cursor_gone *gone, size_t max) {
  size_t n = 0;
  pthread_mutex_lock(&t->lock);
  for (int i = 0; i < (int)CDR_CURSOR_MAX && n < max; i++) {
    struct cursor *c = &t->v[i];
    if (c->used && c->published && !c->busy && now_ns >= c->idle_until_ns)
      take_locked(t, i, &gone[n++]);
  }
  pthread_mutex_unlock(&t->lock);
  return n;
}
