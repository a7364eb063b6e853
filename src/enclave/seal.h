/*
 * seal.h - sealed blobs: enclave state that the host stores but can
 * neither read nor change undetected.
 *
 *   blob = "CDRSEAL1" || u8 kind || u64be version || nonce[12] || AES-256-GCM(pt)
 *   key  = HKDF-SHA256(ikm = the room's sealing root, salt = room id,
 *                      info = "CDR-v1 sealed " || kind name)
 *   aad  = "CDRSEAL1" || u8 kind || u64be version || lp(room id) || lp(name)
 *
 * The sealing root is 32 random bytes made at the room's first start and
 * kept wrapped under the platform sealing key (seal_root.h), which comes
 * from the attestation provider and is bound to the enclave's
 * measurement (sim: derived from a secret under ROOM and the
 * measurement; SEV-SNP: a key the firmware derives for this
 * measurement).  Binding the room id, the object's
 * name and its version into the AAD means a blob cannot be moved to
 * another room, another name, or presented as another version.  The
 * version does not by itself stop the host from putting back an older
 * blob under its older version: that is the manifest's job (later).
 */
#ifndef CDR_SEAL_H
#define CDR_SEAL_H

#include <stdint.h>

#include "common/buf.h"
#include "crypto/envelope.h"

enum seal_kind { SEAL_IDENTITY = 1, SEAL_MANIFEST = 2, SEAL_TABLE_KEY = 3, SEAL_AUDIT = 4 };

#define SEAL_KINDS 5 /* kinds 1..4, indexed by kind */
_Static_assert(SEAL_AUDIT < SEAL_KINDS, "a key slot per kind");

struct sealer {
  uint8_t room_id[CDR_ROOM_ID_BYTES];
  /* The room's sealing root (seal_root.h); the struct lives in the
   * secure heap.  Every kind's key derives from it. */
  uint8_t root[32];
  /* This enclave's platform sealing key, bound to its measurement: it
   * wraps the root (seal_root.h), and nothing else. */
  uint8_t platform_key[32];
  /* The per-kind keys, derived once by sealer_derive (the audit log seals
   * a record per request); until then each seal derives its own. */
  uint8_t kind_key[SEAL_KINDS][32];
  int derived;
};

/* Derive every kind's key from room_id and root (set first). */
int sealer_derive(struct sealer *s) CDR_WUR;

/* Seal pt as (kind, name, version); appends the blob to out. */
int seal_blob(const struct sealer *s, enum seal_kind kind, const char *name, uint64_t version, const void *pt,
              size_t ptlen, struct cdr_buf *out) CDR_WUR;
/* Open a blob that must be (kind, name); *version gets its version.
 * CDR_ERR_TRUNCATED if it is not a blob of that kind, CDR_ERR_DECRYPT if
 * it fails authentication (tampered, other room, other name). */
int unseal_blob(const struct sealer *s, enum seal_kind kind, const char *name, const uint8_t *blob, size_t len,
                uint64_t *version, struct cdr_buf *pt) CDR_WUR;

#endif
