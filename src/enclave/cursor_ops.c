/*
 * cursor_ops.c - paged results: spooling a query's pages and reading
 * them back (cursor_ops.h has the contract; docs/ARCHITECTURE.md "Paged
 * results" the design).
 *
 * A page on the host is the object "cursors/<cursor id hex><u32 page
 * index, 8 hex>", sealed by cursor_page.c under the cursor's own key.
 * The host can withhold, swap, replay or cut a page; each of those fails
 * the page's tag, which binds the cursor, the index and whether it is
 * the last page, and the enclave knows how many pages there are.  The
 * pages are written without a sync (IPC_STORE_APPEND_LAZY): they matter
 * only while this enclave runs (a restart loses the keys; cdrd empties
 * the folder when it starts).
 */
#include "cursor_ops.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/json_get.h"
#include "common/limits.h"
#include "common/util.h"
#include "audit.h"
#include "enclave_reply.h"
#include "gate.h"
#include "store_client.h"

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void page_name(char name[64], const uint8_t id[CURSOR_ID_LEN], uint64_t index) {
  char hex[2 * CURSOR_ID_LEN + 1];
  cdr_hex_encode(hex, id, CURSOR_ID_LEN);
  snprintf(name, 64, "cursors/%s%08x", hex, (unsigned)index);
}

/* Delete pages [0, pages) of cursor id on the host (best effort: a page
 * left behind is ciphertext under a key that is gone).  A broken channel
 * stops the enclave. */
static void spool_delete(struct enclave *e, const uint8_t id[CURSOR_ID_LEN], uint64_t pages) {
  char name[64], why[128];
  for (uint64_t k = 0; k < pages;) {
    struct store_batch b;
    int r = 0;
    store_batch_init(&b);
    for (uint32_t n = 0; k < pages && n < IPC_STORE_MAX_OPS && r == 0; n++, k++) {
      page_name(name, id, k);
      r = store_batch_add(&b, IPC_STORE_DELETE, name, NULL, 0);
    }
    if (r == 0 && (r = enclave_store(e, &b, why, sizeof(why))) != 0 && r != CDR_ERR_IO)
      e->fatal = 1;
    store_batch_free(&b);
    if (r != 0 && r != CDR_ERR_IO)
      return;
  }
}

/* A cursor out of the table: its pages deleted, its count given back. */
static void cursor_finish(struct enclave *e, const struct cursor_gone *g) {
  spool_delete(e, g->id, g->pages);
  gate_member_leave(e, g->member);
}

void cursor_sweep(struct enclave *e) {
  struct cursor_gone gone[16];
  size_t n;
  if (e->cursors.idle_s == 0)
    return;
  do {
    n = cursor_table_take_expired(&e->cursors, mono_ns(), gone, sizeof(gone) / sizeof(gone[0]));
    for (size_t i = 0; i < n; i++)
      cursor_finish(e, &gone[i]);
  } while (n == sizeof(gone) / sizeof(gone[0]));
}

/* The engine's page sink: seal the page and spool it on the host. */
static int spool_flush(void *ud, const uint8_t *rows, size_t len, uint64_t index, int last, char **errmsg) {
  struct cursor_spool *sp = ud;
  struct cdr_buf sealed;
  struct store_batch b;
  char name[64], why[128];
  int r;
  (void)errmsg;
  if (index > UINT32_MAX)
    return CDR_ERR_RESULT_TOO_LARGE;
  cdr_buf_init(&sealed, len + CURSOR_PAGE_OVERHEAD, 0);
  store_batch_init(&b);
  page_name(name, sp->v.id, index);
  if ((r = cursor_page_seal(&sealed, sp->v.key, sp->v.id, index, last, rows, len)) == 0 &&
      (r = store_batch_add(&b, IPC_STORE_APPEND_LAZY, name, sealed.d, sealed.len)) == 0) {
    sp->pages = index + 1; /* from here on it may exist on the host */
    if ((r = enclave_store(sp->e, &b, why, sizeof(why))) != 0 && r != CDR_ERR_IO)
      sp->e->fatal = 1;
  }
  store_batch_free(&b);
  cdr_buf_free(&sealed);
  return r;
}

