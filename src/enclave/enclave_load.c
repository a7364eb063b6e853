/*
 * enclave_load.c - the IPC handlers of the start sequence after IPC_INIT
 * (dispatch.c): IPC_LOAD (state INITIALISED -> LOADING), IPC_LOAD_DONE
 * (LOADING -> READY), then IPC_LOAD_CHUNK while the room serves.  See
 * persist.c for the sealed manifest and docs/design/persistence.md.
 *
 * IPC_LOAD hands over the sealed manifest and is answered with the ids
 * of the tables it names (IPC_LOAD_WANT).  IPC_LOAD_DONE checks the audit
 * log against the manifest (and so catches a manifest put back) before
 * anything is served, puts every table in the catalog marked loading
 * (keep_loading), logs the start and makes the enclave READY: the one
 * point where the enclave decides to serve.  The host then streams each
 * table file on a work lane, one table at a time, in chunks, each
 * answered IPC_LOAD_ACK and each handled under the exclusive room gate:
 * a chunk's rows go into a staging table in one transaction, and the
 * last chunk's check (the file's hash against the manifest) renames it
 * into place, so a table becomes visible whole (engine.h).  Meanwhile
 * queries of loaded tables run, and one of a table still loading is
 * refused with room_loading.  A table whose file fails (authentication,
 * truncation, an older copy) is refused with a reason and stays
 * unavailable (in the manifest with its key, and in the engine's
 * catalog, so that its name stays its owner's); a chunk that was not
 * asked for, or out of order, is a protocol violation.  When the last
 * table is in, the audit log gets one entry `loaded` with the counts.
 *
 * The room CA: a sealed manifest that names another CA than the one
 * IPC_INIT offered is refused at IPC_LOAD with IPC_ERROR ca_mismatch
 * (before any entry is read), and so is a manifest from before the CA
 * binding without the identity it was sealed with.  The start's audit
 * entry records the CA fingerprint, how it was bound (ca_binding) and
 * the measurement; a manifest from before the binding is rewritten at
 * LOAD_DONE, naming the CA, with the start entry as its commit's entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "contract_ops.h"
#include "common/log.h"
#include "common/util.h"
#include "enclave.h"
#include "gate.h"
#include "ipc/ipc.h"
#include "ipc/messages.h"
#include "enclave_reply.h"
#include "persist_int.h"

int enclave_handle_load(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) {
  struct persist *p;
  const uint8_t *manifest;
  size_t len;
  int r;
  char msg[512];
  if ((r = ipc_get_load(in, &manifest, &len)) != 0)
    return r;
  if (e->persist != NULL)
    return CDR_ERR_ARG; /* a second LOAD after a refused one (nothing before LOAD makes e->persist) */
  if ((r = persist_get(e, &p)) != 0)
    return r;
  if (len > 0 && e->identity_made) {
    /* The identity carries the room's sealing root (seal_root.h): one
     * made at this start came with a new root, under which no manifest
     * of this room can open.  The host withheld the room's identity. */
    snprintf(msg, sizeof(msg),
             "refusing to start: the host handed over a sealed manifest without the sealed identity, which carries "
             "the room's sealing root (a new one was made at this start; nothing was loaded, changed or deleted): "
             "put back ROOM/state/identity.sealed, with the room's own CA certificate (ROOM/ca.crt) and token");
    log_error("%s", msg);
    return enclave_reply_error(out, rt, CDR_ERR_SEALED_ELSEWHERE, msg);
  }
  if (len > 0 && (r = persist_manifest_load(e, manifest, len)) == CDR_ERR_CA_MISMATCH) {
    /* The host withheld the identity (a new one was made under the CA it
     * offers) but kept the manifest, which names the room's real CA. */
    enclave_ca_mismatch_message(msg, sizeof(msg), p->ca_fp, e->ca_fp);
    log_error("%s", msg);
    return enclave_reply_error(out, rt, CDR_ERR_CA_MISMATCH, msg);
  }
  if (r != 0)
    return r;
  if (len > 0 && p->legacy && (e->ca_binding == NULL || strcmp(e->ca_binding, "trust_on_first_use") != 0)) {
    /* A manifest from before the CA binding names no CA, so it may only
     * adopt one together with the identity it was sealed with, at the
     * start that migrates both (the identity opened now was version 1).
     * A new identity, or one already bound (version 2), beside an old
     * manifest is the host mixing states: without this, withholding the
     * identity once, to have one sealed under its own CA, and then
     * putting back an old manifest would load the old tables under it. */
    snprintf(msg, sizeof(msg),
             "refusing to start: the room's sealed manifest predates the CA binding, but the sealed identity does "
             "not (it is missing, or from a later start; nothing was loaded, changed or deleted); put back "
             "ROOM/state/identity.sealed from the same state, and the room's own CA certificate (ROOM/ca.crt) and "
             "token");
    log_error("%s", msg);
    return enclave_reply_error(out, rt, CDR_ERR_CA_MISMATCH, msg);
  }
  *rt = IPC_LOAD_WANT;
  if ((r = ipc_put_load_want_count(out, (uint32_t)p->n)) != 0)
    return r;
  for (size_t i = 0; i < p->n; i++)
    if ((r = ipc_put_table_id(out, p->ent[i].id)) != 0)
      return r;
  e->state = ENCLAVE_STATE_LOADING;
  log_info("manifest version %llu names %zu tables", (unsigned long long)p->version, p->n);
  return 0;
}

