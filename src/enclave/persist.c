/*
 * persist.c - loading sealed state at start and storing it through the
 * host; see persist.h and docs/design/persistence.md.
 *
 * The manifest (sealed, kind manifest, version = commit counter) is
 *   "CDRMANv4" || u64be version || lp(room CA fingerprint, 32 bytes) ||
 *   u64be crl_number ||
 *   u64be audit_size || lp(audit_head) || lp(carried audit record) || u32be n ||
 *   n x ( lp(table name) lp(table id: 32 hex) lp(sealed table key)
 *         lp(SHA-256 of the table file) lp(one-table catalog encoding) ) ||
 *   the room contract (contract_state.h's encoding: active chain, pending) ||
 *   the query templates (template_state.h's encoding, which starts with
 *   "CDRTPLv1"; absent in manifests written before them: none) ||
 *   the room's limits (room_limits.h: "LIM1" and five u64; absent in
 *   manifests written before them, which read as the defaults) ||
 *   the privacy budgets of dp rules: "DPL1" || lp(dp_ledger_encode's
 *   bytes, dp_budget.h, decoded strictly; absent in manifests written
 *   before it, which read as nothing spent).  The ledger is keyed by
 *   table name, not by entry, so it outlives replacements and drops.
 * The CA fingerprint binds the tables to the room CA even if the host
 * withholds the sealed identity (which also names it, enclave_init.c):
 * a manifest that names another CA than this start's is refused before
 * any entry is read (CDR_ERR_CA_MISMATCH).  "CDRMANv2" (the same without
 * the CA) is what rooms made before the binding hold: it is read, marked
 * `legacy`, and rewritten as v3 by the start that loads it
 * (enclave_load.c).  "CDRMANv3" is v4 without the contract at its end:
 * a room from before the contract, whose members then propose and sign
 * version 1 (until it is active only contract operations are served).
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
#include "persist_int.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "common/log.h"
#include "common/util.h"
#include "dp_budget.h"
#include "engine.h"
#include "ipc/messages.h"
#include "room_limits.h"
#include "store_client.h"

#define MANIFEST_MAGIC "CDRMANv4"
#define MANIFEST_MAGIC_V3 "CDRMANv3" /* before the contract: read (no contract), never written */
#define MANIFEST_MAGIC_V2 "CDRMANv2" /* before the CA binding: read, never written */
#define STORE_FLUSH_BYTES (16u << 20)
#define DP_SECTION_MAGIC "DPL1"

/* The manifest's dp section: "DPL1" || lp(the engine's ledger). */
static int dp_section_encode(struct enclave *e, struct cdr_buf *m) {
  struct cdr_buf l;
  int r;
  if (e->engine == NULL)
    return CDR_ERR_INTERNAL;
  cdr_buf_init(&l, DP_LEDGER_MAX_BYTES, 0);
  if ((r = dp_ledger_encode(engine_dp_ledger(e->engine), &l)) == 0 && (r = cdr_buf_put(m, DP_SECTION_MAGIC, 4)) == 0)
    r = cdr_buf_put_lp(m, l.d, l.len);
  cdr_buf_free(&l);
  return r;
}

/* Read the dp section if m has bytes left (else the engine keeps its
 * empty ledger) and give the ledger to the engine; the section ends the
 * manifest.  CDR_ERR_TRUNCATED for anything dp_ledger_decode refuses. */
static int dp_section_decode(struct enclave *e, struct cdr_buf *m) {
  struct dp_ledger *l = NULL;
  const uint8_t *p;
  uint8_t magic[4];
  size_t n;
  if (cdr_buf_avail(m) == 0)
    return 0;
  if (e->engine == NULL)
    return CDR_ERR_INTERNAL;
  if (cdr_buf_get(m, magic, 4) != 0 || memcmp(magic, DP_SECTION_MAGIC, 4) != 0 ||
      cdr_buf_get_lp(m, &p, &n, DP_LEDGER_MAX_BYTES) != 0 || cdr_buf_expect_end(m) != 0)
    return CDR_ERR_TRUNCATED;
  int r = dp_ledger_decode(p, n, &l);
  if (r != 0)
    return r == CDR_ERR_NOMEM ? r : CDR_ERR_TRUNCATED;
  engine_dp_set_ledger(e->engine, l);
  return 0;
}

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
      (r = cdr_buf_put_lp(&m, e->ca_fp, sizeof(e->ca_fp))) != 0 || (r = cdr_buf_put_u64(&m, crl)) != 0 || (r = cdr_buf_put_u64(&m, au->size)) != 0 ||
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
  if ((r = contract_state_encode(&e->contract, &m)) != 0 || (r = template_set_encode(&e->templates, &m)) != 0 ||
      (r = room_limits_encode(&e->limits, &m)) != 0 || (r = dp_section_encode(e, &m)) != 0)
    goto out;
  r = seal_blob(e->sealer, SEAL_MANIFEST, "manifest", version, m.d, m.len, sealed);