void cursor_spool_begin(struct cursor_spool *sp, struct enclave *e, const uint8_t sid[CDR_SESSION_ID_LEN],
                        const char *member, const struct engine_page_sink **sink) {
  memset(sp, 0, sizeof(*sp));
  sp->e = e;
  *sink = NULL;
  if (e->cursors.idle_s == 0 || cursor_table_open(&e->cursors, sid, member, &sp->v) != 0)
    return;
  sp->open = 1;
  cdr_hex_encode(sp->id_hex, sp->v.id, CURSOR_ID_LEN);
  sp->sink.page_bytes = CDR_RESULT_PAGE_BYTES;
  sp->sink.id = sp->id_hex;
  sp->sink.idle_s = e->cursors.idle_s;
  sp->sink.flush = spool_flush;
  sp->sink.ud = sp;
  *sink = &sp->sink;
}

int cursor_spool_end(struct cursor_spool *sp, int ok, uint64_t pages) {
  int kept = 0;
  if (!sp->open)
    return 0;
  if (ok && pages > 0 && pages == sp->pages) {
    cursor_table_publish(&sp->e->cursors, sp->v.slot, pages, mono_ns());
    kept = 1;
  } else {
    struct cursor_gone g;
    cursor_table_take(&sp->e->cursors, sp->v.slot, &g);
    spool_delete(sp->e, sp->v.id, sp->pages);
  }
  OPENSSL_cleanse(&sp->v, sizeof(sp->v));
  sp->open = 0;
  return kept;
}

/* Read the sealed page `index` of cursor v from the host into out:
 * 0, CDR_ERR_CURSOR_PAGE (missing or larger than any page), or a channel
 * error (fatal). */
static int page_fetch(struct enclave *e, const struct cursor_view *v, uint64_t index, struct cdr_buf *out) {
  char name[64];
  struct cdr_buf chunk;
  int found = 0, r = 0;
  page_name(name, v->id, index);
  cdr_buf_init(&chunk, IPC_FETCH_MAX, 0);
  for (uint64_t off = 0;; off += chunk.len) {
    if ((r = enclave_fetch(e, name, off, IPC_FETCH_MAX, &chunk, &found)) != 0) {
      e->fatal = 1;
      break;
    }
    if (!found || out->len + chunk.len > (size_t)CDR_RESULT_PAGE_MAX + CURSOR_PAGE_OVERHEAD) {
      r = CDR_ERR_CURSOR_PAGE;
      break;
    }
    if ((r = cdr_buf_put(out, chunk.d, chunk.len)) != 0 || chunk.len < IPC_FETCH_MAX)
      break;
  }
  cdr_buf_free(&chunk);
  return r;
}

/* Answer page `index` of the acquired cursor v into out. */
static int page_answer(struct enclave *e, const struct cursor_view *v, uint64_t index, struct cdr_buf *out,
                       struct enclave_op_outcome *res) {
  struct cdr_buf sealed, rows;
  char head[128], msg[256];
  int last = index + 1 == v->pages, r;
  cdr_buf_init(&sealed, (size_t)CDR_RESULT_PAGE_MAX + CURSOR_PAGE_OVERHEAD, 0);
  cdr_buf_init(&rows, CDR_RESULT_PAGE_MAX, 0);
  if ((r = page_fetch(e, v, index, &sealed)) == 0)
    r = cursor_page_open(&rows, v->key, v->id, index, last, sealed.d, sealed.len);
  if (r == CDR_ERR_CURSOR_PAGE) {
    snprintf(msg, sizeof(msg),
             "page %llu of the result is missing or was altered on the host (it does not open as page %llu of %llu "
             "of this cursor); the cursor is closed: run the query again",
             (unsigned long long)index, (unsigned long long)index, (unsigned long long)v->pages);
    r = enclave_reply_op_fail(out, res, CDR_ERR_CURSOR_PAGE, msg);
    r = r == 0 ? CDR_ERR_CURSOR_PAGE : r;
  } else if (r == 0) {
    snprintf(head, sizeof(head), "{\"ok\":true,\"page\":%llu,\"pages\":%llu,\"last\":%s,\"rows\":[",
             (unsigned long long)index, (unsigned long long)v->pages, last ? "true" : "false");
    if ((r = cdr_buf_put(out, head, strlen(head))) == 0 && (r = cdr_buf_put(out, rows.d, rows.len)) == 0 &&
        (r = cdr_buf_put(out, "]}", 2)) == 0) {
      res->status = CDR_STATUS_OK;
      res->code = 0;
    }
  }
  cdr_buf_free(&sealed);
  cdr_buf_free(&rows);
  return r;
}

