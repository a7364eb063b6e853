/*
 * cursor.h - the enclave's open cursors: paged results whose sealed
 * pages the host spools (docs/ARCHITECTURE.md "Paged results").
 *
 * A cursor is made by the query that ran (cursor_table_open, before the
 * statement steps: the pages are sealed under its key as they fill),
 * published once every page is spooled (cursor_table_publish), then
 * read a page at a time by the session that ran the query
 * (cursor_table_acquire / _release) until its last page is read, it is
 * closed, or it stays idle past the table's idle timeout; then it is
 * taken out (cursor_table_take, cursor_table_take_expired) and its
 * taker deletes its pages and gives back the member's query count it
 * held (cursor_ops.c).  The key lives only here and is wiped when the
 * cursor leaves the table.
 *
 * Locking: one mutex for the table (zeroed = initialised, glibc); every
 * function takes it, none holds it on return.  A cursor being read or
 * still being spooled (busy) is never taken by the expiry sweep.
 */
#ifndef CDR_CURSOR_H
#define CDR_CURSOR_H

#include <pthread.h>
#include <stdint.h>

#include "common/limits.h"
#include "common/util.h"
#include "common/wire.h"
#include "cursor_page.h"

struct cursor {
  int used, busy, published;
  uint8_t id[CURSOR_ID_LEN];
  uint8_t sid[CDR_SESSION_ID_LEN]; /* the session that ran the query reads it */
  char member[CDR_MAX_NAME_LEN + 1]; /* whose query count it holds */
  uint8_t key[CURSOR_KEY_LEN];
  uint64_t pages;
  uint64_t idle_until_ns; /* monotonic; published cursors only */
};

struct cursor_table {
  pthread_mutex_t lock;
  unsigned idle_s; /* 0: paging is off (unit tests without a host) */
  struct cursor v[CDR_CURSOR_MAX];
};

/* What a taker needs to finish a cursor off (its key is already wiped). */
struct cursor_gone {
  uint8_t id[CURSOR_ID_LEN];
  char member[CDR_MAX_NAME_LEN + 1];
  uint64_t pages; /* pages spooled (to delete) */
};

/* A copy of a cursor for one page read (wipe key after). */
struct cursor_view {
  int slot;
  uint8_t id[CURSOR_ID_LEN];
  uint8_t key[CURSOR_KEY_LEN];
  uint64_t pages;
};

/* Reserve a cursor for sid's query by member: a new random id and key
 * (copied to *v), busy.  0, or CDR_ERR_BUSY when CDR_CURSOR_MAX cursors
 * are open. */
int cursor_table_open(struct cursor_table *t, const uint8_t sid[CDR_SESSION_ID_LEN], const char *member,
                      struct cursor_view *v) CDR_WUR;
/* The query spooled `pages` pages: the cursor may now be read. */
void cursor_table_publish(struct cursor_table *t, int slot, uint64_t pages, uint64_t now_ns);
/* Find cursor id of session sid, published and not idle past its time,
 * mark it busy and copy it to *v: 0; CDR_ERR_CURSOR_EXPIRED when there is
 * no such cursor.  An expired one found is taken out into *gone
 * (*expired 1) for the caller to finish off. */
int cursor_table_acquire(struct cursor_table *t, const uint8_t id[CURSOR_ID_LEN], const uint8_t sid[CDR_SESSION_ID_LEN],
                         uint64_t now_ns, struct cursor_view *v, struct cursor_gone *gone, int *expired) CDR_WUR;
/* A read is over: the cursor's idle time starts again. */
void cursor_table_release(struct cursor_table *t, int slot, uint64_t now_ns);
/* Take the cursor in slot out of the table (*gone says what to delete). */
void cursor_table_take(struct cursor_table *t, int slot, struct cursor_gone *gone);
/* Take out every published, idle, expired cursor, up to max of them,
 * into gone[]: how many. */
size_t cursor_table_take_expired(struct cursor_table *t, uint64_t now_ns, struct cursor_gone *gone, size_t max);

#endif