out:
  cdr_buf_free(&m);
  cdr_buf_free(&cat);
  return r;
}

int persist_get(struct enclave *e, struct persist **out) {
  if (e->persist == NULL) {
    if ((e->persist = calloc(1, sizeof(struct persist))) == NULL)
      return CDR_ERR_NOMEM;
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
  /* The log held from here to the end: its queue written first, and no
   * entry can come between this commit's sync and its own entry. */
  if ((r = audit_commit_begin(e)) != 0) {
    e->fatal = 1;
    return r;
  }
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
  audit_commit_end(e);
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
/* ---- the manifest handed over at start ---- */

static int manifest_decode(struct enclave *e, const uint8_t *pt, size_t len, uint64_t version) {
  struct persist *p;
  struct cdr_buf b;
  uint8_t magic[8];
  const uint8_t *ahead, *carried;
  size_t ahead_len, carried_len;
  uint64_t v, crl;
  uint32_t n;
  int r;
  const uint8_t *ca;
  size_t ca_len;
  if ((r = persist_get(e, &p)) != 0)
    return r;
  cdr_buf_view(&b, pt, len);
  if ((r = cdr_buf_get(&b, magic, 8)) != 0 ||
      (memcmp(magic, MANIFEST_MAGIC, 8) != 0 && memcmp(magic, MANIFEST_MAGIC_V3, 8) != 0 &&
       memcmp(magic, MANIFEST_MAGIC_V2, 8) != 0) ||
      (r = cdr_buf_get_u64(&b, &v)) != 0 || v != version)
    return CDR_ERR_TRUNCATED;
  p->legacy = memcmp(magic, MANIFEST_MAGIC_V2, 8) == 0;
  if (!p->legacy) {
    /* The CA first: nothing of a manifest under another CA is taken. */
    if (cdr_buf_get_lp(&b, &ca, &ca_len, sizeof(p->ca_fp)) != 0 || ca_len != sizeof(p->ca_fp))
      return CDR_ERR_TRUNCATED;
    memcpy(p->ca_fp, ca, sizeof(p->ca_fp));
    if (CRYPTO_memcmp(p->ca_fp, e->ca_fp, sizeof(p->ca_fp)) != 0)
      return CDR_ERR_CA_MISMATCH;
  }
  if ((r = cdr_buf_get_u64(&b, &crl)) != 0 ||
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
  if (memcmp(magic, MANIFEST_MAGIC, 8) == 0 && (r = contract_state_decode(&b, &e->contract)) != 0)
    return r;
  /* The templates' section is known by its magic: a manifest from
   * before templates has none (the manifest is sealed, so its sections
   * are the enclave's own). */
  if (cdr_buf_avail(&b) >= 8 && memcmp(cdr_buf_ptr(&b), TEMPLATE_MAGIC, 8) == 0) {
    template_set_free(&e->templates);
    if ((r = template_set_decode(&b, &e->templates)) != 0)
      return r;
  }
  if ((r = room_limits_decode(&b, &e->limits)) != 0)
    return r;
  room_limits_apply(e);
  return cdr_buf_avail(&b) == 0 ? 0 : dp_section_decode(e, &b);
}

int persist_manifest_load(struct enclave *e, const uint8_t *sealed, size_t len) {
  struct cdr_buf pt;
  uint64_t version = 0;
  int r;
  cdr_buf_init(&pt, IPC_MANIFEST_MAX, 1);
  if ((r = unseal_blob(e->sealer, SEAL_MANIFEST, "manifest", sealed, len, &version, &pt)) != 0) {
    log_error("the sealed manifest fails authentication (%s): tampered, or from another room or platform; "
              "refusing to start",
              cdr_err_code(r));
    goto out;
  }
  if ((r = manifest_decode(e, pt.d, pt.len, version)) == CDR_ERR_CA_MISMATCH)
    goto out; /* the caller says why, to the host */
  if (r != 0) {
    log_error("the sealed manifest does not decode (%s); refusing to start", cdr_err_code(r));
    goto out;
  }
out:
  cdr_buf_free(&pt);
  return r;
}
