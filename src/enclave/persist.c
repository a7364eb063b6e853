/*
 * persist.c - loading sealed state at start and storing it through the
 * host; see persist.h and docs/design/persistence.md.
 *
 * The manifest (sealed, kind manifest, version = commit counter) is
 *   "CDRMANv2" || u64be version || u64be crl_number ||
 *   u64be audit_size || lp(audit_head) || lp(carried audit record) || u32be n ||
 *   n x ( lp(table name) lp(table id: 32 hex) lp(sealed table key)
 *         lp(SHA-256 of the table file) lp(one-table catalog encoding) )
 * audit_size and audit_head are the audit log's once this commit's own
 * entry (the carried record, audit.h) is appended: the log is checked
 * against them at start, which catches a log cut short or replaced, and
 * the log's record of every commit catches a manifest put back.
 * Each committed table version has a fresh id and key; the table key is
 * sealed as (table-key, id).  A table whose file fails to load stays in
 * the manifest, unavailable, so a later start can try again and its
 * owner can still drop it; it is not in the engine, so no query sees it.
 *
 * Storage failures stop the enclave (e->fatal): memory may already hold
 * the change, the disk does not, and the only consistent state left is
 * the one on disk, which the next start loads.  No client was told "ok".
 */
#include "persist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/log.h"
#include "ipc/ipc.h"
#include "catalog.h"
#include "common/util.h"
#include "ipc/messages.h"
#include "tablefile.h"

void store_batch_init(struct store_batch *b) {
  cdr_buf_init(&b->ops, CDR_IPC_MAX_FRAME - 1024, 0);
  b->n = 0;
}

void store_batch_free(struct store_batch *b) {
  cdr_buf_free(&b->ops);
  b->n = 0;
}

int store_batch_add(struct store_batch *b, uint8_t op, const char *name, const void *data, size_t len) {
  if (b->n >= IPC_STORE_MAX_OPS)
    return CDR_ERR_TOO_LARGE;
  int r = ipc_put_store_item(&b->ops, op, name, data, len);
  if (r == 0)
    b->n++;
  return r;
}

int enclave_store(struct enclave *e, struct store_batch *b, char *why, size_t whylen) {
  struct cdr_buf frame, reply;
  uint32_t type;
  int r, ok = 0;
  char *msg = NULL;
  snprintf(why, whylen, "the channel to the host failed");
  cdr_buf_init(&frame, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&reply, 4096, 0);
  if ((r = ipc_put_store(&frame, b->n, &b->ops)) != 0)
    goto out;
  if ((r = ipc_frame_write(e->ipc_fd, IPC_STORE, &frame)) != 0 ||
      (r = ipc_frame_read(e->ipc_fd, &type, &reply, 4096)) != 0)
    goto out;
  if (type != IPC_STORED) {
    log_error("protocol violation: %s while waiting for STORED", ipc_msg_name(type));
    r = CDR_ERR_ARG;
    goto out;
  }
  if ((r = ipc_get_status(&reply, &ok, &msg)) != 0)
    goto out;
  if (!ok) {
    snprintf(why, whylen, "the server could not store the change: %s", msg ? msg : "");
    r = CDR_ERR_IO;
  }
out:
  free(msg);
  cdr_buf_free(&frame);
  cdr_buf_free(&reply);
  return r;
}

int enclave_store_nowait(struct enclave *e, struct store_batch *b) {
  struct cdr_buf frame;
  int r;
  cdr_buf_init(&frame, CDR_IPC_MAX_FRAME, 0);
  if ((r = ipc_put_store(&frame, b->n, &b->ops)) == 0)
    r = ipc_frame_write(e->ipc_fd, IPC_STORE_NOWAIT, &frame);
  cdr_buf_free(&frame);
  return r;
}

