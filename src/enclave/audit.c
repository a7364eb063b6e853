/* audit.c - building, storing, re-reading and checking the audit log; see audit.h. */
#include "audit.h"

#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "crypto/envelope.h"
#include "enclave.h"
#include "ipc/messages.h"
#include "thread_warm.h"
#include "store_client.h"
#include "seal.h"

#define AUDIT_OBJECT "audit"
/* The queue's cap (entries awaiting a group commit); most record bytes a round sends. */
#define AUDIT_QUEUE_MAX (256u * 1024u * 1024u)
#define AUDIT_ROUND_MAX (8u * 1024u * 1024u)
/* Reads go in blocks larger than any record: a full block holds one. */
#define READ_BLOCK (2u * 1024u * 1024u)
_Static_assert(READ_BLOCK > AUDIT_MAX_RECORD + 4u, "a block holds a record");
_Static_assert(READ_BLOCK <= IPC_FETCH_MAX, "a block is one fetch");

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The entry of the decision in progress on this thread, or NULL. */
static __thread json_t *pending;

json_t *audit_pending_swap(json_t *p) {
  json_t *old = pending;
  pending = p;
  return old;
}

void audit_free(struct audit_log *a) {
  pthread_mutex_lock(&a->lock);
  cdr_buf_free(&a->queue);
  free(a->head), a->head = NULL;
  free(a->off), a->off = NULL;
  free(a->time), a->time = NULL;
  a->n = a->cap = a->durable = a->witnessed = a->max_committed = a->queued = 0, a->unsynced = 0;
  pthread_mutex_unlock(&a->lock);
  json_decref(pending);
  pending = NULL;
}

/* Room for entry n (heads and offsets up to n + 1). */
static int reserve(struct audit_log *a, uint64_t n) {
  if (n + 2 <= a->cap)
    return 0;
  size_t cap = a->cap ? a->cap : 1024;
  while (cap < n + 2) {
    if (cap > SIZE_MAX / 2 / CDR_AUDIT_HASH_LEN)
      return CDR_ERR_NOMEM;
    cap *= 2;
  }
  uint8_t(*h)[CDR_AUDIT_HASH_LEN] = realloc(a->head, cap * CDR_AUDIT_HASH_LEN);
  if (h == NULL)
    return CDR_ERR_NOMEM;
  a->head = h;
  uint64_t *o = realloc(a->off, cap * sizeof(*o));
  if (o == NULL)
    return CDR_ERR_NOMEM;
  a->off = o;
  int64_t *t = realloc(a->time, cap * sizeof(*t));
  if (t == NULL)
    return CDR_ERR_NOMEM;
  a->time = t;
  a->cap = cap;
  return 0;
}

/* Entry n becomes part of the log. */
static int push(struct audit_log *a, const uint8_t head[CDR_AUDIT_HASH_LEN], size_t record_len, int64_t time) {
  int r;
  if ((r = reserve(a, a->n)) != 0)
    return r;
  memcpy(a->head[a->n + 1], head, CDR_AUDIT_HASH_LEN);
  a->off[a->n + 1] = a->off[a->n] + record_len;
  a->time[a->n] = time;
  a->n++;
  a->unsynced = 1;
  if (a->lane_fd <= 0) /* sent at once (no audit lane) */
    a->durable = a->n;
  return 0;
}

/* ---- the pending entry ---- */

int audit_begin(struct enclave *e, const char *op) {
  uint8_t salt[16];
  char hex[33];
  int r;
  audit_discard(e);
  /* The salt makes the leaf of an entry a reader may not see unguessable
   * from the leaf alone (readers get leaves of every entry). */
  if ((r = cdr_random(salt, sizeof(salt))) != 0)
    return r;
  cdr_hex_encode(hex, salt, sizeof(salt));
  pending = json_pack("{s:i,s:I,s:I,s:s,s:s}", "v", 1, "index", (json_int_t)0, "time", (json_int_t)e->now(), "salt",
                      hex, "op", op);
  return pending != NULL ? 0 : CDR_ERR_NOMEM;
}

void audit_set(struct enclave *e, const char *key, json_t *v) {
  (void)e;
  if (pending == NULL || v == NULL) {
    json_decref(v);
    return;
  }
  (void)json_object_set_new(pending, key, v); /* consumes v, also on failure */
}

static int dump_to_buf(const char *p, size_t n, void *ud) { return cdr_buf_put(ud, p, n) == 0 ? 0 : -1; }

