/*
 * test_seal.c - sealed blobs: round trip, and each way a blob can be
 * misused fails: a flipped byte, another name, another kind, another
 * room, another platform key, truncation.
 */
#include <string.h>

#include "enclave/seal.h"
#include "testlib.h"

int main(void) {
  struct sealer s, other_room, other_key;
  struct cdr_buf blob, pt;
  uint64_t v = 0;
  memset(&s, 0, sizeof(s));
  memset(s.room_id, 0x11, sizeof(s.room_id));
  memset(s.root, 0x22, sizeof(s.root));
  other_room = s;
  other_room.room_id[0] ^= 1;
  other_key = s;
  other_key.root[31] ^= 1;
  cdr_buf_init(&blob, 4096, 0);
  cdr_buf_init(&pt, 4096, 0);

  CHECK_RC(seal_blob(&s, SEAL_IDENTITY, "identity", 7, "secret key", 10, &blob), 0);
  CHECK(blob.len == 8 + 1 + 8 + 12 + 10 + 16);
  CHECK(memmem(blob.d, blob.len, "secret", 6) == NULL);
  CHECK_RC(unseal_blob(&s, SEAL_IDENTITY, "identity", blob.d, blob.len, &v, &pt), 0);
  CHECK(v == 7 && pt.len == 10 && memcmp(pt.d, "secret key", 10) == 0);
  cdr_buf_free(&pt);

  /* The keys derived once (sealer_derive) are the keys derived per seal. */
  {
    struct sealer d = s;
    struct cdr_buf b2;
    cdr_buf_init(&b2, 4096, 0);
    CHECK_RC(sealer_derive(&d), 0);
    CHECK_RC(unseal_blob(&d, SEAL_IDENTITY, "identity", blob.d, blob.len, &v, &pt), 0);
    cdr_buf_free(&pt);
    CHECK_RC(seal_blob(&d, SEAL_AUDIT, "audit", 3, "entry", 5, &b2), 0);
    CHECK_RC(unseal_blob(&s, SEAL_AUDIT, "audit", b2.d, b2.len, &v, &pt), 0);
    CHECK(v == 3 && pt.len == 5);
    cdr_buf_free(&pt);
    CHECK_RC(unseal_blob(&d, SEAL_MANIFEST, "audit", b2.d, b2.len, &v, &pt), CDR_ERR_TRUNCATED);
    cdr_buf_free(&b2);
  }

  CHECK_RC(unseal_blob(&s, SEAL_IDENTITY, "other", blob.d, blob.len, &v, &pt), CDR_ERR_DECRYPT);
  CHECK_RC(unseal_blob(&s, SEAL_MANIFEST, "identity", blob.d, blob.len, &v, &pt), CDR_ERR_TRUNCATED);
  CHECK_RC(unseal_blob(&other_room, SEAL_IDENTITY, "identity", blob.d, blob.len, &v, &pt), CDR_ERR_DECRYPT);
  CHECK_RC(unseal_blob(&other_key, SEAL_IDENTITY, "identity", blob.d, blob.len, &v, &pt), CDR_ERR_DECRYPT);
  CHECK_RC(unseal_blob(&s, SEAL_IDENTITY, "identity", blob.d, 20, &v, &pt), CDR_ERR_TRUNCATED);
  CHECK_RC(unseal_blob(&s, SEAL_IDENTITY, "identity", blob.d, blob.len - 1, &v, &pt), CDR_ERR_DECRYPT);
  for (size_t i = 0; i < blob.len; i++) {
    int want = i < 9 ? CDR_ERR_TRUNCATED : CDR_ERR_DECRYPT; /* magic and kind, then everything else */
    blob.d[i] ^= 0x04;
    int r = unseal_blob(&s, SEAL_IDENTITY, "identity", blob.d, blob.len, &v, &pt);
    blob.d[i] ^= 0x04;
    if (r != want) {
      CHECK_RC(r, want);
      break;
    }
  }
  CHECK(pt.len == 0); /* nothing was ever released */
  /* The version is authenticated: relabelling a blob as version 8 fails. */
  blob.d[16] ^= 0x0f;
  CHECK_RC(unseal_blob(&s, SEAL_IDENTITY, "identity", blob.d, blob.len, &v, &pt), CDR_ERR_DECRYPT);
  cdr_buf_free(&blob);
  cdr_buf_free(&pt);
  return test_summary("test_seal");
}
