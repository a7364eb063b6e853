/*
 * persist_int.h - the sealed state's entries in memory, shared by
 * persist.c (committing changes) and enclave_load.c (loading them at
 * start), and no one else.
 *
 * Invariants: e->persist is made on first use (persist_get) and freed by
 * persist_free.  ent[0..n) are the tables the last committed (or loaded)
 * manifest names; at most one of them is being streamed in at a time
 * (`loading_id`, by id: a commit while it loads may move entries, with
 * `rd` live while `reading`); tables load after LOAD_DONE, while the
 * room serves (enclave_load.c), each under the exclusive room gate one
 * chunk at a time.  An entry that did not
 * load keeps its sealed key and catalog bytes, unavailable, so a later
 * start can try again and its owner can still drop it.
 */
#ifndef CDR_PERSIST_INT_H
#define CDR_PERSIST_INT_H

#include "common/limits.h"
#include "persist.h"
#include "tablefile.h"

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
  /* The loaded manifest's room CA (v3), or legacy: it is a v2 manifest,
   * from before the CA binding, which names none (persist.c). */
  uint8_t ca_fp[32];
  int legacy;
  /* the audit log as the loaded manifest recorded it */
  uint64_t audit_size;
  uint8_t audit_head[CDR_AUDIT_HASH_LEN];
  uint8_t *carried; /* the record of its last entry */
  size_t carried_len;
  struct persist_entry *ent;
  size_t n;
  /* the table being streamed in after the start */
  char loading_id[33]; /* its id, "" when none */
  int load_logged;     /* the `loaded` audit entry was written */
  struct tf_reader rd;
  int reading;
};

/* e->persist, made empty on first use.  0 or CDR_ERR_NOMEM. */
int persist_get(struct enclave *e, struct persist **out) CDR_WUR;
/* Unseal and decode the sealed manifest the host handed over (len > 0)
 * into e->persist and e->crl_required; the reason for a refusal is
 * logged.  0, or the error (the enclave then refuses to start):
 * CDR_ERR_CA_MISMATCH, not logged, when it names another CA than e->ca_fp
 * (its own is then in e->persist->ca_fp, and no entry was read). */
int persist_manifest_load(struct enclave *e, const uint8_t *sealed, size_t len) CDR_WUR;

#endif
