/*
 * seal.c - sealed blobs; see seal.h.
 */
#include "seal.h"

#include <openssl/crypto.h>
#include <string.h>

#define SEAL_MAGIC "CDRSEAL1"
#define SEAL_HDR (8 + 1 + 8 + CDR_AEAD_NONCE_LEN)

static const char *kind_name(enum seal_kind k) {
  switch (k) {
  case SEAL_IDENTITY: return "identity";
  case SEAL_MANIFEST: return "manifest";
  case SEAL_TABLE_KEY: return "table-key";
  case SEAL_AUDIT: return "audit";
  }
  return NULL;
}

static int derive_key(const struct sealer *s, enum seal_kind kind, uint8_t key[32]) {
  char info[64];
  const char *kn = kind_name(kind);
  if (kn == NULL)
    return CDR_ERR_ARG;
  int n = snprintf(info, sizeof(info), "CDR-v1 sealed %s", kn);
  return cdr_hkdf_sha256(key, 32, s->root, sizeof(s->root), s->room_id, sizeof(s->room_id), info, (size_t)n);
}

int sealer_derive(struct sealer *s) {
  int r;
  for (int k = SEAL_IDENTITY; k <= SEAL_AUDIT; k++)
    if ((r = derive_key(s, (enum seal_kind)k, s->kind_key[k])) != 0) {
      OPENSSL_cleanse(s->kind_key, sizeof(s->kind_key));
      return r;
    }
  s->derived = 1;
  return 0;
}

static int seal_key(const struct sealer *s, enum seal_kind kind, uint8_t key[32]) {
  if (s->derived && kind >= SEAL_IDENTITY && kind <= SEAL_AUDIT) {
    memcpy(key, s->kind_key[kind], 32);
    return 0;
  }
  return derive_key(s, kind, key);
}

static int seal_aad(struct cdr_buf *aad, const struct sealer *s, enum seal_kind kind, uint64_t version,
                    const char *name) {
  int r;
  if ((r = cdr_buf_put(aad, SEAL_MAGIC, 8)) != 0 || (r = cdr_buf_put_u8(aad, (uint8_t)kind)) != 0 ||
      (r = cdr_buf_put_u64(aad, version)) != 0 || (r = cdr_buf_put_lp(aad, s->room_id, sizeof(s->room_id))) != 0 ||
      (r = cdr_buf_put_lpstr(aad, name)) != 0)
    return r;
  return 0;
}

int seal_blob(const struct sealer *s, enum seal_kind kind, const char *name, uint64_t version, const void *pt,
              size_t ptlen, struct cdr_buf *out) {
  uint8_t key[32], nonce[CDR_AEAD_NONCE_LEN];
  struct cdr_buf aad;
  int r;
  cdr_buf_init(&aad, 1024, 0);
  if ((r = seal_key(s, kind, key)) != 0 || (r = cdr_random(nonce, sizeof(nonce))) != 0 ||
      (r = seal_aad(&aad, s, kind, version, name)) != 0)
    goto out;
  if ((r = cdr_buf_put(out, SEAL_MAGIC, 8)) != 0 || (r = cdr_buf_put_u8(out, (uint8_t)kind)) != 0 ||
      (r = cdr_buf_put_u64(out, version)) != 0 || (r = cdr_buf_put(out, nonce, sizeof(nonce))) != 0)
    goto out;
  r = cdr_aead_seal(out, key, nonce, aad.d, aad.len, pt, ptlen);
out:
  OPENSSL_cleanse(key, sizeof(key));
  cdr_buf_free(&aad);
  return r;
}

int unseal_blob(const struct sealer *s, enum seal_kind kind, const char *name, const uint8_t *blob, size_t len,
                uint64_t *version, struct cdr_buf *pt) {
  struct cdr_buf in, aad;
  uint8_t magic[8], k, nonce[CDR_AEAD_NONCE_LEN], key[32];
  uint64_t v;
  int r;
  cdr_buf_view(&in, blob, len);
  if (cdr_buf_get(&in, magic, 8) != 0 || memcmp(magic, SEAL_MAGIC, 8) != 0 || cdr_buf_get_u8(&in, &k) != 0 ||
      k != (uint8_t)kind || cdr_buf_get_u64(&in, &v) != 0 || cdr_buf_get(&in, nonce, sizeof(nonce)) != 0)
    return CDR_ERR_TRUNCATED;
  cdr_buf_init(&aad, 1024, 0);
  if ((r = seal_key(s, kind, key)) != 0 || (r = seal_aad(&aad, s, kind, v, name)) != 0)
    goto out;
  if ((r = cdr_aead_open(pt, key, nonce, aad.d, aad.len, cdr_buf_ptr(&in), cdr_buf_avail(&in))) != 0)
    goto out;
  *version = v;
out:
  OPENSSL_cleanse(key, sizeof(key));
  cdr_buf_free(&aad);
  return r;
}