void audit_set_input(struct enclave *e, const char *key, json_t *v) {
  struct cdr_buf text;
  uint8_t h[32];
  if (v == NULL || json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY) <= AUDIT_MAX_INPUT) {
    audit_set(e, key, v);
    return;
  }
  /* Too long to keep: its size and hash stand for it. */
  cdr_buf_init(&text, 4u * CDR_MAX_REQUEST_HEADER, 0); /* the value came from a request header */
  if (json_dump_callback(v, dump_to_buf, &text, JSON_COMPACT | JSON_ENCODE_ANY) == 0 &&
      cdr_sha256(h, text.d, text.len) == 0)
    audit_set(e, key, json_pack("{s:I,s:o*}", "bytes", (json_int_t)text.len, "sha256", audit_hex(h, sizeof(h))));
  json_decref(v);
  cdr_buf_free(&text);
}

void audit_set_user(struct enclave *e, const char *name, const char *role, const char *serial) {
  if (name != NULL && name[0] != '\0')
    audit_set(e, "subject", json_string(name));
  if (role != NULL && role[0] != '\0')
    audit_set(e, "role", json_string(role));
  if (serial != NULL && serial[0] != '\0')
    audit_set(e, "serial", json_string(serial));
}

void audit_add_table(struct enclave *e, const char *table, const char *owner) {
  json_t *a, *t;
  size_t i;
  if (pending == NULL || table == NULL)
    return;
  const struct catalog_table *ct = e->engine ? catalog_find(engine_catalog(e->engine), table) : NULL;
  const char *name = ct ? ct->name : table, *own = ct ? ct->owner : owner;
  if (ct == NULL && strlen(table) > CDR_MAX_TABLE_NAME)
    return; /* not a table, nor one that could be made: nobody owns it */
  if ((a = json_object_get(pending, "tables")) == NULL) {
    if ((a = json_array()) == NULL || json_object_set_new(pending, "tables", a) != 0)
      return;
  }
  json_array_foreach(a, i, t) {
    if (strcasecmp(json_string_value(json_object_get(t, "name")), name) == 0)
      return;
  }
  if (json_array_size(a) >= AUDIT_MAX_TABLES) { /* the rest are counted */
    json_t *more = json_object_get(pending, "tables_more");
    audit_set(e, "tables_more", json_integer(json_integer_value(more) + 1));
    return;
  }
  json_array_append_new(a, json_pack("{s:s,s:s?}", "name", name, "owner", own));
}

json_t *audit_b64(const void *p, size_t n) {
  char *s = NULL;
  json_t *j = cdr_b64_encode(&s, p, n) == 0 ? json_string(s) : NULL;
  free(s);
  return j;
}

json_t *audit_hex(const void *p, size_t n) {
  if (n > 4096)
    return NULL;
  char s[2 * 4096 + 1];
  cdr_hex_encode(s, p, n);
  return json_string(s);
}

void audit_set_request(struct enclave *e, const struct cdr_request_env *env, const uint8_t *user_spki,
                       size_t user_spki_len, int sig_ok) {
  uint8_t h[32];
  if (pending == NULL)
    return;
  audit_set(e, "session", audit_b64(env->session_id, CDR_SESSION_ID_LEN));
  json_t *q = json_pack("{s:I,s:I}", "seq", (json_int_t)env->seq, "timestamp", (json_int_t)env->timestamp);
  if (q != NULL && cdr_sha256(h, env->ct, env->ct_len) == 0)
    json_object_set_new(q, "ct_sha256", audit_hex(h, sizeof(h)));
  if (q != NULL && sig_ok)
    json_object_set_new(q, "signature", audit_b64(env->sig, env->sig_len));
  audit_set(e, "request", q);
  if (user_spki != NULL)
    audit_set(e, "user_key", audit_b64(user_spki, user_spki_len));
}

void audit_discard(struct enclave *e) {
  (void)e;
  json_decref(pending);
  pending = NULL;
}

/* Close the pending entry as entry n with its decision; its bytes (compact
 * JSON) in out, which must be empty and allow AUDIT_MAX_ENTRY bytes.
 * (json_dumps would allocate with jansson's allocator, the wiping one.) */
