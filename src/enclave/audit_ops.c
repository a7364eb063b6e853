/*
 * audit_ops.c - the audit and audit_head operations; see audit_ops.h.
 */
#include "audit_ops.h"

#include <stdlib.h>
#include <string.h>

#include "common/json_get.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "enclave.h"
#include "enclave_reply.h"
#include "ipc/messages.h"
#include "store_client.h"

/* A page holds at most this many entries and about this many bytes. */
#define PAGE_MAX_ENTRIES 1000
#define PAGE_MAX_BYTES (2u * 1024u * 1024u)

/* An optional non-negative integer field: 0 (and *v, or dflt when
 * absent), or non-zero. */
static int opt_u64(json_t *hdr, const char *key, uint64_t dflt, uint64_t *v) {
  int r = cdr_json_get_u64(hdr, key, v);
  if (r == CDR_ERR_NOT_FOUND) {
    *v = dflt;
    return 0;
  }
  return r;
}

/* A head a client may remember must cover only entries on disk: else a
 * power loss could take entries that a client's remembered head covers,
 * and that client would then refuse the room as rolled back.  So the
 * host syncs the log first, unless nothing was appended since it last
 * did.  Not waited for (IPC_STORE_NOWAIT): the host applies it before it
 * reads the answer that carries the head, or ends the link. */
static int sync_before_head(struct enclave *e) {
  struct store_batch b;
  int r;
  if (!e->audit.unsynced || e->audit.lane_fd > 0) /* group commits sync every entry */
    return 0;
  store_batch_init(&b);
  if ((r = store_batch_add(&b, IPC_STORE_SYNC, "audit", NULL, 0)) == 0 && (r = enclave_store_nowait(e, &b)) != 0) {
    log_error("asking the host to sync the audit log failed (the channel to the host is broken); stopping");
    e->fatal = 1;
  }
  store_batch_free(&b);
  if (r == 0)
    e->audit.unsynced = 0;
  return r;
}

/* The signed head's fields, added to o. */
static int put_head(struct enclave *e, json_t *o) {
  struct cdr_buf sig;
  int64_t t = e->now();
  int r;
  if ((r = sync_before_head(e)) != 0)
    return r;
  cdr_buf_init(&sig, 1024, 0);
  if ((r = audit_sign_head(e, (uint64_t)t, &sig)) == 0 &&
      (json_object_set_new(o, "size", json_integer((json_int_t)audit_visible(e))) != 0 ||
       json_object_set_new(o, "head", audit_hex(e->audit.head[audit_visible(e)], CDR_AUDIT_HASH_LEN)) != 0 ||
       json_object_set_new(o, "time", json_integer((json_int_t)t)) != 0 ||
       json_object_set_new(o, "signature", audit_b64(sig.d, sig.len)) != 0))
    r = CDR_ERR_NOMEM;
  cdr_buf_free(&sig);
  return r;
}

static int op_head_locked(struct enclave *e, json_t *hdr, struct cdr_buf *out, struct enclave_op_outcome *res) {
  uint64_t known;
  json_t *o;
  int r;
  if (opt_u64(hdr, "known", UINT64_MAX, &known) != 0)
    return enclave_reply_op_fail(out, res, CDR_ERR_ARG,
                                 "field \"known\" must be the size of a log the client has seen");
  if ((o = json_pack("{s:b}", "ok", 1)) == NULL)
    return CDR_ERR_NOMEM;
  if ((r = put_head(e, o)) != 0) {
    json_decref(o);
    return r;
  }
  /* The head at the size the client remembers: the client checks that it
   * equals its own (the log extends the one it saw, not a fork). */
  if (known != UINT64_MAX && known <= audit_visible(e))
    json_object_set_new(o, "known_head", audit_hex(e->audit.head[known], CDR_AUDIT_HASH_LEN));
  return enclave_reply_op_json(out, res, o);
}

struct page {
  const struct engine_principal *who;
  int64_t since; /* entries before it: leaf only */
  json_t *entries;
  size_t bytes, count;
  uint64_t next;
  int err;
};

/* May the reader see this entry? */
static int visible(const struct page *pg, json_t *entry) {
  json_t *t;
  size_t i;
  const char *op = json_string_value(json_object_get(entry, "op"));
  if (json_integer_value(json_object_get(entry, "time")) < pg->since)
    return 0;
  if (pg->who->role == CDR_ROLE_AUDITOR)
    return 1;
  /* room-wide events; the handoff of the room's keys to another build
   * (upgrade.c) is every member's business, accepted or refused */
  if (op != NULL && (strcmp(op, "start") == 0 || strcmp(op, "loaded") == 0 || strcmp(op, "crl") == 0 ||
                     strcmp(op, "commit") == 0 || strcmp(op, "enclave_upgrade") == 0))
    return 1;
  /* the admin's change of the room's limits (not a member reading them) */
  const char *by = json_string_value(json_object_get(entry, "by"));
  if (op != NULL && strcmp(op, "limits") == 0 && by != NULL && strcmp(by, "host") == 0)
    return 1;
  const char *subject = json_string_value(json_object_get(entry, "subject"));
  if (subject != NULL && strcmp(subject, pg->who->name) == 0)
    return 1;
  json_array_foreach(json_object_get(entry, "tables"), i, t) {
    const char *owner = json_string_value(json_object_get(t, "owner"));
    if (owner != NULL && strcmp(owner, pg->who->name) == 0)
      return 1;
  }
  return 0;
}