static int load_row(void *ctx, const struct tf_value *vals, size_t ncols) {
  struct enclave *e = ctx;
  return engine_restore_row(e->engine, vals, ncols);
}

/* The staging table of entry en: "cdr-load-<id>" (engine.h). */
static void load_stage(char out[48], const struct persist_entry *en) { snprintf(out, 48, "cdr-load-%s", en->id); }

/* Start restoring entry en: unwrap its key, open the file's reader. */
static int load_begin(struct enclave *e, struct persist *p, struct persist_entry *en, char *why, size_t whylen) {
  const struct catalog_table *t = catalog_find(engine_catalog(e->engine), en->name);
  struct cdr_buf key;
  uint64_t v;
  int r;
  if (t == NULL || !t->loading) {
    snprintf(why, whylen, "internal error");
    return CDR_ERR_INTERNAL;
  }
  cdr_buf_init(&key, 64, 1);
  if ((r = unseal_blob(e->sealer, SEAL_TABLE_KEY, en->id, en->wrapped_key, en->wrapped_len, &v, &key)) != 0 ||
      key.len != 32) {
    snprintf(why, whylen, "its sealed key fails authentication");
    r = r ? r : CDR_ERR_TRUNCATED;
  } else if ((r = tf_reader_init(&p->rd, key.d, en->id, t->ncols, load_row, e)) != 0) {
    snprintf(why, whylen, "internal error");
  } else {
    p->reading = 1;
    memcpy(p->loading_id, en->id, sizeof(p->loading_id));
  }
  cdr_buf_free(&key);
  return r;
}

/* Feed one chunk of entry en's file, in one transaction of the staging
 * table; on the last, check the file and make the table visible.  0 when
 * the chunk was taken, else why (the table is then refused). */
static int load_feed(struct enclave *e, struct persist *p, struct persist_entry *en, const struct ipc_load_chunk *m,
                     char *why, size_t whylen) {
  char stage[48];
  uint8_t hash[32];
  int r;
  load_stage(stage, en);
  if ((r = engine_restore_chunk_begin(e->engine, en->name, stage)) != 0) {
    snprintf(why, whylen, "the engine could not create it");
    return r;
  }
  r = tf_reader_feed(&p->rd, m->data, m->len);
  if (engine_restore_chunk_end(e->engine, r == 0) != 0 && r == 0)
    r = CDR_ERR_INTERNAL;
  if (r != 0) {
    snprintf(why, whylen, "its sealed file fails authentication (%s)", cdr_err_code(r));
    return r;
  }
  en->received += m->len;
  if (!m->last)
    return 0;
  if ((r = tf_reader_finish(&p->rd, hash)) != 0) {
    snprintf(why, whylen, "its sealed file is truncated");
    return r;
  }
  if (memcmp(hash, en->file_hash, 32) != 0) {
    snprintf(why, whylen, "its sealed file is not the version the manifest names (an older copy?)");
    return CDR_ERR_DECRYPT;
  }
  if ((r = engine_restore_finish(e->engine, en->name, stage, 1, p->rd.rows_total, NULL)) != 0) {
    snprintf(why, whylen, "the engine could not commit it");
    return r;
  }
  en->available = 1;
  en->reason[0] = '\0';
  return 0;
}