static int close_pending(struct enclave *e, const char *reason, struct cdr_buf *out, int64_t *time) {
  json_t *p = pending;
  json_int_t t = json_integer_value(json_object_get(p, "time"));
  audit_set(e, "index", json_integer((json_int_t)e->audit.n));
  audit_set(e, "decision", json_string(reason == NULL ? "ok" : "refused"));
  if (reason != NULL)
    audit_set(e, "reason", json_string(reason));
  int r = json_dump_callback(p, dump_to_buf, out, JSON_COMPACT) == 0 ? 0 : CDR_ERR_TOO_LARGE;
  if (r != 0) {
    /* Bounded inputs keep entries far below the cap; should one still
     * pass it, the decision is logged without its details rather than
     * not at all (or the enclave stopped by whoever sent it). */
    static const char *const keep[] = {"v",    "index",  "time",     "salt",    "op",
                                       "subject", "role", "serial", "session", "decision", "reason"};
    json_t *small = json_object();
    for (size_t k = 0; small != NULL && k < sizeof(keep) / sizeof(keep[0]); k++) {
      json_t *v = json_object_get(p, keep[k]);
      if (v != NULL && json_object_set(small, keep[k], v) != 0)
        break;
    }
    if (small != NULL && json_object_set_new(small, "details_dropped", json_true()) == 0) {
      cdr_buf_free(out);
      r = json_dump_callback(small, dump_to_buf, out, JSON_COMPACT) == 0 ? 0 : CDR_ERR_TOO_LARGE;
    }
    json_decref(small);
  }
  pending = NULL;
  json_decref(p);
  *time = (int64_t)t;
  /* Padded with spaces to a size bucket (as responses are): a record's
   * length must not tell the host a row count or a refusal reason. */
  return r == 0 ? cdr_pad_spaces(out) : r;
}

/* The record of entry `index`: u32be len || seal(audit, index, entry). */
static int seal_record(struct enclave *e, uint64_t index, const uint8_t *entry, size_t len, struct cdr_buf *rec) {
  int r;
  if ((r = cdr_buf_put_u32(rec, 0)) != 0 ||
      (r = seal_blob(e->sealer, SEAL_AUDIT, AUDIT_OBJECT, index, entry, len, rec)) != 0)
    return r;
  uint32_t n = (uint32_t)(rec->len - 4);
  rec->d[0] = (uint8_t)(n >> 24);
  rec->d[1] = (uint8_t)(n >> 16);
  rec->d[2] = (uint8_t)(n >> 8);
  rec->d[3] = (uint8_t)n;
  return 0;
}

/* Send rec (entry `index`) to the host: queued for the writer when there
 * is an audit lane, else at once as IPC_STORE_NOWAIT on this thread's
 * channel.  Under the lock. */
static int enqueue_record(struct enclave *e, const struct cdr_buf *rec) {
  struct audit_log *a = &e->audit;
  struct store_batch b;
  int r;
  if (a->lane_fd > 0) {
    if (a->queue.max == 0)
      cdr_buf_init(&a->queue, AUDIT_QUEUE_MAX, 0);
    if ((r = cdr_buf_put(&a->queue, rec->d, rec->len)) != 0)
      return r;
    a->queued++;
    pthread_cond_broadcast(&a->cond);
    return 0;
  }
  store_batch_init(&b);
  /* Not waited for: the host writes it before it reads the answer that
   * follows, or ends the link (ipc.h, IPC_STORE_NOWAIT). */
  if ((r = store_batch_add(&b, IPC_STORE_APPEND_LAZY, AUDIT_OBJECT, rec->d, rec->len)) == 0 &&
      (r = enclave_store_nowait(e, &b)) != 0)
    log_error("appending to the audit log failed (the channel to the host is broken); stopping: no decision goes "
              "unlogged");
  store_batch_free(&b);
  return r;
}

/* Wait until entry `index` is durable (then dispatch.c waits for the
 * witnesses' round).  Under the lock.  CDR_ERR_IO if the writer failed. */
static int gate_wait(struct audit_log *a, uint64_t index) {
  while (a->durable <= index && !a->writer_failed)
    pthread_cond_wait(&a->cond, &a->lock);
  return a->durable > index ? 0 : CDR_ERR_IO;
}