static int page_add(void *ud, uint64_t index, const uint8_t *entry, size_t len, const uint8_t leaf[CDR_AUDIT_HASH_LEN],
                    const char *damage) {
  struct page *pg = ud;
  json_t *o;
  if (pg->count >= PAGE_MAX_ENTRIES || pg->bytes >= PAGE_MAX_BYTES)
    return 1;
  if (damage != NULL) {
    o = json_pack("{s:I,s:s}", "index", (json_int_t)index, "damaged", damage);
  } else {
    json_error_t jerr;
    json_t *parsed = json_loadb((const char *)entry, len, 0, &jerr);
    o = json_pack("{s:I,s:o*}", "index", (json_int_t)index, "leaf", audit_hex(leaf, CDR_AUDIT_HASH_LEN));
    if (o != NULL && parsed != NULL && visible(pg, parsed)) {
      json_object_set_new(o, "entry", audit_b64(entry, len));
      pg->bytes += len * 4 / 3;
    }
    json_decref(parsed);
  }
  if (o == NULL || json_array_append_new(pg->entries, o) != 0) {
    pg->err = CDR_ERR_NOMEM;
    return CDR_ERR_NOMEM;
  }
  pg->bytes += 100;
  pg->count++;
  pg->next = index + 1;
  return 0;
}

static int op_read_locked(struct enclave *e, const struct engine_principal *who, json_t *hdr, struct cdr_buf *out,
                          struct enclave_op_outcome *res) {
  struct page pg;
  uint64_t from, limit, n = audit_visible(e);
  json_t *jsince = json_object_get(hdr, "since"), *o;
  int r;
  memset(&pg, 0, sizeof(pg));
  pg.who = who;
  pg.since = INT64_MIN;
  if (jsince != NULL && !json_is_integer(jsince))
    return enclave_reply_op_fail(out, res, CDR_ERR_ARG,
                                 "field \"since\" must be a time in seconds since the epoch");
  if (jsince != NULL)
    pg.since = (int64_t)json_integer_value(jsince);
  if (opt_u64(hdr, "limit", PAGE_MAX_ENTRIES, &limit) != 0 || limit == 0)
    return enclave_reply_op_fail(out, res, CDR_ERR_ARG,
                                 "field \"limit\" must be a positive number of entries");
  /* Without "from", a reader asking for entries since a time starts at
   * the first entry of that time or later. */
  uint64_t first = 0;
  if (jsince != NULL)
    while (first < n && e->audit.time[first] < pg.since)
      first++;
  if (opt_u64(hdr, "from", first, &from) != 0 || from > n)
    return enclave_reply_op_fail(out, res, CDR_ERR_ARG,
                                 "field \"from\" must be an entry index no larger than the log's size");
  audit_set(e, "from", json_integer((json_int_t)from));
  if ((pg.entries = json_array()) == NULL || (o = json_pack("{s:b}", "ok", 1)) == NULL) {
    json_decref(pg.entries);
    return CDR_ERR_NOMEM;
  }
  pg.next = from;
  uint64_t to = n - from > limit ? from + limit : n;
  if ((r = put_head(e, o)) != 0 || (r = audit_read(e, from, to, page_add, &pg)) != 0 || (r = pg.err) != 0) {
    json_decref(o);
    json_decref(pg.entries);
    return r;
  }
  json_object_set_new(o, "from", json_integer((json_int_t)from));
  json_object_set_new(o, "prev", audit_hex(e->audit.head[from], CDR_AUDIT_HASH_LEN));
  json_object_set_new(o, "next", json_integer((json_int_t)pg.next));
  json_object_set_new(o, "entries", pg.entries);
  return enclave_reply_op_json(out, res, o);
}

/* Both operations hold the log while they read it (audit_lock): no
 * entry is added meanwhile, and they see only the durable entries. */
int audit_op_head(struct enclave *e, json_t *hdr, struct cdr_buf *out, struct enclave_op_outcome *res) {
  audit_lock(e);
  int r = op_head_locked(e, hdr, out, res);
  audit_unlock(e);
  return r;
}

int audit_op_read(struct enclave *e, const struct engine_principal *who, json_t *hdr, struct cdr_buf *out,
                  struct enclave_op_outcome *res) {
  audit_lock(e);
  int r = op_read_locked(e, who, hdr, out, res);
  audit_unlock(e);
  return r;
}
