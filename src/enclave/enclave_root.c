/*
 * enclave_root.c - the room's sealing root at IPC_INIT (seal_root.h):
 * unwrapped from the host's sealed identity blob with this enclave's
 * platform sealing key, or made at a first start; and wrapped again,
 * in front of the sealed identity, into the blob the host stores.
 *
 * A blob whose root is wrapped for another measurement is refused with
 * sealed_for_another_enclave, naming both measurements, before anything
 * is unsealed: the host keeps every file as it was, and the build it was
 * sealed by still starts the room.  A bare sealed identity from before
 * the root layer keeps the platform key as its root where that key was
 * already bound to the measurement (SEV-SNP) and is wrapped now; on sim
 * that key was not (any build derived it), so such a room is refused
 * with what to do (docs/ATTESTATION.md "Sealing and upgrades").
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "enclave.h"
#include "seal_root.h"

int enclave_root_open(struct enclave *e, const uint8_t *blob, size_t len, const uint8_t **identity,
                      size_t *identity_len, int *rewrap, char *msg, size_t msglen) {
  struct seal_root_blob b;
  char have[2 * CDR_MEASUREMENT_MAX + 1], want[2 * CDR_MEASUREMENT_MAX + 1];
  int r;
  *identity = NULL;
  *identity_len = 0;
  *rewrap = 0;
  if (len == 0) { /* a first start: a new root, wrapped with the new identity */
    *rewrap = 1;
    return cdr_random(e->sealer->root, sizeof(e->sealer->root));
  }
  if (!seal_root_is_container(blob, len)) {
    if (len < 8 || memcmp(blob, "CDRSEAL1", 8) != 0)
      return CDR_ERR_TRUNCATED;
    if (strcmp(e->attest->name, "sim") == 0) {
      snprintf(msg, msglen,
               "refusing to start: the room's sealed state predates sealing bound to the enclave measurement (a sim "
               "room made by an earlier release; nothing was read, changed or deleted): open it with the "
               "cdr-enclave release that made it, or make a new room (`cdr room init`)");
      return CDR_ERR_SEALED_ELSEWHERE;
    }
    /* SEV-SNP's derived key was bound to the measurement already: it
     * stays the root, wrapped from now on. */
    memcpy(e->sealer->root, e->sealer->platform_key, sizeof(e->sealer->root));
    *identity = blob;
    *identity_len = len;
    *rewrap = 1;
    log_info("the sealed identity predates the sealing root: wrapping its root for this measurement");
    return 0;
  }
  if ((r = seal_root_split(blob, len, &b)) != 0) {
    log_error("the sealed identity's root header does not parse; refusing to start");
    return r;
  }
  if (b.measurement_len != e->measurement_len || CRYPTO_memcmp(b.measurement, e->measurement, b.measurement_len) != 0) {
    cdr_hex_encode(have, b.measurement, b.measurement_len);
    cdr_hex_encode(want, e->measurement, e->measurement_len);
    snprintf(msg, msglen,
             "refusing to start: the sealed state belongs to enclave measurement %s, not this one (%s); nothing was "
             "read, changed or deleted: start the room with that build, or hand it to this one with `cdr serve "
             "ROOM --upgrade-to` once the contract accepts it",
             have, want);
    return CDR_ERR_SEALED_ELSEWHERE;
  }
  if ((r = seal_root_unwrap(e->sealer->root, e->sealer->platform_key, e->room_id, &b)) != 0) {
    log_error("the room's sealing root fails authentication (%s): tampered, from another room, or another platform "
              "secret; refusing to start",
              cdr_err_code(r));
    return r;
  }
  *identity = b.identity;
  *identity_len = b.identity_len;
  return 0;
}

int enclave_root_wrap(struct enclave *e, const uint8_t *identity, size_t identity_len, struct cdr_buf *out) {
  return seal_root_wrap(out, e->sealer->root, e->sealer->platform_key, e->room_id, e->measurement,
                        e->measurement_len, identity, identity_len);
}