/* audit_finish with the reason as its wire code (NULL: decision "ok"). */
static int audit_finish_code(struct enclave *e, const char *reason) {
  struct audit_log *a = &e->audit;
  struct cdr_buf rec;
  struct cdr_buf entry;
  uint8_t leaf[CDR_AUDIT_HASH_LEN], head[CDR_AUDIT_HASH_LEN];
  int64_t t = 0;
  uint64_t index = 0;
  int r;
  if (pending == NULL)
    return 0;
  cdr_buf_init(&entry, AUDIT_MAX_ENTRY, 0);
  cdr_buf_init(&rec, AUDIT_MAX_RECORD, 0);
  pthread_mutex_lock(&a->lock);
  if (a->head == NULL) { /* not loaded: nothing can be appended */
    pthread_mutex_unlock(&a->lock);
    audit_discard(e);
    cdr_buf_free(&entry);
    cdr_buf_free(&rec);
    return CDR_ERR_INTERNAL;
  }
  index = a->n;
  if ((r = close_pending(e, reason, &entry, &t)) != 0 || (r = seal_record(e, a->n, entry.d, entry.len, &rec)) != 0 ||
      (r = cdr_audit_leaf(leaf, entry.d, entry.len)) != 0 || (r = cdr_audit_step(head, a->head[a->n], a->n, leaf)) != 0 ||
      (r = enqueue_record(e, &rec)) != 0 || (r = push(a, head, rec.len, t)) != 0)
    goto out;
  if ((r = gate_wait(a, index)) != 0)
    log_error("the audit log's group commit failed; stopping: no decision goes unlogged");
out:
  pthread_mutex_unlock(&a->lock);
  if (r != 0)
    e->fatal = 1;
  cdr_buf_free(&entry);
  cdr_buf_free(&rec);
  return r;
}

int audit_finish(struct enclave *e, int err) { return audit_finish_code(e, err ? cdr_err_code(err) : NULL); }

int audit_seal_commit(struct enclave *e, uint64_t manifest_version, struct audit_sealed *out) {
  struct audit_log *a = &e->audit;
  struct cdr_buf entry;
  uint8_t leaf[CDR_AUDIT_HASH_LEN];
  int r;
  memset(out, 0, sizeof(*out));
  cdr_buf_init(&out->record, AUDIT_MAX_RECORD, 0);
  if (a->head == NULL)
    return CDR_ERR_INTERNAL;
  if (pending == NULL && (r = audit_begin(e, "commit")) != 0)
    return r;
  cdr_buf_init(&entry, AUDIT_MAX_ENTRY, 0);
  audit_set(e, "manifest_version", json_integer((json_int_t)manifest_version));
  if ((r = close_pending(e, NULL, &entry, &out->time)) != 0 ||
      (r = seal_record(e, a->n, entry.d, entry.len, &out->record)) != 0 ||
      (r = cdr_audit_leaf(leaf, entry.d, entry.len)) != 0 ||
      (r = cdr_audit_step(out->head, a->head[a->n], a->n, leaf)) != 0)
    goto out;
  out->size = a->n + 1;
  out->version = manifest_version;
out:
  cdr_buf_free(&entry);
  return r;
}

int audit_sealed_appended(struct enclave *e, const struct audit_sealed *s) {
  struct audit_log *a = &e->audit;
  int r;
  if (s->size != a->n + 1)
    return CDR_ERR_INTERNAL;
  if (s->version > a->max_committed)
    a->max_committed = s->version;
  /* The manifest carries it: durable with the commit (a crash before its
   * append is repaired at start). */
  if ((r = push(a, s->head, s->record.len, s->time)) == 0 && a->durable + 1 == a->n)
    a->durable = a->n;
  pthread_cond_broadcast(&a->cond);
  return r;
}

int audit_commit_begin(struct enclave *e) {
  struct audit_log *a = &e->audit;
  pthread_mutex_lock(&a->lock);
  while (a->durable < a->n && !a->writer_failed)
    pthread_cond_wait(&a->cond, &a->lock);
  if (a->durable < a->n) {
    pthread_mutex_unlock(&a->lock);
    return CDR_ERR_IO;
  }
  return 0;
}

void audit_commit_end(struct enclave *e) { pthread_mutex_unlock(&e->audit.lock); }

void audit_lock(struct enclave *e) { pthread_mutex_lock(&e->audit.lock); }

void audit_unlock(struct enclave *e) { pthread_mutex_unlock(&e->audit.lock); }

uint64_t audit_visible(struct enclave *e) { return e->audit.durable; }

/* ---- the group-commit writer (the audit lane) ---- */

/* Write the queued records as one IPC_STORE (appends, then a sync) on the
 * lane and wait for IPC_STORED.  0, or non-zero (fatal). */