int enclave_fetch(struct enclave *e, const char *name, uint64_t offset, uint32_t max, struct cdr_buf *out,
                  int *found) {
  struct cdr_buf frame, reply;
  const uint8_t *data;
  size_t len;
  uint32_t type;
  int r;
  cdr_buf_init(&frame, 256, 0);
  cdr_buf_init(&reply, (size_t)max + 64, 0);
  cdr_buf_free(out);
  *found = 0;
  if ((r = ipc_put_fetch(&frame, name, offset, max)) != 0 || (r = ipc_frame_write(e->ipc_fd, IPC_FETCH, &frame)) != 0 ||
      (r = ipc_frame_read(e->ipc_fd, &type, &reply, max + 64)) != 0)
    goto out;
  if (type != IPC_FETCHED) {
    log_error("protocol violation: %s while waiting for FETCHED", ipc_msg_name(type));
    r = CDR_ERR_ARG;
    goto out;
  }
  /* The host's answer is checked like any frame from it: exact, and
   * never more than asked for. */
  if ((r = ipc_get_fetched(&reply, max, found, &data, &len)) != 0) {
    log_error("protocol violation: a malformed FETCHED");
    goto out;
  }
  r = cdr_buf_put(out, data, len);
out:
  cdr_buf_free(&frame);
  cdr_buf_free(&reply);
  return r;
}

/* ---- the persistent state ---- */

#define MANIFEST_MAGIC "CDRMANv2"
#define STORE_FLUSH_BYTES (16u << 20)

struct persist_entry {
  char name[CDR_MAX_TABLE_NAME + 1];
  char id[33];
  uint8_t *wrapped_key; /* seal(table-key, id, 1, key) */
  size_t wrapped_len;
  uint8_t file_hash[32];
  int available;
  char reason[160];
  uint8_t *catalog_bytes; /* this table's one-table catalog, as loaded */
  size_t catalog_len;
  /* loading */
  int loaded;
  uint64_t received;
};

struct persist {
  uint64_t version;
  /* the audit log as the loaded manifest recorded it */
  uint64_t audit_size;
  uint8_t audit_head[CDR_AUDIT_HASH_LEN];
  uint8_t *carried; /* the record of its last entry */
  size_t carried_len;
  struct persist_entry *ent;
  size_t n;
  /* the table being streamed in at start */
  long loading; /* index in ent, -1 when none */
  struct tf_reader rd;
  int reading;
};

static void entry_clear(struct persist_entry *en) {
  free(en->wrapped_key);
  free(en->catalog_bytes);
  memset(en, 0, sizeof(*en));
}

void persist_free(struct persist *p) {
  if (p == NULL)
    return;
  if (p->reading)
    tf_reader_free(&p->rd);
  for (size_t i = 0; i < p->n; i++)
    entry_clear(&p->ent[i]);
  free(p->ent);
  free(p->carried);
  free(p);
}

static struct persist_entry *entry_find(struct persist *p, const char *name) {
  for (size_t i = 0; i < p->n; i++)
    if (cdr_ascii_casecmp(p->ent[i].name, name) == 0)
      return &p->ent[i];
  return NULL;
}

static int random_id(char out[33]) {
  uint8_t raw[16];
  int r = cdr_random(raw, sizeof(raw));
  if (r == 0)
    cdr_hex_encode(out, raw, sizeof(raw));
  return r;
}

/* The one-table catalog encoding of the engine's entry for name. */
static int table_catalog_bytes(struct enclave *e, const char *name, struct cdr_buf *out) {
  const struct catalog_table *t = catalog_find(engine_catalog(e->engine), name);
  struct catalog one;
  if (t == NULL)
    return CDR_ERR_NOT_FOUND;
  one.n = one.cap = 1;
  one.tables = (struct catalog_table **)&t;
  return catalog_encode(&one, out);
}

/* Seal the manifest of `entries` at `version`, recording the audit log
 * as it will be with `au` appended. */