int cursor_op_run(struct enclave *e, const uint8_t sid[CDR_SESSION_ID_LEN], const json_t *hdr, struct cdr_buf *out,
                  struct enclave_op_outcome *res) {
  uint8_t id[CURSOR_ID_LEN];
  struct cursor_view v;
  struct cursor_gone g;
  uint64_t page = 0;
  int close = 0, expired = 0, r;
  char msg[256];
  cursor_sweep(e);
  if (e->cursors.idle_s == 0)
    return enclave_reply_op_fail(out, res, CDR_ERR_CURSOR_EXPIRED, "this enclave pages no results");
  if (cdr_json_get_hex_exact(hdr, "cursor", id, sizeof(id)) != 0)
    return enclave_reply_op_fail(out, res, CDR_ERR_ARG, "field \"cursor\" must be the cursor's id (32 hex digits)");
  if (cdr_json_get_bool(hdr, "close", 0, &close) != 0 ||
      (!close && cdr_json_get_u64(hdr, "page", &page) != 0))
    return enclave_reply_op_fail(out, res, CDR_ERR_ARG,
                                 "a cursor request names \"page\" (a number) or \"close\": true");
  audit_set(e, "page", json_integer(close ? -1 : (json_int_t)(page & INT64_MAX)));
  r = cursor_table_acquire(&e->cursors, id, sid, mono_ns(), &v, &g, &expired);
  if (expired)
    cursor_finish(e, &g);
  if (r == CDR_ERR_BUSY)
    return enclave_reply_op_fail(out, res, CDR_ERR_BUSY, "a page of this cursor is being read: wait for it");
  if (r != 0) {
    snprintf(msg, sizeof(msg),
             "no open result cursor with this id: it was read to its end, closed, or left idle for more than %u s "
             "(its pages are deleted); run the query again",
             e->cursors.idle_s);
    return enclave_reply_op_fail(out, res, CDR_ERR_CURSOR_EXPIRED, msg);
  }
  if (close || page >= v.pages) {
    if (close) {
      cursor_table_take(&e->cursors, v.slot, &g);
      cursor_finish(e, &g);
      r = enclave_reply_op_json(out, res, json_pack("{s:b,s:b}", "ok", 1, "closed", 1));
    } else {
      cursor_table_release(&e->cursors, v.slot, mono_ns());
      snprintf(msg, sizeof(msg), "page %llu is past the result's last page (it has %llu pages, from 0)",
               (unsigned long long)page, (unsigned long long)v.pages);
      r = enclave_reply_op_fail(out, res, CDR_ERR_ARG, msg);
    }
    OPENSSL_cleanse(&v, sizeof(v));
    return r;
  }
  r = page_answer(e, &v, page, out, res);
  if (r == 0 && page + 1 < v.pages) {
    cursor_table_release(&e->cursors, v.slot, mono_ns());
  } else {
    /* Read to its end, or a page the host spoiled: the cursor is done. */
    cursor_table_take(&e->cursors, v.slot, &g);
    cursor_finish(e, &g);
  }
  OPENSSL_cleanse(&v, sizeof(v));
  return r == CDR_ERR_CURSOR_PAGE ? 0 : r;
}