static int writer_round(struct audit_log *a, const struct cdr_buf *recs, uint32_t n) {
  struct store_batch b;
  struct cdr_buf frame, reply;
  uint32_t type;
  size_t off = 0;
  char *msg = NULL;
  int r = 0, ok = 0;
  store_batch_init(&b);
  cdr_buf_init(&frame, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&reply, IPC_STATUS_MAX, 0);
  for (uint32_t i = 0; i < n && r == 0; i++) {
    uint32_t len = be32(recs->d + off);
    r = store_batch_add(&b, IPC_STORE_APPEND_LAZY, AUDIT_OBJECT, recs->d + off, 4u + len);
    off += 4u + len;
  }
  if (r == 0 && (r = store_batch_add(&b, IPC_STORE_SYNC, AUDIT_OBJECT, NULL, 0)) == 0 &&
      (r = ipc_put_store(&frame, b.n, &b.ops)) == 0 && (r = ipc_frame_write(a->lane_fd, IPC_STORE, &frame)) == 0 &&
      (r = ipc_frame_read(a->lane_fd, &type, &reply, IPC_STATUS_MAX)) == 0) {
    if (type != IPC_STORED || ipc_get_status(&reply, &ok, &msg) != 0 || !ok) {
      log_error("the host did not store the audit log (%s%s)", type != IPC_STORED ? ipc_msg_name(type) : "failed: ",
                msg != NULL ? msg : "");
      r = CDR_ERR_IO;
    }
  }
  free(msg);
  store_batch_free(&b);
  cdr_buf_free(&frame);
  cdr_buf_free(&reply);
  return r;
}

/* The writer thread: every record queued while the previous round ran
 * goes in the next one, so one sync covers them all. */
static void *writer_main(void *arg) {
  struct enclave *e = arg;
  struct audit_log *a = &e->audit;
  struct cdr_buf recs;
  enclave_thread_warm();
  store_client_set_lane(a->lane_fd); /* witness rounds go on the audit lane */
  pthread_mutex_lock(&a->lock);
  for (;;) {
    while (a->queued == 0 && !a->writer_stop && !witness_due(e))
      pthread_cond_wait(&a->cond, &a->lock);
    if (a->queued == 0 && (a->writer_stop || witness_step(e) != 0))
      break; /* stopped, or the channel broke */
    if (a->queued == 0)
      continue; /* a round was due */
    /* Take at most what one frame carries; the rest waits its turn. */
    uint32_t n = 0;
    size_t bytes = 0;
    while (n < a->queued && n + 2 < IPC_STORE_MAX_OPS) {
      uint32_t len = be32(a->queue.d + bytes);
      if (n > 0 && bytes + 4u + len > AUDIT_ROUND_MAX)
        break;
      bytes += 4u + len;
      n++;
    }
    cdr_buf_init(&recs, bytes, 0);
    int r = cdr_buf_put(&recs, a->queue.d, bytes);
    uint64_t first = a->durable;
    pthread_mutex_unlock(&a->lock);
    if (r == 0)
      r = writer_round(a, &recs, n);
    cdr_buf_free(&recs);
    pthread_mutex_lock(&a->lock);
    if (r != 0) {
      a->writer_failed = 1;
      e->fatal = 1;
      pthread_cond_broadcast(&a->cond);
      break;
    }
    memmove(a->queue.d, a->queue.d + bytes, a->queue.len - bytes);
    a->queue.len -= bytes;
    a->queued -= n;
    a->durable = first + n;
    pthread_cond_broadcast(&a->cond);
    if (witness_step(e) != 0) /* durable, then witnessed (one round a batch), then answered */
      break;
  }
  pthread_mutex_unlock(&a->lock);
  return NULL;
}

int audit_writer_start(struct enclave *e, int fd) {
  struct audit_log *a = &e->audit;
  pthread_attr_t attr;
  a->lane_fd = fd;
  /* The writer needs little stack (under mlockall all of it is resident). */
  if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, 256u * 1024u) != 0 ||
      pthread_create(&a->writer, &attr, writer_main, e) != 0) {
    pthread_attr_destroy(&attr);
    a->lane_fd = 0;
    return CDR_ERR_INTERNAL;
  }
  pthread_attr_destroy(&attr);
  a->writer_running = 1;
  return 0;
}

void audit_writer_stop(struct enclave *e) {
  struct audit_log *a = &e->audit;
  if (!a->writer_running)
    return;
  pthread_mutex_lock(&a->lock);
  a->writer_stop = 1;
  pthread_cond_broadcast(&a->cond);
  pthread_mutex_unlock(&a->lock);
  (void)pthread_join(a->writer, NULL);
  a->writer_running = 0;
}

void audit_sealed_free(struct audit_sealed *s) { cdr_buf_free(&s->record); }

/* ---- reading records back ---- */

