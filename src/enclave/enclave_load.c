/*
 * enclave_load.c - the IPC handlers of the start sequence after IPC_INIT
 * (dispatch.c): IPC_LOAD (state INITIALISED -> LOADING), IPC_LOAD_CHUNK
 * and IPC_LOAD_DONE (LOADING -> READY).  See persist.c for the sealed
 * manifest and docs/design/persistence.md.
 *
 * IPC_LOAD hands over the sealed manifest and is answered with the ids
 * of the tables it names (IPC_LOAD_WANT); the host then streams each
 * table file in order, in chunks, each answered IPC_LOAD_ACK.  A table
 * whose file fails (authentication, truncation, an older copy) is
 * refused with a reason and stays unavailable (in the manifest with its
 * key, and in the engine's catalog, so that its name stays its owner's:
 * keep_unavailable); a chunk that was not
 * asked for, or out of order, is a protocol violation.  IPC_LOAD_DONE
 * checks the audit log against the manifest, logs the start, and makes
 * the enclave READY.
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
  if (p->loading < 0 && m.offset == 0 && m.len == 0 && m.last) {
    /* cdrd's answer for a file it could not read: say so, not "truncated". */
    ok = 0;
    snprintf(why, sizeof(why), "the server did not provide its sealed file (missing, empty or unreadable)");
  } else if (p->loading < 0 && load_begin(e, p, i, why, sizeof(why)) != 0) {
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

/* Every table that did not load keeps its catalog entry in the engine,
 * unavailable (engine_restore_unavailable): its name stays its owner's
 * and its owner alone can drop or replace it.  Its manifest entry, with
 * its sealed key, and so its file (cdrd removes only files no manifest
 * names) stay as they are.  A catalog entry that does not decode (the
 * manifest is authenticated: only a defect can cause it) refuses the
 * start, with why: without its owner the name could not be kept. */
static int keep_unavailable(struct enclave *e, struct persist *p, char *why, size_t whylen) {
  struct catalog cat;
  int r;
  for (size_t i = 0; i < p->n; i++) {
    struct persist_entry *en = &p->ent[i];
    if (en->available)
      continue;
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
    if ((r = engine_restore_unavailable(e->engine, t, en->reason)) != 0) {
      if (r == CDR_ERR_NOMEM)
        return r;
      snprintf(why, whylen, "the engine could not keep unavailable table file %s", en->id);
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
  char why[320] = "";
  if ((r = persist_get(e, &p)) != 0)
    return r;
  if ((r = keep_unavailable(e, p, why, sizeof(why))) != 0) {
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
  audit_set(e, "tables_loaded", json_integer((json_int_t)loaded));
  audit_set(e, "tables_unavailable", json_integer((json_int_t)(p->n - loaded)));
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
  e->state = ENCLAVE_STATE_READY;
  *rt = IPC_LOAD_ACK;
  return ipc_put_status(out, 1, "");
}