/* Once no entry is left to load: one audit entry `loaded` with the
 * counts, and the log line.  0 or the audit log's error. */
static int load_all_done(struct enclave *e, struct persist *p) {
  size_t loaded = 0;
  int r;
  for (size_t i = 0; i < p->n; i++) {
    if (!p->ent[i].loaded)
      return 0;
    loaded += p->ent[i].available != 0;
  }
  if (p->load_logged || p->n == 0) /* no tables: the start entry says it all */
    return 0;
  p->load_logged = 1;
  log_info("loaded %zu of %zu tables", loaded, p->n);
  if ((r = audit_begin(e, "loaded")) != 0)
    return r;
  audit_set(e, "tables_loaded", json_integer((json_int_t)loaded));
  audit_set(e, "tables_unavailable", json_integer((json_int_t)(p->n - loaded)));
  return audit_finish(e, 0);
}

/* IPC_LOAD_CHUNK, after LOAD_DONE, on a work lane under the exclusive
 * room gate (dispatch.c): one piece of one table file.  Tables come one
 * at a time, each from offset 0 in order; anything else is a protocol
 * violation.  A refused table stays unavailable; the answer says why. */
int enclave_handle_load_chunk(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) {
  struct persist *p = e->persist;
  struct ipc_load_chunk m;
  char why[160] = "";
  int r, ok = 1;
  if ((r = ipc_get_load_chunk(in, &m)) != 0 || p == NULL)
    return r ? r : CDR_ERR_TRUNCATED;
  size_t i;
  for (i = 0; i < p->n; i++)
    if (memcmp(p->ent[i].id, m.id, IPC_TABLE_ID_LEN) == 0)
      break;
  int current = p->loading_id[0] != '\0';
  if (i == p->n || p->ent[i].loaded || (current && memcmp(p->loading_id, m.id, IPC_TABLE_ID_LEN) != 0) ||
      m.offset != p->ent[i].received || (!current && m.offset != 0)) {
    log_error("protocol violation: a table chunk that was not asked for, or out of order");
    return CDR_ERR_ARG;
  }
  struct persist_entry *en = &p->ent[i];
  if (!current && m.len == 0 && m.last) {
    /* cdrd's answer for a file it could not read: say so, not "truncated". */
    ok = 0;
    snprintf(why, sizeof(why), "the server did not provide its sealed file (missing, empty or unreadable)");
  } else if (!current && load_begin(e, p, en, why, sizeof(why)) != 0) {
    ok = 0;
  } else if (load_feed(e, p, en, &m, why, sizeof(why)) != 0) {
    ok = 0;
  }
  if (!ok || m.last) {
    if (p->reading)
      tf_reader_free(&p->rd);
    p->reading = 0;
    p->loading_id[0] = '\0';
    en->loaded = 1;
  }
  if (!ok) {
    char stage[48];
    load_stage(stage, en);
    snprintf(en->reason, sizeof(en->reason), "%s", why);
    log_error("sealed table file %s not loaded: %s", en->id, why);
    if ((r = engine_restore_finish(e->engine, en->name, stage, 0, 0, en->reason)) != 0)
      return r; /* out of memory: the entry would be left loading */
  }
  if ((r = load_all_done(e, p)) != 0)
    return r;
  *rt = IPC_LOAD_ACK;
  return ipc_put_status(out, ok, ok ? "" : why);
}

/* Every table the manifest names goes into the engine's catalog at
 * LOAD_DONE, marked loading (engine_restore_pending): its name is its
 * owner's from the first request on, and its rows follow in the
 * background (IPC_LOAD_CHUNK).  One whose file then fails stays
 * unavailable: its manifest entry, with its sealed key, and so its file
 * (cdrd removes only files no manifest names) stay as they are, and only
 * its owner can drop or replace it.  A catalog entry that does not
 * decode (the manifest is authenticated: only a defect can cause it)
 * refuses the start, with why: without its owner the name could not be
 * kept. */