/* Open one record body as entry `index`: its bytes in pt and its leaf.
 * CDR_ERR_DECRYPT with a sentence in *damage when the record is not
 * entry `index` of this room's log, including a record whose length
 * (the host's to choose, up to AUDIT_MAX_RECORD) would open to more than
 * an entry can hold; any other error (memory, crypto library) as it is,
 * with *damage untouched. */
static int open_record(struct enclave *e, uint64_t index, const uint8_t *blob, size_t len, struct cdr_buf *pt,
                       uint8_t leaf[CDR_AUDIT_HASH_LEN], const char **damage) {
  uint64_t v = 0;
  int r;
  cdr_buf_free(pt);
  r = unseal_blob(e->sealer, SEAL_AUDIT, AUDIT_OBJECT, blob, len, &v, pt);
  if (r == CDR_ERR_TOO_LARGE) {
    *damage = "its length is impossible";
    return CDR_ERR_DECRYPT;
  }
  if (r != 0 && r != CDR_ERR_DECRYPT && r != CDR_ERR_TRUNCATED)
    return r;
  if (r != 0 || v != index) {
    *damage = "the record fails authentication (edited, moved or swapped)";
    return CDR_ERR_DECRYPT;
  }
  return cdr_audit_leaf(leaf, pt->d, pt->len);
}

/* The fields the enclave itself needs from an entry at start: its index
 * and time, and the manifest version a commit entry names. */
static int entry_facts(const uint8_t *p, size_t n, uint64_t index, int64_t *time, uint64_t *committed) {
  json_error_t jerr;
  json_t *o = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &jerr), *mv;
  int r = CDR_ERR_TRUNCATED;
  if (o != NULL && json_is_object(o) && json_integer_value(json_object_get(o, "index")) == (json_int_t)index &&
      json_is_integer(json_object_get(o, "time"))) {
    *time = (int64_t)json_integer_value(json_object_get(o, "time"));
    mv = json_object_get(o, "manifest_version");
    *committed = json_is_integer(mv) && json_integer_value(mv) > 0 ? (uint64_t)json_integer_value(mv) : 0;
    r = 0;
  }
  json_decref(o);
  return r;
}

/* Check record body `blob` as the next entry and add it to the log. */
static int take_record(struct enclave *e, const uint8_t *blob, size_t len, struct cdr_buf *pt, const char **damage) {
  struct audit_log *a = &e->audit;
  uint8_t leaf[CDR_AUDIT_HASH_LEN], head[CDR_AUDIT_HASH_LEN];
  int64_t t = 0;
  uint64_t committed = 0;
  int r;
  if ((r = open_record(e, a->n, blob, len, pt, leaf, damage)) != 0)
    return r;
  if (entry_facts(pt->d, pt->len, a->n, &t, &committed) != 0) {
    *damage = "the entry does not decode";
    return CDR_ERR_TRUNCATED;
  }
  if ((r = cdr_audit_step(head, a->head[a->n], a->n, leaf)) != 0)
    return r;
  if (committed > a->max_committed)
    a->max_committed = committed;
  return push(a, head, 4 + len, t);
}

/* 1 if n bytes are all zero (a tail a power loss left unwritten). */
static int all_zero(const uint8_t *p, size_t n) {
  uint8_t acc = 0;
  for (size_t i = 0; i < n; i++)
    acc |= p[i];
  return acc == 0;
}

/* audit_load's checks of the log read so far (e->audit) against what
 * the sealed manifest recorded: its size and head, the entry it carries
 * (taken into the log, with *reappend set, when the log is exactly that
 * entry short), and no commit newer than the manifest.  0, or the error
 * with *why set, as audit_load returns them. */
static int check_against_manifest(struct enclave *e, uint64_t manifest_version, uint64_t manifest_size,
                                  const uint8_t manifest_head[CDR_AUDIT_HASH_LEN], const uint8_t *carried,
                                  size_t carried_len, struct cdr_buf *pt, int *reappend, char *why, size_t whylen) {
  struct audit_log *a = &e->audit;
  const char *damage = NULL;
  int r;
  if (manifest_size > 0) {
    if (a->n + 1 == manifest_size && carried_len > 4 && be32(carried) == carried_len - 4) {
      if ((r = take_record(e, carried + 4, carried_len - 4, pt, &damage)) != 0) {
        snprintf(why, whylen, "the audit entry the sealed manifest carries does not open: %s",
                 damage != NULL ? damage : cdr_err_describe(r));
        return damage != NULL ? CDR_ERR_DECRYPT : r;
      }
      *reappend = 1;
    }
    if (a->n < manifest_size) {
      snprintf(why, whylen,
               "the audit log is truncated: it has %llu entries, the sealed manifest recorded %llu",
               (unsigned long long)a->n, (unsigned long long)manifest_size);
      return CDR_ERR_TRUNCATED;
    }
    if (CRYPTO_memcmp(a->head[manifest_size], manifest_head, CDR_AUDIT_HASH_LEN) != 0) {
      snprintf(why, whylen,
               "the audit log does not extend the one the sealed manifest recorded at %llu entries "
               "(replaced or forked)",
               (unsigned long long)manifest_size);
      return CDR_ERR_DECRYPT;
    }
  }
  if (a->max_committed > manifest_version) {
    snprintf(why, whylen,
             "the sealed manifest is older than the audit log: the log records the commit of version %llu, the "
             "manifest is version %llu (an older manifest was put back)",
             (unsigned long long)a->max_committed, (unsigned long long)manifest_version);
    return CDR_ERR_AUDIT_ROLLBACK;
  }
  return 0;
}