static int manifest_build(struct enclave *e, const struct persist_entry *ent, size_t n, uint64_t version,
                          const struct audit_sealed *au, struct cdr_buf *sealed) {
  struct cdr_buf m, cat;
  int r;
  cdr_buf_init(&m, CDR_IPC_MAX_FRAME / 2, 1);
  cdr_buf_init(&cat, CDR_MAX_CATALOG_BYTES, 0);
  uint64_t crl = e->crl_number > e->crl_required ? e->crl_number : e->crl_required;
  if ((r = cdr_buf_put(&m, MANIFEST_MAGIC, 8)) != 0 || (r = cdr_buf_put_u64(&m, version)) != 0 ||
      (r = cdr_buf_put_u64(&m, crl)) != 0 || (r = cdr_buf_put_u64(&m, au->size)) != 0 ||
      (r = cdr_buf_put_lp(&m, au->head, sizeof(au->head))) != 0 ||
      (r = cdr_buf_put_lp(&m, au->record.d, au->record.len)) != 0 || (r = cdr_buf_put_u32(&m, (uint32_t)n)) != 0)
    goto out;
  for (size_t i = 0; i < n; i++) {
    const struct persist_entry *en = &ent[i];
    cdr_buf_free(&cat);
    if (en->available) {
      if ((r = table_catalog_bytes(e, en->name, &cat)) != 0)
        goto out;
    } else if ((r = cdr_buf_put(&cat, en->catalog_bytes, en->catalog_len)) != 0) {
      goto out;
    }
    if ((r = cdr_buf_put_lpstr(&m, en->name)) != 0 || (r = cdr_buf_put_lpstr(&m, en->id)) != 0 ||
        (r = cdr_buf_put_lp(&m, en->wrapped_key, en->wrapped_len)) != 0 ||
        (r = cdr_buf_put_lp(&m, en->file_hash, 32)) != 0 || (r = cdr_buf_put_lp(&m, cat.d, cat.len)) != 0)
      goto out;
  }
  r = seal_blob(e->sealer, SEAL_MANIFEST, "manifest", version, m.d, m.len, sealed);
out:
  cdr_buf_free(&m);
  cdr_buf_free(&cat);
  return r;
}

static int persist_get(struct enclave *e, struct persist **out) {
  if (e->persist == NULL) {
    if ((e->persist = calloc(1, sizeof(struct persist))) == NULL)
      return CDR_ERR_NOMEM;
    e->persist->loading = -1;
  }
  *out = e->persist;
  return 0;
}

/* Send `b` plus "PUT manifest" for (ent, n) at version+1; on success the
 * new entries replace the old (ownership of the arrays' contents moves). */
static int commit(struct enclave *e, struct store_batch *b, struct persist_entry *ent, size_t n, const char *drop_id) {
  struct persist *p;
  struct cdr_buf sealed;
  struct audit_sealed au;
  char why[256], name[64];
  int r;
  if ((r = persist_get(e, &p)) != 0)
    return r;
  cdr_buf_init(&sealed, CDR_IPC_MAX_FRAME / 2, 0);
  /* Order: the log so far durable, then the manifest (the commit point)
   * naming the log with this commit's entry, then that entry: a crash
   * between the last two is repaired from the manifest at start. */
  if ((r = audit_seal_commit(e, p->version + 1, &au)) != 0 ||
      (r = manifest_build(e, ent, n, p->version + 1, &au, &sealed)) != 0 ||
      (r = store_batch_add(b, IPC_STORE_SYNC, "audit", NULL, 0)) != 0 ||
      (r = store_batch_add(b, IPC_STORE_PUT, "manifest", sealed.d, sealed.len)) != 0 ||
      (r = store_batch_add(b, IPC_STORE_APPEND_LAZY, "audit", au.record.d, au.record.len)) != 0)
    goto out;
  if (drop_id != NULL) {
    snprintf(name, sizeof(name), "tables/%s", drop_id);
    if ((r = store_batch_add(b, IPC_STORE_DELETE, name, NULL, 0)) != 0)
      goto out;
  }
  if ((r = enclave_store(e, b, why, sizeof(why))) != 0) {
    log_error("storing the room's state failed (%s); stopping so that the state on disk stays the truth", why);
    e->fatal = 1;
    goto out;
  }
  p->version++;
  r = audit_sealed_appended(e, &au);
out:
  /* Memory already holds the change; whatever kept it from the disk (or
   * from the log) stops the enclave, so the disk stays the truth. */
  if (r != 0)
    e->fatal = 1;
  audit_sealed_free(&au);
  cdr_buf_free(&sealed);
  return r;
}

struct dump_ctx {
  struct enclave *e;
  struct store_batch *b;
  char name[64];
  struct tf_writer *w;
};

