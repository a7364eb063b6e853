/*
 * seal_root.h - the room's sealing root, wrapped for one enclave
 * measurement (docs/ARCHITECTURE.md "Sealing", MarbleRun's model).
 *
 * Every sealed object of a room (identity, manifest, table keys, audit
 * records: seal.h) is sealed under keys derived from the room's sealing
 * root, 32 random bytes made at the room's first start.  The root itself
 * is kept only wrapped under the platform sealing key of the enclave that
 * holds the room, which is bound to that enclave's measurement (sim:
 * attest_sim.c; SEV-SNP: the firmware's derived key with the measurement
 * selected).  A build with another measurement gets another platform key,
 * cannot unwrap the root, and so reads nothing; the running enclave hands
 * the root to a build the room's contract accepts (upgrade.c), which
 * wraps it under its own key.  Nothing else is re-sealed at an upgrade.
 *
 * The wrapped root travels in front of the sealed identity, in the one
 * blob the host stores as ROOM/state/identity.sealed:
 *
 *   "CDRROOT1" || lp(measurement) || nonce[12] || lp(AES-256-GCM(root))
 *              || the sealed identity (seal.h)
 *   wrap key = HKDF-SHA256(ikm = platform sealing key, salt = room id,
 *                          info = "CDR-v1 sealing root wrap")
 *   aad      = "CDRROOT1" || lp(room id) || lp(measurement)
 *
 * The measurement is in the clear (and authenticated) so that a refusal
 * can name the enclave the state belongs to.  A blob that starts with
 * "CDRSEAL1" instead is a bare sealed identity from before this layer:
 * its root was the platform key itself (seal_root_adopt_legacy says
 * which platforms may keep it).
 */
#ifndef CDR_SEAL_ROOT_H
#define CDR_SEAL_ROOT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/limits.h"
#include "common/wire.h"
#include "crypto/crypto.h"

#define SEAL_ROOT_MAGIC "CDRROOT1"
#define SEAL_ROOT_LEN 32

/* A parsed container; the pointers point into the blob it was split from. */
struct seal_root_blob {
  const uint8_t *measurement;
  size_t measurement_len;
  uint8_t nonce[CDR_AEAD_NONCE_LEN];
  const uint8_t *wrapped;
  size_t wrapped_len;
  const uint8_t *identity; /* the sealed identity after the header */
  size_t identity_len;
};

/* Does blob start with the container's magic? */
int seal_root_is_container(const uint8_t *blob, size_t len);

/* Split a container.  CDR_ERR_TRUNCATED if it does not parse (a
 * measurement longer than CDR_MEASUREMENT_MAX, a wrapped root that is
 * not 32 + 16 bytes, a missing identity). */
int seal_root_split(const uint8_t *blob, size_t len, struct seal_root_blob *out) CDR_WUR;

/* Unwrap the root of a split container with this enclave's platform
 * sealing key.  CDR_ERR_DECRYPT if it fails authentication (another
 * measurement's key, another room, tampered); root is untouched then. */
int seal_root_unwrap(uint8_t root[SEAL_ROOT_LEN], const uint8_t platform_key[32],
                     const uint8_t room_id[CDR_ROOM_ID_BYTES], const struct seal_root_blob *b) CDR_WUR;

/* Append a container to out: root wrapped under platform_key for
 * (room_id, measurement), followed by the sealed identity (identity,
 * identity_len; seal.h). */
int seal_root_wrap(struct cdr_buf *out, const uint8_t root[SEAL_ROOT_LEN], const uint8_t platform_key[32],
                   const uint8_t room_id[CDR_ROOM_ID_BYTES], const uint8_t *measurement, size_t measurement_len,
                   const uint8_t *identity, size_t identity_len) CDR_WUR;

#endif