int audit_load(struct enclave *e, uint64_t manifest_version, uint64_t manifest_size,
               const uint8_t manifest_head[CDR_AUDIT_HASH_LEN], const uint8_t *carried, size_t carried_len, char *why,
               size_t whylen) {
  struct audit_log *a = &e->audit;
  struct cdr_buf blk, pt;
  struct store_batch b;
  const char *damage = NULL, *torn = NULL;
  uint64_t off = 0, torn_at = 0, torn_len = 0;
  int r, found = 0, reappend = 0;
  if (whylen > 0)
    why[0] = '\0'; /* every refusal below says why; a failure that is not one leaves it empty */
  audit_free(a);
  store_batch_init(&b);
  cdr_buf_init(&blk, READ_BLOCK, 0);
  cdr_buf_init(&pt, AUDIT_MAX_ENTRY, 0);
  if ((r = reserve(a, 0)) != 0 || (r = cdr_audit_genesis(a->head[0], e->room_id, sizeof(e->room_id))) != 0)
    goto out;
  a->off[0] = 0;
  for (;;) {
    if ((r = enclave_fetch(e, AUDIT_OBJECT, off, READ_BLOCK, &blk, &found)) != 0)
      goto out;
    int at_end = blk.len < READ_BLOCK; /* this block reaches the end of the file */
    size_t p = 0;
    while (p + 4 <= blk.len) {
      uint32_t len = be32(blk.d + p);
      if (len == 0 || len > AUDIT_MAX_RECORD) {
        damage = "its length is impossible";
        if (at_end && all_zero(blk.d + p, blk.len - p))
          torn = "zeros where it should be";
        break;
      }
      if (p + 4 + len > blk.len)
        break;
      if ((r = take_record(e, blk.d + p + 4, len, &pt, &damage)) != 0) {
        if (damage == NULL) /* not the record's fault (memory, library): refuse as is */
          goto out;
        /* The last record, ending at the end of the file, failing
         * authentication after at least one record that opened (so the
         * key is the right one). */
        if (r == CDR_ERR_DECRYPT && at_end && p + 4 + len == blk.len && a->n > 0)
          torn = damage;
        break;
      }
      p += 4 + (size_t)len;
    }
    /* Damage after the start of a full block: read again from the
     * damaged record, so that a torn tail that began in this block is
     * judged with the end of the file in view.  (A file that ends
     * exactly at a full block's end is judged without it, and refused.) */
    if (damage != NULL && torn == NULL && !at_end && p > 0) {
      off += p;
      damage = NULL;
      continue;
    }
    if (damage == NULL && p < blk.len && at_end)
      torn = "the file ends in the middle of it";
    if (torn != NULL) {
      /* A torn last record: what a power loss leaves of an append that
       * was never synced.  It may be a commit's entry (appended after
       * its manifest's rename): the manifest checks below then find the
       * log one short and re-append it from the manifest.  Anyone can cut
       * the log's tail past the last commit, so accepting this gives the
       * host nothing it did not have. */
      torn_at = off + p;
      torn_len = blk.len - p;
      damage = NULL;
      break;
    }
    if (damage != NULL) {
      snprintf(why, whylen, "audit log entry %llu (at byte %llu of state/audit.sealed): %s",
               (unsigned long long)a->n, (unsigned long long)(off + p), damage);
      r = CDR_ERR_DECRYPT;
      goto out;
    }
    off += p;
    if (at_end)
      break;
  }
  /* Against the manifest's record of the log. */
  if ((r = check_against_manifest(e, manifest_version, manifest_size, manifest_head, carried, carried_len, &pt,
                                  &reappend, why, whylen)) != 0)
    goto out;
  /* Every check passed: only now change the stored log. */
  if (torn != NULL) {
    uint8_t size[8];
    for (int i = 0; i < 8; i++)
      size[i] = (uint8_t)(torn_at >> (56 - 8 * i));
    if ((r = store_batch_add(&b, IPC_STORE_TRUNCATE, AUDIT_OBJECT, size, sizeof(size))) != 0)
      goto out;
  }
  if (reappend && ((r = store_batch_add(&b, IPC_STORE_APPEND_LAZY, AUDIT_OBJECT, carried, carried_len)) != 0 ||
                   (r = store_batch_add(&b, IPC_STORE_SYNC, AUDIT_OBJECT, NULL, 0)) != 0))
    goto out;
  if (b.n > 0) {
    char swhy[256];
    if ((r = enclave_store(e, &b, swhy, sizeof(swhy))) != 0) {
      snprintf(why, whylen, "cannot repair the audit log: %s", swhy);
      goto out;
    }
  }
  if (torn != NULL)
    log_info("removed a torn last audit record (%llu bytes at byte %llu of state/audit.sealed: %s), the remains of "
             "an append a crash or power loss interrupted; the log keeps its %llu entries before it",
             (unsigned long long)torn_len, (unsigned long long)torn_at, torn,
             (unsigned long long)(a->n - (uint64_t)reappend));
  if (reappend)
    log_info("re-appended audit entry %llu (the last commit's; a crash had kept it from the log)",
             (unsigned long long)(manifest_size - 1));
  a->durable = a->n; /* all of it is on disk */
  r = 0;
out:
  store_batch_free(&b);
  cdr_buf_free(&blk);
  cdr_buf_free(&pt);
  return r;
}