static int dump_emit(void *ctx, const uint8_t *chunk, size_t len) {
  struct dump_ctx *d = ctx;
  char why[256];
  int r;
  if (d->b->n >= IPC_STORE_MAX_OPS - 4 || d->b->ops.len + len > STORE_FLUSH_BYTES) {
    if ((r = enclave_store(d->e, d->b, why, sizeof(why))) != 0) {
      log_error("storing a table failed (%s); stopping", why);
      d->e->fatal = 1;
      return r;
    }
    store_batch_free(d->b);
    store_batch_init(d->b);
  }
  return store_batch_add(d->b, IPC_STORE_APPEND, d->name, chunk, len);
}

static int dump_row(void *ctx, const struct tf_value *vals, size_t ncols) {
  struct dump_ctx *d = ctx;
  return tf_writer_row(d->w, vals);
}

int persist_table_written(struct enclave *e, const char *name) {
  struct persist *p;
  struct store_batch b;
  struct tf_writer w;
  struct dump_ctx d;
  struct persist_entry *ent = NULL, fresh, replaced;
  struct cdr_buf wrapped;
  const struct catalog_table *t;
  uint8_t key[32];
  char old_id[33] = "";
  size_t n, slot;
  int r, writer = 0;

  if ((r = persist_get(e, &p)) != 0)
    return r;
  if ((t = catalog_find(engine_catalog(e->engine), name)) == NULL)
    return CDR_ERR_NOT_FOUND;
  memset(&fresh, 0, sizeof(fresh));
  store_batch_init(&b);
  cdr_buf_init(&wrapped, 1024, 0);
  /* The new entry list: a shallow copy whose slot for this table gets the
   * fresh entry; p keeps owning everything else until the commit. */
  if ((ent = calloc(p->n + 1, sizeof(*ent))) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  if (p->n > 0)
    memcpy(ent, p->ent, p->n * sizeof(*ent));
  n = p->n;
  struct persist_entry *old = entry_find(p, t->name);
  if (old != NULL) {
    slot = (size_t)(old - p->ent);
    memcpy(old_id, old->id, 33);
  } else {
    slot = n++;
  }
  snprintf(fresh.name, sizeof(fresh.name), "%s", t->name);
  fresh.available = 1;
  fresh.loaded = 1;
  if ((r = random_id(fresh.id)) != 0 || (r = cdr_random(key, sizeof(key))) != 0 ||
      (r = seal_blob(e->sealer, SEAL_TABLE_KEY, fresh.id, 1, key, sizeof(key), &wrapped)) != 0)
    goto out;
  if ((fresh.wrapped_key = malloc(wrapped.len)) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  memcpy(fresh.wrapped_key, wrapped.d, wrapped.len);
  fresh.wrapped_len = wrapped.len;
  d.e = e;
  d.b = &b;
  d.w = &w;
  snprintf(d.name, sizeof(d.name), "tables/%s", fresh.id);
  if ((r = tf_writer_init(&w, key, fresh.id, t->ncols, dump_emit, &d)) != 0)
    goto out;
  writer = 1;
  if ((r = engine_table_rows(e->engine, t->name, dump_row, &d)) != 0 ||
      (r = tf_writer_finish(&w, fresh.file_hash)) != 0)
    goto out;
  ent[slot] = fresh;
  if ((r = commit(e, &b, ent, n, old_id[0] ? old_id : NULL)) != 0)
    goto out;
  /* Committed: the new list replaces the old; the replaced entry goes. */
  if (old != NULL) {
    replaced = *old;
    entry_clear(&replaced);
  }
  free(p->ent);
  p->ent = ent;
  p->n = n;
  ent = NULL;
  fresh.wrapped_key = NULL; /* now owned by p->ent[slot] */
out:
  free(fresh.wrapped_key);
  if (writer)
    tf_writer_free(&w);
  OPENSSL_cleanse(key, sizeof(key));
  free(ent);
  cdr_buf_free(&wrapped);
  store_batch_free(&b);
  return r;
}

int persist_meta_changed(struct enclave *e) {
  struct persist *p;
  struct store_batch b;
  int r;
  if ((r = persist_get(e, &p)) != 0)
    return r;
  store_batch_init(&b);
  r = commit(e, &b, p->ent, p->n, NULL);
  store_batch_free(&b);
  return r;
}

int persist_table_dropped(struct enclave *e, const char *name) {
  struct persist *p;
  struct store_batch b;
  struct persist_entry *en, *ent = NULL;
  char id[33];
  size_t n = 0;
  int r;
  if ((r = persist_get(e, &p)) != 0)
    return r;
  if ((en = entry_find(p, name)) == NULL)
    return CDR_ERR_NOT_FOUND;
  memcpy(id, en->id, 33);
  if (p->n > 1 && (ent = calloc(p->n - 1, sizeof(*ent))) == NULL)
    return CDR_ERR_NOMEM;
  for (size_t i = 0; i < p->n; i++)
    if (&p->ent[i] != en)
      ent[n++] = p->ent[i];
  store_batch_init(&b);
  r = commit(e, &b, ent, n, id);
  store_batch_free(&b);
  if (r != 0) {
    free(ent);
    return r;
  }
  entry_clear(en); /* its sealed key goes with it: the table is erased */
  free(p->ent);
  p->ent = ent;
  p->n = n;
  return 0;
}

/* ---- loading at start ---- */

static int manifest_decode(struct enclave *e, const uint8_t *pt, size_t len, uint64_t version) {
  struct persist *p;
  struct cdr_buf b;
  uint8_t magic[8];
  const uint8_t *ahead, *carried;
  size_t ahead_len, carried_len;
  uint64_t v, crl;
  uint32_t n;
  int r;
  if ((r = persist_get(e, &p)) != 0)
    return r;
  cdr_buf_view(&b, pt, len);
  if ((r = cdr_buf_get(&b, magic, 8)) != 0 || memcmp(magic, MANIFEST_MAGIC, 8) != 0 ||
      (r = cdr_buf_get_u64(&b, &v)) != 0 || v != version || (r = cdr_buf_get_u64(&b, &crl)) != 0 ||
      (r = cdr_buf_get_u64(&b, &p->audit_size)) != 0 || (r = cdr_buf_get_lp(&b, &ahead, &ahead_len, 32)) != 0 ||
      ahead_len != CDR_AUDIT_HASH_LEN || (r = cdr_buf_get_lp(&b, &carried, &carried_len, AUDIT_MAX_RECORD + 4)) != 0 ||
      (r = cdr_buf_get_u32(&b, &n)) != 0 || n > CDR_MAX_TABLES)
    return CDR_ERR_TRUNCATED;
  memcpy(p->audit_head, ahead, CDR_AUDIT_HASH_LEN);
  if ((p->carried = malloc(carried_len ? carried_len : 1)) == NULL)
    return CDR_ERR_NOMEM;
  memcpy(p->carried, carried, carried_len);
  p->carried_len = carried_len;
  e->crl_required = crl;
  if (n > 0 && (p->ent = calloc(n, sizeof(*p->ent))) == NULL)
    return CDR_ERR_NOMEM;
  for (uint32_t i = 0; i < n; i++) {
    struct persist_entry *en = &p->ent[i];
    const uint8_t *name, *id, *wk, *hash, *cat;
    size_t name_len, id_len, wk_len, hash_len, cat_len;
    p->n = i + 1;
    if ((r = cdr_buf_get_lp(&b, &name, &name_len, CDR_MAX_TABLE_NAME)) != 0 ||
        (r = cdr_buf_get_lp(&b, &id, &id_len, 32)) != 0 || id_len != 32 ||
        (r = cdr_buf_get_lp(&b, &wk, &wk_len, 1024)) != 0 || (r = cdr_buf_get_lp(&b, &hash, &hash_len, 32)) != 0 ||
        hash_len != 32 || (r = cdr_buf_get_lp(&b, &cat, &cat_len, CDR_MAX_CATALOG_BYTES)) != 0)
      return CDR_ERR_TRUNCATED;
    memcpy(en->name, name, name_len);
    memcpy(en->id, id, 32);
    memcpy(en->file_hash, hash, 32);
    if ((en->wrapped_key = malloc(wk_len ? wk_len : 1)) == NULL || (en->catalog_bytes = malloc(cat_len)) == NULL)
      return CDR_ERR_NOMEM;
    memcpy(en->wrapped_key, wk, wk_len);
    en->wrapped_len = wk_len;
    memcpy(en->catalog_bytes, cat, cat_len);
    en->catalog_len = cat_len;
    snprintf(en->reason, sizeof(en->reason), "the server did not provide its sealed file");
  }
  p->version = version;
  return cdr_buf_expect_end(&b);
}

int enclave_handle_load(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) {
  struct persist *p;
  struct cdr_buf pt;
  const uint8_t *manifest;
  size_t len;
  uint64_t version = 0;
  int r;
  if ((r = ipc_get_load(in, &manifest, &len)) != 0)
    return r;
  if ((r = persist_get(e, &p)) != 0)
    return r;
  cdr_buf_init(&pt, CDR_IPC_MAX_FRAME, 1);
  if (len > 0) {
    if ((r = unseal_blob(e->sealer, SEAL_MANIFEST, "manifest", manifest, len, &version, &pt)) != 0) {
      log_error("the sealed manifest fails authentication (%s): tampered, or from another room or platform; "
                "refusing to start",
                cdr_err_code(r));
      goto out;
    }
    if ((r = manifest_decode(e, pt.d, pt.len, version)) != 0) {
      log_error("the sealed manifest does not decode (%s); refusing to start", cdr_err_code(r));
      goto out;
    }
  }
  *rt = IPC_LOAD_WANT;
  if ((r = ipc_put_load_want_count(out, (uint32_t)p->n)) != 0)
    goto out;
  for (size_t i = 0; i < p->n; i++)
    if ((r = ipc_put_table_id(out, p->ent[i].id)) != 0)
      goto out;
  e->state = ENCLAVE_STATE_LOADING;
  log_info("manifest version %llu names %zu tables", (unsigned long long)p->version, p->n);
out:
  cdr_buf_free(&pt);
  return r;
}

static int load_row(void *ctx, const struct tf_value *vals, size_t ncols) {
  struct enclave *e = ctx;
  return engine_restore_row(e->engine, vals, ncols);
}

/* Start restoring entry i: unwrap its key, create its table. */
static int load_begin(struct enclave *e, struct persist *p, size_t i, char *why, size_t whylen) {
  struct persist_entry *en = &p->ent[i];
  struct catalog cat;
  struct cdr_buf key;
  uint64_t v;
  int r;
  cdr_buf_init(&key, 64, 1);
  if ((r = unseal_blob(e->sealer, SEAL_TABLE_KEY, en->id, en->wrapped_key, en->wrapped_len, &v, &key)) != 0 ||
      key.len != 32) {
    snprintf(why, whylen, "its sealed key fails authentication");
    r = r ? r : CDR_ERR_TRUNCATED;
    goto out;
  }
  if ((r = catalog_decode(&cat, en->catalog_bytes, en->catalog_len)) != 0 || cat.n != 1 ||
      cdr_ascii_casecmp(cat.tables[0]->name, en->name) != 0) {
    snprintf(why, whylen, "its catalog entry does not decode");
    if (r == 0)
      catalog_free(&cat);
    r = r ? r : CDR_ERR_TRUNCATED;
    goto out;
  }
  struct catalog_table *t = cat.tables[0];
  size_t ncols = t->ncols;
  cat.n = 0; /* t moves to the engine */
  catalog_free(&cat);
  if ((r = engine_restore_begin(e->engine, t)) != 0) {
    snprintf(why, whylen, "the engine could not create it");
    goto out;
  }
  if ((r = tf_reader_init(&p->rd, key.d, en->id, ncols, load_row, e)) != 0) {
    if (engine_restore_end(e->engine, en->name, 0) != 0)
      log_warn("could not undo the restore of %s", en->id);
    snprintf(why, whylen, "internal error");
    goto out;
  }
  p->reading = 1;
  p->loading = (long)i;
out:
  cdr_buf_free(&key);
  return r;
}

int enclave_handle_load_chunk(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) {
  struct persist *p = e->persist;
  struct ipc_load_chunk m;
  uint8_t hash[32];
  char why[160] = "";
  int r, ok = 1;
  if ((r = ipc_get_load_chunk(in, &m)) != 0 || p == NULL)
    return r ? r : CDR_ERR_TRUNCATED;
  /* Which entry: the current one, or the next one not yet loaded. */
  size_t i;
  for (i = 0; i < p->n; i++)
    if (memcmp(p->ent[i].id, m.id, IPC_TABLE_ID_LEN) == 0)
      break;
  if (i == p->n || p->ent[i].loaded || (p->loading >= 0 && (size_t)p->loading != i) || m.offset != p->ent[i].received) {
    log_error("protocol violation: a table chunk that was not asked for, or out of order");
    return CDR_ERR_ARG;
  }
  struct persist_entry *en = &p->ent[i];
  if (p->loading < 0 && load_begin(e, p, i, why, sizeof(why)) != 0) {
    ok = 0;
  } else {
    en->received += m.len;
    if ((r = tf_reader_feed(&p->rd, m.data, m.len)) != 0) {
      ok = 0;
      snprintf(why, sizeof(why), "its sealed file fails authentication (%s)", cdr_err_code(r));
    } else if (m.last) {
      if ((r = tf_reader_finish(&p->rd, hash)) != 0) {
        ok = 0;
        snprintf(why, sizeof(why), "its sealed file is truncated");
      } else if (memcmp(hash, en->file_hash, 32) != 0) {
        ok = 0;
        snprintf(why, sizeof(why), "its sealed file is not the version the manifest names (an older copy?)");
      } else if (engine_restore_end(e->engine, en->name, 1) != 0) {
        ok = 0;
        snprintf(why, sizeof(why), "the engine could not commit it");
      } else {
        en->available = 1;
        en->reason[0] = '\0';
      }
    }
    if (!ok && p->loading >= 0 && engine_restore_end(e->engine, en->name, 0) != 0)
      log_warn("could not undo the restore of %s", en->id);
  }
  if (!ok || m.last) {
    if (p->reading)
      tf_reader_free(&p->rd);
    p->reading = 0;
    p->loading = -1;
    en->loaded = 1;
  }
  if (!ok) {
    snprintf(en->reason, sizeof(en->reason), "%s", why);
    log_error("sealed table file %s not loaded: %s", en->id, why);
  }
  *rt = IPC_LOAD_ACK;
  return ipc_put_status(out, ok, ok ? "" : why);
}

int enclave_handle_load_done(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) {
  struct persist *p = e->persist;
  int r;
  if ((r = ipc_get_load_done(in)) != 0)
    return r;
  if (p != NULL && p->loading >= 0) {
    log_error("protocol violation: loading ended in the middle of a table");
    return CDR_ERR_ARG;
  }
  size_t loaded = 0;
  for (size_t i = 0; p != NULL && i < p->n; i++) {
    if (p->ent[i].available)
      loaded++;
    else if (!p->ent[i].loaded)
      log_error("sealed table file %s not loaded: %s", p->ent[i].id, p->ent[i].reason);
  }
  log_info("loaded %zu of %zu tables", loaded, p ? p->n : 0);
  /* The audit log, against the manifest; a start is itself an entry. */
  char why[320];
  if ((r = persist_get(e, &p)) != 0)
    return r;
  if ((r = audit_load(e, p->version, p->audit_size, p->audit_head, p->carried, p->carried_len, why, sizeof(why))) !=
      0) {
    if (r != CDR_ERR_DECRYPT && r != CDR_ERR_TRUNCATED && r != CDR_ERR_AUDIT_ROLLBACK)
      return r; /* the channel broke */
    log_error("refusing to start: %s", why);
    *rt = IPC_LOAD_ACK;
    return ipc_put_status(out, 0, why);
  }
  log_info("audit log: %llu entries", (unsigned long long)e->audit.n);
  if ((r = audit_begin(e, "start")) != 0)
    return r;
  audit_set(e, "manifest_version", json_integer((json_int_t)p->version));
  audit_set(e, "tables_loaded", json_integer((json_int_t)loaded));
  audit_set(e, "tables_unavailable", json_integer((json_int_t)(p->n - loaded)));
  audit_set(e, "platform", json_string(e->attest && e->attest->name ? e->attest->name : "sim"));
  if ((r = audit_finish(e, 0)) != 0)
    return r;
  e->state = ENCLAVE_STATE_READY;
  *rt = IPC_LOAD_ACK;
  return ipc_put_status(out, 1, "");
}
