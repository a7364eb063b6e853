/*
 * seal_root.c - the room's sealing root, wrapped for one measurement;
 * see seal_root.h.
 */
#include "seal_root.h"

#include <openssl/crypto.h>
#include <string.h>

#include "crypto/crypto.h"

#define WRAP_INFO "CDR-v1 sealing root wrap"
#define WRAPPED_LEN (SEAL_ROOT_LEN + CDR_AEAD_TAG_LEN)

int seal_root_is_container(const uint8_t *blob, size_t len) {
  return blob != NULL && len >= 8 && memcmp(blob, SEAL_ROOT_MAGIC, 8) == 0;
}

int seal_root_split(const uint8_t *blob, size_t len, struct seal_root_blob *out) {
  struct cdr_buf in;
  uint8_t magic[8];
  memset(out, 0, sizeof(*out));
  cdr_buf_view(&in, blob, len);
  if (cdr_buf_get(&in, magic, 8) != 0 || memcmp(magic, SEAL_ROOT_MAGIC, 8) != 0 ||
      cdr_buf_get_lp(&in, &out->measurement, &out->measurement_len, CDR_MEASUREMENT_MAX) != 0 ||
      out->measurement_len == 0 || cdr_buf_get(&in, out->nonce, CDR_AEAD_NONCE_LEN) != 0 ||
      cdr_buf_get_lp(&in, &out->wrapped, &out->wrapped_len, WRAPPED_LEN) != 0 || out->wrapped_len != WRAPPED_LEN ||
      cdr_buf_avail(&in) == 0)
    return CDR_ERR_TRUNCATED;
  out->identity = cdr_buf_ptr(&in);
  out->identity_len = cdr_buf_avail(&in);
  return 0;
}

static int wrap_key_aad(uint8_t key[32], struct cdr_buf *aad, const uint8_t platform_key[32],
                        const uint8_t room_id[CDR_ROOM_ID_BYTES], const uint8_t *measurement, size_t measurement_len) {
  int r;
  if ((r = cdr_hkdf_sha256(key, 32, platform_key, 32, room_id, CDR_ROOM_ID_BYTES, WRAP_INFO,
                           sizeof(WRAP_INFO) - 1)) != 0 ||
      (r = cdr_buf_put(aad, SEAL_ROOT_MAGIC, 8)) != 0 || (r = cdr_buf_put_lp(aad, room_id, CDR_ROOM_ID_BYTES)) != 0 ||
      (r = cdr_buf_put_lp(aad, measurement, measurement_len)) != 0)
    return r;
  return 0;
}

int seal_root_unwrap(uint8_t root[SEAL_ROOT_LEN], const uint8_t platform_key[32],
                     const uint8_t room_id[CDR_ROOM_ID_BYTES], const struct seal_root_blob *b) {
  uint8_t key[32];
  struct cdr_buf aad, pt;
  int r;
  cdr_buf_init(&aad, 256, 0);
  cdr_buf_init(&pt, 64, 1);
  if ((r = wrap_key_aad(key, &aad, platform_key, room_id, b->measurement, b->measurement_len)) != 0 ||
      (r = cdr_aead_open(&pt, key, b->nonce, aad.d, aad.len, b->wrapped, b->wrapped_len)) != 0)
    goto out;
  if (pt.len != SEAL_ROOT_LEN) {
    r = CDR_ERR_TRUNCATED;
    goto out;
  }
  memcpy(root, pt.d, SEAL_ROOT_LEN);
out:
  OPENSSL_cleanse(key, sizeof(key));
  cdr_buf_free(&aad);
  cdr_buf_free(&pt);
  return r;
}

int seal_root_wrap(struct cdr_buf *out, const uint8_t root[SEAL_ROOT_LEN], const uint8_t platform_key[32],
                   const uint8_t room_id[CDR_ROOM_ID_BYTES], const uint8_t *measurement, size_t measurement_len,
                   const uint8_t *identity, size_t identity_len) {
  uint8_t key[32], nonce[CDR_AEAD_NONCE_LEN];
  struct cdr_buf aad, ct;
  int r;
  if (measurement_len == 0 || measurement_len > CDR_MEASUREMENT_MAX || identity_len == 0)
    return CDR_ERR_ARG;
  cdr_buf_init(&aad, 256, 0);
  cdr_buf_init(&ct, 64, 0);
  if ((r = wrap_key_aad(key, &aad, platform_key, room_id, measurement, measurement_len)) != 0 ||
      (r = cdr_random(nonce, sizeof(nonce))) != 0 ||
      (r = cdr_aead_seal(&ct, key, nonce, aad.d, aad.len, root, SEAL_ROOT_LEN)) != 0)
    goto out;
  if ((r = cdr_buf_put(out, SEAL_ROOT_MAGIC, 8)) != 0 || (r = cdr_buf_put_lp(out, measurement, measurement_len)) != 0 ||
      (r = cdr_buf_put(out, nonce, sizeof(nonce))) != 0 || (r = cdr_buf_put_lp(out, ct.d, ct.len)) != 0 ||
      (r = cdr_buf_put(out, identity, identity_len)) != 0)
    goto out;
out:
  OPENSSL_cleanse(key, sizeof(key));
  cdr_buf_free(&aad);
  cdr_buf_free(&ct);
  return r;
}