int audit_sign_head(struct enclave *e, uint64_t time, struct cdr_buf *sig) {
  struct cdr_buf t;
  int r;
  if (e->audit.head == NULL)
    return CDR_ERR_INTERNAL;
  cdr_buf_init(&t, 512, 0);
  if ((r = cdr_audit_head_transcript(&t, e->room_id, sizeof(e->room_id), e->audit.durable,
                                     e->audit.head[e->audit.durable], time)) == 0)
    r = cdr_sign(sig, e->identity_key, t.d, t.len);
  cdr_buf_free(&t);
  return r;
}

int audit_read(struct enclave *e, uint64_t from, uint64_t to, audit_entry_fn fn, void *ud) {
  struct audit_log *a = &e->audit;
  struct cdr_buf blk, pt;
  uint8_t leaf[CDR_AUDIT_HASH_LEN], head[CDR_AUDIT_HASH_LEN];
  uint64_t blk_off = 0;
  int r = 0, found = 0;
  if (a->head == NULL || from > to || to > a->durable)
    return CDR_ERR_ARG;
  cdr_buf_init(&blk, READ_BLOCK, 0);
  cdr_buf_init(&pt, AUDIT_MAX_ENTRY, 0);
  for (uint64_t i = from; i < to; i++) {
    uint64_t start = a->off[i], len = a->off[i + 1] - a->off[i];
    const char *damage = NULL;
    /* The record in the current block, else a new block from it. */
    if (start < blk_off || start + len > blk_off + blk.len) {
      uint64_t want = a->off[to] - start;
      if ((r = enclave_fetch(e, AUDIT_OBJECT, start, want < READ_BLOCK ? (uint32_t)want : READ_BLOCK, &blk,
                             &found)) != 0)
        break;
      blk_off = start;
    }
    if (start + len > blk_off + blk.len) {
      damage = "the record is missing (the stored log is shorter)";
    } else {
      const uint8_t *p = blk.d + (start - blk_off);
      if (len < 4 || be32(p) != len - 4)
        damage = "the record's length is wrong (entries added, removed or moved)";
      else if (open_record(e, i, p + 4, len - 4, &pt, leaf, &damage) == 0 &&
               ((r = cdr_audit_step(head, a->head[i], i, leaf)) != 0 ||
                CRYPTO_memcmp(head, a->head[i + 1], CDR_AUDIT_HASH_LEN) != 0))
        damage = r ? "internal error" : "the entry does not match the log's chain";
    }
    r = fn(ud, i, damage ? NULL : pt.d, damage ? 0 : pt.len, leaf, damage);
    if (r != 0)
      break;
  }
  cdr_buf_free(&blk);
  cdr_buf_free(&pt);
  return r == 1 ? 0 : r;
}