static int keep_loading(struct enclave *e, struct persist *p, char *why, size_t whylen) {
  struct catalog cat;
  int r;
  for (size_t i = 0; i < p->n; i++) {
    struct persist_entry *en = &p->ent[i];
    if ((r = catalog_decode(&cat, en->catalog_bytes, en->catalog_len)) != 0 || cat.n != 1 ||
        cdr_ascii_casecmp(cat.tables[0]->name, en->name) != 0) {
      if (r == 0)
        catalog_free(&cat);
      if (r == CDR_ERR_NOMEM)
        return r;
      snprintf(why, whylen, "the manifest's catalog entry of sealed table file %s does not decode", en->id);
      return CDR_ERR_TRUNCATED;
    }
    struct catalog_table *t = cat.tables[0];
    cat.n = 0; /* t moves to the engine */
    catalog_free(&cat);
    if ((r = engine_restore_pending(e->engine, t)) != 0) {
      if (r == CDR_ERR_NOMEM)
        return r;
      snprintf(why, whylen, "the engine could not keep table file %s", en->id);
      return r;
    }
  }
  return 0;
}

int enclave_handle_load_done(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) {
  struct persist *p = e->persist;
  int r;
  if ((r = ipc_get_load_done(in)) != 0)
    return r;
  /* The audit log, against the manifest; a start is itself an entry. */
  char why[320] = "";
  if ((r = persist_get(e, &p)) != 0)
    return r;
  if ((r = keep_loading(e, p, why, sizeof(why))) != 0) {
    if (r == CDR_ERR_NOMEM)
      return r;
    log_error("refusing to start: %s", why);
    *rt = IPC_LOAD_ACK;
    return ipc_put_status(out, 0, why);
  }
  if ((r = audit_load(e, p->version, p->audit_size, p->audit_head, p->carried, p->carried_len, why, sizeof(why))) !=
      0) {
    if (r != CDR_ERR_DECRYPT && r != CDR_ERR_TRUNCATED && r != CDR_ERR_AUDIT_ROLLBACK)
      return r; /* the channel broke */
    if (why[0] == '\0')
      snprintf(why, sizeof(why), "the audit log cannot be checked (%s)", cdr_err_code(r));
    log_error("refusing to start: %s", why);
    *rt = IPC_LOAD_ACK;
    return ipc_put_status(out, 0, why);
  }
  log_info("audit log: %llu entries", (unsigned long long)e->audit.n);
  if ((r = enclave_witness_start(e)) != 0) /* the verdict is kept: requests see it */
    return r;
  if ((r = audit_begin(e, "start")) != 0)
    return r;
  audit_set(e, "manifest_version", json_integer((json_int_t)p->version));
  audit_set(e, "tables_loading", json_integer((json_int_t)p->n));
  audit_set(e, "platform", json_string(e->attest && e->attest->name ? e->attest->name : "sim"));
  audit_set(e, "ca_fingerprint", audit_hex(e->ca_fp, sizeof(e->ca_fp)));
  audit_set(e, "ca_binding", json_string(e->ca_binding != NULL ? e->ca_binding : "new"));
  audit_set(e, "measurement", audit_hex(e->measurement, e->measurement_len));
  const struct contract_version *cv = contract_state_current(&e->contract);
  audit_set(e, "contract_version", json_integer(cv != NULL ? (json_int_t)cv->c.version : 0));
  audit_set(e, "contract_sha256", cv != NULL ? audit_hex(cv->hash, sizeof(cv->hash)) : json_null());
  if (p->legacy) {
    /* A manifest from before the CA binding: rewritten now, naming the
     * CA, with this start as its commit's entry.  Until this commit the
     * room's tables are bound to the CA only through the identity. */
    if ((r = persist_meta_changed(e)) != 0)
      return r;
    p->legacy = 0;
    log_info("the sealed manifest now names the room CA (version %llu)", (unsigned long long)p->version);
  } else if ((r = audit_finish(e, 0)) != 0) {
    return r;
  }
  if ((r = contract_notify_host(e)) != 0) /* the host's display copy */
    return r;
  /* READY: the room serves from here, its tables loading behind. */
  e->state = ENCLAVE_STATE_READY;
  log_info("serving; %zu tables to load", p->n);
  /* Under the exclusive gate: from READY on, work lanes may be feeding
   * IPC_LOAD_CHUNK (which writes the entries' state under it). */
  gate_write_enter(e);
  r = load_all_done(e, p); /* a room without tables: loaded already */
  gate_leave(e);
  if (r != 0)
    return r;
  *rt = IPC_LOAD_ACK;
  return ipc_put_status(out, 1, "");
}
